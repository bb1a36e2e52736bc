"""Helpers several test modules share (plain functions; fixtures live in conftest.py)."""

import ast
import os
import pathlib
import subprocess

import cv2
import numpy as np
import yaml

from nano_vision.datasets.layout import load_dataset, MANIFEST, parse_xy_name, read_manifest
from nano_vision.image.coords import to_normalised

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Addresses ss prints for the loopback interface.
LOOPBACK = {'127.0.0.1', '[::1]', '[::ffff:127.0.0.1]', '::1'}


def process_sockets(pids):
    """Return {pid: [(address, port)]} of every TCP and UDP socket ``ss -tunap`` shows."""
    table = subprocess.run(['ss', '-tunapH'], capture_output=True, text=True, check=True).stdout
    found = {pid: [] for pid in pids}
    for line in table.splitlines():
        for pid in pids:
            if f'pid={pid},' in line:
                address, port = line.split()[4].rsplit(':', 1)
                found[pid].append((address.split('%')[0], int(port)))
    return found


def process_group(pgid):
    """Return the pids of the processes in process group ``pgid``."""
    table = subprocess.run(['ps', '-e', '-o', 'pid=,pgid='], capture_output=True, text=True,
                           check=True).stdout
    return [int(pid) for pid, group in (line.split() for line in table.splitlines())
            if int(group) == pgid]


def make_squares(root, per_class=50, size=64, seed=0):
    """Write a separable two-class set: a red or a blue square somewhere on noise."""
    rng = np.random.default_rng(seed)
    for label, colour in (('blue', (220, 30, 30)), ('red', (30, 30, 220))):
        os.makedirs(root / label, exist_ok=True)
        for i in range(per_class):
            image = rng.integers(0, 90, (size, size, 3)).astype(np.uint8)
            x, y = (int(v) for v in rng.integers(0, size - 20, 2))
            cv2.rectangle(image, (x, y), (x + 20, y + 20), colour, -1)
            cv2.imwrite(str(root / label / f'{i:03d}.png'), image)
    return root


def make_dots(root, count=160, size=64, seed=0):
    """Write an XY set: the point is where a bright disc sits (course file names)."""
    rng = np.random.default_rng(seed)
    os.makedirs(root / 'dot', exist_ok=True)
    for i in range(count):
        image = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
        u, v = (int(c) for c in rng.integers(8, size - 8, 2))
        cv2.circle(image, (u, v), 6, (255, 255, 255), -1)
        cv2.imwrite(str(root / 'dot' / f'{u}_{v}_{i:04d}.png'), image)
    return root


def console_scripts():
    """Return executable name -> entry point, read from setup.py without running it."""
    tree = ast.parse((ROOT / 'setup.py').read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == 'console_scripts':
                    entries = [ast.literal_eval(e) for e in value.elts]
                    return {e.split('=')[0].strip(): e.split('=')[1].strip() for e in entries}
    raise AssertionError('setup.py has no console_scripts')


def calls(tree, name):
    """Return the calls of function ``name`` in a parsed file."""
    return [c for c in ast.walk(tree)
            if isinstance(c, ast.Call) and getattr(c.func, 'id', '') == name]


def launch_graph(path):
    """Return the graph (nano_vision/nodes/graph.py) a launch file starts, or None.

    Read without importing the file (launch is not on PyPI): the name its
    ``graph_nodes(...)`` call gives.
    """
    from nano_vision.nodes.graph import GRAPHS
    names = {ast.literal_eval(call.args[0])
             for call in calls(ast.parse(path.read_text()), 'graph_nodes')}
    assert len(names) <= 1, f'{path.name} starts several graphs: {names}'
    return GRAPHS[names.pop()] if names else None


def declared_arguments(path):
    """Return {argument: has a default} of a launch file (its graph's arguments included)."""
    from nano_vision.nodes.graph import NAMESPACE
    arguments = {}
    graph = launch_graph(path)
    if graph is not None:
        for argument in (*graph.arguments, NAMESPACE):
            arguments[argument.name] = argument.default is not None
        arguments['params_file'] = True
    for call in calls(ast.parse(path.read_text()), 'DeclareLaunchArgument'):
        keywords = {k.arg for k in call.keywords}
        arguments[ast.literal_eval(call.args[0])] = 'default_value' in keywords
    return arguments


def ros_command(argv):
    """Return what a node's command line sets: executable, remappings, files, parameters.

    ``{'executable': name, 'remappings': {from: to}, 'params_files': [path],
    'parameters': {name: value}}``; ``-p`` values read as YAML, as rcl reads them;
    ``python -m nano_vision.nodes.<name>`` counts as the executable ``name``.
    """
    index = argv.index('--ros-args')
    executable = os.path.basename(argv[index - 1]).rpartition('nano_vision.nodes.')[2]
    command = {'executable': executable, 'remappings': {}, 'params_files': [],
               'parameters': {}}
    options = argv[index + 1:]
    for flag, value in zip(options, options[1:]):
        if flag == '-r':
            source, target = value.split(':=', 1)
            command['remappings'][source] = target
        elif flag == '--params-file':
            command['params_files'].append(value)
        elif flag == '-p':
            name, text = value.split(':=', 1)
            command['parameters'][name] = yaml.safe_load(text)
    return command


def check_written_dataset(root):
    """Assert the layout every writer of nano_vision gives; return the manifest entries.

    Each image is ``<label>/<uid>.jpg`` or ``<label>/<u>_<v>_<uid>.jpg`` with
    whole pixels, listed once in the manifest with the point its name says and
    its size; no temporary file is left; the dataset loads with those points.
    """
    root = pathlib.Path(root)
    hidden = [str(p) for p in root.rglob('.*')]
    assert hidden == [], f'temporary files left: {hidden}'
    images = sorted(f'{p.parent.name}/{p.name}' for p in root.glob('*/*.jpg'))
    entries = read_manifest(root)
    assert sorted(entries) == images
    assert len((root / MANIFEST).read_text().splitlines()) == len(images)
    for file, entry in entries.items():
        label, name = file.split('/')
        assert entry['label'] == label
        height, width = cv2.imread(str(root / file)).shape[:2]
        assert (entry['width'], entry['height']) == (width, height)
        parsed = parse_xy_name(name)
        if entry['x'] is None:
            assert parsed is None and entry['u'] is None
        else:
            u, v, _ = parsed
            assert (entry['u'], entry['v']) == (u, v) and u.is_integer() and v.is_integer()
            assert (entry['x'], entry['y']) == to_normalised(u, v, width, height)
    loaded = {os.path.relpath(s.path, root): (s.x, s.y) for s in load_dataset(root).samples}
    assert loaded == {f: (e['x'], e['y']) for f, e in entries.items()}
    return entries
