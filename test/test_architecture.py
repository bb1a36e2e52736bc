"""The package's shape: import direction by layer, no import circles, a small top level.

Layers, lowest first (docs/architecture.md):
1. pure concept packages (numpy, OpenCV, PyYAML, rosbags/mcap): no torch, no rclpy,
   no ROS message packages, no launch;
2. ``ml``: torch and torchvision, no rclpy;
3. ``nodes``: rclpy and the messages;
4. ``tools``: the ``nano-vision`` command and its demo.
A module imports only from its own layer or below. The graph is read from the source
(every import, also the ones inside functions), then the pure modules are imported for
real in a process where torch and rclpy cannot be imported.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / 'nano_vision'

PURE = {'bags', 'camera', 'control', 'datasets', 'image', 'inference', 'parameters', 'runtime',
        'scenes', 'web'}
LAYERS = {**dict.fromkeys(PURE, 1), 'ml': 2, 'nodes': 3, 'tools': 4, '__main__': 4}
# Third-party roots a layer may not import.
TORCH = {'torch', 'torchvision', 'onnx', 'onnxruntime', 'openvino', 'tensorrt'}
# (ament_index_python, which finds installed files, is plain Python and allowed)
ROS = {'rclpy', 'launch', 'launch_ros', 'rcl_interfaces', 'std_msgs', 'sensor_msgs',
       'geometry_msgs', 'nano_vision_msgs', 'builtin_interfaces'}
FORBIDDEN = {1: TORCH | ROS, 2: ROS}
# The top level: subpackages and these entry modules only.
TOP_LEVEL_MODULES = {'__init__.py', '__main__.py', 'parameters.py'}


def _module_name(path):
    parts = path.relative_to(ROOT).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob('*.py'))}


def _imports(path):
    """Yield every imported module name of ``path`` (nano_vision submodules resolved)."""
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                full = f'{node.module}.{alias.name}'
                yield full if full in MODULES else node.module


def _graph():
    return {name: {m for m in _imports(path) if m in MODULES and m != name}
            for name, path in MODULES.items()}


def _layer(module):
    parts = module.split('.')
    return LAYERS[parts[1]] if len(parts) > 1 else 1


def test_the_top_level_is_subpackages_and_entry_modules():
    modules = {p.name for p in PACKAGE.iterdir() if p.suffix == '.py'}
    assert modules == TOP_LEVEL_MODULES
    packages = {p.name for p in PACKAGE.iterdir() if (p / '__init__.py').exists()}
    assert packages == set(LAYERS) - {'__main__', 'parameters'}


def test_no_import_circles():
    graph = _graph()
    state, stack = {}, []

    def visit(module):
        state[module] = 'open'
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 'open':
                circle = stack[stack.index(target):] + [target]
                pytest.fail('import circle: ' + ' -> '.join(circle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 'done'

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_imports_go_down_the_layers():
    upward = [f'{module} -> {target}' for module, targets in _graph().items()
              for target in targets if _layer(target) > _layer(module)]
    assert upward == []


def test_pure_and_ml_modules_import_no_ros_and_pure_ones_no_torch():
    bad = []
    for module, path in MODULES.items():
        forbidden = FORBIDDEN.get(_layer(module), set())
        bad += [f'{module} imports {name}' for name in _imports(path)
                if name.split('.')[0] in forbidden]
    assert bad == []


def test_pure_modules_import_without_torch_or_rclpy():
    pure = [m for m in MODULES if _layer(m) == 1 and m != 'nano_vision']
    blocked = sorted(TORCH | ROS)
    code = (f'import importlib, sys\n'
            f'for name in {blocked!r}: sys.modules[name] = None\n'
            f'for name in {pure!r}: importlib.import_module(name)\n')
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
