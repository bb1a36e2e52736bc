"""Transfer learning of a torchvision backbone on a dataset folder: ``nano-vision train``.

The course's recipe (Adam, batch 8, colour jitter, 224x224, ImageNet mean/std)
made honest: a seeded train/validation split (metrics never come from the
training images alone), label-aware augmentation, a cosine learning-rate
schedule, the best epoch by validation kept, early stopping, resume.

Writes ``<out>`` (the best model, for inference) and ``<out minus .pt>.last.pt``
(the last epoch with the optimiser, for ``--resume``), plus
``<out>.curves.png`` and, for classifiers, ``<out>.confusion.png``.
"""

from dataclasses import asdict, dataclass, field
import logging
import math
import os
import random
import sys
import time

import numpy as np
import torch
from tqdm import tqdm

from nano_vision.datasets import describe, load_dataset, split_samples, XY
from nano_vision.ml.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from nano_vision.ml.data import (Augmentation, FeatureDataset, flip_changes_meaning,
                                 SampleDataset)
from nano_vision.ml.evaluate import collect, loss_fn, report, to_device
from nano_vision.ml.model import backbone_of, build_model, head_module, select_device
from nano_vision.preprocess import Preprocessing

logger = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    """Everything ``nano-vision train`` can be told."""

    data: str
    out: str = 'model.pt'
    task: str = 'auto'
    names: tuple = ()
    arch: str = 'resnet18'
    weights: str = 'none'
    freeze_backbone: bool = False
    feature_cache: bool = True
    epochs: int = 30
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    image_size: int = 224
    val_fraction: float = 0.2
    seed: int = 0
    patience: int = 8
    hflip: str = 'auto'
    jitter: float = 0.3
    rotation_deg: float = 10.0
    scale: float = 0.1
    shift: float = 0.1
    device: str = 'auto'
    workers: int = 0
    resume: str = ''
    plots: bool = True
    progress: bool = True

    def check(self):
        """Raise ValueError for options that cannot work."""
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError('epochs and batch_size must be >= 1')
        if not self.lr > 0:
            raise ValueError(f'lr must be > 0, got {self.lr}')
        if self.hflip not in ('auto', 'on', 'off'):
            raise ValueError(f'hflip must be auto, on or off, got {self.hflip!r}')
        if not self.out.endswith('.pt'):
            raise ValueError(f'the model file name must end in .pt, got {self.out!r}')


@dataclass
class TrainResult:
    """What a training run produced."""

    model_path: str
    last_path: str
    metrics: dict
    history: list = field(default_factory=list)
    plots: list = field(default_factory=list)


def last_path_for(out):
    """Return the resume file written beside the model ``out``."""
    return out[:-len('.pt')] + '.last.pt'


def _score(task, metrics, loss):
    """Return a value where bigger is better (the best epoch is kept)."""
    if task == XY:
        return -metrics['rmse']
    return metrics['accuracy'] - 1e-6 * loss


def _seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _row_text(row, task, header=False):
    if task == XY:
        columns = [('epoch', 5, 'd'), ('train_loss', 10, '.4f'), ('val_loss', 9, '.4f'),
                   ('val_rmse', 8, '.4f'), ('val_rmse_px', 11, '.2f'), ('lr', 9, '.2e'),
                   ('seconds', 7, '.1f')]
    else:
        columns = [('epoch', 5, 'd'), ('train_loss', 10, '.4f'), ('train_acc', 9, '.3f'),
                   ('val_loss', 9, '.4f'), ('val_acc', 7, '.3f'), ('lr', 9, '.2e'),
                   ('seconds', 7, '.1f')]
    if header:
        return '  '.join(f'{name:>{width}}' for name, width, _ in columns)
    text = '  '.join(f'{row[name]:>{width}{fmt}}' for name, width, fmt in columns)
    return text + ('  *' if row.get('best') else '')


