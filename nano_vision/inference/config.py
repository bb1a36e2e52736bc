"""Parameters and validated configurations of the classifier, regressor and overlay nodes."""

from dataclasses import dataclass

from nano_vision.parameters import NodeConfig, ParamSpec

_MODEL = ParamSpec('model', '', 'Model file: a .pt checkpoint from nano-vision train or an '
                   '.onnx file from nano-vision export (class or keypoint names and '
                   'preprocessing come from the file).')
_DEVICE = ParamSpec('device', 'auto', 'Where the model runs: auto (CUDA when available), cpu, '
                    'cuda, or tensorrt (.onnx models: TensorRT in FP16, then CUDA, then the '
                    'CPU; the engine is built at the first start, which takes minutes, and '
                    'cached in <model>.trt_cache/; needs an onnxruntime-gpu with TensorRT).',
                    choices=('auto', 'cpu', 'cuda', 'tensorrt'))
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

CLASSIFIER_PARAMETERS = (
    _MODEL, _DEVICE, _TRANSPORT, _EXPECTED,
    ParamSpec('min_confidence', 0.0, 'Below this probability the label is "unknown" '
              '(class_id -1); probabilities are still published.', read_only=False,
              min_value=0.0, max_value=1.0),
    ParamSpec('smoothing_frames', 1, 'Average the probabilities of this many recent frames '
              '(1: none).', min_value=1, max_value=100),
    _STATS, _THREADS,
)

REGRESSOR_PARAMETERS = (
    _MODEL, _DEVICE, _TRANSPORT, _EXPECTED,
    ParamSpec('keypoint', '', 'Keypoint published on point (geometry_msgs/PointStamped); '
              "empty: the model's first keypoint."),
    _STATS, _THREADS,
)

OVERLAY_PARAMETERS = (
    ParamSpec('mode', 'auto', 'What to draw: classification, keypoints, or auto (whichever '
              'arrives).', choices=('auto', 'classification', 'keypoints')),
    ParamSpec('buffer_frames', 30, 'Recent frames kept to pair with late predictions by stamp.',
              min_value=1, max_value=1000),
)


class _ModelNodeConfig(NodeConfig):
    """The rule of the nodes that run a model: a model file is given."""

    def check(self):
        """Refuse an empty model parameter."""
        if not self.model:
            raise ValueError('parameter model is empty: give the .pt or .onnx file, e.g. '
                             '--ros-args -p model:=thumbs.pt')


@dataclass(frozen=True)
class ClassifierConfig(_ModelNodeConfig):
    """Checked settings of the classifier node."""

    PARAMETERS = CLASSIFIER_PARAMETERS

    model: str
    device: str
    image_transport: str
    expected_names: str
    min_confidence: float
    smoothing_frames: int
    stats_period_sec: float
    threads: int


@dataclass(frozen=True)
class RegressorConfig(_ModelNodeConfig):
    """Checked settings of the regressor node."""

    PARAMETERS = REGRESSOR_PARAMETERS

    model: str
    device: str
    image_transport: str
    expected_names: str
    keypoint: str
    stats_period_sec: float
    threads: int


@dataclass(frozen=True)
class OverlayConfig(NodeConfig):
    """Checked settings of the overlay node."""

    PARAMETERS = OVERLAY_PARAMETERS

    mode: str
    buffer_frames: int


def check_model_names(expected, names, model):
    """Raise ValueError when ``names`` (the model's) differ from comma-separated ``expected``."""
    wanted = {n.strip() for n in expected.split(',') if n.strip()}
    if wanted and wanted != set(names):
        raise ValueError(f'{model} knows {", ".join(names)}, but this configuration expects '
                         f'{", ".join(sorted(wanted))}: is it the model of another project?')
