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


def _small_model(folder, scene, size, names=None):
    """Train a small CNN for one epoch on a synthetic set; return the model file.

    ``names``: copy the scene's images into these categories instead (a stand-in for a
    user's own categories).
    """
    from nano_vision.ml.recipe import TrainOptions
    from nano_vision.ml.train import train
    from nano_vision.datasets.synth import write_synthetic_dataset
    data = folder / 'data'
    write_synthetic_dataset(scene, str(data), 24, size=size, seed=3)
    if names:
        images = sorted(data.rglob('*.jpg'))
        data = folder / 'renamed'
        for index, image in enumerate(images):
            category = data / names[index % len(names)]
            category.mkdir(parents=True, exist_ok=True)
            shutil.copy(image, category / image.name)
    out = folder / f'{scene}.pt'
    train(TrainOptions(data=str(data), out=str(out), arch='small_cnn', epochs=1, image_size=32,
                       progress=False, plots=False), echo=lambda _: None)
    return str(out)


@pytest.fixture(scope='session')
def small_models(tmp_path_factory):
    """Return a model file per project: small CNNs trained for one epoch.

    For tests of processes and launch files, where a model must load and run, not be good:
    ``thumbs``, ``emotions`` and ``fingers`` classifiers, ``face_xy`` (nose and eyes) and
    ``line_following`` (the road target) keypoint models, and ``objects``, a classifier
    of the objects scene's windows (with its ``background`` class) for the detector.
    """
    folder = tmp_path_factory.mktemp
    return {'thumbs': _small_model(folder('thumbs'), 'thumbs', 64),
            'emotions': _small_model(folder('emotions'), 'emotions', 64),
            'face_xy': _small_model(folder('face'), 'face', (64, 48)),
            'line_following': _small_model(folder('line'), 'line_following', (64, 48)),
            'fingers': _small_model(folder('fingers'), 'fingers', 64),
            'objects': _small_model(folder('objects'), 'objects', (160, 120))}
