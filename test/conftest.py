"""Shared fixtures: DDS kept on this machine, private rclpy contexts, bounded waits."""

import atexit
import os
import shutil
import tempfile
import time
import uuid

import pytest

# Before anything can start rclpy: discovery stays on the loopback interface.
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ['ROS_LOCALHOST_ONLY'] = '1'
# Nothing in the suite downloads: --weights auto trains from scratch, as on a machine
# without a network, whatever this machine's torchvision cache holds (the weights tests
# lift this where they need to, with a network that is never reached).
os.environ['NANO_VISION_OFFLINE'] = '1'
os.environ['TORCH_HOME'] = tempfile.mkdtemp(prefix='nano_vision_torch_home_')
atexit.register(shutil.rmtree, os.environ['TORCH_HOME'], True)


def spin_until(executor, predicate, timeout_sec=10.0):
    """Spin ``executor`` until ``predicate()`` is true; return its last value.

    Never waits longer than ``timeout_sec``: the caller asserts on the result.
    """
    deadline = time.monotonic() + timeout_sec
    result = predicate()
    while not result and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
        result = predicate()
    return result


@pytest.fixture
def ros():
    """Yield a private rclpy context, its executor and a unique namespace.

    Everything created in a test lives in its own context and namespace, so
    tests cannot hear each other even when they run side by side.
    """
    rclpy = pytest.importorskip('rclpy')
    from rclpy.executors import SingleThreadedExecutor

    context = rclpy.Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    env = RosEnv(rclpy, context, executor, f'/t_{uuid.uuid4().hex[:12]}')
    try:
        yield env
    finally:
        for node in env.nodes:
            executor.remove_node(node)
            node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown(context=context)


class RosEnv:
    """What the ``ros`` fixture gives a test."""

    def __init__(self, rclpy, context, executor, namespace):
        """Hold the context, executor and namespace of one test."""
        self.rclpy = rclpy
        self.context = context
        self.executor = executor
        self.namespace = namespace
        self.nodes = []

    def add(self, node):
        """Spin ``node`` with the executor and destroy it after the test."""
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def make(self, node_class, parameters=None, **kwargs):
        """Create ``node_class`` in this context and namespace, with parameter overrides."""
        from rclpy.parameter import Parameter
        overrides = [Parameter(name, value=value) for name, value in (parameters or {}).items()]
        node = node_class(context=self.context, namespace=self.namespace,
                          parameter_overrides=overrides, **kwargs)
        return self.add(node)

    def probe(self, name='probe'):
        """Return a plain node to publish and subscribe from the test."""
        return self.add(self.rclpy.create_node(name, context=self.context,
                                               namespace=self.namespace))

    def spin_until(self, predicate, timeout_sec=10.0):
        """Spin until ``predicate()`` is true or ``timeout_sec`` passes; return it."""
        return spin_until(self.executor, predicate, timeout_sec)
