"""Export a checkpoint to ONNX, fp32 or int8 (calibrated on training images), checked."""

import io
import json
import logging
import os
import warnings

import numpy as np
import torch

from nano_vision.ml.checkpoint import (checkpoint_preprocessing, FORMAT, FORMAT_VERSION,
                                       load_checkpoint, model_from_checkpoint)
from nano_vision.runtime.files import atomic_writer

logger = logging.getLogger(__name__)


def onnx_metadata(checkpoint):
    """Return the metadata written into the ONNX file (all strings)."""
    info = {
        'format': FORMAT, 'format_version': FORMAT_VERSION,
        'task': checkpoint['task'], 'arch': checkpoint['arch'],
        'names': list(checkpoint['names']),
        'preprocessing': checkpoint['preprocessing'],
        'output': 'logits (softmax gives probabilities)' if checkpoint['task'] !=
                  'xy' else 'x0, y0, x1, y1, ... normalised to [-1, 1], in names order',
        'metrics': {k: v for k, v in checkpoint.get('metrics', {}).items()
                    if isinstance(v, (int, float, str))},
    }
    pre = checkpoint['preprocessing']
    return {'nano_vision': json.dumps(info, sort_keys=True),
            'task': info['task'], 'names': ','.join(info['names']),
            'input_size': str(pre['input_size']), 'color_order': pre['color_order'],
            'mean': ','.join(map(str, pre['mean'])), 'std': ','.join(map(str, pre['std']))}


def export_onnx(model_path, out=None, opset=17, samples=8, seed=0):
    """Write the ONNX export of ``model_path``; return ``(out, max_abs_difference)``.

    The difference is the largest absolute gap between ONNX Runtime's and
    PyTorch's outputs on ``samples`` random inputs.
    """
    import onnx
    import onnxruntime
    checkpoint = load_checkpoint(model_path)
    model = model_from_checkpoint(checkpoint, 'cpu')
    size = checkpoint_preprocessing(checkpoint).input_size
    out = out or os.path.splitext(model_path)[0] + '.onnx'
    dummy = torch.zeros(1, 3, size, size)
    exported = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the TorchScript exporter announces its successor
        torch.onnx.export(model, (dummy,), exported, input_names=['input'],
                          output_names=['output'],
                          dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}},
                          opset_version=opset, dynamo=False)
    _save(onnx.load_from_string(exported.getvalue()), checkpoint, out)

    rng = np.random.default_rng(seed)
    batch = rng.standard_normal((samples, 3, size, size)).astype(np.float32)
    session = onnxruntime.InferenceSession(out, providers=['CPUExecutionProvider'])
    ort_out = session.run(None, {'input': batch})[0]
    with torch.inference_mode():
        torch_out = model(torch.from_numpy(batch)).numpy()
    return out, float(np.abs(ort_out - torch_out).max())


def _save(proto, checkpoint, out):
    """Add the checkpoint's metadata to ``proto``, check it and write it to ``out`` atomically."""
    import onnx
    _add_metadata(proto, checkpoint)
    onnx.checker.check_model(proto)
    with atomic_writer(out) as stream:
        onnx.save(proto, stream)


def _add_metadata(proto, checkpoint):
    del proto.metadata_props[:]
    for key, value in onnx_metadata(checkpoint).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = f'nano_vision {checkpoint["task"]} model: {", ".join(checkpoint["names"])}'


def calibration_images(checkpoint, dataset=None, count=128, seed=0):
    """Return up to ``count`` image paths to calibrate an int8 export with.

    Without ``dataset`` the images come from the dataset the checkpoint was
    trained on (its path is in the checkpoint's training options), training
    split only: the validation images stay unseen.

    :raises ValueError: no dataset given and the recorded one is not there
    """
    from nano_vision.datasets.layout import load_dataset, split_samples
    options = checkpoint.get('train_options', {})
    candidates = [path for path in (options.get('data_path'), options.get('data')) if path]
    recorded = next((path for path in candidates if os.path.isdir(path)),
                    candidates[0] if candidates else None)
    if dataset is None:
        if not recorded or not os.path.isdir(recorded):
            raise ValueError(
                'int8 export needs calibration images: the dataset this model was trained '
                f'on ({recorded or "not recorded"}) is not here; give --calibration DATASET '
                '(a few hundred images like the ones the model will see)')
        dataset = recorded
    data = load_dataset(dataset, task=checkpoint['task'], names=checkpoint['names'])
    samples = data.samples
    same = recorded and os.path.abspath(dataset) == os.path.abspath(recorded)
    if same and len(samples) > 1:
        samples, _ = split_samples(samples, options.get('val_fraction', 0.2),
                                   options.get('seed', 0))
    paths = sorted({s.path for s in samples})
    if not paths:
        raise ValueError(f'{dataset} has no images to calibrate with')
    rng = np.random.default_rng(seed)
    if len(paths) > count:
        paths = [paths[i] for i in sorted(rng.choice(len(paths), count, replace=False))]
    return paths