def train(options, echo=print):
    """Train as ``options`` say; return a :class:`TrainResult`.

    :param echo: where the dataset report and the per-epoch table go
    :raises DatasetError: the dataset cannot be used (message names the files)
    :raises WeightsError: pretrained weights that are not on this machine
    """
    options.check()
    _seed_everything(options.seed)
    device = select_device(options.device)
    resume = load_checkpoint(options.resume) if options.resume else None
    names = options.names or (resume['names'] if resume else None)
    task = resume['task'] if resume else options.task
    dataset = load_dataset(options.data, task=task, names=names)
    task = dataset.task
    for line in describe(dataset):
        echo(line)
    if resume and list(resume['names']) != list(dataset.names):
        raise ValueError(f'{options.resume} was trained on {resume["names"]}, the dataset has '
                         f'{list(dataset.names)}')
    train_samples, val_samples = split_samples(dataset.samples, options.val_fraction,
                                               options.seed)
    if not train_samples or not val_samples:
        raise ValueError(f'{len(dataset.samples)} samples are too few to keep some for '
                         'validation: collect more images')
    echo(f'split: {len(train_samples)} train, {len(val_samples)} validation '
         f'(seed {options.seed}; validation images are never trained on)')

    hflip = options.hflip == 'on' or (
        options.hflip == 'auto' and not flip_changes_meaning(task, dataset.names))
    augmentation = Augmentation(options.jitter, options.rotation_deg, options.scale,
                                options.shift, hflip)
    image_size = resume['preprocessing']['input_size'] if resume else options.image_size
    preprocessing = Preprocessing(input_size=image_size)
    train_set = SampleDataset(train_samples, dataset.names, task, preprocessing, augmentation)
    val_set = SampleDataset(val_samples, dataset.names, task, preprocessing)
    loader_args = {'num_workers': options.workers, 'pin_memory': device.type == 'cuda'}
    train_loader = torch.utils.data.DataLoader(
        train_set, batch_size=options.batch_size, shuffle=True, drop_last=len(train_set) >
        options.batch_size, **loader_args)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=max(16, options.batch_size),
                                             **loader_args)

    outputs = len(dataset.names) * (2 if task == XY else 1)
    arch = resume['arch'] if resume else options.arch
    model = build_model(arch, outputs, 'none' if resume else options.weights,
                        options.freeze_backbone).to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=options.lr, weight_decay=options.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=options.epochs)
    history, start, best, stale = [], 0, None, 0
    if resume:
        model.load_state_dict(resume['state_dict'])
        optimizer.load_state_dict(resume['optimizer'])
        scheduler.load_state_dict(resume['scheduler'])
        history, start = list(resume['history']), resume['epoch'] + 1
        best, stale = resume['best'], resume['stale']
        torch.set_rng_state(resume['rng'])
        echo(f'resumed from {options.resume} after epoch {resume["epoch"] + 1}')

    options_record = {k: (list(v) if isinstance(v, tuple) else v)
                      for k, v in asdict(options).items()}
    options_record.update(task=task, names=list(dataset.names), hflip_used=hflip,
                          data_path=os.path.abspath(options.data),
                          train_samples=len(train_samples), val_samples=len(val_samples),
                          dataset_counts=dataset.counts())
    meta = {'task': task, 'arch': arch, 'names': dataset.names,
            'preprocessing': preprocessing, 'train_options': options_record}
    last_path = last_path_for(options.out)
    echo(f'training {arch} ({options.weights if not resume else "resumed"} weights'
         f'{", frozen backbone" if options.freeze_backbone else ""}) on {device} for up to '
         f'{options.epochs} epochs; model -> {options.out}')
    trained, cache_seconds = model, 0.0
    if options.freeze_backbone and options.feature_cache:
        # the backbone never changes: run it once, then train the last layer on its outputs
        began = time.monotonic()
        backbone = backbone_of(model)
        plain_train = SampleDataset(train_samples, dataset.names, task, preprocessing)
        train_loader = torch.utils.data.DataLoader(
            FeatureDataset.compute(backbone, plain_train, device), batch_size=options.batch_size,
            shuffle=True, drop_last=len(plain_train) > options.batch_size)
        val_loader = torch.utils.data.DataLoader(
            FeatureDataset.compute(backbone, val_set, device), batch_size=max(16,
                                                                              options.batch_size))
        trained, cache_seconds = head_module(model), time.monotonic() - began
        echo(f'backbone features of {len(plain_train)} + {len(val_set)} images computed once '
             f'({cache_seconds:.1f} s, no augmentation); later epochs train the last layer only')
    echo(_row_text(None, task, header=True))
    for epoch in range(start, options.epochs):
        began = time.monotonic() - cache_seconds
        cache_seconds = 0.0
        train_loss, train_correct, seen = _train_epoch(
            trained, train_loader, optimizer, task, device, options, epoch)
        val_loss, out, targets = collect(trained, val_loader, task, device)
        metrics = report(task, dataset.names, out, targets)
        row = {'epoch': epoch + 1, 'train_loss': train_loss, 'val_loss': val_loss,
               'lr': optimizer.param_groups[0]['lr'], 'seconds': time.monotonic() - began}
        if task == XY:
            row.update(val_rmse=metrics['rmse'], val_rmse_px=metrics['rmse_px'])
        else:
            row.update(train_acc=train_correct / max(seen, 1), val_acc=metrics['accuracy'])
        scheduler.step()
        score = _score(task, metrics, val_loss)
        row['best'] = best is None or score > best['score']
        history.append(row)
        echo(_row_text(row, task))
        if row['best']:
            best, stale = {'score': score, 'epoch': epoch + 1, 'metrics': metrics}, 0
            save_checkpoint(make_checkpoint(model, metrics=_with_split(metrics, val_loss),
                                            history=history, epoch=epoch, **meta),
                            options.out)
        else:
            stale += 1
        save_checkpoint(make_checkpoint(
            model, metrics=_with_split(metrics, val_loss), history=history, epoch=epoch,
            extra={'optimizer': optimizer.state_dict(), 'scheduler': scheduler.state_dict(),
                   'best': best, 'stale': stale, 'rng': torch.get_rng_state()}, **meta),
            last_path)
        if stale >= options.patience:
            echo(f'no better validation score for {stale} epochs: stopping early')
            break

    final = load_checkpoint(options.out)
    result = TrainResult(options.out, last_path, final['metrics'], history)
    echo(summary(final))
    if options.plots:
        from nano_vision.ml.plots import plot_confusion, plot_curves
        result.plots.append(plot_curves(history, task, options.out[:-3] + '.curves.png'))
        if task != XY:
            result.plots.append(plot_confusion(final['metrics']['confusion_matrix'],
                                               dataset.names, options.out[:-3] +
                                               '.confusion.png'))
        echo('plots: ' + ', '.join(result.plots))
    return result


