"""GPU paths against the CPU of the same machine, in one run: training and the nodes' models.

Run on a machine with an NVIDIA GPU (the CPU paths run anywhere; what cannot start is
reported with its reason, not skipped in silence):

- **training**: the demo's thumbs set (400 frames rendered at 224 px, seed 1; 200 more,
  seed 2, for the test), ResNet-18 from scratch (the bench never downloads), trained by
  ``nano-vision train --image-size 224 --epochs N`` with ``--device cuda`` (its default data
  loading processes, and ``--workers 0``, the training process alone) and with
  ``--device cpu``; images/s counted as bench/training.py counts them (items x epochs over
  the epochs' seconds, validation included), and the test accuracy. Then the training step
  alone (forward, backward and Adam on random batches, bench/training.py's ``step_rate``) at
  224 px in fp32 and bf16, on CUDA and on the CPU: what the GPU can give when data
  loading keeps up.
- **inference**: the CUDA-trained model, exported to ONNX (fp32 and int8), loaded the way a
  node loads it (``load_predictor`` with the node's ``device`` and ``backend``) and fed one
  640x480 BGR frame at a time the way a node feeds it (``predict``: preprocessing, model,
  decoding): PyTorch on CUDA, ONNX Runtime's CUDA provider, its TensorRT provider (FP16,
  engine cached beside the model: the first start builds it, the second reads it), against
  PyTorch, ONNX Runtime and OpenVINO on the CPU. Per path: start seconds, the first frame,
  the per-frame median and p90, the model alone on a prepared frame, and whether the top-1
  answers on 50 test frames agree with PyTorch on the CPU.

Merged into bench/results.json under ``gpu`` unless ``--no-save``.

python bench/gpu.py                        # all of it
python bench/gpu.py --parts inference --model thumbs.pt
python bench/gpu.py --quick --no-save      # a smoke run: small set, one epoch, short timings
"""

import argparse
import glob
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

import cv2
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'bench'))
sys.path.insert(0, str(ROOT))

from machine import machine, store_results  # noqa: E402, I100
import training  # noqa: E402, I100  (bench/training.py: sets, train_once, step_rate)

# (name, model file key, device, backend) in the order they run; the file keys are
# 'pt', 'onnx' and 'int8' (see export_models)
PATHS = [
    ('torch_cpu', 'pt', 'cpu', 'auto'),
    ('onnxruntime_cpu_fp32', 'onnx', 'cpu', 'onnxruntime'),
    ('onnxruntime_cpu_int8', 'int8', 'cpu', 'onnxruntime'),
    ('openvino_cpu_int8', 'int8', 'cpu', 'openvino'),
    ('torch_cuda', 'pt', 'cuda', 'auto'),
    ('onnxruntime_cuda_fp32', 'onnx', 'cuda', 'onnxruntime'),
    ('onnxruntime_tensorrt_fp16', 'onnx', 'tensorrt', 'onnxruntime'),
]

# the training step alone: (device, precision, batch)
STEPS = [('cuda', 'fp32', 32), ('cuda', 'bf16', 32), ('cuda', 'bf16', 128),
         ('cpu', 'fp32', 32), ('cpu', 'bf16', 32)]


def gpu_info():
    """Return what torch and ONNX Runtime see of the GPU."""
    import torch
    info = {'torch': torch.__version__, 'cuda_available': torch.cuda.is_available()}
    if torch.cuda.is_available():
        info.update(gpu=torch.cuda.get_device_name(0), torch_cuda=torch.version.cuda,
                    cudnn=torch.backends.cudnn.version())
    try:
        import onnxruntime
        info.update(onnxruntime=onnxruntime.__version__,
                    onnxruntime_providers=onnxruntime.get_available_providers())
    except ImportError as exc:
        info['onnxruntime'] = f'not importable: {exc}'
    return info


