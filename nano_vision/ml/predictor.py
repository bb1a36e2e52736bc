"""Run a model file on frames: PyTorch checkpoints and ONNX exports behind one interface."""

import json
import os

import numpy as np
import torch

from nano_vision.ml.checkpoint import (checkpoint_preprocessing, load_checkpoint,
                                       model_from_checkpoint)
from nano_vision.ml.model import select_device
from nano_vision.predictions import decode
from nano_vision.preprocess import Preprocessing


class Predictor:
    """Frames in, :class:`~nano_vision.predictions.Prediction` out.

    ``task``, ``names`` and ``preprocessing`` come from the model file.
    """

    task = ''
    names = ()
    preprocessing = None
    backend = ''

    def run(self, batch):
        """Return raw outputs (N, C) for a float32 (N, 3, S, S) batch."""
        raise NotImplementedError

    _buffer = None

    def _batch_buffer(self, count):
        """Return a float32 (count, 3, S, S) array, the same one while ``count`` is the same."""
        size = int(self.preprocessing.input_size)
        shape = (count, 3, size, size)
        if self._buffer is None or self._buffer.shape != shape:
            self._buffer = np.empty(shape, np.float32)
        return self._buffer

    def predict_batch(self, images, encoding='rgb8', min_confidence=0.0):
        """Return one prediction per image (arrays in ``encoding``, any size)."""
        # frames are written into one reused input buffer: no allocation per frame
        batch = self._batch_buffer(len(images))
        for i, image in enumerate(images):
            self.preprocessing(image, encoding, out=batch[i])
        return decode(self.task, self.names, self.run(batch), min_confidence)

    def predict(self, image, encoding='rgb8', min_confidence=0.0):
        """Return the prediction for one image."""
        return self.predict_batch([image], encoding, min_confidence)[0]


def physical_cores():
    """Return the number of physical cores this process may run on (hyperthreads count once)."""
    cpus = os.sched_getaffinity(0) if hasattr(os, 'sched_getaffinity') else \
        range(os.cpu_count() or 1)
    cores = set()
    for cpu in cpus:
        try:
            with open(f'/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list') as f:
                cores.add(f.read().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


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


class OnnxPredictor(Predictor):
    """An ONNX export run with ONNX Runtime; names and preprocessing from its metadata."""

    backend = 'onnxruntime'

    def __init__(self, path, device='auto', threads=0):
        """Open ``path`` with ONNX Runtime (CUDA provider when asked and available)."""
        import onnxruntime
        options = onnxruntime.SessionOptions()
        # one thread per physical core: hyperthreads share the same vector units
        options.intra_op_num_threads = threads if threads > 0 else physical_cores()
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # idle threads sleep instead of spinning: on a small machine the camera, DDS and the
        # other nodes need those cores between frames (measured: bench/speed.py)
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        providers = ['CPUExecutionProvider']
        if device in ('auto', 'cuda') and \
                'CUDAExecutionProvider' in onnxruntime.get_available_providers():
            providers.insert(0, 'CUDAExecutionProvider')
        try:
            self.session = onnxruntime.InferenceSession(path, options, providers=providers)
        except Exception as exc:  # noqa: B902 - ORT raises its own exception types
            raise ValueError(f'{path} is not an ONNX model ONNX Runtime can run: {exc}') \
                from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if 'nano_vision' not in meta:
            raise ValueError(f'{path} was not exported by nano-vision export: it has no '
                             'names or preprocessing in its metadata')
        info = json.loads(meta['nano_vision'])
        self.metadata = info
        self.task = info['task']
        self.names = tuple(info['names'])
        self.preprocessing = Preprocessing.from_dict(info['preprocessing'])
        self._input = self.session.get_inputs()[0].name
        self.device = 'cuda' if self.session.get_providers()[0].startswith('CUDA') else 'cpu'

    def run(self, batch):
        """Return raw outputs for a preprocessed batch."""
        return self.session.run(None, {self._input: np.asarray(batch, np.float32)})[0]


def load_predictor(path, device='auto', threads=0):
    """Return the predictor of a model file: ``.onnx`` -> ONNX Runtime, else PyTorch."""
    if str(path).endswith('.onnx'):
        if not os.path.isfile(path):
            raise ValueError(f'model file {path} does not exist')
        return OnnxPredictor(path, device, threads)
    return TorchPredictor(load_checkpoint(path), device, threads)
