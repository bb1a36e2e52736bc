"""Source strings, file and folder sources, pacing, camera configuration and calibration."""

import cv2
import numpy as np
import pytest

from nano_vision.camera.config import CAMERA_PARAMETERS, CameraConfig
from nano_vision.camera.info import Calibration, fill_camera_info, load_calibration
from nano_vision.camera.sources import (csi_pipeline, EndOfStream, FolderSource, open_source,
                                        Pacer, parse_source, SourceError, SourceSpec)
from nano_vision.parameters import check_values, ParamSpec


@pytest.fixture
def folder(tmp_path):
    for i in range(3):
        image = np.full((30, 40, 3), 60 * i, np.uint8)
        cv2.imwrite(str(tmp_path / f'{i:03d}.png'), image)
    (tmp_path / 'notes.txt').write_text('not an image')
    return tmp_path


@pytest.fixture
def video(tmp_path):
    path = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10, (32, 24))
    assert writer.isOpened()
    for i in range(5):
        writer.write(np.full((24, 32, 3), 40 * i, np.uint8))
    writer.release()
    return path


@pytest.mark.parametrize('text, kind, target, index', [
    ('/dev/video0', 'v4l2', '/dev/video0', 0),
    ('2', 'v4l2', '/dev/video2', 2),
    ('/dev/v4l/by-id/usb-cam', 'v4l2', '/dev/v4l/by-id/usb-cam', -1),
    ('csi', 'csi', 'nvarguscamerasrc', 0),
    ('csi:1', 'csi', 'nvarguscamerasrc', 1),
    ('gst:videotestsrc ! videoconvert ! appsink', 'gstreamer',
     'videotestsrc ! videoconvert ! appsink', -1),
    ('synthetic:face', 'synthetic', 'face', -1),
    (' synthetic:thumbs ', 'synthetic', 'thumbs', -1),
    ('synthetic:emotions', 'synthetic', 'emotions', -1),
])
def test_source_strings(text, kind, target, index):
    assert parse_source(text) == SourceSpec(kind, target, index)


def test_files_and_folders_are_recognised(folder, video):
    assert parse_source(str(folder)).kind == 'folder'
    assert parse_source(str(video)).kind == 'video'


@pytest.mark.parametrize('text, message', [
    ('', 'source is empty'),
    ('synthetic:cats', 'unknown synthetic scene'),
    ('gst:videotestsrc ! fakesink', 'appsink'),
    ('/no/such/file.mp4', 'nor an existing file or folder'),
    ('webcam', 'nor an existing file or folder'),
])
def test_bad_source_strings_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_source(text)


def test_csi_preset_keeps_only_the_newest_frame():
    pipeline = csi_pipeline(1, 1280, 720, 30, flip_method=2)
    assert pipeline.startswith('nvarguscamerasrc sensor-id=1 ')
    assert 'width=1280, height=720, framerate=30/1' in pipeline
    assert 'flip-method=2' in pipeline
    assert pipeline.endswith('appsink drop=true max-buffers=1 sync=false')


def test_folder_plays_images_in_order_then_loops_or_ends(folder):
    source = open_source(parse_source(str(folder)), 0, 0, 30.0, loop=True)
    values = [int(source.read().image[0, 0, 0]) for _ in range(4)]
    assert values == [0, 60, 120, 0]
    once = open_source(parse_source(str(folder)), 0, 0, 30.0, loop=False)
    for _ in range(3):
        once.read()
    with pytest.raises(EndOfStream):
        once.read()


def test_unreadable_images_are_skipped(folder):
    (folder / '001.png').write_bytes(b'not a png')
    source = open_source(parse_source(str(folder)), 0, 0, 30.0)
    assert [int(source.read().image[0, 0, 0]) for _ in range(2)] == [0, 120]


def test_empty_folder_fails_at_open(tmp_path):
    with pytest.raises(SourceError, match='holds no images'):
        FolderSource(str(tmp_path)).open()


def test_video_file_loops(video):
    source = open_source(parse_source(str(video)), 0, 0, 10.0, loop=True)
    frames = [source.read() for _ in range(7)]
    assert all(f.encoding == 'bgr8' and f.image.shape == (24, 32, 3) for f in frames)
    assert abs(int(frames[5].image.mean()) - int(frames[0].image.mean())) < 8
    source.close()
    once = open_source(parse_source(str(video)), 0, 0, 10.0, loop=False)
    for _ in range(5):
        once.read()
    with pytest.raises(EndOfStream):
        once.read()


def test_missing_device_fails_with_what_to_check():
    with pytest.raises(SourceError, match=r'/dev/video63 exists.*group "video"'):
        open_source(parse_source('/dev/video63'), 640, 480, 30.0)


def test_gstreamer_without_support_or_a_failing_pipeline_is_explained():
    with pytest.raises(SourceError, match='GStreamer|gst-launch|nvargus'):
        open_source(parse_source('csi'), 640, 480, 30.0)


def test_synthetic_source_gives_truth_at_the_asked_size():
    source = open_source(parse_source('synthetic:face'), 320, 200, 30.0, seed=1)
    frame = source.read()
    assert frame.image.shape == (200, 320, 3) and frame.encoding == 'rgb8'
    assert (frame.truth.width, frame.truth.height) == (320, 200)