def _failure(exc):
    """Return the reason a path could not run, short enough for results.json."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return f'{type(exc).__name__}: {" / ".join(lines[:3])[:600]}'


def measure_training(work, epochs, quick):
    """Train the thumbs set on CUDA and on the CPU; then time the step alone."""
    import torch
    folder = os.path.join(work, 'thumbs')
    if not os.path.exists(os.path.join(folder, '.done')):
        training.write_thumbs(folder, quick=quick)
        pathlib.Path(folder, '.done').touch()
    train_dir, test_dir = os.path.join(folder, 'train'), os.path.join(folder, 'test')
    results = {'set': 'thumbs (rendered), 224 px, ResNet-18 from scratch', 'epochs': epochs,
               'runs': {}, 'step_alone_images_per_sec': {}}
    configs = [('cpu', [])]
    if torch.cuda.is_available():
        configs = [('cuda', []), ('cuda_workers_0', ['--workers', '0'])] + configs
    for name, extra in configs:
        device = name.split('_')[0]
        model = os.path.join(work, f'thumbs_{name}.pt')
        args = ['--image-size', '224', '--epochs', str(epochs), '--weights', 'none',
                '--device', device] + extra
        try:
            run = training.train_once(ROOT, train_dir, test_dir, model, args,
                                      'classification', 1.0)
            run['model'] = model
        except Exception as exc:  # noqa: B902 - every failure is a result here
            run = {'failed': _failure(exc)}
        results['runs'][name] = run
        print(f'training, {name}: {run}', flush=True)
    rates = {name: run.get('train_images_per_sec') for name, run in results['runs'].items()}
    for name in ('cuda', 'cuda_workers_0'):
        if rates.get(name) and rates.get('cpu'):
            results[f'{name}_over_cpu'] = round(rates[name] / rates['cpu'], 2)
    for device, precision, batch in STEPS:
        if device == 'cuda' and not torch.cuda.is_available():
            continue
        config = {'size': 224, 'batch': batch, 'channels_last': True,
                  'precision': precision, 'heap': False, 'device': device}
        name = f'{device} {precision} batch {batch}'
        child = subprocess.run(
            [sys.executable, str(ROOT / 'bench' / 'training.py'), '--step-child',
             json.dumps(config)] + (['--quick'] if quick else []),
            env=training._env(ROOT), capture_output=True, text=True)
        if child.returncode == 0:
            results['step_alone_images_per_sec'][name] = round(
                float(child.stdout.strip().splitlines()[-1]), 1)
        else:
            results['step_alone_images_per_sec'][name] = \
                f'failed: {child.stderr.strip().splitlines()[-1:]}'
        print(f'step alone, {name}: {results["step_alone_images_per_sec"][name]}', flush=True)
    return results


def export_models(model):
    """Export ``model`` to fp32 and int8 ONNX beside it; return the files by key."""
    base = os.path.splitext(model)[0]
    files = {'pt': model, 'onnx': base + '.onnx', 'int8': base + '.int8.onnx'}
    for flag, key in (('--onnx', 'onnx'), ('--int8', 'int8')):
        if not os.path.exists(files[key]):
            done = subprocess.run([sys.executable, '-m', 'nano_vision', 'export', model, flag,
                                   files[key]], env=training._env(ROOT),
                                  capture_output=True, text=True)
            if done.returncode != 0:
                print(f'export {flag} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}',
                      flush=True)
                files.pop(key)
    return files


def _frames(test_dir, count):
    """Return ``count`` test images as 640x480 BGR frames (what a USB camera gives)."""
    paths = sorted(glob.glob(os.path.join(test_dir, '*', '*.jpg'))
                   + glob.glob(os.path.join(test_dir, '*', '*.png')))
    step = max(1, len(paths) // count)
    return [cv2.resize(cv2.imread(path), (640, 480)) for path in paths[::step][:count]]


def _timed(work, seconds, least=20):
    """Return the ms of each call of ``work`` over about ``seconds``."""
    times, began = [], time.perf_counter()
    while len(times) < least or time.perf_counter() - began < seconds:
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def measure_path(load, frames, reference, seconds):
    """Start a predictor with ``load()`` and time it on ``frames``; return the figures."""
    began = time.perf_counter()
    predictor = load()
    row = {'start_sec': round(time.perf_counter() - began, 2),
           'device': getattr(predictor, 'device', None), 'backend': predictor.backend}
    row['device'] = str(row['device'])
    frame = frames[0]
    began = time.perf_counter()
    predictor.predict(frame, 'bgr8')
    row['first_frame_ms'] = round((time.perf_counter() - began) * 1000.0, 1)
    per_frame = _timed(lambda: predictor.predict(frame, 'bgr8'), seconds)
    batch = predictor.prepare([frame], 'bgr8')
    alone = _timed(lambda: predictor.run(batch), seconds)
    row.update(frame_ms_p50=round(statistics.median(per_frame), 3),
               frame_ms_p90=round(float(np.percentile(per_frame, 90)), 3),
               model_alone_ms_p50=round(statistics.median(alone), 3),
               frames_timed=len(per_frame))
    labels = [predictor.predict(f, 'bgr8').label for f in frames]
    if reference is not None:
        same = [a == b for a, b in zip(labels, reference)]
        row['top1_agreement'] = round(float(np.mean(same)), 3)
    return row, labels


def measure_inference(files, test_dir, seconds, threads):
    """Run every path of PATHS on the same frames; return their rows."""
    from nano_vision.ml.predictor import load_predictor, tensorrt_cache_path
    frames = _frames(test_dir, 50)
    rows, reference = {}, None
    for name, key, device, backend in PATHS:
        if key not in files:
            rows[name] = {'failed': f'no {key} model (its export failed)'}
            continue
        if device == 'tensorrt':
            cache = tensorrt_cache_path(files[key])
            subprocess.run(['rm', '-rf', cache], check=False)

        def load(key=key, device=device, backend=backend):
            return load_predictor(files[key], device=device, threads=threads, backend=backend)
        try:
            row, labels = measure_path(load, frames, reference, seconds)
            if reference is None:
                reference = labels
            if device == 'tensorrt':  # the second start reads the engine the first built
                began = time.perf_counter()
                load()
                row['restart_with_cached_engine_sec'] = round(time.perf_counter() - began, 2)
        except Exception as exc:  # noqa: B902 - every failure is a result here
            row = {'failed': _failure(exc)}
            if not isinstance(exc, ValueError):
                traceback.print_exc()
        rows[name] = row
        print(f'{name:28} {row}', flush=True)
    return rows


def main():
    """Run the parts asked for; print and merge the results."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--parts', nargs='+', default=['training', 'inference'],
                        choices=['training', 'inference'])
    parser.add_argument('--work', default=os.path.join(tempfile.gettempdir(), 'nv_bench_gpu'))
    parser.add_argument('--epochs', type=int, default=10, help='training epochs per run')
    parser.add_argument('--model', help='the .pt model for inference (default: the one the '
                        'training part trained on CUDA, else on the CPU)')
    parser.add_argument('--seconds', type=float, default=5.0,
                        help='timing per path and measure')
    parser.add_argument('--threads', type=int, default=0,
                        help='CPU threads of the models (0: one per physical core, the default '
                        'of the nodes)')
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run: small set, one epoch, short timings')
    parser.add_argument('--no-save', action='store_true', help='leave results.json alone')
    parser.add_argument('--json', metavar='FILE', help='also write the results to FILE')
    args = parser.parse_args()
    os.environ['NANO_VISION_OFFLINE'] = '1'
    if args.quick:
        args.epochs, args.seconds = 1, 0.5
    os.makedirs(args.work, exist_ok=True)
    results = {'machine': machine(), 'date': time.strftime('%Y-%m-%d %H:%M'),
               'gpu': gpu_info()}
    print(json.dumps(results['gpu']), flush=True)
    model = args.model
    if 'training' in args.parts:
        results['training'] = measure_training(args.work, args.epochs, args.quick)
        if model is None:
            runs = results['training']['runs']
            model = next((runs[d]['model'] for d in ('cuda', 'cpu')
                          if 'model' in runs.get(d, {})), None)
    if 'inference' in args.parts:
        if model is None:
            raise SystemExit('no model for the inference part: give --model or run training')
        test_dir = os.path.join(args.work, 'thumbs', 'test')
        if not os.path.isdir(test_dir):
            training.write_thumbs(os.path.join(args.work, 'thumbs'), quick=args.quick)
        files = export_models(model)
        results['inference'] = {'frame': '640x480 BGR, one at a time, as a node gets it',
                                'model': os.path.basename(model), 'threads': args.threads,
                                'paths': measure_inference(files, test_dir, args.seconds,
                                                           args.threads)}
    print(json.dumps(results, indent=2), flush=True)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2) + '\n')
    if not (args.quick or args.no_save):
        store_results('gpu', results)


if __name__ == '__main__':
    main()
