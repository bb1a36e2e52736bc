"""Every launch file under the real ``ros2 launch``: nodes, topics and rates, failures, Ctrl-C.

The demo's live step is checked against it too: the command lines ``ros2 launch`` gives
the nodes of a project (read through ``--launch-prefix``) are the demo's, but for the
demo's own settings.

``ros2 launch`` comes from a ROS install or, on a machine without one, from the wheels
``make setup`` installs from ``../shared/ros2-launch`` (README, "Tests"). Without
either, these tests skip and say so. Each launch runs in its own namespace on synthetic
sources with small models, and is stopped the way a terminal's Ctrl-C stops it: SIGINT
to the whole process group.
"""

import importlib.util
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import yaml

from helpers import LOOPBACK, process_group, process_sockets, ros_command
from nano_vision.runtime.dds import localhost_only
from nano_vision.tools.demo.plan import make_plan, PROJECTS as DEMO_PROJECTS
from nano_vision.tools.demo.run import demo_parameters, launch_arguments, node_commands

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _launch_missing():
    if shutil.which('ros2') is None:
        return 'no ros2 command'
    for module in ('launch', 'launch_ros', 'ros2launch', 'composition_interfaces',
                   'rosidl_runtime_py'):
        if importlib.util.find_spec(module) is None:
            return f'no Python package {module}'
    return None


MISSING = _launch_missing()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    MISSING is not None,
    reason=f'ros2 launch is not installed ({MISSING}): neither a ROS install nor '
           '../shared/ros2-launch (make setup installs it from there) provides it')]

# Seconds a launch may take to bring its nodes up on a busy 2-core machine.
START_SEC = 40.0
# Seconds the rates are measured over.
MEASURE_SEC = 3.0
# Seconds Ctrl-C may take to stop every node.
STOP_SEC = 10.0


class Launch:
    """``ros2 launch`` in its own process group, its output collected as it comes."""

    def __init__(self, *arguments):
        """Start ``ros2 launch nano_vision <arguments>``."""
        self.process = subprocess.Popen(
            ['ros2', 'launch', 'nano_vision', *arguments], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
            env=dict(os.environ, PYTHONUNBUFFERED='1'))
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self):
        return ''.join(self.lines)

    def wait(self, timeout):
        """Return the exit status, or None if the launch still runs after ``timeout`` s."""
        try:
            status = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reader.join(timeout=5.0)
        return status

    def interrupt(self):
        """Send SIGINT to every process of the launch, as Ctrl-C in its terminal does."""
        os.killpg(self.process.pid, signal.SIGINT)

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._reader.join(timeout=5.0)


@pytest.fixture
def launch():
    """Yield a function starting launches; whatever still runs is killed at the end."""
    started = []

    def start(*arguments):
        started.append(Launch(*arguments))
        return started[-1]
    yield start
    for running in started:
        running.kill()


def _message_type(name):
    from rosidl_runtime_py.utilities import get_message
    return get_message(name)


def wait_for_graph(ros, namespace, nodes, topics, timeout_sec=START_SEC, launched=None):
    """Spin until ``nodes`` exist in ``namespace`` and ``topics`` are published there.

    Return {topic: type name}. Fail early, with the launch's output, if it ends first.
    """
    probe = ros.probe('graph')
    wanted_nodes = set(nodes)
    wanted_topics = {f'{namespace}/{topic}' for topic in topics}
    deadline = time.monotonic() + timeout_sec
    found = {}
    while time.monotonic() < deadline:
        if launched is not None and launched.process.poll() is not None:
            pytest.fail(f'the launch ended early:\n{launched.output}')
        present = {name for name, space in probe.get_node_names_and_namespaces()
                   if space == namespace}
        published = {name: types[0] for name, types in probe.get_topic_names_and_types()
                     if name in wanted_topics and probe.count_publishers(name)}
        if wanted_nodes <= present and set(published) == wanted_topics:
            found = published
            break
        ros.executor.spin_once(timeout_sec=0.2)
    else:
        output = launched.output if launched is not None else ''
        pytest.fail(f'missing nodes {sorted(wanted_nodes - present)} or topics '
                    f'{sorted(wanted_topics - set(published))} after {timeout_sec} s:\n'
                    f'{output}')
    return found


