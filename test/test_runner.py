"""run_node and the node contract it relies on; the executor a node spins with."""

import importlib
import time
import uuid

import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from helpers import console_scripts  # noqa: E402
from nano_vision.nodes import runner  # noqa: E402
from nano_vision.nodes.base import NanoVisionNode  # noqa: E402
from nano_vision.nodes.runner import make_executor, run_node  # noqa: E402


@pytest.fixture
def context():
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    rclpy.try_shutdown(context=context)


def test_model_nodes_spin_the_events_executor_where_rclpy_has_it(context):
    try:
        from rclpy.experimental import EventsExecutor  # noqa: F401
    except ImportError:
        expected = SingleThreadedExecutor  # Humble, Jazzy
    else:
        expected = type(EventsExecutor(context=context))
    executor = make_executor(True, context)
    assert type(executor) is expected
    executor.shutdown()


def test_other_nodes_spin_the_single_threaded_executor(context):
    executor = make_executor(False, context)
    assert type(executor) is SingleThreadedExecutor
    executor.shutdown()


def test_the_events_executor_delivers_messages_and_timers(context):
    from std_msgs.msg import String
    # as in the nodes: everything is created before the node joins the executor
    node = rclpy.create_node('runner_probe', namespace='/test_runner', context=context)
    got, ticks = [], []
    node.create_subscription(String, 'probe', lambda msg: got.append(msg.data), 10)
    publisher = node.create_publisher(String, 'probe', 10)
    node.create_timer(0.05, lambda: ticks.append(1))
    executor = make_executor(True, context)
    executor.add_node(node)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and not (got and len(ticks) >= 2):
        publisher.publish(String(data='frame'))
        executor.spin_once(timeout_sec=0.05)
    assert got and len(ticks) >= 2
    executor.shutdown()
    node.destroy_node()


def node_executables():
    """Return executable -> module of every node in setup.py's console_scripts."""
    return {name: target.split(':')[0] for name, target in console_scripts().items()
            if target.startswith('nano_vision.nodes.')}


def test_every_node_executable_runs_a_nano_vision_node_named_after_it(monkeypatch):
    executables = node_executables()
    assert {'camera', 'classifier', 'regressor', 'overlay', 'steering', 'sim',
            'dataset_recorder'} <= set(executables)
    for executable, module_name in executables.items():
        module = importlib.import_module(module_name)
        ran = []
        monkeypatch.setattr(module, 'run_node', lambda cls, name, *a, **k: ran.append(
            (cls, name)) or 0)
        assert module.main([]) == 0
        (node_class, name), = ran
        assert issubclass(node_class, NanoVisionNode), executable
        assert name == executable


def test_run_node_refuses_a_class_that_is_not_a_nano_vision_node():
    with pytest.raises(TypeError, match='NanoVisionNode'):
        run_node(rclpy.node.Node, 'plain')


class Scripted(NanoVisionNode):
    """A node that ends itself on its first timer tick, as ``outcome`` says."""

    outcome = None   # None: end normally; a string: end with this failure; an exception
    released = []

    def __init__(self, **kwargs):
        super().__init__('scripted', **kwargs)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        self.create_timer(0.01, lambda: self.end(self.outcome))

    def release(self):
        Scripted.released.append((self.stopping.is_set(), self.context.ok()))


@pytest.mark.parametrize('outcome, status', [(None, 0), ('the device is gone', 1)])
def test_run_node_exit_status_follows_how_the_node_ended(monkeypatch, outcome, status):
    monkeypatch.setattr(Scripted, 'outcome', outcome)
    monkeypatch.setattr(Scripted, 'released', [])
    args = ['--ros-args', '-r', f'__ns:=/t_runner_{uuid.uuid4().hex[:8]}']
    assert runner.run_node(Scripted, 'scripted', args) == status
    # released once, after stopping was set, while the context still worked
    assert Scripted.released == [(True, True)]


def test_run_node_exit_status_2_when_the_node_cannot_start(monkeypatch, capfd):
    monkeypatch.setattr(Scripted, 'outcome', ValueError('parameter x is bad: set it to 1'))
    args = ['--ros-args', '-r', f'__ns:=/t_runner_{uuid.uuid4().hex[:8]}']
    assert runner.run_node(Scripted, 'scripted', args) == 2
    assert 'cannot start: parameter x is bad: set it to 1' in capfd.readouterr().err


def test_the_first_end_decides_and_destroying_twice_releases_once(ros, monkeypatch):
    monkeypatch.setattr(Scripted, 'outcome', 'first')
    monkeypatch.setattr(Scripted, 'released', [])
    node = ros.make(Scripted)
    assert ros.spin_until(node.done.is_set)
    node.end('second')
    node.end()
    assert node.failure == 'first'
    ros.executor.remove_node(node)
    node.destroy_node()
    node.destroy_node()
    assert Scripted.released == [(True, True)]


# A node whose main thread is nearly always inside a callback when the signal comes.
BUSY_NODE = """
import sys, time
from nano_vision.nodes.base import NanoVisionNode
from nano_vision.nodes.runner import run_node

class Busy(NanoVisionNode):
    def __init__(self, **kwargs):
        super().__init__('busy', **kwargs)
        self.create_timer(0.001, self.work)

    def work(self):
        print('start', flush=True)
        end = time.monotonic() + 0.05
        while time.monotonic() < end:
            pass
        print('end', flush=True)

sys.exit(run_node(Busy, 'busy', ['--ros-args', '-r', '__ns:=/%s'], events_executor=%s))
"""


@pytest.mark.slow
@pytest.mark.parametrize('events', [True, False])
def test_a_stop_signal_never_cuts_a_callback_short(events):
    import signal
    import subprocess
    import sys
    script = BUSY_NODE % (f't_busy_{uuid.uuid4().hex[:8]}', events)
    for sig in (signal.SIGINT, signal.SIGTERM):
        # the callback's lines on stdout, the node's log (and any traceback) on stderr
        process = subprocess.Popen([sys.executable, '-c', script], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        lines = []
        while lines.count('end') < 5:  # spinning, mostly inside work()
            lines.append(process.stdout.readline().strip())
            assert lines[-1] or process.poll() is None, process.stderr.read()
        process.send_signal(sig)
        process.wait(timeout=10)
        # through the same buffered reader as above (communicate() would skip what it holds)
        lines += process.stdout.read().splitlines()
        log = process.stderr.read()
        assert process.returncode == 0, log
        assert 'Traceback' not in log and 'Exception' not in log, log
        # every callback that started ran to its end
        assert set(lines) == {'start', 'end'}, lines
        assert lines == ['start', 'end'] * (len(lines) // 2), lines[-6:]
