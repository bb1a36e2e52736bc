"""Run a model file on frames: PyTorch checkpoints and ONNX exports behind one interface."""

import importlib.util
import json
import logging
import os
import platform

import numpy as np
import torch

from nano_vision.image.preprocess import Preprocessing
from nano_vision.inference.config import BACKENDS
from nano_vision.inference.predictions import decode, outputs_problem, softmax
from nano_vision.inference.windows import crops
from nano_vision.ml.checkpoint import (checkpoint_preprocessing, load_checkpoint,
                                       model_from_checkpoint)
# physical_cores: of this module's interface too (nano_vision.ml.cpu has no torch)
from nano_vision.ml.cpu import onnx_session_options, openvino_config, physical_cores  # noqa: F401
from nano_vision.ml.model import select_device

logger = logging.getLogger(__name__)


class Predictor:
    """Frames in, :class:`~nano_vision.inference.predictions.Prediction` out.

    ``task``, ``names`` and ``preprocessing`` come from the model file.
    """

    task = ''
    names = ()
    preprocessing = None
    backend = ''
    #: True when :meth:`run` may be called from several threads at once, the frames
    #: sharing the engine's threads (ONNX Runtime on the CPU: one pool of intra-op threads)
    concurrent = False

    def run(self, batch):
        """Return raw outputs (N, C) for a float32 (N, 3, S, S) batch."""
        raise NotImplementedError

    _buffer = None

    def new_input(self, count=1):
        """Return an uninitialised float32 (count, 3, S, S) model input."""
        size = int(self.preprocessing.input_size)
        return np.empty((count, 3, size, size), np.float32)

    def _batch_buffer(self, count):
        """Return a model input for ``count`` images, the same array while ``count`` is."""
        if self._buffer is None or self._buffer.shape[0] != count:
            self._buffer = self.new_input(count)
        return self._buffer

    def prepare(self, images, encoding='rgb8', out=None):
        """Return the model input of ``images`` (arrays in ``encoding``, any size).

        :param out: a :meth:`new_input` array to write into (reused between frames
            on the hot path), or None for a new one
        """
        batch = self.new_input(len(images)) if out is None else out
        for i, image in enumerate(images):
            self.preprocessing(image, encoding, out=batch[i])
        return batch

    def infer(self, batch, min_confidence=0.0):
        """Return one prediction per image of a batch from :meth:`prepare`."""
        return decode(self.task, self.names, self.run(batch), min_confidence)

    def predict_batch(self, images, encoding='rgb8', min_confidence=0.0):
        """Return one prediction per image (arrays in ``encoding``, any size)."""
        # frames are written into one reused input buffer: no allocation per frame
        batch = self.prepare(images, encoding, out=self._batch_buffer(len(images)))
        return self.infer(batch, min_confidence)

    def predict(self, image, encoding='rgb8', min_confidence=0.0):
        """Return the prediction for one image."""
        return self.predict_batch([image], encoding, min_confidence)[0]

    def prepare_windows(self, image, boxes, encoding='rgb8', out=None):
        """Return the model input of the windows ``boxes`` (``x, y, width, height``) of a frame.

        Each window gets the model's own preprocessing, as a whole frame does.

        :param out: a ``new_input(len(boxes))`` array to write into, or None for a new one
        """
        return self.prepare(crops(image, boxes), encoding, out)

    def check_classifier(self):
        """Raise ValueError unless the model is a classifier (what windows need)."""
        if self.task != 'classification':
            raise ValueError(f'sliding windows need a classification model; this one is '
                             f'{self.task}')

    def probabilities(self, batch):
        """Return the (N, C) class probabilities of a prepared batch (classifiers only)."""
        self.check_classifier()
        return softmax(self.run(batch)).astype(np.float32)

    def predict_windows(self, image, boxes, encoding='rgb8'):
        """Return the (N, C) class probabilities of the windows of a frame, in one batch.

        :param boxes: (N, 4) ``x, y, width, height`` windows, e.g. from
            :meth:`nano_vision.inference.windows.WindowGrid.boxes`
        """
        self.check_classifier()  # before the batch: an XY model is refused at no cost
        batch = self.prepare_windows(image, boxes, encoding, out=self._batch_buffer(len(boxes)))
        return self.probabilities(batch)