def _calibration_batches(checkpoint, paths):
    from nano_vision.ml.data import read_rgb
    preprocessing = checkpoint_preprocessing(checkpoint)
    return np.stack([preprocessing(read_rgb(path), 'rgb8') for path in paths])


QUANT_FORMATS = ('qdq', 'qoperator')
WEIGHT_TYPES = ('int8', 'uint8')


def quantize_int8(model_path, out=None, calibration=None, count=128, opset=17, seed=0,
                  quant_format='qdq', weight_type='int8'):
    """Write an int8 ONNX export of ``model_path``; return ``(out, check)``.

    ONNX Runtime static quantisation: QDQ format, per-channel int8 weights,
    int8 activations whose ranges come from ``count`` calibration images
    preprocessed exactly as the model expects. ``check`` compares the int8
    model with PyTorch on those images: ``max_abs_difference`` of the outputs,
    and ``top1_agreement`` (classification) or ``mean_abs_difference`` (XY,
    normalised coordinates).

    :param calibration: dataset folder; default: the training images of the
        dataset recorded in the checkpoint
    :param quant_format: ``qdq`` (QuantizeLinear/DequantizeLinear around float operators:
        ONNX Runtime and OpenVINO both run it) or ``qoperator`` (QLinearConv and
        ONNX Runtime's own quantised operators: ONNX Runtime only)
    :param weight_type: ``int8`` (uint8 x int8 products, the VNNI kernels) or ``uint8``
    :raises ValueError: no calibration images (the message says what to give), or an
        unknown format or weight type
    """
    import tempfile

    import onnx
    import onnxruntime
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    if count < 1:
        raise ValueError(f'calibration count must be >= 1, got {count}')
    if quant_format not in QUANT_FORMATS or weight_type not in WEIGHT_TYPES:
        raise ValueError(f'quant_format must be one of {QUANT_FORMATS} and weight_type one of '
                         f'{WEIGHT_TYPES}, got {quant_format!r} and {weight_type!r}')
    checkpoint = load_checkpoint(model_path)
    paths = calibration_images(checkpoint, calibration, count, seed)
    batch = _calibration_batches(checkpoint, paths)
    out = out or os.path.splitext(model_path)[0] + '.int8.onnx'

    class _Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(batch[i:i + 1] for i in range(len(batch)))

        def get_next(self):
            item = next(self.items, None)
            return None if item is None else {'input': item}

    with tempfile.TemporaryDirectory() as tmp:
        fp32 = os.path.join(tmp, 'fp32.onnx')
        export_onnx(model_path, fp32, opset=opset, samples=1)
        prepared = os.path.join(tmp, 'prepared.onnx')
        # ORT's advice: fold and fuse (Conv+BatchNorm) and infer shapes before quantising
        quant_pre_process(fp32, prepared)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            quantize_static(prepared, os.path.join(tmp, 'int8.onnx'), _Reader(),
                            quant_format={'qdq': QuantFormat.QDQ,
                                          'qoperator': QuantFormat.QOperator}[quant_format],
                            per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type={'int8': QuantType.QInt8,
                                         'uint8': QuantType.QUInt8}[weight_type])
        proto = onnx.load(os.path.join(tmp, 'int8.onnx'))
    _save(proto, checkpoint, out)

    session = onnxruntime.InferenceSession(out, providers=['CPUExecutionProvider'])
    int8_out = np.concatenate([session.run(None, {'input': batch[i:i + 16]})[0]
                               for i in range(0, len(batch), 16)])
    model = model_from_checkpoint(checkpoint, 'cpu')
    with torch.inference_mode():
        torch_out = model(torch.from_numpy(batch)).numpy()
    check = {'images': len(paths), 'max_abs_difference':
             float(np.abs(int8_out - torch_out).max())}
    if checkpoint['task'] == 'xy':
        check['mean_abs_difference'] = float(np.abs(int8_out - torch_out).mean())
    else:
        check['top1_agreement'] = float((int8_out.argmax(1) == torch_out.argmax(1)).mean())
    logger.info('int8 export %s: %s', out, check)
    return out, check