def measure_rates(ros, topic_types, seconds=MEASURE_SEC):
    """Return {topic: messages per second} received over ``seconds`` after the first one."""
    from rclpy.qos import qos_profile_sensor_data
    probe = ros.probe('rates')
    arrivals = {topic: [] for topic in topic_types}
    for topic, type_name in topic_types.items():
        probe.create_subscription(
            _message_type(type_name), topic,
            lambda _, topic=topic: arrivals[topic].append(time.monotonic()),
            qos_profile_sensor_data)
    assert ros.spin_until(lambda: all(arrivals.values()), timeout_sec=20.0), \
        {topic: len(times) for topic, times in arrivals.items()}
    start = time.monotonic()
    counts = {topic: len(times) for topic, times in arrivals.items()}
    ros.spin_until(lambda: time.monotonic() - start >= seconds, timeout_sec=seconds + 1.0)
    elapsed = time.monotonic() - start
    return {topic: (len(arrivals[topic]) - counts[topic]) / elapsed for topic in arrivals}


def stop_cleanly(launched):
    """Ctrl-C the launch; check it ends within STOP_SEC with every node stopped cleanly."""
    launched.interrupt()
    status = launched.wait(STOP_SEC)
    output = launched.output
    assert status is not None, f'still running {STOP_SEC} s after Ctrl-C:\n{output}'
    assert 'Traceback' not in output, output
    assert 'process has died' not in output, output  # every node exited with status 0
    assert status == 0, output


def _namespace():
    return f'/t_{uuid.uuid4().hex[:10]}'


PROJECTS = {'thumbs.launch.py': ('thumbs', 'classifier', 'classification'),
            'emotions.launch.py': ('emotions', 'classifier', 'classification'),
            'face_xy.launch.py': ('face_xy', 'regressor', 'keypoints'),
            'fingers.launch.py': ('fingers', 'classifier', 'classification'),
            'objects.launch.py': ('objects', 'detector', 'detections')}


@pytest.mark.parametrize('file_name', sorted(PROJECTS))
def test_project_launch_runs_its_pipeline_and_stops_on_ctrl_c(ros, launch, small_models,
                                                              file_name):
    # the model node reads the camera itself: no camera node
    check_project_launch(ros, launch, small_models, file_name, in_process=True)


def test_in_process_camera_false_starts_a_camera_node(ros, launch, small_models):
    check_project_launch(ros, launch, small_models, 'thumbs.launch.py', in_process=False)


def check_project_launch(ros, launch, small_models, file_name, in_process):
    """Run a project's launch file; check its nodes, topics, rates, sockets, frame size, Ctrl-C."""
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    project, model_node, output_topic = PROJECTS[file_name]
    namespace = _namespace()
    launched = launch(file_name, f'model:={small_models[project]}', 'source:=synthetic:face',
                      f'namespace:={namespace}', f'in_process_camera:={str(in_process).lower()}')
    nodes = [model_node, 'overlay'] if in_process else ['camera', model_node, 'overlay']
    topics = wait_for_graph(ros, namespace, nodes,
                            ['image_raw', output_topic, 'image_annotated'], launched=launched)
    rates = measure_rates(ros, topics)
    # the camera runs at config/<project>.yaml's 30 fps; the model node and the overlay
    # keep up with a small model, or take the newest frame each time (the detector runs the
    # model on 204 windows a frame)
    least = 1.0 if model_node == 'detector' else 5.0
    assert rates[f'{namespace}/image_raw'] >= 15.0, rates
    assert rates[f'{namespace}/{output_topic}'] >= least, rates
    assert rates[f'{namespace}/image_annotated'] >= least, rates
    # the frames have the size of the parameter file's camera section, whichever node reads
    frames = []
    ros.probe('frames').create_subscription(Image, f'{namespace}/image_raw', frames.append,
                                            qos_profile_sensor_data)
    assert ros.spin_until(lambda: frames, timeout_sec=10.0)
    camera = yaml.safe_load((ROOT / 'config' / f'{project}.yaml').read_text())
    camera = camera['/**/camera']['ros__parameters']
    assert (frames[0].width, frames[0].height) == (camera['width'], camera['height'])
    if shutil.which('ss') and localhost_only():
        # every process of the launch (ros2 launch and its nodes): no socket off loopback
        sockets = process_sockets(process_group(launched.process.pid))
        assert sum(map(len, sockets.values())) >= 3 * len(nodes), sockets  # >= 3 a node
        assert {address for found in sockets.values() for address, _ in found} <= LOOPBACK, \
            sockets
    stop_cleanly(launched)


