"""Learning benchmark: what ``nano-vision train`` reaches on real and synthetic images, how fast.

Sets, each written once into ``--work`` with a test part the trainer never sees:

- ``digits``: scikit-learn's ``load_digits``, 1,797 real handwritten digits (8x8 grey,
  10 classes, the UCI set); 20 % held out for the test, stratified, seeded;
- ``lfw``: scikit-image's ``data.lfw_subset()``, 200 real 25x25 grey photographs, 100
  faces (Labeled Faces in the Wild) and 100 non-faces; 5-fold cross-validation, so every
  image is tested once (40 test images per fold);
- ``thumbs``: the synthetic thumbs scene (400 images at 224 px, seed 1; the demo's set),
  tested on 200 more rendered with seed 2;
- ``face``: the synthetic face scene (250 frames at 112 px, seed 1, three points each; the
  demo's set), tested on 100 more frames rendered with seed 2.

Each configuration trains with ``python -m nano_vision train`` in its own process:
``defaults`` is the command with nothing but the set's arguments (what a user gets);
``--baseline REF`` runs the same from an older commit (a git worktree) with the options the
reference runs of that commit used; ``--variant NAME='ARGS'`` adds any other. The bench never
downloads: ``NANO_VISION_OFFLINE=1``, so ``--weights auto`` trains from scratch here.

Reported per run: wall time, epochs, training images/s (items x epochs over the epochs'
seconds, validation included), the best validation score, the test score (scored by this
tree's ``nano-vision eval``), and the seconds until validation first reached the set's target.
Ratios against the baseline are taken within one run of this script. Merges into
bench/results.json under ``training`` (not with ``--quick`` or ``--no-save``).

``--ablation SIZES`` measures instead what each change buys in the training step alone
(ResNet-18 forward, backward and Adam on random batches, one process per row: the course's
batch of 8 in fp32, batch 32, channels-last, bf16 autocast, the heap keeping activations) and
the data steps per image (torchvision's colour jitter per image against ours per batch, the
affine with its points); under ``training_ablation``.

Run after ``. ./activate.sh`` (scikit-learn and scikit-image: requirements/test.txt):
python bench/training.py --baseline 98aabfa
python bench/training.py --sets digits --variant bs64='--batch-size 64'
python bench/training.py --quick           # a smoke run: tiny sets, one epoch
python bench/training.py --ablation 64,112 # what each change buys, training step alone
"""

import argparse
import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _write_grey(folder, name, pixels):
    os.makedirs(folder, exist_ok=True)
    cv2.imwrite(os.path.join(folder, name), pixels)


def _split_test(labels, fraction, seed):
    """Return the indices of a stratified, seeded test part."""
    rng = np.random.default_rng(seed)
    test = []
    for label in sorted(set(labels)):
        members = np.flatnonzero(np.asarray(labels) == label)
        rng.shuffle(members)
        test.extend(members[:round(fraction * len(members))].tolist())
    return set(test)


def write_digits(root, quick=False):
    """Write scikit-learn's digits as 8x8 PNGs: ``root/train/<digit>/``, ``root/test/<digit>/``."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    images, labels = digits.images, digits.target
    if quick:
        images, labels = images[:200], labels[:200]
    test = _split_test(labels, 0.2, seed=0)
    for i, (image, label) in enumerate(zip(images, labels)):
        pixels = np.round(image * (255.0 / 16.0)).astype(np.uint8)  # 17 grey levels, 0-16
        _write_grey(os.path.join(root, 'test' if i in test else 'train', str(label)),
                    f'{i:04d}.png', pixels)
    return [(os.path.join(root, 'train'), os.path.join(root, 'test'))]


def write_lfw(root, quick=False, folds=5):
    """Write scikit-image's LFW subset, one train/test pair of folders per fold."""
    from skimage import data
    images = data.lfw_subset()  # 100 faces, then 100 non-faces
    labels = ['face'] * 100 + ['non_face'] * 100
    order = np.random.default_rng(0).permutation(len(images))
    pairs = []
    for fold in range(1 if quick else folds):
        test = set(order[fold::folds].tolist())
        base = os.path.join(root, f'fold{fold}')
        for i, (image, label) in enumerate(zip(images, labels)):
            pixels = np.round(image * 255.0).astype(np.uint8)
            _write_grey(os.path.join(base, 'test' if i in test else 'train', label),
                        f'{i:03d}.png', pixels)
        pairs.append((os.path.join(base, 'train'), os.path.join(base, 'test')))
    return pairs


def _synth(scene, out, count, size, seed):
    subprocess.run([sys.executable, '-m', 'nano_vision', 'dataset', 'synth', '--scene', scene,
                    '--count', str(count), '--size', str(size), '--seed', str(seed),
                    '--out', out], check=True, stdout=subprocess.DEVNULL, env=_env(ROOT))


