"""Transfer learning of a torchvision backbone on a dataset folder: ``nano-vision train``.

The course's recipe (Adam, colour jitter, ImageNet mean/std, transfer learning
from ImageNet weights) made honest and fast on a CPU: a seeded
train/validation split (metrics never come from the training images alone),
label-aware augmentation, batches of 32 with the learning rate scaled to them,
a warm-up then cosine learning-rate schedule stepped per batch, bf16
arithmetic where the CPU has it, channels-last memory order, decoded images
cached, the best epoch by validation kept, early stopping, resume. Image size,
epochs and learning rate follow from the data unless given
(:mod:`nano_vision.ml.recipe`).

Writes ``<out>`` (the best model, for inference) and ``<out minus .pt>.last.pt``
(the last epoch with the optimiser, for ``--resume``) at least every
``save_interval_sec`` and when training ends or is interrupted, plus
``<out>.curves.png`` and, for classifiers, ``<out>.confusion.png``.
"""

import copy
import dataclasses
from dataclasses import asdict, dataclass, field
import logging
import math
import os
import random
import time

import numpy as np
import torch

from nano_vision.datasets.layout import describe, load_dataset, split_samples, XY
from nano_vision.image.preprocess import Preprocessing
from nano_vision.ml import recipe
from nano_vision.ml.augment import Augmentation
from nano_vision.ml.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from nano_vision.ml.data import FeatureDataset, SampleDataset
from nano_vision.ml.engine import (collect, InputMaker, make_scaler, resolve_precision,
                                   train_one_epoch)
from nano_vision.ml.evaluate import report
from nano_vision.ml.model import backbone_of, build_model, head_module, select_device
from nano_vision.ml.weights import pretrained_state
from nano_vision.runtime.allocator import reuse_large_buffers

logger = logging.getLogger(__name__)

#: Freed memory the C heap keeps (activations of the next step) before giving it back.
TRAINING_TRIM_THRESHOLD = 1 << 30


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

    The steps of torchvision's reference script: the data (:meth:`_Run.plan`,
    :meth:`_Run.loaders`), the model (:func:`_make_model`), the optimiser and its
    schedule (:func:`_make_optimizer`), the epochs (:func:`_train_epochs`, on cached
    backbone features with a frozen backbone: :func:`_cache_features`), then the
    best epoch scored and written (:meth:`_Saver.finish`).

    :param echo: where the dataset report and the per-epoch table go
    :raises DatasetError: the dataset cannot be used (message names the files)
    :raises WeightsError: ``--weights imagenet`` that cannot be had, or a bad weights file
    """
    options.check()
    # a training step frees and reallocates hundreds of MB of activations: keep them in the
    # heap instead of faulting fresh pages in every step (5 % more images/s on 2 cores)
    reuse_large_buffers(trim_threshold=TRAINING_TRIM_THRESHOLD)
    _seed_everything(options.seed)
    device = select_device(options.device)
    resume = load_checkpoint(options.resume) if options.resume else None
    run = _Run.plan(options, resume, echo)
    precision = resolve_precision(options.precision, device)
    model, pretrained = _make_model(run, options, resume, device, echo)
    train_loader, val_loader = run.loaders(options, device)
    optimizer, scheduler = _make_optimizer(model, run, options, device, len(train_loader))
    saver = _Saver(options, run, model, optimizer, scheduler)
    start = saver.restore(resume, echo) if resume else 0
    saver.meta['train_options'].update(precision=precision, weights_used=(
        resume['train_options'].get('weights_used', 'none') if resume else pretrained.used))
    echo(_banner(run, options, device, precision, bool(resume), pretrained.used))
    images = _Fit(model, train_loader, val_loader, InputMaker(run.preprocessing, device),
                  optimizer, scheduler, make_scaler(device, precision), precision)
    fit = _cache_features(images, run, echo) \
        if options.freeze_backbone and options.feature_cache else images
    _train_epochs(fit, run, options, saver, start, echo)
    final = saver.finish(lambda m: collect(m, images.val_loader, run.task, images.make_input))
    result = TrainResult(options.out, saver.last_path, final['metrics'], saver.history)
    echo(summary(final))
    if options.plots:
        result.plots.extend(_plots(saver.history, run, final, options.out))
        echo('plots: ' + ', '.join(result.plots))
    return result


def _banner(run, options, device, precision, resumed, weights):
    """Return the line that says what is trained, how, and where the model goes.

    :param weights: what the weights came from: ``imagenet``, ``none`` or a path
    """
    names = {'imagenet': 'ImageNet weights', 'none': 'from scratch'}
    start_from = 'resumed' if resumed else names.get(weights, f'weights from {weights}')
    workers = run.record.get('workers_used', 0)
    return (f'training {run.arch} ({start_from}'
            f'{", frozen backbone" if options.freeze_backbone else ""}) on {device} in '
            f'{precision}, {run.image_size} px, batch {run.batch_size}, lr {run.lr:.2g}'
            f'{f", {workers} loading processes" if workers else ""}, up to '
            f'{run.epochs} epochs; model -> {options.out}')


def _make_model(run, options, resume, device, echo):
    """Return the model to train, on ``device`` in channels-last order, and its start weights.

    A resumed run starts from no weights: the resume file's replace them.
    """
    pretrained = pretrained_state(run.arch, 'none' if resume else options.weights)
    if pretrained.note:
        echo(pretrained.note)
    model = build_model(run.arch, run.outputs, state_dict=pretrained.state,
                        freeze_backbone=options.freeze_backbone).to(device)
    return model.to(memory_format=torch.channels_last), pretrained


def _make_optimizer(model, run, options, device, steps_per_epoch):
    """Return Adam over the trainable parameters and its per-step warm-up + cosine schedule."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    # one fused kernel for the whole update instead of one per tensor: 10 ms less per step of
    # a ResNet-18 on 2 cores (more than 5 % of a step of 16 images at 112 px)
    optimizer = torch.optim.Adam(trainable, lr=run.lr, weight_decay=options.weight_decay,
                                 fused=device.type in ('cpu', 'cuda'))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(
        round(options.warmup_epochs * steps_per_epoch), run.epochs * steps_per_epoch))
    return optimizer, scheduler


