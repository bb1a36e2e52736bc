"""The ROS commands of the README and docs/ name real launch files, arguments and parameters.

Every ``ros2 launch nano_vision X.launch.py a:=b`` names a launch file of launch/
and only arguments it declares, each with one of its choices where it has them;
every ``-p name:=value`` given to one of our nodes (``ros2 run nano_vision <node>
--ros-args``, ``<node> --ros-args`` after activate.sh, ``python -m
nano_vision.nodes.<node> --ros-args``) names a parameter the node declares, with
a value of its type (``-p`` values are read as YAML, as rcl reads them). Code
blocks and inline code are both checked; ``ros2 launch`` is not needed.
"""

import pathlib
import re
import shlex

import pytest
import yaml

from helpers import console_scripts, declared_arguments, launch_graph
from nano_vision.nodes.registry import NODE_PARAMETERS

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]
SEPARATORS = {'&&', '||', '|', ';', '&'}


def code_snippets(text):
    """Return the shell lines of fenced code blocks and the inline code spans of ``text``."""
    snippets = []
    fences = re.compile(r'^```[^\n]*\n(.*?)^```', re.M | re.S)
    for block in fences.findall(text):
        snippets += block.replace('\\\n', ' ').splitlines()
    prose = fences.sub('', text)
    # an inline span may run over a line break in Markdown
    snippets += [span.replace('\n', ' ') for span in re.findall(r'`([^`]+)`', prose)]
    return snippets


def commands(snippet):
    """Return the commands of one shell line as token lists (split at ;, &&, |, &)."""
    try:
        tokens = shlex.split(snippet, comments=True)
    except ValueError as exc:
        raise AssertionError(f'cannot split {snippet!r} as a shell line: {exc}') from None
    result, current = [], []
    for token in tokens:
        if token in SEPARATORS:
            result.append(current)
            current = []
        else:
            current.append(token)
    return [c for c in result + [current] if c]


def launch_calls(words):
    """Return (launch file, {argument: value}) if ``words`` is ros2 launch nano_vision ..."""
    if words[:3] != ['ros2', 'launch', 'nano_vision'] or len(words) < 4:
        return None
    arguments = dict(w.split(':=', 1) for w in words[4:] if ':=' in w)
    return words[3], arguments


def node_parameters(words):
    """Return (executable, [(name, value)]) of a command that starts one of our nodes."""
    if '--ros-args' not in words:
        return None
    index = words.index('--ros-args')
    executable = words[index - 1] if index else ''
    executable = executable.rpartition('nano_vision.nodes.')[2]  # python -m form
    if words[:2] == ['ros2', 'run']:
        ours = words[2:3] == ['nano_vision']
    else:
        ours = executable in NODE_PARAMETERS
    if not ours:
        return None  # another package's node (camera_calibration, ...)
    values = []
    rest = words[index + 1:]
    for flag, value in zip(rest, rest[1:]):
        if flag in ('-p', '--param'):
            assert ':=' in value, f'{" ".join(words)}: -p {value} has no :='
            values.append(tuple(value.split(':=', 1)))
    return executable, values


def documented_commands():
    """Yield (document name, command words) for every command of the documents."""
    for path in DOCUMENTS:
        for snippet in code_snippets(path.read_text(encoding='utf-8')):
            if 'ros2 ' not in snippet and '--ros-args' not in snippet:
                continue
            for words in commands(snippet):
                yield path.name, words


def launch_arguments(path):
    """Return the argument names a launch file declares (its graph's included)."""
    return set(declared_arguments(path))


def check_launch(words):
    """Return the problems of a ros2 launch command (empty: none)."""
    call = launch_calls(words)
    if call is None:
        return []
    name, arguments = call
    path = ROOT / 'launch' / name
    if not path.is_file():
        return [f'{name} is not a launch file of launch/']
    declared = launch_arguments(path)
    problems = [f'{name} declares no argument {argument!r} (it has '
                f'{", ".join(sorted(declared))})'
                for argument in arguments if argument not in declared]
    graph = launch_graph(path)
    for argument in graph.arguments if graph is not None else ():
        value = arguments.get(argument.name)
        if argument.choices and value is not None and value not in argument.choices:
            problems.append(f'{name}: {argument.name}:={value} is not one of '
                            f'{", ".join(argument.choices)}')
    return problems


