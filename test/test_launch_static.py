"""Launch and config files checked without ``ros2 launch`` (launch is not on PyPI).

Each launch file starts the graph of nano_vision/nodes/graph.py named after it.
Every executable a graph starts is a console script of setup.py and is installed;
every parameter a YAML file or a graph sets is declared by its node, with the type
the node declares; every launch and config file is installed under
share/nano_vision. Where the launch library is installed, the launch descriptions
themselves are built and their conditions evaluated, without starting anything.
"""

import ast
import os
import pathlib

import pytest
import yaml

from helpers import calls, console_scripts, declared_arguments, launch_graph
from nano_vision.datasets.layout import TASKS
from nano_vision.nodes.graph import Arg, GRAPHS, MODEL_NODES, PROJECTS, typed_argument
from nano_vision.nodes.registry import NODE_PARAMETERS

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((ROOT / 'launch').glob('*.launch.py'))
CONFIG_FILES = sorted((ROOT / 'config').glob('*.yaml'))
INSTALL = pathlib.Path(os.environ.get('NANO_VISION_INSTALL', ROOT / 'install')) / 'nano_vision'


def launched_nodes(path):
    """Yield (executable, {parameter: value}) for each node a launch file starts.

    The nodes of the file's graph (nano_vision/nodes/graph.py); a parameter that takes a
    launch argument stands for every value the argument may have: its default and its
    choices (a required argument without choices for none).
    """
    graph = launch_graph(path)
    assert graph is not None, f'{path.name} starts no graph of nano_vision/nodes/graph.py'
    arguments = {argument.name: argument for argument in graph.arguments}
    for node in graph.nodes:
        parameters = {}
        for name, value in node.parameters.items():
            if isinstance(value, Arg):
                argument = arguments[value.name]
                texts = [*argument.choices,
                         *([argument.default] if argument.default is not None else [])]
                parameters[name] = [typed_argument(node.executable, name, text)
                                    for text in texts]
            else:
                parameters[name] = [value]
        yield node.executable, parameters


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
            for one in value:
                declared[name].check(one)


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


def test_each_launch_file_starts_the_graph_named_after_it():
    for path in LAUNCH_FILES:
        tree = ast.parse(path.read_text())
        names = [ast.literal_eval(call.args[0])
                 for name in ('graph_arguments', 'graph_nodes') for call in calls(tree, name)]
        assert names == [path.name.removesuffix('.launch.py')] * 2, path.name
    assert sorted(graph.launch_file for graph in GRAPHS.values()) == \
        [path.name for path in LAUNCH_FILES]


@pytest.mark.parametrize('name', sorted(GRAPHS))
def test_graph_configs_exist_and_configure_the_graphs_nodes(name):
    graph = GRAPHS[name]
    if isinstance(graph.config, Arg):  # config/<argument>.yaml for each of its choices
        [argument] = [a for a in graph.arguments if a.name == graph.config.name]
        configs = [graph.config_file({argument.name: choice}) for choice in argument.choices]
    else:
        configs = [graph.config]
    executables = {node.executable for node in graph.nodes}
    model_nodes = executables & set(MODEL_NODES.values())
    for config in configs:
        sections = {node_for(ROOT / 'config' / config, section)
                    for section, _ in yaml_parameters(ROOT / 'config' / config)}
        assert sections <= executables, f'config/{config} configures other nodes'
        if name != 'pipeline':  # the pipeline's model node is the task's
            assert model_nodes <= sections, f'config/{config} does not configure {model_nodes}'


def test_project_graphs_run_the_model_node_of_their_task():
    for project, task in PROJECTS.items():
        executables = [node.executable for node in GRAPHS[project].nodes]
        # the model node reads the camera itself, or (in_process_camera:=false) subscribes
        assert executables == ['camera', MODEL_NODES[task], MODEL_NODES[task], 'overlay'], \
            project
    assert set(MODEL_NODES) == set(TASKS)


