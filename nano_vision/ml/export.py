"""Export a checkpoint to ONNX with its names and preprocessing, checked against PyTorch."""

import json
import logging
import os
import warnings

import numpy as np
import torch

from nano_vision.ml.checkpoint import (checkpoint_preprocessing, FORMAT, FORMAT_VERSION,
                                       load_checkpoint, model_from_checkpoint)

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
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the TorchScript exporter announces its successor
        torch.onnx.export(model, (dummy,), out, input_names=['input'], output_names=['output'],
                          dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}},
                          opset_version=opset, dynamo=False)
    proto = onnx.load(out)
    for key, value in onnx_metadata(checkpoint).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = f'nano_vision {checkpoint["task"]} model: {", ".join(checkpoint["names"])}'
    onnx.checker.check_model(proto)
    onnx.save(proto, out)

    rng = np.random.default_rng(seed)
    batch = rng.standard_normal((samples, 3, size, size)).astype(np.float32)
    session = onnxruntime.InferenceSession(out, providers=['CPUExecutionProvider'])
    ort_out = session.run(None, {'input': batch})[0]
    with torch.inference_mode():
        torch_out = model(torch.from_numpy(batch)).numpy()
    return out, float(np.abs(ort_out - torch_out).max())
