"""The camera node with real rclpy in this process: frames, stamps, truth, failures."""

import time

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
nano_vision_msgs = pytest.importorskip('nano_vision_msgs.msg')
GroundTruth = getattr(nano_vision_msgs, 'GroundTruth', None)
if GroundTruth is None:  # an uninstalled nano_vision_msgs imports as an empty namespace
    pytest.skip('nano_vision_msgs is not built', allow_module_level=True)

from rclpy.exceptions import ParameterException  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402

from nano_vision.camera.config import CAMERA_PARAMETERS  # noqa: E402
from nano_vision.camera.sources import Frame, SourceError  # noqa: E402
from nano_vision.image.conversion import compressed_msg_to_numpy, image_msg_to_numpy  # noqa: E402
from nano_vision.nodes import camera as camera_module  # noqa: E402
from nano_vision.nodes import capture as capture_module  # noqa: E402
from nano_vision.nodes.camera import CameraNode  # noqa: E402
from nano_vision.nodes.messages import stamp_ns  # noqa: E402


def collect(ros, node, msg_type, topic, qos=10):
    received = []
    node.create_subscription(msg_type, topic, received.append, qos)
    return received


def test_synthetic_frames_have_the_asked_size_encoding_and_rising_stamps(ros):
    ros.make(CameraNode, {'source': 'synthetic:face', 'width': 320, 'height': 240,
                          'fps': 60.0, 'encoding': 'bgr8', 'frame_id': 'cam_optical'})
    probe = ros.probe()
    images = collect(ros, probe, Image, 'image_raw', qos_profile_sensor_data)
    infos = collect(ros, probe, CameraInfo, 'camera_info', qos_profile_sensor_data)
    assert ros.spin_until(lambda: len(images) >= 10 and len(infos) >= 10)
    for msg in images:
        assert (msg.width, msg.height, msg.encoding) == (320, 240, 'bgr8')
        assert msg.header.frame_id == 'cam_optical'
        assert image_msg_to_numpy(msg).shape == (240, 320, 3)
    stamps = [stamp_ns(m.header) for m in images]
    assert all(b > a for a, b in zip(stamps, stamps[1:]))
    assert (infos[0].width, infos[0].height) == (320, 240)
    # camera_info shares the frame's header
    assert {stamp_ns(m.header) for m in infos} & set(stamps)
    age = time.time_ns() - stamps[-1]
    assert 0 <= age < 5 * 10**9  # stamped with the wall clock at capture


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'mono8'])
def test_pixels_of_a_folder_survive_the_trip(ros, tmp_path, encoding):
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'a.png'), bgr)
    ros.make(CameraNode, {'source': str(tmp_path), 'width': 0, 'height': 0,
                          'encoding': encoding, 'fps': 50.0})
    images = collect(ros, ros.probe(), Image, 'image_raw', qos_profile_sensor_data)
    assert ros.spin_until(lambda: images)
    expected = {'rgb8': bgr[:, :, ::-1], 'bgr8': bgr,
                'mono8': cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)}[encoding]
    np.testing.assert_array_equal(image_msg_to_numpy(images[0]), expected)


def test_frames_of_another_size_are_resized(ros, tmp_path):
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((100, 50, 3), np.uint8))
    ros.make(CameraNode, {'source': str(tmp_path), 'width': 64, 'height': 48})
    images = collect(ros, ros.probe(), Image, 'image_raw', qos_profile_sensor_data)
    assert ros.spin_until(lambda: images)
    assert (images[0].width, images[0].height) == (64, 48)


def test_ground_truth_matches_the_rendered_frame(ros):
    ros.make(CameraNode, {'source': 'synthetic:face', 'width': 320, 'height': 240,
                          'fps': 30.0, 'seed': 4})
    probe = ros.probe()
    images = collect(ros, probe, Image, 'image_raw')
    truths = collect(ros, probe, GroundTruth, 'ground_truth')

    def paired():
        by_stamp = {stamp_ns(t.header): t for t in truths}
        return [(i, by_stamp[stamp_ns(i.header)]) for i in images
                if stamp_ns(i.header) in by_stamp]

    assert ros.spin_until(lambda: len(paired()) >= 5)
    for image_msg, truth in paired():
        assert truth.scene == 'face' and (truth.width, truth.height) == (320, 240)
        assert [k.name for k in truth.keypoints] == ['nose', 'left_eye', 'right_eye']
        image = image_msg_to_numpy(image_msg).astype(int)
        for k in truth.keypoints:
            assert k.x == pytest.approx(2 * k.u / 320 - 1, abs=1e-5)
            assert k.y == pytest.approx(2 * k.v / 240 - 1, abs=1e-5)
        nose = truth.keypoints[0]
        for eye in truth.keypoints[1:]:
            # pupils are dark, darker than the nose, in the frame with this stamp
            assert image[int(eye.v), int(eye.u)].sum() < image[int(nose.v), int(nose.u)].sum()