def write_thumbs(root, quick=False):
    """Render the demo's thumbs set and a test set."""
    _synth('thumbs', os.path.join(root, 'train'), 40 if quick else 400, 224, 1)
    _synth('thumbs', os.path.join(root, 'test'), 20 if quick else 200, 224, 2)
    return [(os.path.join(root, 'train'), os.path.join(root, 'test'))]


def write_face(root, quick=False):
    """Render the demo's face set and a test set."""
    _synth('face', os.path.join(root, 'train'), 30 if quick else 250, 112, 1)
    _synth('face', os.path.join(root, 'test'), 20 if quick else 100, 112, 2)
    return [(os.path.join(root, 'train'), os.path.join(root, 'test'))]


# name: (writer, task, target validation score, arguments for every configuration,
#        arguments the baseline's reference run used on top)
SETS = {
    'digits': (write_digits, 'classification', 0.985, [], ['--image-size', '64']),
    'lfw': (write_lfw, 'classification', 0.95, [], ['--image-size', '64']),
    'thumbs': (write_thumbs, 'classification', 1.0, ['--image-size', '112'],
               ['--epochs', '15']),
    'face': (write_face, 'xy', 3.49, ['--image-size', '112'],
             ['--epochs', '20', '--weights', 'none']),
}


def _env(tree):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(tree), env.get('PYTHONPATH', '')])
    env['NANO_VISION_OFFLINE'] = '1'  # the bench never downloads
    return env


def _load_history(model):
    """Return the model file's history and metrics (any nano_vision checkpoint)."""
    import torch
    checkpoint = torch.load(model, map_location='cpu', weights_only=True)
    return checkpoint['history'], checkpoint['metrics'], checkpoint.get('train_options', {})


def _reached(task, row, target):
    if task == 'xy':
        return row['val_rmse_px'] <= target
    return row['val_acc'] >= target


def train_once(tree, train_dir, test_dir, model, args, task, target):
    """Train with the tree's ``nano-vision``, score on the test part; return the figures."""
    command = [sys.executable, '-m', 'nano_vision', 'train', train_dir, '--out', model,
               '--no-plots', '--no-progress'] + args
    began = time.monotonic()
    done = subprocess.run(command, env=_env(tree), cwd=tempfile.gettempdir(),
                          capture_output=True, text=True)
    wall = time.monotonic() - began
    if done.returncode != 0:
        raise RuntimeError(f'{shlex.join(command)} failed:\n{done.stdout[-2000:]}'
                           f'{done.stderr[-2000:]}')
    history, metrics, options = _load_history(model)
    scores = json.loads(_eval_json(model, test_dir))
    items = _train_items(train_dir, options.get('val_fraction', 0.2), options.get('seed', 0))
    epoch_seconds = sum(row['seconds'] for row in history)
    elapsed, to_target = 0.0, None
    for row in history:
        elapsed += row['seconds']
        if to_target is None and _reached(task, row, target):
            to_target = elapsed
    return {
        'wall_sec': round(wall, 1), 'epochs': len(history),
        'image_size': options.get('image_size'), 'batch_size': options.get('batch_size'),
        'precision': options.get('precision', 'fp32'),
        'train_images_per_sec': round(items * len(history) / epoch_seconds, 1),
        'val': _score(task, metrics), 'test': _score(task, scores),
        'epoch_sec_to_target': None if to_target is None else round(to_target, 1),
    }


def _train_items(train_dir, val_fraction, seed):
    """Return the training items of a run: images, or frames for XY (points of a frame are one)."""
    from nano_vision.datasets.layout import load_dataset, split_samples, XY
    dataset = load_dataset(train_dir)
    train, _ = split_samples(dataset.samples, val_fraction, seed)
    if dataset.task != XY:
        return len(train)
    return len({(s.group, s.width, s.height) for s in train})


def _eval_json(model, test_dir):
    with tempfile.NamedTemporaryFile(suffix='.json') as out:
        subprocess.run([sys.executable, '-m', 'nano_vision', 'eval', model, test_dir,
                        '--json', out.name], env=_env(ROOT), capture_output=True, check=True)
        return pathlib.Path(out.name).read_text()


def _score(task, metrics):
    return round(metrics['rmse_px'], 3) if task == 'xy' else round(metrics['accuracy'], 4)


def _worktree(ref, work):
    path = os.path.join(work, f'tree_{ref}')
    if not os.path.exists(path):
        subprocess.run(['git', '-C', str(ROOT), 'worktree', 'add', '--detach', path, ref],
                       check=True, capture_output=True)
    return path


def _mean(runs, key):
    """Return the mean of ``key`` over the runs that have it (None when none has)."""
    values = [r[key] for r in runs if r[key] is not None]
    return round(sum(values) / len(values), 4) if values else None