def test_pipeline_launch_takes_the_project_and_task(ros, launch, small_models):
    namespace = _namespace()
    launched = launch('pipeline.launch.py', 'project:=face_xy', 'task:=xy',
                      f'model:={small_models["face_xy"]}', 'source:=synthetic:face',
                      f'namespace:={namespace}')
    topics = wait_for_graph(ros, namespace, ['regressor', 'overlay'],
                            ['image_raw', 'point'], launched=launched)
    assert all(rate > 0 for rate in measure_rates(ros, topics).values())
    stop_cleanly(launched)


def test_camera_launch(ros, launch):
    namespace = _namespace()
    launched = launch('camera.launch.py', 'source:=synthetic:thumbs', f'namespace:={namespace}')
    topics = wait_for_graph(ros, namespace, ['camera'], ['image_raw', 'camera_info'],
                            launched=launched)
    rates = measure_rates(ros, topics)
    assert rates[f'{namespace}/image_raw'] >= 20.0, rates  # config/camera.yaml: 30 fps
    stop_cleanly(launched)


def test_record_launch_records_through_the_capture_service(ros, launch, tmp_path):
    from nano_vision_msgs.srv import Capture
    namespace = _namespace()
    dataset = tmp_path / 'thumbs'
    launched = launch('record.launch.py', f'dataset:={dataset}', 'source:=synthetic:thumbs',
                      'categories:=thumbs_up,thumbs_down', 'port:=0', f'namespace:={namespace}')
    topics = wait_for_graph(ros, namespace, ['camera', 'dataset_recorder'], ['image_raw'],
                            launched=launched)
    assert measure_rates(ros, topics)[f'{namespace}/image_raw'] >= 15.0
    client = ros.probe('client').create_client(Capture, f'{namespace}/dataset_recorder/capture')
    assert ros.spin_until(lambda: client.service_is_ready(), timeout_sec=10.0)
    future = client.call_async(Capture.Request(label='thumbs_up'))
    assert ros.spin_until(future.done, timeout_sec=10.0) and future.result().success, \
        future.result()
    assert len(list((dataset / 'thumbs_up').iterdir())) == 1
    stop_cleanly(launched)


def test_line_following_launch_drives_the_simulator(ros, launch, small_models):
    namespace = _namespace()
    launched = launch('line_following.launch.py', f'model:={small_models["line_following"]}',
                      'source:=sim',
                      f'namespace:={namespace}')
    topics = wait_for_graph(ros, namespace, ['sim', 'regressor', 'steering', 'overlay'],
                            ['image_raw', 'point', 'cmd_vel', 'image_annotated'],
                            launched=launched)
    rates = measure_rates(ros, topics)
    assert rates[f'{namespace}/cmd_vel'] >= 5.0, rates
    stop_cleanly(launched)


@pytest.mark.parametrize('argument, node, in_process', [
    ('model:=/nonexistent/model.pt', 'classifier', 'true'),
    ('source:=/dev/video97', 'classifier', 'true'),  # the classifier reads the camera
    ('source:=/dev/video97', 'camera', 'false')])
def test_a_node_that_cannot_start_ends_the_whole_launch(launch, small_models, argument, node,
                                                        in_process):
    arguments = {'model': small_models['thumbs'], 'source': 'synthetic:thumbs',
                 'in_process_camera': in_process}
    name, _, value = argument.partition(':=')
    arguments[name] = value
    launched = launch('thumbs.launch.py', *(f'{k}:={v}' for k, v in arguments.items()),
                      f'namespace:={_namespace()}')
    status = launched.wait(START_SEC)
    output = launched.output
    assert status is not None, f'the launch still runs with a broken {node}:\n{output}'
    assert 'cannot start' in output, output  # the node's own reason
    # launch names the node whose exit ended it
    assert re.search(rf'process\[{node}-\d+\] was required', output), output
    assert 'Traceback' not in output, output