def _with_split(metrics, loss):
    metrics = dict(metrics)
    metrics.update(split='validation', loss=loss)
    return metrics


def _train_epoch(model, loader, optimizer, task, device, options, epoch):
    model.train()
    if options.freeze_backbone:
        # frozen layers keep the BatchNorm statistics they were trained with
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()
    total, correct, seen = 0.0, 0, 0
    # the bar only on a terminal: in a log file each redraw would add to one endless line,
    # and the per-epoch table says the same
    bar = tqdm(loader, desc=f'epoch {epoch + 1}/{options.epochs}', leave=False,
               disable=not (options.progress and sys.stderr.isatty()), file=sys.stderr,
               mininterval=0.5)
    for images, target in bar:
        images = images.to(device, non_blocking=True)
        target = to_device(target, device)
        out = model(images)
        loss = loss_fn(task, out, target)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f'loss became {loss.item()} in epoch {epoch + 1}: '
                                     'lower the learning rate (--lr)')
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * images.shape[0]
        seen += images.shape[0]
        if task != XY:
            correct += (out.argmax(dim=1) == target).sum().item()
        bar.set_postfix(loss=f'{total / seen:.4f}')
    return total / max(seen, 1), correct, seen


def summary(checkpoint):
    """Return a one-paragraph summary of a checkpoint's validation metrics."""
    m = checkpoint['metrics']
    epoch = checkpoint['epoch'] + 1
    if checkpoint['task'] == XY:
        parts = [f'{name} {v["rmse"]:.3f} ({v["rmse_px"]:.1f} px)'
                 for name, v in m.get('per_keypoint', {}).items()]
        return (f'best epoch {epoch}: validation RMSE {m["rmse"]:.4f} normalised '
                f'({m["rmse_px"]:.2f} px); per keypoint: {", ".join(parts)}')
    parts = [f'{name} P {v["precision"]:.2f} R {v["recall"]:.2f}'
             for name, v in m.get('per_class', {}).items()]
    return (f'best epoch {epoch}: validation accuracy {m["accuracy"]:.3f} on {m["count"]} '
            f'images; {", ".join(parts)}')


def default_out(data):
    """Return the default model path for a dataset folder."""
    return os.path.basename(os.path.normpath(data)) + '.pt'
