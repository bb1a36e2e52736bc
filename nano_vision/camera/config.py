"""Parameters and validated configuration of the camera node (no ROS)."""

from dataclasses import dataclass

from nano_vision.camera.sources import parse_source, SourceSpec
from nano_vision.image.conversion import SUPPORTED_ENCODINGS
from nano_vision.parameters import NodeConfig, ParamSpec

CAMERA_PARAMETERS = (
    ParamSpec('source', '/dev/video0',
              'What to capture: /dev/videoN or N (V4L2), csi or csi:N (Jetson CSI), '
              'gst:<pipeline ending in appsink>, a video file, an image folder, or '
              'synthetic:face / synthetic:thumbs / synthetic:line_following / '
              'synthetic:fingers (scenes with ground truth).'),
    ParamSpec('width', 640, 'Published image width in pixels; 0 keeps the source size. '
              'Devices are asked for this size, other frames are resized.',
              min_value=0, max_value=8192),
    ParamSpec('height', 480, 'Published image height in pixels; 0 keeps the source size.',
              min_value=0, max_value=8192),
    ParamSpec('fps', 30.0, 'Frame rate asked of devices, and the rate at which files, '
              'folders and synthetic scenes are played (frames per second; up to 1000, so '
              'that a folder or a clip can be replayed faster than real time).',
              min_value=0.1, max_value=1000.0),
    ParamSpec('frame_id', 'camera_optical_frame',
              'frame_id of every header (an optical frame: x right, y down, z forward).'),
    ParamSpec('encoding', 'rgb8', 'Encoding of image_raw.', choices=SUPPORTED_ENCODINGS),
    ParamSpec('publish_compressed', False,
              'Also publish image_raw/compressed (JPEG, image_transport format) while '
              'someone subscribes to it.'),
    ParamSpec('jpeg_quality', 90, 'JPEG quality of image_raw/compressed (1-100).',
              read_only=False, min_value=1, max_value=100),
    ParamSpec('loop', True, 'Restart video files and image folders at their end; '
              'without it the node exits when the last frame is sent.'),
    ParamSpec('seed', 0, 'Seed of synthetic scenes (same seed, same video).',
              min_value=0, max_value=2**31 - 1),
    ParamSpec('camera_name', 'camera', 'Name of the camera, for logs.'),
    ParamSpec('camera_info_url', '',
              'Calibration YAML (camera_calibration_parsers format) as a path, file:// or '
              'package:// URL; empty publishes an uncalibrated camera_info.'),
    ParamSpec('csi_flip_method', 0, 'nvvidconv flip-method of the csi source (0-7).',
              min_value=0, max_value=7),
    ParamSpec('reconnect_attempts', 5, 'Times a device that stops delivering frames is '
              'reopened before the node exits with an error.', min_value=0, max_value=1000),
    ParamSpec('reconnect_interval_sec', 1.0, 'Seconds between reopening attempts.',
              min_value=0.0, max_value=60.0),
)


@dataclass(frozen=True)
class CameraConfig(NodeConfig):
    """Checked settings of the camera node."""

    PARAMETERS = CAMERA_PARAMETERS

    source: SourceSpec
    width: int
    height: int
    fps: float
    frame_id: str
    encoding: str
    publish_compressed: bool
    jpeg_quality: int
    loop: bool
    seed: int
    camera_name: str
    camera_info_url: str
    csi_flip_method: int
    reconnect_attempts: int
    reconnect_interval_sec: float

    @classmethod
    def parse(cls, values):
        """Return the values with the source string parsed (ValueError if it names nothing)."""
        if 'source' in values:
            values = {**values, 'source': parse_source(values['source'])}
        return values

    def check(self):
        """Refuse a half-set size and an empty frame_id."""
        if (self.width == 0) != (self.height == 0):
            raise ValueError(f'width and height must both be 0 (source size) or both set, '
                             f'got {self.width}x{self.height}')
        if not self.frame_id:
            raise ValueError('frame_id must not be empty')