# Arguments as the docs give them, and the nodes each launch file starts with them.
STARTED = [
    ('camera', {'source': 'synthetic:face'}, ['camera']),
    ('record', {'dataset': 'data/face', 'task': 'xy', 'categories': 'nose,left_eye'},
     ['camera', 'dataset_recorder']),
    ('thumbs', {'model': 'thumbs.pt'}, ['classifier', 'overlay']),
    ('thumbs', {'model': 'thumbs.pt', 'in_process_camera': 'false'},
     ['camera', 'classifier', 'overlay']),
    ('emotions', {'model': 'emotions.onnx', 'source': 'csi'}, ['classifier', 'overlay']),
    ('face_xy', {'model': 'face.pt', 'namespace': 'robot1'}, ['regressor', 'overlay']),
    ('fingers', {'model': 'fingers.pt', 'in_process_camera': '0'},
     ['camera', 'classifier', 'overlay']),
    ('objects', {'model': 'objects.pt', 'source': 'synthetic:objects'},
     ['detector', 'overlay']),
    ('objects', {'model': 'objects.pt', 'in_process_camera': 'false'},
     ['camera', 'detector', 'overlay']),
    ('pipeline', {'project': 'thumbs', 'task': 'classification', 'model': 'm.pt'},
     ['classifier', 'overlay']),
    ('pipeline', {'project': 'face_xy', 'task': 'xy', 'model': 'm.pt'},
     ['regressor', 'overlay']),
    ('pipeline', {'task': 'classification', 'model': 'mine.pt',  # project:=custom
                  'in_process_camera': 'false'},
     ['camera', 'classifier', 'overlay']),
    ('line_following', {'source': 'sim', 'oracle': 'true'}, ['sim', 'steering']),
    ('line_following', {'source': 'sim', 'model': 'road.pt', 'track': 'kidney'},
     ['sim', 'regressor', 'steering', 'overlay']),
    ('line_following', {'source': 'csi', 'model': 'road.onnx', 'enabled': 'false'},
     ['regressor', 'steering', 'overlay']),
    ('line_following', {'source': 'csi', 'model': 'road.onnx', 'in_process_camera': 'false'},
     ['camera', 'regressor', 'steering', 'overlay']),
    ('line_following', {'source': 'csi'}, ['camera', 'steering']),  # no model: stands still
    ('line_following', {'source': 'csi', 'oracle': 'true'}, ['camera']),  # no ground truth
]


@pytest.mark.parametrize('name, given, expected', STARTED)
def test_graphs_start_the_nodes_their_arguments_call_for(name, given, expected):
    graph = GRAPHS[name]
    assert [node.executable for node in graph.running(graph.argument_values(given))] == expected


def _launch_file_module(path):
    import importlib.util
    spec = importlib.util.spec_from_file_location(path.stem.replace('.', '_'), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def started_by_launch(path, given):
    """Return the executables the launch file starts with ``given``, starting none.

    Its description is built and walked as ``ros2 launch`` walks it: arguments set
    (defaults, choices checked), conditions evaluated, groups and functions entered;
    processes and environment variables are left alone.
    """
    from launch import LaunchContext
    from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction
    from launch_ros.actions import Node
    context = LaunchContext()
    context.launch_configurations.update(given)
    started = []

    def visit(entities):
        for entity in entities:
            condition = getattr(entity, 'condition', None)
            if condition is not None and not condition.evaluate(context):
                continue
            if isinstance(entity, DeclareLaunchArgument):
                entity.execute(context)
            elif isinstance(entity, GroupAction):
                visit(entity.get_sub_entities())
            elif isinstance(entity, OpaqueFunction):
                visit(entity.execute(context) or [])
            elif isinstance(entity, Node):
                started.append(entity.node_executable)
    visit(_launch_file_module(path).generate_launch_description().entities)
    return started


@pytest.mark.parametrize('name, given, expected', STARTED)
def test_launch_descriptions_start_the_nodes_of_their_graph(name, given, expected):
    pytest.importorskip('launch_ros')
    assert started_by_launch(ROOT / 'launch' / f'{name}.launch.py', given) == expected


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_descriptions_declare_their_graphs_arguments(path):
    pytest.importorskip('launch_ros')
    description = _launch_file_module(path).generate_launch_description()
    declared = {argument.name: argument for argument in description.get_launch_arguments()}
    assert {name: argument.default_value is not None for name, argument in declared.items()} \
        == declared_arguments(path)  # what the docs check reads without launch
    for argument in launch_graph(path).arguments:
        assert (declared[argument.name].choices or []) == list(argument.choices)
        # launch appends the valid choices to the description
        assert declared[argument.name].description.startswith(argument.description)