class FakeClock:
    """A clock the test moves by hand (the pacer takes it as an argument)."""

    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def test_pacer_keeps_the_rate_and_never_bursts_after_a_stall():
    clock = FakeClock()
    pacer = Pacer(10.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        pacer.wait()
    assert clock.sleeps == [0.1, 0.1]
    clock.now += 1.0  # a long stall
    clock.sleeps.clear()
    for _ in range(3):
        pacer.wait()
    assert clock.sleeps == [0.1, 0.1]  # restarts from now: no burst of catch-up frames


def test_camera_config_checks_values():
    config = CameraConfig.from_values({'source': 'synthetic:face'})
    assert (config.width, config.height, config.encoding) == (640, 480, 'rgb8')
    with pytest.raises(ValueError, match='both be 0'):
        CameraConfig.from_values({'source': 'synthetic:face', 'width': 0})
    with pytest.raises(ValueError, match='encoding.*not one of'):
        CameraConfig.from_values({'source': 'synthetic:face', 'encoding': 'yuv422'})
    with pytest.raises(ValueError, match='jpeg_quality.*above its maximum'):
        CameraConfig.from_values({'source': 'synthetic:face', 'jpeg_quality': 101})
    with pytest.raises(ValueError, match='unknown parameter.*widht'):
        CameraConfig.from_values({'source': 'synthetic:face', 'widht': 10})
    with pytest.raises(ValueError, match='frame_id'):
        CameraConfig.from_values({'source': 'synthetic:face', 'frame_id': ''})


def test_a_changed_camera_config_is_checked_as_at_start_and_keeps_the_parsed_source(tmp_path):
    folder = tmp_path / 'frames'
    folder.mkdir()
    config = CameraConfig.from_values({'source': str(folder)})
    folder.rmdir()  # a change of jpeg_quality must not look at the source again
    changed = config.changed(jpeg_quality=40)
    assert (changed.jpeg_quality, config.jpeg_quality) == (40, 90)
    assert changed.source == config.source and changed.source.kind == 'folder'
    with pytest.raises(ValueError, match='jpeg_quality.*above its maximum'):
        config.changed(jpeg_quality=101)
    with pytest.raises(ValueError, match='both be 0'):
        config.changed(width=0)
    with pytest.raises(ValueError, match='unknown parameter.*quality'):
        config.changed(quality=40)
    with pytest.raises(ValueError, match='not a device'):
        config.changed(source='webcam')
    assert config.changed(source='synthetic:face').source.kind == 'synthetic'


def test_every_camera_parameter_is_described():
    names = [spec.name for spec in CAMERA_PARAMETERS]
    assert len(names) == len(set(names))
    assert all(len(spec.description) > 10 for spec in CAMERA_PARAMETERS)
    assert set(CameraConfig.__dataclass_fields__) == set(names)


def test_param_spec_types():
    spec = ParamSpec('rate_hz', 1.0, 'rate', min_value=0.0, max_value=5.0)
    assert spec.check(2.0) == 2.0 and spec.type_name == 'double'
    for wrong in ('fast', 2, True):
        with pytest.raises(ValueError, match='must be a double'):
            spec.check(wrong)
    with pytest.raises(ValueError, match='must be a bool'):
        check_values([ParamSpec('on', True, 'switch')], {'on': 1})


CALIBRATION = """\
image_width: 640
image_height: 480
camera_name: usb_cam
camera_matrix: {rows: 3, cols: 3, data: [500.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0]}
distortion_model: plumb_bob
distortion_coefficients: {rows: 1, cols: 5, data: [0.1, -0.2, 0.0, 0.0, 0.0]}
rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}
projection_matrix: {rows: 3, cols: 4, data: [500, 0, 320, 0, 0, 510, 240, 0, 0, 0, 1, 0]}
"""


def test_calibration_file_is_read_and_scaled_with_the_image(tmp_path):
    path = tmp_path / 'cam.yaml'
    path.write_text(CALIBRATION)
    cal = load_calibration(str(path))
    assert isinstance(cal, Calibration) and cal.k[0] == 500.0 and len(cal.d) == 5

    class Info:
        pass

    info = fill_camera_info(Info(), 320, 240, cal)
    assert (info.width, info.height) == (320, 240)
    assert info.k[0] == 250.0 and info.k[2] == 160.0 and info.k[4] == 255.0
    assert info.p[0] == 250.0 and info.p[6] == 120.0
    assert info.d == [0.1, -0.2, 0.0, 0.0, 0.0]


@pytest.mark.parametrize('text, message', [
    ('image_width: 640\n', 'image_width and image_height'),
    (CALIBRATION.replace('data: [500.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0]',
                         'data: [1, 2]'), 'camera_matrix.data has 2 values'),
    ('[unclosed', 'not valid YAML'),
    ('just text', 'does not hold a mapping'),
])
def test_bad_calibration_files_are_explained(tmp_path, text, message):
    path = tmp_path / 'cam.yaml'
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_calibration(str(path))
    with pytest.raises(ValueError, match='cannot read'):
        load_calibration(str(tmp_path / 'missing.yaml'))