def test_unknown_task_or_project_is_refused_with_the_choices(launch):
    launched = launch('pipeline.launch.py', 'project:=thumbs', 'task:=regression',
                      'model:=m.pt')
    status = launched.wait(START_SEC)
    assert status not in (None, 0), launched.output
    assert 'regression' in launched.output and "'xy'" in launched.output, launched.output
    launched = launch('pipeline.launch.py', 'project:=thumb', 'task:=xy', 'model:=m.pt')
    assert launched.wait(START_SEC) not in (None, 0)
    assert "'face_xy'" in launched.output, launched.output


@pytest.mark.parametrize('file_name', sorted(PROJECTS))
def test_project_files_show_only_the_arguments_a_user_gives(launch, file_name):
    launched = launch(file_name, '--show-args')
    assert launched.wait(START_SEC) == 0, launched.output
    shown = {line.strip().strip("'").split("'")[0] for line in launched.lines
             if line.startswith("    '")}
    assert shown == {'model', 'source', 'in_process_camera', 'namespace', 'params_file'}, \
        launched.output


# Stands in for every node of a launch (--launch-prefix): prints the command line launch
# gives the node, then waits for Ctrl-C and exits cleanly.
PRINT_ARGV = shlex.join([sys.executable, '-c', (
    'import json, signal, sys; stop = {signal.SIGINT, signal.SIGTERM}; '
    'signal.pthread_sigmask(signal.SIG_BLOCK, stop); '
    'print("ARGV", json.dumps(sys.argv[1:]), flush=True); signal.sigwait(stop)')])


def launched_commands(launched, count):
    """Return {node: ros_command} of a launch under PRINT_ARGV, once ``count`` have started.

    The parameters launch writes to a temporary file are read back (and the file removed).
    """
    deadline = time.monotonic() + START_SEC

    def printed():
        return [json.loads(line.split(' ARGV ', 1)[1]) for line in list(launched.lines)
                if ' ARGV ' in line]
    while len(printed()) < count and time.monotonic() < deadline:
        if launched.process.poll() is not None:
            pytest.fail(f'the launch ended early:\n{launched.output}')
        time.sleep(0.1)
    time.sleep(1.0)  # a node more than expected would print by now
    commands = {}
    for argv in printed():
        command = ros_command(argv)
        files = []
        for path in command['params_files']:
            if os.path.basename(path).startswith('launch_params_'):  # the Node's own
                for section in yaml.safe_load(open(path)).values():
                    command['parameters'].update(section['ros__parameters'])
                os.remove(path)
            else:
                files.append(os.path.realpath(path))
        command['params_files'] = files
        assert command['remappings'].pop('__node') == command['executable']
        commands[command['executable']] = command
    return commands


@pytest.mark.parametrize('project', sorted(DEMO_PROJECTS))
def test_the_demo_starts_the_nodes_its_projects_launch_file_starts(launch, project):
    plan = make_plan(project)
    namespace, model = _namespace(), '/models/1.pt'
    demo = {name: ros_command(argv)
            for name, argv in node_commands(plan, model, namespace).items()}
    arguments = launch_arguments(plan, model, namespace)
    launched = launch(f'{project}.launch.py', *(f'{k}:={v}' for k, v in arguments.items()),
                      '--launch-prefix', PRINT_ARGV)
    extra = {'steering'} if plan.steering == 'motors_off' else set()
    started = launched_commands(launched, len(demo) - len(extra))
    launched.interrupt()  # stand-ins that exit at once can race launch's reaping: not our test
    launched.wait(STOP_SEC)

    assert set(started) == set(demo) - extra, launched.output
    settings = demo_parameters(plan)
    for name, command in started.items():
        mine = demo[name]
        assert mine['remappings'] == command['remappings'], name
        assert [os.path.realpath(f) for f in mine['params_files']] == command['params_files']
        # the launch file's parameters, then the demo's frame size, rate and statistics (the
        # camera's for a model node that reads the camera itself)
        reads_camera = name != 'camera' and 'source' in command['parameters']
        assert mine['parameters'] == {**command['parameters'],
                                      **(settings['camera'] if reads_camera else {}),
                                      **settings.get(name, {})}, name
