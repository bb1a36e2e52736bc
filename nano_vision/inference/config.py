"""Parameters and validated configurations of the classifier, regressor, detector and overlay."""

from dataclasses import dataclass, replace

from nano_vision.camera.config import CAMERA_PARAMETERS, CameraConfig
from nano_vision.inference.windows import WindowGrid
from nano_vision.parameters import NodeConfig, ParamSpec

_MODEL = ParamSpec('model', '', 'Model file: a .pt checkpoint from nano-vision train or an '
                   '.onnx file from nano-vision export (class or keypoint names and '
                   'preprocessing come from the file).')
_DEVICE = ParamSpec('device', 'auto', 'Where the model runs: auto (CUDA when available), cpu, '
                    'cuda, or tensorrt (.onnx models: TensorRT in FP16, then CUDA, then the '
                    'CPU; the engine is built at the first start, which takes minutes, and '
                    'cached in <model>.trt_cache/; needs an onnxruntime-gpu with TensorRT).',
                    choices=('auto', 'cpu', 'cuda', 'tensorrt'))
# what runs .onnx models (nano_vision.ml.predictor.onnx_backend chooses for auto)
BACKENDS = ('auto', 'onnxruntime', 'openvino')
_BACKEND = ParamSpec('backend', 'auto', 'What runs .onnx models: auto (OpenVINO on an x86 CPU '
                     'when it is installed and the model runs on the CPU, else ONNX Runtime), '
                     'onnxruntime (CPU, CUDA or TensorRT, see device; the steadier choice on '
                     'cores other processes keep busy), or openvino (the CPU).',
                     choices=BACKENDS)
_TRANSPORT = ParamSpec('image_transport', 'raw', 'raw subscribes to image '
                       '(sensor_msgs/Image), compressed to image/compressed '
                       '(sensor_msgs/CompressedImage).', choices=('raw', 'compressed'))
_EXPECTED = ParamSpec('expected_names', '', 'Comma-separated class or keypoint names the model '
                      'must have (in any order), to catch a model of another project at '
                      'start; empty accepts any model.')
_STATS = ParamSpec('stats_period_sec', 5.0, 'Seconds between statistics on ~/stats and in '
                   'the log.', min_value=0.5, max_value=3600.0)
_THREADS = ParamSpec('threads', 0, 'CPU threads for the model; 0: one per physical core '
                     "(ONNX Runtime) or PyTorch's default.",
                     min_value=0, max_value=256)


def _frames_in_flight(default, why):
    """Return the frames_in_flight parameter of a model node, with its default and why."""
    return ParamSpec(
        'frames_in_flight', default, 'At most this many frames in the model at once, each the '
        'newest when it was taken. Applies where ONNX Runtime runs the model on the CPU with '
        'every core (otherwise one frame at a time): with 2 the next frame is read and '
        'prepared while the model still runs the last, and then both share the cores, so more '
        'frames get a result when the camera is faster than the model, each a little later. '
        'Results go out in the order their frames were taken (one that finishes first waits '
        "for the older frame's). "
        + why, min_value=1, max_value=4)


_SOURCE = ParamSpec('source', '', 'Empty: subscribe to image (frames of a camera node). '
                    'Otherwise an in-process camera: the node reads this source itself (the '
                    "camera node's source values: a device, csi, gst:<pipeline>, a video file, "
                    'an image folder, synthetic:<scene>), runs the model on each frame without '
                    'a message in between, and publishes the frames on image (with '
                    'camera_info, and ground_truth for scenes) only while someone subscribes; '
                    'the results carry the stamp the frame got when it was read.')
# the camera node's parameters an in-process camera takes (they matter only with a source)
IN_PROCESS_CAMERA = ('width', 'height', 'fps', 'frame_id', 'encoding', 'publish_compressed',
                     'jpeg_quality', 'loop', 'seed', 'camera_info_url', 'csi_flip_method',
                     'reconnect_attempts', 'reconnect_interval_sec')
# read-only here: the capture is built once, at start
_CAMERA = (_SOURCE,) + tuple(
    replace(spec, read_only=True,
            description='With a source: ' + spec.description.replace('image_raw', 'image'))
    for spec in CAMERA_PARAMETERS if spec.name in IN_PROCESS_CAMERA)

CLASSIFIER_PARAMETERS = (
    _MODEL, _DEVICE, _BACKEND, _TRANSPORT, _EXPECTED,
    ParamSpec('min_confidence', 0.0, 'Below this probability the label is "unknown" '
              '(class_id -1); probabilities are still published.', read_only=False,
              min_value=0.0, max_value=1.0),
    ParamSpec('smoothing_frames', 1, 'Average the probabilities of this many recent frames '
              '(1: none).', min_value=1, max_value=100),
    _STATS, _THREADS,
    _frames_in_flight(2, '1: each result as early as the cores allow it.'), *_CAMERA,
)

REGRESSOR_PARAMETERS = (
    _MODEL, _DEVICE, _BACKEND, _TRANSPORT, _EXPECTED,
    ParamSpec('keypoint', '', 'Keypoint published on point (geometry_msgs/PointStamped); '
              "empty: the model's first keypoint."),
    _STATS, _THREADS,
    _frames_in_flight(1, 'The default is 1: points steer, and a point is worth most early.'),
    *_CAMERA,
)

