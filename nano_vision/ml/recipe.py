"""What a training run can be told, and the defaults that follow from the data (no torch).

:class:`TrainOptions` is the one home of ``nano-vision train``'s options and
defaults (the command line reads its defaults from here). ``image_size``,
``epochs`` and ``lr`` left at 0 mean "choose from the data"; the rules below
choose, and every one can be overridden. They were picked on real images
(scikit-learn's digits, scikit-image's LFW faces) and checked on the synthetic
scenes: see docs/training.md ("Defaults") and bench/training.py.
"""

from dataclasses import dataclass
import math
import statistics

ARCHITECTURES = ('resnet18', 'resnet34', 'resnet50', 'mobilenet_v3_small',
                 'mobilenet_v3_large', 'small_cnn')
PRECISIONS = ('auto', 'bf16', 'fp16', 'fp32')

#: Input sizes are multiples of this (a ResNet halves the image five times).
SIZE_STEP = 32
#: No input smaller: a ResNet's stem divides by 4, so 64 px keeps a 16x16 map after it.
MIN_IMAGE_SIZE = 64
#: The small CNN keeps full resolution in its first layer: 32 px is enough for it.
SMALL_CNN_MIN_IMAGE_SIZE = 32
#: No input larger: the course's size, ImageNet's, and what a Jetson runs live.
MAX_IMAGE_SIZE = 224
#: The course's learning rate for Adam at its batch size of 8.
BASE_LR = 1e-3
#: The small CNN, always from scratch, learns best with a larger one.
SMALL_CNN_BASE_LR = 2.5e-3
BASE_BATCH = 8
#: Optimiser steps the epoch rule aims for (scores on small sets follow steps, not images).
STEPS = 500
MIN_EPOCHS, MAX_EPOCHS = 10, 60
#: Steps per epoch the batch rule keeps at least, so small sets still get many updates.
MIN_STEPS_PER_EPOCH = 12


def image_size_for(sizes, arch='resnet18'):
    """Return the input size for images of ``sizes`` ((width, height) pairs).

    The median shorter side, rounded up to a multiple of 32, within
    [MIN_IMAGE_SIZE (32 for the small CNN), MAX_IMAGE_SIZE]: small images are
    scaled up only as far as the network needs, camera frames are shrunk to the
    course's 224.
    """
    if not sizes:
        return MAX_IMAGE_SIZE
    side = statistics.median(min(w, h) for w, h in sizes)
    size = SIZE_STEP * math.ceil(side / SIZE_STEP)
    low = SMALL_CNN_MIN_IMAGE_SIZE if arch == 'small_cnn' else MIN_IMAGE_SIZE
    return max(low, min(MAX_IMAGE_SIZE, size))


def epochs_for(train_items, batch_size):
    """Return the number of epochs for ``train_items`` training items in batches of ``batch_size``.

    About STEPS optimiser steps in all, within [MIN_EPOCHS, MAX_EPOCHS]: a few
    hundred images get many passes, thousands get few.
    """
    steps_per_epoch = max(1, train_items // batch_size)
    return max(MIN_EPOCHS, min(MAX_EPOCHS, round(STEPS / steps_per_epoch)))


def lr_for(batch_size, arch='resnet18'):
    """Return Adam's learning rate for ``batch_size``: the course's 1e-3 at 8, by sqrt scaling.

    The small CNN starts from 2.5e-3 at 8 (5e-3 at 32).
    """
    base = SMALL_CNN_BASE_LR if arch == 'small_cnn' else BASE_LR
    return base * math.sqrt(batch_size / BASE_BATCH)


def batch_size_for(train_items, batch_size):
    """Return the batch size to use: ``batch_size``, smaller on a small set.

    At least MIN_STEPS_PER_EPOCH steps per epoch (and never below 8, the course's
    batch): 200 training images go in batches of 16.
    """
    return max(1, min(batch_size, max(8, train_items // MIN_STEPS_PER_EPOCH)))


def flips_for(hflip, task):
    """Return whether training images are flipped left-right, for the ``--hflip`` choice.

    ``auto``: for XY models only, where the flip also swaps the names of mirrored
    points. A flipped digit or letter is another symbol, and flips made
    classifiers worse on the real sets (digits 99.4 % -> 97.8 %) while adding
    nothing on the others.
    """
    return hflip == 'on' or (hflip == 'auto' and task == 'xy')


@dataclass
class TrainOptions:
    """Everything ``nano-vision train`` can be told; the one home of its defaults.

    ``image_size``, ``epochs`` and ``lr`` at 0 mean: chosen from the data
    (:mod:`nano_vision.ml.recipe`).
    """

    data: str
    out: str = 'model.pt'
    task: str = 'auto'
    names: tuple = ()
    arch: str = 'resnet18'
    weights: str = 'auto'
    freeze_backbone: bool = False
    feature_cache: bool = True
    epochs: int = 0
    batch_size: int = 32
    lr: float = 0.0
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    image_size: int = 0
    precision: str = 'auto'
    val_fraction: float = 0.2
    seed: int = 0
    patience: int = 10
    hflip: str = 'auto'
    jitter: float = 0.3
    rotation_deg: float = 10.0
    scale: float = 0.1
    shift: float = 0.1
    device: str = 'auto'
    workers: int = 0
    resume: str = ''
    save_interval_sec: float = 60.0
    plots: bool = True
    progress: bool = True

    def check(self):
        """Raise ValueError for options that cannot work."""
        if self.epochs < 0 or self.batch_size < 1:
            raise ValueError('epochs must be >= 0 (0: chosen from the data) and batch_size >= 1')
        if self.lr < 0 or not math.isfinite(self.lr):
            raise ValueError(f'lr must be > 0 (or 0: chosen from the batch size), got {self.lr}')
        if self.image_size and not 8 <= self.image_size <= 4096:
            raise ValueError(f'image_size must be in [8, 4096] (or 0: chosen from the data), '
                             f'got {self.image_size}')
        if self.arch not in ARCHITECTURES:
            raise ValueError(f'unknown architecture {self.arch!r}; available: '
                             f'{", ".join(ARCHITECTURES)}')
        if self.hflip not in ('auto', 'on', 'off'):
            raise ValueError(f'hflip must be auto, on or off, got {self.hflip!r}')
        if self.precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {", ".join(PRECISIONS)}, '
                             f'got {self.precision!r}')
        if self.warmup_epochs < 0:
            raise ValueError(f'warmup_epochs must be >= 0, got {self.warmup_epochs}')
        if not self.out.endswith('.pt'):
            raise ValueError(f'the model file name must end in .pt, got {self.out!r}')