def test_thumbs_scene_labels_its_frames(ros):
    ros.make(CameraNode, {'source': 'synthetic:thumbs', 'width': 160, 'height': 120})
    truths = collect(ros, ros.probe(), GroundTruth, 'ground_truth')
    assert ros.spin_until(lambda: truths)
    assert truths[0].label in ('thumbs_up', 'thumbs_down') and not truths[0].keypoints


def test_objects_scene_gives_the_boxes_of_its_frames(ros):
    ros.make(CameraNode, {'source': 'synthetic:objects', 'width': 320, 'height': 240,
                          'seed': 2})
    truths = collect(ros, ros.probe(), GroundTruth, 'ground_truth')
    assert ros.spin_until(lambda: truths)
    truth = truths[0]
    assert truth.scene == 'objects' and not truth.label and not truth.keypoints
    assert 1 <= len(truth.objects) <= 4
    for box in truth.objects:
        assert box.label in ('circle', 'square', 'triangle') and box.score == 1.0
        assert 0 <= box.x and box.x + box.width <= 320 and 0 <= box.y
        assert box.y + box.height <= 240 and box.width == box.height > 20


def test_compressed_frames_while_someone_listens(ros):
    ros.make(CameraNode, {'source': 'synthetic:face', 'width': 160, 'height': 120,
                          'publish_compressed': True, 'jpeg_quality': 80})
    probe = ros.probe()
    raw = collect(ros, probe, Image, 'image_raw')
    compressed = collect(ros, probe, CompressedImage, 'image_raw/compressed')
    assert ros.spin_until(lambda: len(compressed) >= 3 and raw)
    by_stamp = {stamp_ns(m.header): m for m in raw}
    msg = next(m for m in compressed if stamp_ns(m.header) in by_stamp)
    assert msg.format == 'rgb8; jpeg compressed bgr8'
    decoded = compressed_msg_to_numpy(msg, 'rgb8').astype(int)
    original = image_msg_to_numpy(by_stamp[stamp_ns(msg.header)]).astype(int)
    assert np.abs(decoded - original).mean() < 12


def test_jpeg_quality_changes_at_runtime_and_bad_values_are_refused(ros):
    node = ros.make(CameraNode, {'source': 'synthetic:face', 'width': 160, 'height': 120,
                                 'fps': 60.0, 'publish_compressed': True,
                                 'jpeg_quality': 95})
    compressed = collect(ros, ros.probe(), CompressedImage, 'image_raw/compressed',
                         qos_profile_sensor_data)
    assert ros.spin_until(lambda: len(compressed) >= 5)
    fine = sum(len(m.data) for m in compressed) / len(compressed)
    assert node.set_parameters([Parameter('jpeg_quality', value=10)])[0].successful
    assert node.get_parameter('jpeg_quality').value == 10 and node.config.jpeg_quality == 10
    compressed.clear()
    assert ros.spin_until(lambda: len(compressed) >= 12)
    after = compressed[6:]  # frames sent before the change may still have been on their way
    coarse = sum(len(m.data) for m in after) / len(after)
    assert coarse < 0.7 * fine  # the frames after the change are coarser
    config = node.config
    for name, value in (('jpeg_quality', 0), ('jpeg_quality', 50.0), ('width', 10)):
        assert not node.set_parameters([Parameter(name, value=value)])[0].successful
    assert node.config is config and node.get_parameter('width').value == 160


