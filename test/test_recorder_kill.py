"""Stop the recorder with real signals in the middle of a burst of captures.

The recorder runs as its own process; this test publishes frames and calls
~/capture as fast as the answers come, then sends SIGINT or SIGTERM while
calls are under way. Every answered capture must be on disk, every image
complete and listed once in the manifest, no temporary file left, and the
next start must count the same samples. The bag the recorder kept of its
frames must be closed properly on the way out.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
nano_vision_msgs = pytest.importorskip('nano_vision_msgs.srv')
Capture = getattr(nano_vision_msgs, 'Capture', None)
if Capture is None:  # an uninstalled nano_vision_msgs imports as an empty namespace
    pytest.skip('nano_vision_msgs is not built', allow_module_level=True)

from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from nano_vision.bags.read import open_bag  # noqa: E402
from nano_vision.datasets.layout import MANIFEST  # noqa: E402
from nano_vision.nodes.messages import image_msg  # noqa: E402

pytestmark = pytest.mark.slow  # real processes and signals

COUNTS_LINE = re.compile(r'recording classification dataset \S+: ([^;]*)')


class Recorder:
    """The dataset_recorder process and the lines it logged."""

    def __init__(self, dataset, namespace, bag=None):
        env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
                   ROS_LOCALHOST_ONLY='1', PYTHONUNBUFFERED='1',
                   RCUTILS_LOGGING_BUFFERED_STREAM='0')
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'nano_vision.nodes.dataset_recorder', '--ros-args',
             '-r', f'__ns:={namespace}', '-p', f'dataset:={dataset}',
             '-p', 'categories:=[a, b]'] + (['-p', f'bag:={bag}'] if bag else []),
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def counts(self, timeout=30.0):
        """Return the counts the recorder logged at start, as a dict."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                match = COUNTS_LINE.search(line)
                if match:
                    text = match.group(1).split(' (')[0]
                    return {k: int(v) for k, v in (p.split(' ') for p in text.split(', '))}
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError('the recorder did not start:\n' + '\n'.join(self.lines))

    def stop(self, signum=signal.SIGINT, timeout=30.0):
        """Send ``signum`` and return the exit status."""
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        finally:
            self._reader.join(5.0)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def recorders():
    started = []
    yield lambda *args: started.append(Recorder(*args)) or started[-1]
    for recorder in started:
        recorder.kill()


def disk_state(root):
    images, temporary = [], []
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith('.tmp'):
                temporary.append(path)
            elif name.endswith('.jpg'):
                images.append(path)
    with open(os.path.join(root, MANIFEST), encoding='utf-8') as stream:
        lines = stream.read().splitlines()
    return images, temporary, lines


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_every_acknowledged_capture_survives_a_signal(ros, tmp_path, recorders, signum):
    dataset = tmp_path / 'data'
    recorder = recorders(str(dataset), ros.namespace, str(tmp_path / 'bag'))
    assert recorder.counts() == {'a': 0, 'b': 0}
    probe = ros.probe()
    publisher = probe.create_publisher(Image, 'image', 1)
    rng = np.random.default_rng(0)

    def publish():
        # noisy 320x240 frames: JPEG files big enough to be caught mid-write
        pixels = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
        publisher.publish(image_msg(pixels, 'rgb8', Header(frame_id='cam')))
    probe.create_timer(0.02, publish)
    client = probe.create_client(Capture, f'{ros.namespace}/dataset_recorder/capture')
    assert ros.spin_until(client.service_is_ready, 20.0)

    acknowledged, pending, sent = [], [], 0
    target, signalled = 25, False
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        while len(pending) < 3 and not signalled:
            sent += 1
            pending.append(client.call_async(Capture.Request(label='ab'[sent % 2])))
        ros.executor.spin_once(timeout_sec=0.01)
        for future in [f for f in pending if f.done()]:
            pending.remove(future)
            answer = future.result()
            if answer.success:
                acknowledged.append(answer.path)
        if len(acknowledged) >= target and not signalled:
            recorder.process.send_signal(signum)  # while three calls are under way
            signalled = True
        if signalled and recorder.process.poll() is not None:
            ros.spin_until(lambda: False, 0.3)  # answers sent just before the exit
            break
    assert signalled, f'only {len(acknowledged)} captures answered:\n' + \
        '\n'.join(recorder.lines)
    for future in [f for f in pending if f.done()]:
        if future.result().success:
            acknowledged.append(future.result().path)
    assert recorder.process.wait(30.0) == 0, '\n'.join(recorder.lines)

    images, temporary, lines = disk_state(dataset)
    assert temporary == []
    assert set(acknowledged) <= set(images)
    assert len(images) >= len(acknowledged) >= target
    assert len(lines) == len(images)
    listed = {os.path.join(dataset, json.loads(line)['file']) for line in lines}
    assert listed == set(images)
    for path in images:
        with open(path, 'rb') as stream:
            data = stream.read()
        assert data.endswith(b'\xff\xd9'), f'{path} is cut'
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == \
            (240, 320, 3)

    # the bag was closed on the way out: complete, not a cut-off recording
    assert (tmp_path / 'bag' / 'metadata.yaml').exists(), '\n'.join(recorder.lines)
    with open_bag(str(tmp_path / 'bag')) as bag:
        assert not bag.recovered
        assert bag.counts()[f'{ros.namespace}/image'] > 0

    on_disk = {label: len(os.listdir(dataset / label)) for label in 'ab'}
    again = recorders(str(dataset), ros.namespace)
    assert again.counts() == on_disk
    assert 'repaired' not in '\n'.join(again.lines)  # nothing was left to repair
    assert again.stop() == 0