DETECTOR_PARAMETERS = (
    _MODEL, _DEVICE, _BACKEND, _TRANSPORT, _EXPECTED,
    ParamSpec('window_size', 0.5, "Window side: a fraction of the frame's shorter side (<= 1) "
              'or pixels (> 1).', read_only=False, min_value=0.01, max_value=4096.0),
    ParamSpec('window_stride', 0.5, 'Step between windows, as a fraction of the window side.',
              read_only=False, min_value=0.05, max_value=1.0),
    ParamSpec('window_scales', '1.0', 'Comma-separated window sizes as multiples of '
              'window_size (one grid per scale), e.g. 0.75,1.0,1.5.', read_only=False),
    ParamSpec('background', 'background', 'Comma-separated classes of the model that are not '
              'objects (never detected); empty: every class is an object.'),
    ParamSpec('score_threshold', 0.5, 'Lowest class probability of a detection.',
              read_only=False, min_value=0.0, max_value=1.0),
    ParamSpec('iou_threshold', 0.3, 'Boxes of one class overlapping a better one by more than '
              'this intersection over union are suppressed.', read_only=False,
              min_value=0.0, max_value=1.0),
    ParamSpec('heatmap_class', '', 'Class shown on heatmap (mono8, 255 = probability 1); '
              'empty: the highest of the object classes.'),
    _STATS, _THREADS,
    _frames_in_flight(2, '1: each result as early as the cores allow it.'), *_CAMERA,
)

OVERLAY_PARAMETERS = (
    ParamSpec('mode', 'auto', 'What to draw: classification, keypoints, detections, or auto '
              '(whichever arrives).',
              choices=('auto', 'classification', 'keypoints', 'detections')),
    ParamSpec('buffer_frames', 30, 'Recent frames kept to pair with late predictions by stamp.',
              min_value=1, max_value=1000),
    ParamSpec('heatmap', False, 'Also subscribe to the detector heatmap topic and blend it under '
              'the boxes (a frame with detections is drawn once its heat map of the same stamp '
              'has come too; the detector computes heat maps only while someone subscribes).'),
    ParamSpec('lazy', True, 'Subscribe to the frames and predictions only while someone '
              'subscribes to image_annotated: while nobody watches, the overlay costs nothing '
              'and a model node that reads its own camera publishes no frames for it. False: '
              'always subscribed.'),
)


@dataclass(frozen=True)
class _ModelNodeConfig(NodeConfig):
    """What the nodes that run a model share: a model file is given, an optional camera."""

    source: str
    width: int
    height: int
    fps: float
    frame_id: str
    encoding: str
    publish_compressed: bool
    jpeg_quality: int
    loop: bool
    seed: int
    camera_info_url: str
    csi_flip_method: int
    reconnect_attempts: int
    reconnect_interval_sec: float

    def check(self):
        """Refuse an empty model parameter and a camera that cannot work."""
        if not self.model:
            raise ValueError('parameter model is empty: give the .pt or .onnx file, e.g. '
                             '--ros-args -p model:=thumbs.pt')
        if self.source:
            self.camera  # noqa: B018 - builds the camera's config, which checks it

    @property
    def camera(self):
        """Return the :class:`~nano_vision.camera.config.CameraConfig` of the in-process camera.

        None without a source (the node subscribes to frames).
        """
        if not self.source:
            return None
        return CameraConfig.from_values(
            {'source': self.source, **{name: getattr(self, name) for name in IN_PROCESS_CAMERA}})


@dataclass(frozen=True)
class ClassifierConfig(_ModelNodeConfig):
    """Checked settings of the classifier node."""

    PARAMETERS = CLASSIFIER_PARAMETERS

    model: str
    device: str
    backend: str
    image_transport: str
    expected_names: str
    min_confidence: float
    smoothing_frames: int
    stats_period_sec: float
    threads: int
    frames_in_flight: int


@dataclass(frozen=True)
class RegressorConfig(_ModelNodeConfig):
    """Checked settings of the regressor node."""

    PARAMETERS = REGRESSOR_PARAMETERS

    model: str
    device: str
    backend: str
    image_transport: str
    expected_names: str
    keypoint: str
    stats_period_sec: float
    threads: int
    frames_in_flight: int


def _names(text):
    """Return the names of a comma-separated list, blanks left out."""
    return tuple(n.strip() for n in text.split(',') if n.strip())


@dataclass(frozen=True)
class DetectorConfig(_ModelNodeConfig):
    """Checked settings of the detector node."""

    PARAMETERS = DETECTOR_PARAMETERS

    model: str
    device: str
    backend: str
    image_transport: str
    expected_names: str
    window_size: float
    window_stride: float
    window_scales: str
    background: str
    score_threshold: float
    iou_threshold: float
    heatmap_class: str
    stats_period_sec: float
    threads: int
    frames_in_flight: int

    def check(self):
        """Refuse an empty model and a window grid that cannot work."""
        super().check()
        self.grid  # noqa: B018 - builds the grid, which checks it

    @property
    def grid(self):
        """Return the :class:`~nano_vision.inference.windows.WindowGrid` of the settings."""
        try:
            scales = tuple(float(s) for s in _names(self.window_scales))
        except ValueError:
            raise ValueError(f'parameter window_scales must be comma-separated numbers, got '
                             f'{self.window_scales!r}') from None
        return WindowGrid(self.window_size, self.window_stride, scales)

    @property
    def background_names(self):
        """Return the background class names."""
        return _names(self.background)


@dataclass(frozen=True)
class OverlayConfig(NodeConfig):
    """Checked settings of the overlay node."""

    PARAMETERS = OVERLAY_PARAMETERS

    mode: str
    buffer_frames: int
    heatmap: bool
    lazy: bool


def check_model_names(expected, names, model):
    """Raise ValueError when ``names`` (the model's) differ from comma-separated ``expected``."""
    wanted = {n.strip() for n in expected.split(',') if n.strip()}
    if wanted and wanted != set(names):
        raise ValueError(f'{model} knows {", ".join(names)}, but this configuration expects '
                         f'{", ".join(sorted(wanted))}: is it the model of another project?')
