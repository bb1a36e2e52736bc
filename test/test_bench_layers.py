"""bench/layers.py: each layer's multiply-accumulates, read from an ONNX export."""

import importlib.util
import os
import pathlib
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
pytest.importorskip('onnxruntime')

from helpers import make_squares  # noqa: E402
from nano_vision.image.preprocess import Preprocessing  # noqa: E402
from nano_vision.ml.checkpoint import make_checkpoint, save_checkpoint  # noqa: E402
from nano_vision.ml.export import export_onnx, quantize_int8  # noqa: E402
from nano_vision.ml.model import build_model  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location('bench_layers', ROOT / 'bench' / 'layers.py')
layers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(layers)


def test_the_layers_macs_add_up_to_resnet18s_in_fp32_and_int8(tmp_path):
    data = make_squares(tmp_path / 'squares', per_class=8)
    model = tmp_path / 'm.pt'
    save_checkpoint(make_checkpoint(
        build_model('resnet18', 2), task='classification', arch='resnet18',
        names=['blue', 'red'], preprocessing=Preprocessing(64),
        train_options={'data': str(data), 'val_fraction': 0.2, 'seed': 0}), str(model))
    fp32, _ = export_onnx(str(model))
    int8, _ = quantize_int8(str(model), count=8)
    macs = layers.layer_macs(fp32)
    assert layers.layer_macs(int8) == macs  # found through the int8 model's DequantizeLinear
    # 20 convolutions and the classifier; at 64 px every map is (64/224)^2 of the
    # 224 px one, whose convolutions are 1.8136 GMACs
    assert len(macs) == 21
    assert macs['/conv1/Conv'] == 112 * 112 * 64 * 3 * 7 * 7 * (64 / 224) ** 2
    assert macs['/fc/Gemm'] == 512 * 2
    convolutions = sum(count for name, count in macs.items() if name != '/fc/Gemm')
    assert convolutions == pytest.approx(1.8136e9 * (64 / 224) ** 2, rel=1e-3)
    assert layers.onnx_name('/layer1/layer1.0/conv1/Conv/WithoutBiases') == \
        '/layer1/layer1.0/conv1/Conv'
