"""The dataset_recorder node with real rclpy in this process: service, label, continuous."""

import errno
import os

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
nano_vision_msgs = pytest.importorskip('nano_vision_msgs.srv')
Capture = getattr(nano_vision_msgs, 'Capture', None)
if Capture is None:  # an uninstalled nano_vision_msgs imports as an empty namespace
    pytest.skip('nano_vision_msgs is not built', allow_module_level=True)

from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from nano_vision.datasets.layout import load_dataset, read_manifest  # noqa: E402
from nano_vision.nodes.camera import CameraNode  # noqa: E402
from nano_vision.nodes.dataset_recorder import DatasetRecorderNode  # noqa: E402
from nano_vision.nodes.messages import image_msg  # noqa: E402
from nano_vision.runtime import files as files_module  # noqa: E402


def publish_frame(ros, node, width=80, height=60, rgb=(0, 200, 0), sec=7):
    if not hasattr(node, 'frame_pub'):
        node.frame_pub = node.create_publisher(Image, 'image', 1)
    pixels = np.full((height, width, 3), rgb, np.uint8)
    msg = image_msg(pixels, 'rgb8', Header(frame_id='cam'))
    msg.header.stamp.sec = sec
    node.frame_pub.publish(msg)
    return msg


def call(ros, client, **fields):
    assert ros.spin_until(lambda: client.service_is_ready(), 10.0)
    future = client.call_async(Capture.Request(**fields))
    assert ros.spin_until(future.done, 10.0)
    return future.result()


@pytest.fixture
def recorder_setup(ros, tmp_path):
    def make(**parameters):
        parameters.setdefault('dataset', str(tmp_path / 'data'))
        node = ros.make(DatasetRecorderNode, parameters)
        probe = ros.probe()
        client = probe.create_client(Capture, f'{ros.namespace}/dataset_recorder/capture')
        return node, probe, client
    return make


def wait_for_frame(ros, node, probe, **kwargs):
    sent = publish_frame(ros, probe, **kwargs)
    assert ros.spin_until(lambda: node._frame is not None and
                          node._frame.header.stamp.sec == sent.header.stamp.sec)


def test_capture_service_saves_the_newest_frame_and_answers_counts(ros, recorder_setup,
                                                                   tmp_path):
    node, probe, client = recorder_setup(categories=['thumbs_up', 'thumbs_down'])
    wait_for_frame(ros, node, probe, rgb=(0, 200, 0), sec=7)
    answer = call(ros, client, label='thumbs_down')
    assert answer.success, answer.message
    assert os.path.dirname(answer.path) == str(tmp_path / 'data' / 'thumbs_down')
    assert list(answer.labels) == ['thumbs_up', 'thumbs_down']
    assert list(answer.counts) == [0, 1]
    saved = cv2.imread(answer.path)
    assert tuple(saved[30, 40]) == pytest.approx((0, 200, 0), abs=3)
    [entry] = read_manifest(tmp_path / 'data').values()
    assert entry['stamp_ns'] == 7 * 10**9  # the frame's stamp: findable in a bag
    assert entry['source'] == f'{ros.namespace}/image'


def test_xy_capture_names_the_point_in_pixels(ros, recorder_setup, tmp_path):
    node, probe, client = recorder_setup(task='xy')
    wait_for_frame(ros, node, probe, width=80, height=60)
    answer = call(ros, client, label='nose', has_point=True, x=-0.5, y=0.5)
    assert answer.success, answer.message
    assert os.path.basename(answer.path).startswith('20_45_')
    [sample] = load_dataset(tmp_path / 'data').samples
    assert (sample.x, sample.y) == pytest.approx((-0.5, 0.5))
    refused = call(ros, client, label='nose')
    assert not refused.success and 'give a point' in refused.message