@dataclass
class _Fit:
    """What the epochs train, on what, and how: the module, its loaders, its optimiser."""

    module: torch.nn.Module
    train_loader: torch.utils.data.DataLoader
    val_loader: torch.utils.data.DataLoader
    #: an :class:`InputMaker`, or None when the loaders yield model input (cached features)
    make_input: object
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: object
    precision: str
    #: seconds spent before the first epoch that count as part of it (the feature cache)
    setup_seconds: float = 0.0


def _cache_features(fit, run, echo):
    """Run the frozen backbone once over the images; return a :class:`_Fit` of the last layer.

    The backbone never changes, so every epoch can train the last layer on its outputs.
    The training images are taken as validation sees them (no augmentation).
    """
    began = time.monotonic()
    backbone = backbone_of(fit.module)
    plain_train = SampleDataset(run.train_samples, run.names, run.task, run.preprocessing)
    train_features, val_features = (
        FeatureDataset.compute(backbone, images, fit.make_input, precision=fit.precision)
        for images in (plain_train, fit.val_loader.dataset))
    train_loader, val_loader = run.batches(train_features, val_features)
    seconds = time.monotonic() - began
    echo(f'backbone features of {len(train_features)} + {len(val_features)} images computed '
         f'once ({seconds:.1f} s, no augmentation); later epochs train the last layer only')
    return dataclasses.replace(fit, module=head_module(fit.module), train_loader=train_loader,
                               val_loader=val_loader, make_input=None, setup_seconds=seconds)


def _train_epochs(fit, run, options, saver, start, echo):
    """Train epochs ``start`` to ``run.epochs``, keeping the best; stop early; write the files.

    The model and resume files are written when the epochs end, fail or are interrupted.
    """
    echo(_row_text(None, run.task, header=True))
    try:
        for epoch in range(start, run.epochs):
            began = time.monotonic() - (fit.setup_seconds if epoch == start else 0.0)
            row, score, metrics = _one_epoch(fit, run, options, epoch, began)
            saver.epoch_done(epoch, row, score, metrics)
            echo(_row_text(row, run.task))
            if saver.stale >= options.patience:
                echo(f'no better validation score for {saver.stale} epochs: stopping early')
                break
    finally:
        saver.write()


def _one_epoch(fit, run, options, epoch, began):
    """Train one epoch and score it; return its table row, its score and its metrics.

    :param began: the ``time.monotonic()`` the row's seconds count from
    """
    train_loss, train_correct, seen = train_one_epoch(
        fit.module, fit.train_loader, fit.optimizer, run.task, fit.make_input,
        precision=fit.precision, jitter=options.jitter if fit.make_input else 0.0,
        scheduler=fit.scheduler, scaler=fit.scaler, frozen_batchnorm=options.freeze_backbone,
        description=f'epoch {epoch + 1}/{run.epochs}', progress=options.progress)
    val_loss, out, targets = collect(fit.module, fit.val_loader, run.task, fit.make_input,
                                     fit.precision)
    metrics = report(run.task, run.names, out, targets)
    row = {'epoch': epoch + 1, 'train_loss': train_loss, 'val_loss': val_loss,
           'lr': fit.scheduler.get_last_lr()[0], 'seconds': time.monotonic() - began}
    if run.task == XY:
        row.update(val_rmse=metrics['rmse'], val_rmse_px=metrics['rmse_px'])
    else:
        row.update(train_acc=train_correct / max(seen, 1), val_acc=metrics['accuracy'])
    return row, _score(run.task, metrics, val_loss), _with_split(metrics, val_loss)