def check_node(words):
    """Return the problems of a command that starts one of our nodes (empty: none)."""
    call = node_parameters(words)
    if call is None:
        return []
    executable, values = call
    if executable not in NODE_PARAMETERS:
        return [f'{executable!r} is not a node of nano_vision '
                f'({", ".join(sorted(NODE_PARAMETERS))})']
    specs = {spec.name: spec for spec in NODE_PARAMETERS[executable]}
    problems = []
    for name, text in values:
        if name not in specs:
            problems.append(f'{executable} declares no parameter {name!r}')
            continue
        value = yaml.safe_load(text)  # as rcl types a -p value
        if isinstance(specs[name].default, str) and '$' in text:
            value = text  # a shell variable: a string once expanded
        try:
            specs[name].check(value)
        except ValueError as exc:
            problems.append(f'{executable}: {exc}')
    return problems


def test_the_documents_have_commands_to_check():
    found = list(documented_commands())
    assert sum(launch_calls(w) is not None for _, w in found) >= 10
    assert sum(node_parameters(w) is not None for _, w in found) >= 5


def problems_in(path, check):
    """Return what ``check`` finds wrong in each command of the document at ``path``."""
    return [f'{" ".join(words)}: {problem}'
            for name, words in documented_commands() if name == path.name
            for problem in check(words)]


@pytest.mark.parametrize('path', DOCUMENTS, ids=lambda p: p.name)
def test_launch_commands_name_real_files_and_arguments(path):
    problems = problems_in(path, check_launch)
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('path', DOCUMENTS, ids=lambda p: p.name)
def test_node_commands_set_declared_parameters_with_their_types(path):
    problems = problems_in(path, check_node)
    assert not problems, '\n'.join(problems)


def test_ros2_run_names_an_executable_of_the_package():
    scripts = set(console_scripts())
    for _, words in documented_commands():
        if words[:3] == ['ros2', 'run', 'nano_vision']:
            assert len(words) > 3 and words[3] in scripts, ' '.join(words)


def test_wrong_names_and_types_are_caught():
    line = 'ros2 launch nano_vision thumbs.launch.py model:=m.pt sauce:=csi  # comment'
    assert check_launch(commands(line)[0]) == [
        "thumbs.launch.py declares no argument 'sauce' (it has in_process_camera, model, "
        'namespace, params_file, source)']
    assert check_launch(commands('ros2 launch nano_vision thumb.launch.py')[0])
    assert not check_launch(commands('ros2 launch nano_vision record.launch.py '
                                     'dataset:=d task:=xy categories:=a,b')[0])
    assert check_launch(commands('ros2 launch nano_vision line_following.launch.py '
                                 'track:=square')[0]) == [
        'line_following.launch.py: track:=square is not one of oval, peanut, bean, trefoil, '
        'kidney']
    line = 'camera --ros-args -p source:=csi -p widht:=640 -r image_raw:=x &'
    assert check_node(commands(line)[0]) == ["camera declares no parameter 'widht'"]
    line = 'ros2 run nano_vision camera --ros-args -p fps:=30'  # an integer, not a double
    assert 'must be a double' in check_node(commands(line)[0])[0]
    line = 'python -m nano_vision.nodes.classifier --ros-args -p device:=gpu'
    assert 'not one of' in check_node(commands(line)[0])[0]
    assert not check_node(commands('ros2 run other_pkg camera --ros-args -p x:=1')[0])
    snippets = code_snippets('Run `ros2 launch nano_vision a.launch.py\nx:=1` or\n'
                             '```bash\ncamera --ros-args \\\n  -p fps:=30.0\n```\n')
    assert 'camera --ros-args    -p fps:=30.0' in snippets
    assert 'ros2 launch nano_vision a.launch.py x:=1' in snippets
