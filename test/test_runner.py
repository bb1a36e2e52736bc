"""The executor a node spins with."""

import time

import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from nano_vision.nodes.runner import make_executor  # noqa: E402


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