def warmup_cosine(warmup_steps, total_steps):
    """Return the learning-rate factor per step: a linear warm-up, then a cosine to zero.

    Warming up lets a randomly initialised head settle before the large batch-scaled
    rate reaches the pretrained layers; stepping per batch keeps short runs smooth.
    """
    warmup_steps = min(warmup_steps, max(total_steps - 1, 0))

    def factor(step):
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return factor


@dataclass
class _Run:
    """What a training run works on: the data, its split and the resolved settings."""

    task: str
    names: list
    arch: str
    train_samples: list
    val_samples: list
    preprocessing: Preprocessing
    augmentation: Augmentation
    image_size: int
    epochs: int
    batch_size: int
    lr: float
    record: dict

    @property
    def outputs(self):
        """Return the number of model outputs."""
        return len(self.names) * (2 if self.task == XY else 1)

    @classmethod
    def plan(cls, options, resume, echo):
        """Read the dataset, split it and settle the defaults that follow from it."""
        names = options.names or (resume['names'] if resume else None)
        task = resume['task'] if resume else options.task
        dataset = load_dataset(options.data, task=task, names=names)
        for line in describe(dataset):
            echo(line)
        if resume and list(resume['names']) != list(dataset.names):
            raise ValueError(f'{options.resume} was trained on {resume["names"]}, the dataset '
                             f'has {list(dataset.names)}')
        # a resumed run keeps its split: another seed would train on validation images
        kept = resume['train_options'] if resume else {}
        seed = kept.get('seed', options.seed)
        val_fraction = kept.get('val_fraction', options.val_fraction)
        train_samples, val_samples = split_samples(dataset.samples, val_fraction, seed)
        if not train_samples or not val_samples:
            raise ValueError(f'{len(dataset.samples)} samples are too few to keep some for '
                             'validation: collect more images')
        echo(f'split: {len(train_samples)} train, {len(val_samples)} validation '
             f'(seed {seed}{", as the resume file" if resume else ""}; validation images are '
             'never trained on)')
        hflip = recipe.flips_for(options.hflip, dataset.task)
        items = len(SampleDataset(train_samples, dataset.names, dataset.task, None))
        arch = resume['arch'] if resume else options.arch
        if resume:
            image_size = resume['preprocessing']['input_size']
        else:
            image_size = options.image_size or recipe.image_size_for(
                [(s.width, s.height) for s in dataset.samples], arch)
        batch_size = recipe.batch_size_for(items, options.batch_size)
        record = {k: (list(v) if isinstance(v, tuple) else v)
                  for k, v in asdict(options).items()}
        run = cls(dataset.task, list(dataset.names), arch, train_samples, val_samples,
                  Preprocessing(input_size=image_size),
                  Augmentation(options.jitter, options.rotation_deg, options.scale,
                               options.shift, hflip),
                  image_size, options.epochs or recipe.epochs_for(items, batch_size), batch_size,
                  options.lr or recipe.lr_for(batch_size, arch), record)
        record.update(task=run.task, names=run.names, hflip_used=hflip, seed=seed,
                      val_fraction=val_fraction,
                      data_path=os.path.abspath(options.data), image_size=image_size,
                      epochs=run.epochs, batch_size=batch_size, lr=run.lr,
                      train_samples=len(train_samples), val_samples=len(val_samples),
                      dataset_counts=dataset.counts())
        return run

    def loaders(self, options, device):
        """Return the training (augmented, shuffled) and validation (as they are) loaders."""
        train_set = SampleDataset(self.train_samples, self.names, self.task,
                                  self.preprocessing, self.augmentation)
        val_set = SampleDataset(self.val_samples, self.names, self.task, self.preprocessing)
        workers = recipe.workers_for(options.workers, device.type, os.cpu_count() or 1)
        self.record['workers_used'] = workers
        return self.batches(train_set, val_set, num_workers=workers,
                            pin_memory=device.type == 'cuda', persistent_workers=workers > 0)

    def batches(self, train_set, val_set, **loader_keywords):
        """Return loaders of ``train_set`` (shuffled, full batches) and ``val_set`` (in order)."""
        return (torch.utils.data.DataLoader(train_set, batch_size=self.batch_size, shuffle=True,
                                            drop_last=len(train_set) > self.batch_size,
                                            **loader_keywords),
                torch.utils.data.DataLoader(val_set, batch_size=max(64, self.batch_size),
                                            **loader_keywords))