class TorchPredictor(Predictor):
    """A checkpoint run with PyTorch (CPU or CUDA)."""

    backend = 'torch'

    def __init__(self, checkpoint, device='auto', threads=0):
        """Build the model of a loaded checkpoint on ``device`` (``threads`` > 0: CPU threads)."""
        if threads > 0:
            torch.set_num_threads(threads)
        self.device = select_device(device)
        self.checkpoint = checkpoint
        self.task = checkpoint['task']
        self.names = tuple(checkpoint['names'])
        self.preprocessing = checkpoint_preprocessing(checkpoint)
        self.model = model_from_checkpoint(checkpoint, self.device)

    @torch.inference_mode()
    def run(self, batch):
        """Return raw outputs for a preprocessed batch."""
        return self.model(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()


# what to install when TensorRT is asked for and missing
TENSORRT_HELP = ('install an onnxruntime-gpu built with TensorRT (on a Jetson: the wheel for '
                 'your JetPack from the Jetson Zoo, https://elinux.org/Jetson_Zoo, or '
                 "NVIDIA's Jetson wheels; on a PC: onnxruntime-gpu with NVIDIA's TensorRT "
                 'libraries), or run with device cuda or cpu')

# what to install when CUDA is asked for and missing
CUDA_HELP = ('install onnxruntime-gpu in place of onnxruntime (on a PC: pip install '
             'onnxruntime-gpu; on a Jetson: the wheel for your JetPack from the Jetson Zoo), '
             'or run with device auto or cpu')

# what to check when a provider is in the build but its libraries do not load
LIBRARIES_HELP = {
    'tensorrt': "check that JetPack's TensorRT libraries (on a PC: NVIDIA's TensorRT for "
                "onnxruntime-gpu's CUDA version) are installed, or use device cuda",
    'cuda': "check that the CUDA and cuDNN libraries of onnxruntime-gpu's CUDA version are "
            'installed (pip install onnxruntime-gpu[cuda,cudnn], or a torch of the same CUDA '
            'version), or use device cpu'}

DEVICES_OF_PROVIDERS = {'TensorrtExecutionProvider': 'tensorrt',
                        'CUDAExecutionProvider': 'cuda', 'CPUExecutionProvider': 'cpu'}


def tensorrt_cache_path(model_path):
    """Return the folder where TensorRT keeps the engines of ``model_path``: <model>.trt_cache."""
    return os.path.splitext(os.path.abspath(model_path))[0] + '.trt_cache'


def onnx_providers(device, available, model_path):
    """Return the ONNX Runtime providers for ``device``, best first, ready for InferenceSession.

    ``auto``: CUDA when ``available`` has it, then the CPU. ``cuda``: CUDA, then the
    CPU for what CUDA cannot run. ``tensorrt``: TensorRT in FP16 with its engines
    cached beside the model (building one takes minutes; the next start reads it),
    then CUDA for what TensorRT cannot run, then the CPU. ``auto`` never picks
    TensorRT: that first build must be asked for.

    :param available: ``onnxruntime.get_available_providers()``
    :raises ValueError: an unknown device, or cuda or tensorrt in a build without it
    """
    cpu = ['CPUExecutionProvider']
    cuda = ['CUDAExecutionProvider'] if 'CUDAExecutionProvider' in available else []
    if device == 'cpu':
        return cpu
    if device == 'auto':
        return cuda + cpu
    if device == 'cuda':
        if not cuda:
            raise ValueError('device cuda asked for, but this ONNX Runtime has no '
                             f'CUDAExecutionProvider (it has {", ".join(available)}): '
                             + CUDA_HELP)
        return cuda + cpu
    if device == 'tensorrt':
        if 'TensorrtExecutionProvider' not in available:
            raise ValueError('device tensorrt asked for, but this ONNX Runtime has no '
                             f'TensorrtExecutionProvider (it has {", ".join(available)}): '
                             + TENSORRT_HELP)
        # booleans: ONNX Runtime's Python binding accepts True/true for these keys, not 1
        options = {'trt_fp16_enable': True, 'trt_engine_cache_enable': True,
                   'trt_engine_cache_path': tensorrt_cache_path(model_path)}
        return [('TensorrtExecutionProvider', options)] + cuda + cpu
    raise ValueError(f'unknown device {device!r} for an ONNX model: use auto, cpu, cuda or '
                     'tensorrt')


class OnnxPredictor(Predictor):
    """An ONNX export run with ONNX Runtime; names and preprocessing from its metadata."""

    backend = 'onnxruntime'

    def __init__(self, path, device='auto', threads=0):
        """Open ``path`` with ONNX Runtime on ``device`` (see :func:`onnx_providers`)."""
        import onnxruntime
        options = onnx_session_options(threads)
        providers = onnx_providers(device, onnxruntime.get_available_providers(), path)
        if isinstance(providers[0], tuple):  # TensorRT writes its engines there
            try:
                os.makedirs(providers[0][1]['trt_engine_cache_path'], exist_ok=True)
            except OSError as exc:
                raise ValueError(f'cannot create the TensorRT engine cache folder: {exc}; '
                                 'copy the model to a folder this user may write') from None
        try:
            self.session = onnxruntime.InferenceSession(path, options, providers=providers)
        except Exception as exc:  # noqa: B902 - ORT raises its own exception types
            raise ValueError(f'{path} is not an ONNX model ONNX Runtime can run: {exc}') \
                from None
        self.device = DEVICES_OF_PROVIDERS.get(self.session.get_providers()[0], 'cpu')
        self.concurrent = self.device == 'cpu'
        if device in ('cuda', 'tensorrt') and self.device != device:
            # the provider is in this build, but its libraries failed to load
            raise ValueError(f'ONNX Runtime could not start {device} for {path} (it fell back '
                             f'to {self.device}; its log above says why): '
                             + LIBRARIES_HELP[device])
        meta = self.session.get_modelmeta().custom_metadata_map
        _take_metadata(self, path, meta.get('nano_vision'), self.session.get_outputs()[0].shape)
        self._input = self.session.get_inputs()[0].name

    def run(self, batch):
        """Return raw outputs for a preprocessed batch."""
        return self.session.run(None, {self._input: np.asarray(batch, np.float32)})[0]


def _take_metadata(predictor, path, text, output_shape):
    """Give ``predictor`` the task, names and preprocessing of an ONNX export.

    :param text: the export's ``nano_vision`` metadata (JSON), or None
    :param output_shape: the model output's shape (its last entry: values per image)
    :raises ValueError: not a nano-vision export, or outputs that do not fit its names
    """
    if text is None:
        raise ValueError(f'{path} was not exported by nano-vision export: it has no '
                         'names or preprocessing in its metadata')
    info = json.loads(text)
    predictor.metadata = info
    predictor.task = info['task']
    predictor.names = tuple(info['names'])
    predictor.preprocessing = Preprocessing.from_dict(info['preprocessing'])
    shape = list(output_shape)
    problem = outputs_problem(predictor.task, list(predictor.names),
                              shape[-1] if len(shape) == 2 else shape)
    if problem:
        raise ValueError(f'{path}: {problem}')


class OpenVinoPredictor(Predictor):
    """An ONNX export run by OpenVINO's CPU plugin; names and preprocessing as ONNX's.

    The plugin reads the ONNX file itself, int8 QDQ exports included, and compiles
    it for latency: one stream, one thread per physical core (or ``threads``), float
    parts in f32.
    """

    backend = 'openvino'
    device = 'cpu'

    def __init__(self, path, threads=0):
        """Compile ``path`` for this machine's CPU."""
        import openvino
        core = openvino.Core()
        try:
            model = core.read_model(path)
        except Exception as exc:  # noqa: B902 - OpenVINO raises its own exception types
            raise ValueError(f'{path} is not an ONNX model OpenVINO can read (use backend '
                             f'onnxruntime): {exc}') from None
        key = ['framework', 'nano_vision']  # where OpenVINO keeps ONNX metadata
        _take_metadata(self, path, model.get_rt_info(key).astype(str)
                       if model.has_rt_info(key) else None,
                       [dim.get_length() if dim.is_static else -1
                        for dim in model.output(0).get_partial_shape()])
        try:
            self.compiled = core.compile_model(model, 'CPU', openvino_config(threads))
        except Exception as exc:  # noqa: B902
            raise ValueError(f'OpenVINO cannot compile {path} for this CPU: {exc}') from None
        self.request = self.compiled.create_infer_request()

    def run(self, batch):
        """Return raw outputs for a preprocessed batch (a copy: the request reuses its own)."""
        self.request.infer({0: np.asarray(batch, np.float32)})
        return self.request.get_output_tensor(0).data.copy()


X86 = ('x86_64', 'amd64', 'i686', 'i386')
OPENVINO_HELP = 'pip install openvino (requirements/python.txt names the tested version)'


def onnx_backend(backend, device, machine=None, openvino_found=None, cuda_found=None):
    """Return which engine runs an ONNX model: ``onnxruntime`` or ``openvino``.

    ``auto`` picks OpenVINO on an x86 CPU (where it measured faster with a core to spare,
    slower on cores other processes keep busy: docs/benchmarks.md)
    when it is installed and the model runs on the CPU (``device`` cpu, or auto without
    CUDA in ONNX Runtime); everything else, ARM and Jetson included, gets ONNX Runtime
    (and its CUDA and TensorRT providers). Without OpenVINO ``auto`` says so in the log
    and runs ONNX Runtime (as :func:`load_predictor` does for a model OpenVINO cannot
    read).

    :param machine: ``platform.machine()``; the others: whether openvino imports and
        ONNX Runtime has CUDA (found out when None)
    :raises ValueError: an unknown backend, or openvino asked for and not installed or
        with a device other than cpu or auto
    """
    if backend not in BACKENDS:
        raise ValueError(f'unknown backend {backend!r}: use {", ".join(BACKENDS)}')
    if backend == 'onnxruntime':
        return backend
    if openvino_found is None:
        openvino_found = importlib.util.find_spec('openvino') is not None
    if backend == 'openvino':
        if device not in ('auto', 'cpu'):
            raise ValueError(f'backend openvino runs on the CPU: use device cpu or auto, not '
                             f'{device}, or backend onnxruntime')
        if not openvino_found:
            raise ValueError(f'backend openvino asked for, but openvino is not installed: '
                             f'{OPENVINO_HELP}, or use backend onnxruntime')
        return backend
    machine = (machine if machine is not None else platform.machine()).lower()
    if device not in ('auto', 'cpu') or machine not in X86:
        return 'onnxruntime'
    if device == 'auto':
        if cuda_found is None:
            import onnxruntime
            cuda_found = 'CUDAExecutionProvider' in onnxruntime.get_available_providers()
        if cuda_found:
            return 'onnxruntime'
    if not openvino_found:
        logger.warning('openvino is not installed: running the ONNX model with ONNX Runtime '
                       '(OpenVINO is the faster engine on x86 CPUs: %s)', OPENVINO_HELP)
        return 'onnxruntime'
    return 'openvino'


def load_predictor(path, device='auto', threads=0, backend='auto'):
    """Return the predictor of a model file: ``.onnx`` -> ONNX Runtime or OpenVINO, else PyTorch.

    :param device: ``auto``, ``cpu``, ``cuda``, or ``tensorrt`` (``.onnx`` files only)
    :param backend: for ``.onnx`` files: ``auto`` (see :func:`onnx_backend`),
        ``onnxruntime`` or ``openvino``
    :raises ValueError: a missing or unusable model, or a device or backend it cannot run on
    """
    if str(path).endswith('.onnx'):
        engine = onnx_backend(backend, device)
        if not os.path.isfile(path):
            raise ValueError(f'model file {path} does not exist')
        if engine == 'openvino':
            try:
                return OpenVinoPredictor(path, threads)
            except ValueError as exc:
                if backend != 'auto':
                    raise
                # e.g. a QOperator export: ONNX Runtime's own operators
                logger.warning('%s; running it with ONNX Runtime', exc)
        return OnnxPredictor(path, device, threads)
    if device == 'tensorrt':
        raise ValueError(f'device tensorrt runs ONNX models: export {path} with nano-vision '
                         'export MODEL.pt --onnx and give the .onnx file')
    if backend not in BACKENDS:
        raise ValueError(f'unknown backend {backend!r}: use {", ".join(BACKENDS)}')
    if backend != 'auto':
        raise ValueError(f'backend {backend} runs ONNX models: export {path} with nano-vision '
                         'export MODEL.pt --onnx (or --int8) and give the .onnx file')
    return TorchPredictor(load_checkpoint(path), device, threads)