# What each change buys, model step alone: ResNet-18 forward, backward and Adam on random
# tensors (no data), each row in a fresh process (the heap setting cannot be undone).
STEP_CONFIGS = [
    ('course: batch 8, fp32', {'batch': 8, 'channels_last': False, 'precision': 'fp32',
                               'heap': False}),
    ('batch 32', {'batch': 32, 'channels_last': False, 'precision': 'fp32', 'heap': False}),
    ('+ channels-last', {'batch': 32, 'channels_last': True, 'precision': 'fp32', 'heap': False}),
    ('+ bf16 autocast', {'batch': 32, 'channels_last': True, 'precision': 'bf16', 'heap': False}),
    ('+ heap keeps activations', {'batch': 32, 'channels_last': True, 'precision': 'bf16',
                                  'heap': True}),
]


def step_rate(size, batch, channels_last, precision, heap, seconds=8.0, device='cpu'):
    """Return images/s of training steps of a ResNet-18 on random ``size`` px batches.

    :param device: ``cpu`` or ``cuda`` (bench/gpu.py)
    """
    import torch
    from nano_vision.ml.engine import autocast
    from nano_vision.ml.model import build_model
    if heap:
        from nano_vision.runtime.allocator import reuse_large_buffers
        from nano_vision.ml.train import TRAINING_TRIM_THRESHOLD
        reuse_large_buffers(trim_threshold=TRAINING_TRIM_THRESHOLD)
    torch.manual_seed(0)
    memory = torch.channels_last if channels_last else torch.contiguous_format
    device = torch.device(device)
    model = build_model('resnet18', 10).to(device, memory_format=memory)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    images = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=memory)
    labels = torch.randint(0, 10, (batch,), device=device)

    def wait():
        if device.type == 'cuda':
            torch.cuda.synchronize()

    def step():
        with autocast(device, precision):
            loss = torch.nn.functional.cross_entropy(model(images).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(2):
        step()
    wait()
    count, began = 0, time.monotonic()
    while time.monotonic() - began < seconds:
        step()
        count += batch
    wait()
    return count / (time.monotonic() - began)


def data_costs(size, repeats=200):
    """Return ms per image of the data steps, torchvision's against ours.

    Colour jitter: torchvision per image, ours per batch; the affine with three points:
    torchvision's ``RandomAffine`` on ``KeyPoints``, ours with OpenCV.
    """
    import torch
    from torchvision import tv_tensors
    from torchvision.transforms import v2
    from nano_vision.ml.augment import Augmentation, colour_jitter, Geometry
    torch.manual_seed(0)
    batch = torch.randint(0, 256, (32, 3, size, size), dtype=torch.uint8)
    per_image = v2.ColorJitter(0.3, 0.3, 0.3, 0.05)
    affine = v2.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1))
    points = tv_tensors.KeyPoints(torch.rand(3, 2) * size, canvas_size=(size, size))
    # ours: the same affine with OpenCV, and the points through its matrix
    geometry = Geometry(Augmentation(hflip=False), ['a', 'b', 'c'])
    image = np.ascontiguousarray(batch[0].permute(1, 2, 0).numpy())
    normalised = (points.numpy() * (2.0 / size) - 1.0).astype(np.float32)
    mask = np.ones(3, np.float32)

    def timed(work, count):
        began = time.perf_counter()
        for _ in range(count):
            work()
        return (time.perf_counter() - began) * 1000.0 / count

    return {
        'colour_jitter_per_image_ms': round(timed(lambda: per_image(tv_tensors.Image(
            batch[0])), repeats), 3),
        'colour_jitter_batched_ms': round(timed(lambda: colour_jitter(
            batch.float().div_(255.0), 0.3), max(1, repeats // 32)) / 32, 3),
        'affine_with_points_per_image_ms': round(timed(lambda: affine(
            tv_tensors.Image(batch[0]), points), repeats), 3),
        'affine_with_points_opencv_per_image_ms': round(timed(lambda: geometry(
            image, normalised, mask), repeats), 3),
    }


def ablation(sizes):
    """Measure every STEP_CONFIGS row and the data costs at each size; return them."""
    rows = {}
    for size in sizes:
        for name, config in STEP_CONFIGS:
            child = subprocess.run(
                [sys.executable, __file__, '--step-child', json.dumps(dict(config, size=size))],
                env=_env(ROOT), capture_output=True, text=True, check=True)
            rows.setdefault(str(size), {})[name] = round(float(child.stdout.strip()), 1)
            print(f'{size:4} px  {name:28} {rows[str(size)][name]:7.1f} images/s', flush=True)
        rows[str(size)]['data'] = data_costs(size)
        print(f'{size:4} px  data: {rows[str(size)]["data"]}', flush=True)
    return rows


def main():
    """Run the sets and configurations asked for; print and merge the results."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sets', default=','.join(SETS), help='comma-separated, of: '
                        + ', '.join(SETS))
    parser.add_argument('--baseline', metavar='REF', help='also train with this commit')
    parser.add_argument('--variant', action='append', default=[], metavar="NAME='ARGS'",
                        help='another configuration: extra train arguments')
    parser.add_argument('--no-defaults', action='store_true', help='skip the defaults run')
    parser.add_argument('--seeds', type=int, default=1,
                        help='train each configuration with seeds 0..N-1 (split and '
                        'initialisation) and report the means (default %(default)s)')
    parser.add_argument('--work', default=os.path.join(tempfile.gettempdir(), 'nv_bench_train'),
                        help='folder for the sets, models and the baseline tree')
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run: tiny sets, one epoch; results.json left alone')
    parser.add_argument('--no-save', action='store_true', help='leave results.json alone')
    parser.add_argument('--ablation', metavar='SIZES',
                        help='instead: training-step images/s per change at these '
                        'comma-separated input sizes, and the data costs')
    parser.add_argument('--step-child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step_child:
        config = json.loads(args.step_child)
        print(step_rate(config.pop('size'), **config, seconds=3.0 if args.quick else 8.0))
        return
    sys.path.insert(0, str(ROOT / 'bench'))
    from machine import machine
    if args.ablation:
        results = {'machine': machine(), 'date': time.strftime('%Y-%m-%d %H:%M'),
                   'images_per_sec': ablation([int(v) for v in args.ablation.split(',')])}
        _save('training_ablation', results, args)
        return

    configs = [] if args.no_defaults else [('defaults', ROOT, [])]
    if args.baseline:
        configs.append((f'baseline {args.baseline}', _worktree(args.baseline, args.work), None))
    for text in args.variant:
        name, _, extra = text.partition('=')
        configs.append((name, ROOT, shlex.split(extra)))
    results = {'machine': machine(), 'date': time.strftime('%Y-%m-%d %H:%M'), 'sets': {}}
    for set_name in args.sets.split(','):
        writer, task, target, set_args, baseline_args = SETS[set_name]
        folder = os.path.join(args.work, 'quick' if args.quick else 'full', set_name)
        if not os.path.exists(os.path.join(folder, '.done')):
            shutil.rmtree(folder, ignore_errors=True)
            writer(folder, quick=args.quick)
            pathlib.Path(folder, '.done').touch()
        pairs = sorted(
            (os.path.join(dirpath, 'train'), os.path.join(dirpath, 'test'))
            for dirpath, dirnames, _ in os.walk(folder) if 'train' in dirnames)
        entry = results['sets'].setdefault(set_name, {'task': task, 'target': target})
        for name, tree, extra in configs:
            run_args = set_args + (baseline_args if extra is None else extra)
            if args.quick:
                run_args += ['--epochs', '1']
            runs = []
            for seed in range(args.seeds):
                for i, (train_dir, test_dir) in enumerate(pairs):
                    model = os.path.join(args.work,
                                         f'{set_name}_{name.replace(" ", "_")}_{i}_{seed}.pt')
                    runs.append(train_once(tree, train_dir, test_dir, model,
                                           run_args + ['--seed', str(seed)], task, target))
                    print(f'{set_name:7} {name:20} fold {i} seed {seed}: {runs[-1]}', flush=True)
            summary = {key: _mean(runs, key) for key in runs[0]
                       if isinstance(runs[0][key], (int, float)) or runs[0][key] is None}
            summary.update(date=results['date'], precision=runs[0]['precision'], args=run_args,
                           folds=len(pairs),
                           seeds=args.seeds, runs=len(runs),
                           reached_target=sum(r['epoch_sec_to_target'] is not None
                                              for r in runs),
                           per_run=[{k: r[k] for k in ('val', 'test', 'wall_sec', 'epochs',
                                                       'epoch_sec_to_target')} for r in runs])
            entry[name] = summary
            print(f'{set_name:7} {name:20} {summary}', flush=True)
    _save('training', results, args)


def _save(key, results, args):
    """Print ``results`` and merge them into bench/results.json under ``key``.

    Configurations of a set replace those of the same name; other sets and
    configurations already there stay.
    """
    print(json.dumps(results, indent=2))
    if args.quick or args.no_save:
        return
    path = ROOT / 'bench' / 'results.json'
    merged = json.loads(path.read_text()) if path.exists() else {}
    old = merged.get(key, {})
    for name, entry in old.get('sets', {}).items():
        results.setdefault('sets', {}).setdefault(name, {})
        results['sets'][name] = dict(entry, **results['sets'][name])
    merged[key] = dict(old, **results)
    path.write_text(json.dumps(merged, indent=2) + '\n')


if __name__ == '__main__':
    main()