def test_a_slow_subscriber_always_gets_a_recent_frame(ros):
    ros.make(CameraNode, {'source': 'synthetic:face', 'width': 160, 'height': 120,
                          'fps': 60.0})
    ages = []

    def slow(msg):
        ages.append(time.time_ns() - stamp_ns(msg.header))
        time.sleep(0.1)  # a consumer six times slower than the camera

    ros.probe().create_subscription(Image, 'image_raw', slow, qos_profile_sensor_data)
    assert ros.spin_until(lambda: len(ages) >= 10, timeout_sec=20)
    # a queue would make frames older and older; the newest-frame path keeps
    # every frame younger than the consumer's own period plus slack
    assert max(ages[2:]) < 0.5e9, ages


def test_every_declared_parameter_is_the_table(ros):
    node = ros.make(CameraNode, {'source': 'synthetic:face'})
    builtin = set(ros.probe().list_parameters([], 0).names)  # use_sim_time, ...
    declared = set(node.list_parameters([], 0).names) - builtin
    assert declared == {spec.name for spec in CAMERA_PARAMETERS}
    descriptor = node.describe_parameter('fps')
    assert descriptor.description and descriptor.read_only
    assert descriptor.floating_point_range[0].to_value == 1000.0


@pytest.mark.parametrize('parameters, error, message', [
    ({'source': '/dev/video63'}, SourceError, r'cannot open v4l2 .*/dev/video63'),
    ({'source': 'webcam'}, ValueError, 'not a device'),
    ({'source': 'synthetic:face', 'encoding': 'yuv422'}, ValueError, 'not one of'),
    ({'source': 'synthetic:face', 'width': -5}, ParameterException, 'width'),
    ({'source': 'synthetic:face', 'camera_info_url': '/no/cal.yaml'}, ValueError, 'cannot read'),
])
def test_bad_configuration_fails_at_start_with_the_reason(ros, parameters, error, message):
    with pytest.raises(error, match=message):
        ros.make(CameraNode, parameters)


def test_main_exits_non_zero_when_the_source_cannot_open():
    status = camera_module.main(['--ros-args', '-p', 'source:=/dev/video63',
                                 '-r', '__ns:=/t_main_bad_source'])
    assert status == 2


def test_folder_without_loop_ends_the_node_cleanly(ros, tmp_path):
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    node = ros.make(CameraNode, {'source': str(tmp_path), 'loop': False, 'fps': 100.0})
    assert node.done.wait(5.0)
    assert node.failure is None and node.frames_published == 1


class VanishingDevice:
    """A frame source that delivers, then disappears (like an unplugged USB camera)."""

    paced = True

    def __init__(self, frames_before_loss, comes_back_after):
        self.frames_left = frames_before_loss
        self.failed_opens_left = comes_back_after
        self.opens = 0

    def open(self):
        self.opens += 1
        if self.opens > 1:
            if self.failed_opens_left > 0:
                self.failed_opens_left -= 1
                raise SourceError('cannot open v4l2 /dev/video0: unplugged')
            self.frames_left = 10**6

    def read(self):
        time.sleep(0.01)
        if self.frames_left <= 0:
            return None
        self.frames_left -= 1
        return Frame(np.zeros((48, 64, 3), np.uint8), 'bgr8')

    def close(self):
        pass


def install_device(monkeypatch, device):
    def fake_open(*args, **kwargs):
        device.open()
        return device
    monkeypatch.setattr(capture_module, 'open_source', fake_open)


def test_a_device_that_disappears_is_retried_then_the_node_fails(ros, monkeypatch):
    device = VanishingDevice(frames_before_loss=3, comes_back_after=100)
    install_device(monkeypatch, device)
    node = ros.make(CameraNode, {'source': '/dev/video0', 'reconnect_attempts': 3,
                                 'reconnect_interval_sec': 0.05})
    assert node.done.wait(5.0)
    assert node.frames_published == 3
    assert device.opens == 1 + 3
    assert 'could not be reopened in 3 attempts' in node.failure


def test_a_device_that_comes_back_keeps_publishing(ros, monkeypatch):
    device = VanishingDevice(frames_before_loss=2, comes_back_after=1)
    install_device(monkeypatch, device)
    node = ros.make(CameraNode, {'source': '/dev/video0', 'reconnect_attempts': 3,
                                 'reconnect_interval_sec': 0.05})
    images = collect(ros, ros.probe(), Image, 'image_raw', qos_profile_sensor_data)
    assert ros.spin_until(lambda: node.frames_published > 10)
    assert node.failure is None and not node.done.is_set()
    assert device.opens == 3 and images
