"""bench/gpu.py: every path the nodes can run is measured, or says why it could not start."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
torch = pytest.importorskip('torch')
onnxruntime = pytest.importorskip('onnxruntime')

from helpers import make_squares  # noqa: E402
from nano_vision.ml.recipe import TrainOptions  # noqa: E402
from nano_vision.ml.train import train  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_gpu_bench_times_every_node_path_or_says_why_not(tmp_path):
    data = make_squares(tmp_path / 'squares', per_class=20)
    model = tmp_path / 'squares.pt'
    train(TrainOptions(data=str(data), out=str(model), epochs=1, image_size=32,
                       progress=False, plots=False), echo=lambda _: None)
    out = tmp_path / 'gpu.json'
    done = subprocess.run(
        [sys.executable, str(ROOT / 'bench' / 'gpu.py'), '--parts', 'inference', '--quick',
         '--model', str(model), '--work', str(tmp_path / 'work'), '--json', str(out)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    paths = results['inference']['paths']
    assert set(paths) == {'torch_cpu', 'onnxruntime_cpu_fp32', 'onnxruntime_cpu_int8',
                          'openvino_cpu_int8', 'torch_cuda', 'onnxruntime_cuda_fp32',
                          'onnxruntime_tensorrt_fp16'}
    for name in ('torch_cpu', 'onnxruntime_cpu_fp32', 'onnxruntime_cpu_int8'):
        row = paths[name]
        assert row['device'] == 'cpu'
        # timings are reported, not judged: a busy machine may time either part slower
        assert row['model_alone_ms_p50'] > 0 and 0 < row['frame_ms_p50'] <= row['frame_ms_p90']
        assert row['frames_timed'] >= 20
    # the exports answer as PyTorch does on the same frames
    assert paths['onnxruntime_cpu_fp32']['top1_agreement'] == 1.0
    assert paths['onnxruntime_cpu_int8']['top1_agreement'] >= 0.9
    if not torch.cuda.is_available():
        assert 'no CUDA GPU' in paths['torch_cuda']['failed']
    if 'CUDAExecutionProvider' not in onnxruntime.get_available_providers():
        assert 'no CUDAExecutionProvider' in paths['onnxruntime_cuda_fp32']['failed']
    if 'TensorrtExecutionProvider' not in onnxruntime.get_available_providers():
        assert 'onnxruntime-gpu built with TensorRT' in \
            paths['onnxruntime_tensorrt_fp16']['failed']