def test_failures_are_answered_and_the_node_carries_on(ros, recorder_setup, monkeypatch,
                                                       tmp_path):
    node, probe, client = recorder_setup()
    early = call(ros, client, label='a')
    assert not early.success and 'no frame received' in early.message
    wait_for_frame(ros, node, probe)
    for label in ('../x', '/etc', '', 'a/b', 'a\x01'):
        answer = call(ros, client, label=label)
        assert not answer.success and answer.path == ''
        assert 'not allowed' in answer.message or 'no label' in answer.message

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(files_module.os, 'fsync', full)
    answer = call(ros, client, label='a')
    assert not answer.success and 'disk full' in answer.message
    monkeypatch.undo()
    answer = call(ros, client, label='a')
    assert answer.success and list(answer.counts) == [1]
    assert sorted(os.listdir(tmp_path / 'data')) == ['a', 'manifest.jsonl']
    assert len(os.listdir(tmp_path / 'data' / 'a')) == 1


def test_the_label_parameter_is_the_default_label(ros, recorder_setup):
    from nano_vision.nodes.qos import LABEL_QOS
    from std_msgs.msg import String
    node, probe, client = recorder_setup()
    labels = []
    probe.create_subscription(String, 'dataset_recorder/label', labels.append, LABEL_QOS)
    wait_for_frame(ros, node, probe)
    assert ros.spin_until(lambda: [m.data for m in labels] == [''])
    config = node.config
    result = node.set_parameters([Parameter('label', value='../up')])[0]
    assert not result.successful and 'not allowed' in result.reason
    # one bad value refuses the whole change: the good one does not sneak in
    result = node.set_parameters_atomically([Parameter('rate_hz', value=5.0),
                                             Parameter('label', value='../up')])
    assert not result.successful and node.config is config
    assert node.set_parameters([Parameter('label', value='up')])[0].successful
    assert node.config.label == 'up' and node.config.rate_hz == config.rate_hz
    assert ros.spin_until(lambda: [m.data for m in labels] == ['', 'up'])
    answer = call(ros, client, label='')
    assert answer.success and '/up/' in answer.path


def test_an_unusable_dataset_folder_stops_the_node_at_start(ros, tmp_path):
    (tmp_path / 'file').write_text('')
    with pytest.raises(ValueError, match='cannot write'):
        ros.make(DatasetRecorderNode, {'dataset': str(tmp_path / 'file' / 'data')})
    with pytest.raises(ValueError, match='dataset is empty'):
        ros.make(DatasetRecorderNode, {})
    with pytest.raises(ValueError, match='not allowed'):
        ros.make(DatasetRecorderNode, {'dataset': str(tmp_path / 'd'),
                                       'categories': ['ok', '../bad']})


@pytest.mark.parametrize('scene,task,expected', [
    ('thumbs', 'classification', {'thumbs_up', 'thumbs_down'}),
    ('face', 'xy', {'nose', 'left_eye', 'right_eye'}),
])
def test_continuous_capture_labels_frames_with_the_ground_truth(ros, tmp_path, scene, task,
                                                                expected):
    ros.make(CameraNode, {'source': f'synthetic:{scene}', 'width': 96, 'height': 72,
                          'fps': 30.0, 'seed': 3})
    node = ros.make(DatasetRecorderNode, {
        'dataset': str(tmp_path / 'data'), 'task': task, 'continuous': True,
        'rate_hz': 20.0, 'label_source': 'ground_truth'},
        cli_args=['--ros-args', '-r', 'image:=image_raw'])
    assert ros.spin_until(lambda: sum(node.recorder.counts().values()) >= 9, 20.0)
    node.set_parameters([Parameter('continuous', value=False)])
    dataset = load_dataset(tmp_path / 'data', task=task)
    assert set(dataset.names) <= expected
    manifest = read_manifest(tmp_path / 'data')
    assert len(manifest) == len(dataset.samples)
    if task == 'xy':  # the points of one frame share its uuid, so a split keeps them together
        groups = {s.group for s in dataset.samples}
        assert len(dataset.samples) == 3 * len(groups)