class _Saver:
    """The best model and the resume file: kept in memory, written now and then.

    Writing 135 MB of model and optimiser state after every epoch costs more than
    an epoch of a small set; both files are written at most every
    ``save_interval_sec``, and always when training ends, fails or is interrupted.
    """

    def __init__(self, options, run, model, optimizer, scheduler):
        """Follow ``model`` and its optimiser for the files of ``options.out``."""
        self.out, self.last_path = options.out, last_path_for(options.out)
        self.interval = options.save_interval_sec
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.meta = {'task': run.task, 'arch': run.arch, 'names': run.names,
                     'preprocessing': run.preprocessing, 'train_options': run.record}
        self.history, self.best, self.stale, self.epoch = [], None, 0, -1
        self.best_state, self.best_metrics = None, {}
        self.written = time.monotonic()
        self.dirty = False

    def restore(self, resume, echo):
        """Continue from a resume file; return the first epoch to run."""
        self.model.load_state_dict(resume['state_dict'])
        self.optimizer.load_state_dict(resume['optimizer'])
        self.scheduler.load_state_dict(resume['scheduler'])
        self.history, self.epoch = list(resume['history']), resume['epoch']
        self.best, self.stale = resume['best'], resume['stale']
        torch.set_rng_state(resume['rng'])
        best = load_checkpoint(self.out) if os.path.exists(self.out) else None
        if best is not None and self.best is not None:
            self.best_state, self.best_metrics = best['state_dict'], best['metrics']
        echo(f'resumed from {self.last_path} after epoch {resume["epoch"] + 1}')
        return resume['epoch'] + 1

    def epoch_done(self, epoch, row, score, metrics):
        """Record an epoch's ``row`` (marked ``best`` when it is); keep the best model."""
        self.epoch, self.dirty = epoch, True
        improved = self.best is None or score > self.best['score']
        row['best'] = improved
        self.history.append(row)
        if improved:
            self.best, self.stale = {'score': score, 'epoch': epoch + 1}, 0
            self.best_state = {k: v.detach().to('cpu', copy=True)
                               for k, v in self.model.state_dict().items()}
            self.best_metrics = metrics
        else:
            self.stale += 1
        if time.monotonic() - self.written >= self.interval:
            self.write()

    def _checkpoint(self, state, metrics, epoch, extra=None):
        checkpoint = make_checkpoint(self.model, metrics=metrics, history=self.history,
                                     epoch=epoch, extra=extra, **self.meta)
        checkpoint['state_dict'] = state
        return checkpoint

    def write(self):
        """Write the best model and the resume file (nothing before the first epoch)."""
        if not self.dirty:
            return
        self.dirty, self.written = False, time.monotonic()
        save_checkpoint(self._checkpoint(self.best_state, self.best_metrics,
                                         self.best['epoch'] - 1), self.out)
        resume = {'optimizer': self.optimizer.state_dict(),
                  'scheduler': self.scheduler.state_dict(), 'best': self.best,
                  'stale': self.stale, 'rng': torch.get_rng_state()}
        save_checkpoint(self._checkpoint(
            {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            self.best_metrics, self.epoch, extra=resume), self.last_path)

    def finish(self, evaluate):
        """Score the best model once more in float32 (as it will run), write it, return it.

        Epochs are scored in the training precision to choose the best one; the
        model file reports the metrics of the weights it holds, at full precision.
        """
        if self.best_state is None:
            raise ValueError(f'no epoch was trained: {self.out} was not written')
        model = copy.deepcopy(self.model)
        model.load_state_dict(self.best_state)
        loss, out, targets = evaluate(model)
        metrics = _with_split(report(self.meta['task'], self.meta['names'], out, targets), loss)
        self.best_metrics = metrics
        save_checkpoint(self._checkpoint(self.best_state, metrics, self.best['epoch'] - 1),
                        self.out)
        return load_checkpoint(self.out)


def _plots(history, run, final, out):
    from nano_vision.ml.plots import plot_confusion, plot_curves
    plots = [plot_curves(history, run.task, out[:-3] + '.curves.png')]
    if run.task != XY:
        plots.append(plot_confusion(final['metrics']['confusion_matrix'], run.names,
                                    out[:-3] + '.confusion.png'))
    return plots


def _with_split(metrics, loss):
    metrics = dict(metrics)
    metrics.update(split='validation', loss=loss)
    return metrics


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
