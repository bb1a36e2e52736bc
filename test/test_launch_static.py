"""Launch and config files checked without ``ros2 launch`` (launch is not on PyPI).

Every executable a launch file starts is a console script of setup.py and is
installed; every parameter a YAML file or a launch file sets is declared by
its node, with the type the node declares; every launch and config file is
installed under share/nano_vision.
"""

import ast
import os
import pathlib

import pytest
import yaml

from helpers import calls, console_scripts, helper_tree, LAUNCH_HELPER
from nano_vision.datasets.layout import TASKS
from nano_vision.nodes.registry import NODE_PARAMETERS

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((ROOT / 'launch').glob('*.launch.py'))
CONFIG_FILES = sorted((ROOT / 'config').glob('*.yaml'))
INSTALL = pathlib.Path(os.environ.get('NANO_VISION_INSTALL', ROOT / 'install')) / 'nano_vision'


def launched_nodes(path):
    """Yield (executable, {parameter: value node}) for each Node(...) a launch file starts.

    Nodes built by the launch helper (pipeline_nodes) count for the files that call it;
    the helper's model node, named by a variable, stands for each of MODEL_NODES.
    """
    tree = ast.parse(path.read_text())
    trees = [tree]
    if path != LAUNCH_HELPER and (calls(tree, 'pipeline_nodes') or
                                  calls(tree, 'project_launch_description')):
        trees.append(helper_tree())
    for call in (c for t in trees for c in calls(t, 'Node')):
        kwargs = {k.arg: k.value for k in call.keywords}
        if isinstance(kwargs['executable'], ast.Constant):
            executables = [kwargs['executable'].value]
        else:
            executables = sorted(set(helper_constant('MODEL_NODES').values()))
        parameters = {}
        for item in getattr(kwargs.get('parameters'), 'elts', []):
            if isinstance(item, ast.Dict):
                for key, value in zip(item.keys, item.values):
                    parameters[ast.literal_eval(key)] = value
        for executable in executables:
            yield executable, parameters


def helper_constant(name):
    """Return a constant of the launch helper (read without importing launch)."""
    for node in helper_tree().body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', '') == name:
            return ast.literal_eval(node.value)
    raise AssertionError(f'launch_description.py has no {name}')


def yaml_parameters(path):
    """Yield (node name, {parameter: value}) for each section of a ROS parameter file."""
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f'{path.name} is not a parameter file'
    for node_name, section in document.items():
        assert 'ros__parameters' in section, f'{path.name}: {node_name} has no ros__parameters'
        yield node_name, section['ros__parameters']


def node_for(config_path, node_name):
    """Return the executable a YAML section configures (by node name or file name)."""
    name = node_name.strip('/').split('/')[-1]
    if name in NODE_PARAMETERS:
        return name
    stem = config_path.stem  # /** sections: the file is named after its node or project
    if stem in NODE_PARAMETERS:
        return stem
    raise AssertionError(f'{config_path.name}: cannot tell which node {node_name!r} configures')


def test_there_are_launch_and_config_files():
    assert LAUNCH_FILES and CONFIG_FILES


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launched_executables_exist(path):
    scripts = console_scripts()
    for executable, _ in launched_nodes(path):
        assert executable in scripts, f'{path.name} starts {executable!r}, not in setup.py'
        assert executable in NODE_PARAMETERS, f'{executable} has no parameter table'
        if INSTALL.exists():
            assert (INSTALL / 'lib' / 'nano_vision' / executable).exists()


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_parameters_are_declared(path):
    for executable, parameters in launched_nodes(path):
        declared = {spec.name: spec for spec in NODE_PARAMETERS[executable]}
        for name, value in parameters.items():
            assert name in declared, f'{path.name}: {executable} does not declare {name!r}'
            if isinstance(value, ast.Constant):
                declared[name].check(value.value)


@pytest.mark.parametrize('path', CONFIG_FILES, ids=lambda p: p.name)
def test_config_parameters_are_declared_with_their_types(path):
    for node_name, values in yaml_parameters(path):
        executable = node_for(path, node_name)
        declared = {spec.name: spec for spec in NODE_PARAMETERS[executable]}
        for name, value in values.items():
            assert name in declared, f'{path.name}: {executable} does not declare {name!r}'
            declared[name].check(value)  # same type as declared, in range


def test_console_scripts_point_at_a_main():
    import importlib
    for executable, target in console_scripts().items():
        module, _, function = target.partition(':')
        spec = importlib.util.find_spec(module)
        assert spec is not None, f'{executable}: no module {module}'
        assert f'def {function}(' in pathlib.Path(spec.origin).read_text()


@pytest.mark.skipif(not INSTALL.exists(), reason='workspace not built')
def test_launch_and_config_files_are_installed():
    share = INSTALL / 'share' / 'nano_vision'
    for path in LAUNCH_FILES:
        assert (share / 'launch' / path.name).exists(), path.name
    for path in CONFIG_FILES:
        assert (share / 'config' / path.name).exists(), path.name
    assert (share / 'package.xml').exists()
    assert (INSTALL / 'share' / 'ament_index' / 'resource_index' / 'packages' /
            'nano_vision').exists()


def test_launch_files_compile():
    for path in LAUNCH_FILES:
        compile(path.read_text(), str(path), 'exec')
        assert 'def generate_launch_description' in path.read_text()


def test_colcon_defaults_list_both_packages():
    defaults = yaml.safe_load((ROOT / 'colcon_defaults.yaml').read_text())
    assert defaults['build']['base-paths'] == ['.', 'nano_vision_msgs']
    assert os.path.isfile(ROOT / 'nano_vision_msgs' / 'package.xml')


def test_parameter_docs_are_generated_from_the_code():
    from nano_vision.tools.parameter_docs import render
    page = (ROOT / 'docs' / 'parameters.md').read_text()
    assert page == render(), 'run: python -m nano_vision.tools.parameter_docs > docs/parameters.md'


def test_project_launch_files_name_a_config_and_a_task():
    tasks = helper_constant('PROJECTS')
    model_nodes = helper_constant('MODEL_NODES')
    assert set(model_nodes) == set(TASKS)
    projects = {}
    for path in LAUNCH_FILES:
        for call in calls(ast.parse(path.read_text()), 'project_launch_description'):
            [project] = (ast.literal_eval(a) for a in call.args)
            projects[path.name] = project
            assert tasks[project] in model_nodes, path.name
            assert (ROOT / 'config' / f'{project}.yaml').exists(), path.name
            node = model_nodes[tasks[project]]
            sections = dict(yaml_parameters(ROOT / 'config' / f'{project}.yaml'))
            assert any(name.endswith(node) for name in sections), \
                f'config/{project}.yaml has no {node} section'
    assert projects == {'thumbs.launch.py': 'thumbs', 'emotions.launch.py': 'emotions',
                        'face_xy.launch.py': 'face_xy'}
    assert set(projects.values()) == set(tasks)
