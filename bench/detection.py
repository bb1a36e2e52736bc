"""Sliding-window detection on the objects scene: precision, recall and the cost of a frame.

Renders frames of the objects scene (1-4 circles, squares and triangles at known
places), cuts training windows from them as ``nano-vision dataset synth --scene
objects`` does (each object's box, jittered a little, and background windows, beside the
objects and anywhere, that overlap none much), trains a classifier on those with
``nano_vision.ml.train`` (what ``nano-vision train`` runs), then slides it over held-out
frames (another seed) as the detector node does: the window grid of the frame, one batch
through the predictor, detections after non-maximum suppression per class. A detection
is right when it has the label of a truth box not yet matched and overlaps it with IoU
>= 0.5. Prints and merges into bench/results.json: precision, recall (also at other
score thresholds), windows per frame and the milliseconds a frame costs (windows cut and
preprocessed, the model, the detections), and the same windows run one model call each,
for comparison.

Run after ``. ./activate.sh``:
python bench/detection.py --out-dir /tmp/detection
python bench/detection.py --model /tmp/detection/objects.pt   # skip the training
python bench/detection.py --quick   # a smoke run: small, results.json left alone
"""

import argparse
import collections
import os
import pathlib
import shutil
import sys
import time

import numpy as np

from nano_vision.datasets.synth import write_synthetic_dataset
from nano_vision.inference.windows import detect, match, WindowGrid
from nano_vision.scenes.objects import BACKGROUND, ObjectsScene

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'bench'))
from machine import machine, RESULTS, store_results  # noqa: E402, I100


def frames(count, width, height, seed):
    """Yield ``count`` rendered objects-scene images (RGB) with their truth boxes."""
    scene = ObjectsScene()
    rng = np.random.default_rng(seed)
    for _ in range(count):
        state = scene.random_state(rng)
        image, _ = scene.render(state, width, height, rng)
        yield image, scene.boxes(state, width, height)


def train_model(args):
    """Write the windows dataset and train the classifier; return its path and metrics."""
    from nano_vision.ml.recipe import TrainOptions
    from nano_vision.ml.train import train
    out_dir = pathlib.Path(args.out_dir)
    data = out_dir / 'objects_windows'
    if data.exists():
        shutil.rmtree(data)
    samples = write_synthetic_dataset('objects', data, args.train_frames,
                                      (args.width, args.height), args.seed)
    counts = dict(sorted(collections.Counter(s.label for s in samples).items()))
    print(f'training windows: {counts}')
    model = out_dir / 'objects.pt'
    started = time.perf_counter()
    result = train(TrainOptions(data=str(data), out=str(model), arch=args.arch,
                                epochs=args.epochs, image_size=args.image_size, plots=False,
                                progress=False, seed=args.seed), echo=print)
    return str(model), {'windows': counts, 'arch': args.arch, 'epochs': args.epochs,
                        'image_size': args.image_size,
                        'seconds': round(time.perf_counter() - started, 1),
                        'val_accuracy': round(float(result.metrics.get('accuracy', 0.0)), 4)}


def evaluate(predictor, grid, args):
    """Return the detection scores and costs of the held-out frames."""
    thresholds = sorted({args.score_threshold, 0.5, 0.7, 0.9, 0.97})
    counts = {t: [0, 0, 0] for t in thresholds}  # true, false positives, false negatives
    costs, windows = [], 0
    for image, truth in frames(args.test_frames, args.width, args.height, args.seed + 1000):
        started = time.perf_counter()
        boxes = grid.boxes(args.width, args.height)
        probabilities = predictor.predict_windows(image, boxes, 'rgb8')
        found = detect(boxes, probabilities, predictor.names, (BACKGROUND,),
                       args.score_threshold, args.iou_threshold)
        costs.append((time.perf_counter() - started) * 1e3)
        windows = len(boxes)
        for threshold in thresholds:  # the same probabilities at other thresholds
            if threshold != args.score_threshold:
                found = detect(boxes, probabilities, predictor.names, (BACKGROUND,),
                               threshold, args.iou_threshold)
            counts[threshold] = [a + b for a, b in zip(counts[threshold],
                                                       match(found, truth, 0.5))]
    tp, fp, fn = counts[args.score_threshold]
    # the same windows one model call each, on two frames: what one batch saves
    loop = []
    for image, _ in frames(min(2, args.test_frames), args.width, args.height, args.seed + 1000):
        boxes = grid.boxes(args.width, args.height)
        started = time.perf_counter()
        for x, y, w, h in boxes:
            predictor.predict(image[y:y + h, x:x + w], 'rgb8')
        loop.append((time.perf_counter() - started) * 1e3)
    return {'frames': args.test_frames, 'objects': tp + fn, 'true_positives': tp,
            'false_positives': fp, 'false_negatives': fn,
            'precision': round(tp / max(tp + fp, 1), 4), 'recall': round(tp / max(tp + fn, 1), 4),
            'by_score_threshold': [
                {'score_threshold': t, 'precision': round(a / max(a + b, 1), 4),
                 'recall': round(a / max(a + c, 1), 4)} for t, (a, b, c) in counts.items()],
            'windows_per_frame': windows, 'frame_ms_p50': round(float(np.median(costs)), 1),
            'frame_ms_mean': round(float(np.mean(costs)), 1),
            'one_call_per_window_ms_p50': round(float(np.median(loop)), 1)}


def main():
    """Train (unless --model), detect on held-out frames, print and merge into results.json."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', help='a classifier of the objects scene (skip training)')
    parser.add_argument('--out-dir', default='/tmp/nv_detection',
                        help='where the training windows and the model go')
    parser.add_argument('--train-frames', type=int, default=300)
    parser.add_argument('--test-frames', type=int, default=50)
    parser.add_argument('--width', type=int, default=320)
    parser.add_argument('--height', type=int, default=240)
    parser.add_argument('--arch', default='small_cnn')
    parser.add_argument('--epochs', type=int, default=15)
    parser.add_argument('--image-size', type=int, default=40)
    parser.add_argument('--window-size', type=float, default=0.27)
    parser.add_argument('--window-stride', type=float, default=0.25)
    parser.add_argument('--window-scales', type=float, nargs='+', default=[1.0])
    parser.add_argument('--score-threshold', type=float, default=0.5)
    parser.add_argument('--iou-threshold', type=float, default=0.3)
    parser.add_argument('--threads', type=int, default=0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run: 40 training frames, 2 epochs, 5 test frames; '
                        'results.json left alone')
    args = parser.parse_args()
    if args.quick:
        args.train_frames, args.epochs, args.test_frames = 40, 2, 5
    os.makedirs(args.out_dir, exist_ok=True)
    training = None
    model = args.model
    if model is None:
        model, training = train_model(args)
    from nano_vision.ml.predictor import load_predictor
    predictor = load_predictor(model, device='cpu', threads=args.threads)
    grid = WindowGrid(args.window_size, args.window_stride, tuple(args.window_scales))
    row = {'width': args.width, 'height': args.height, 'window_size': args.window_size,
           'window_stride': args.window_stride, 'window_scales': args.window_scales,
           'score_threshold': args.score_threshold, 'iou_threshold': args.iou_threshold,
           'model_backend': predictor.backend,
           'input_size': int(predictor.preprocessing.input_size),
           **evaluate(predictor, grid, args)}
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}")
    for key, value in row.items():
        print(f'{key:>28}: {value}')
    if args.quick:
        return
    store_results('detection', {'machine': info, 'training': training, 'row': row,
                                'date': time.strftime('%Y-%m-%d')})
    print(f'written to {RESULTS}')


if __name__ == '__main__':
    main()
