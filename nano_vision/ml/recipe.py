"""What a training run can be told, and the defaults that follow from the data (no torch).

:class:`TrainOptions` is the one home of ``nano-vision train``'s options, their
defaults and help (:func:`add_arguments` makes the command's arguments of it). ``image_size``,
``epochs`` and ``lr`` left at 0 mean "choose from the data"; the rules below
choose, and every one can be overridden. They were picked on real images
(scikit-learn's digits, scikit-image's LFW faces) and checked on the synthetic
scenes: see docs/training.md ("Defaults") and bench/training.py.
"""

from dataclasses import dataclass, field, fields, MISSING
import math
import os
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
#: Data-loading processes on a CUDA GPU at most (4 and 8 fed an H100 alike: docs/training.md).
MAX_CUDA_WORKERS = 4


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


def workers_for(workers, device_type, cores):
    """Return the data-loading processes for the ``--workers`` option (-1: chosen here).

    -1: none on the CPU, where the model needs every core; on a CUDA GPU one per
    core up to MAX_CUDA_WORKERS, a core left for the training loop. Decoding and the
    affine in the training process kept an H100 at 341 images/s where 4 processes
    gave 833 (docs/training.md).

    :param device_type: ``cpu`` or ``cuda`` (torch.device.type)
    :param cores: the machine's cores (os.cpu_count())
    """
    if workers >= 0:
        return workers
    if device_type != 'cuda':
        return 0
    return max(0, min(MAX_CUDA_WORKERS, cores - 1))


def flips_for(hflip, task):
    """Return whether training images are flipped left-right, for the ``--hflip`` choice.

    ``auto``: for XY models only, where the flip also swaps the names of mirrored
    points. A flipped digit or letter is another symbol, and flips made
    classifiers worse on the real sets (digits 99.4 % -> 97.8 %) while adding
    nothing on the others.
    """
    return hflip == 'on' or (hflip == 'auto' and task == 'xy')


def category_names(text):
    """Return the categories of a comma-separated ``--names`` value, in the order given."""
    return tuple(name.strip() for name in text.split(',') if name.strip())


def default_out(data):
    """Return the default model path for a dataset folder: ``<dataset name>.pt``."""
    return os.path.basename(os.path.normpath(data)) + '.pt'


def _option(default, text, *, flag=None, **argparse_keywords):
    """Return a :class:`TrainOptions` field with its ``nano-vision train`` argument.

    :param text: the argument's help (``%(default)s`` shows the default)
    :param flag: the flag, where it is not the field's name with dashes (booleans: the
        name, or ``--no-`` and the name for those on by default)
    :param argparse_keywords: more of ``add_argument``'s keywords (``choices``, ``metavar``,
        ``type`` where the field's own type cannot read the text)
    """
    return field(default=default,
                 metadata={'help': text, 'flag': flag, 'argparse': argparse_keywords})


@dataclass
class TrainOptions:
    """Everything ``nano-vision train`` can be told; the one home of its options and defaults.

    Each field is an argument of the command (:func:`add_arguments`) with the
    same default and help. ``image_size``, ``epochs`` and ``lr`` at 0 mean:
    chosen from the data (the rules above); ``out`` empty: ``<dataset name>.pt``.
    """

    data: str = _option(MISSING, 'dataset folder (<category>/<image>)')
    out: str = _option('', 'model file to write (default: <dataset name>.pt)')
    task: str = _option('auto', 'what the model learns: classification, xy (points) or auto '
                        '(from the file names, the default)',
                        choices=('auto', 'classification', 'xy'))
    names: tuple = _option((), 'comma-separated categories, in model output order (default: '
                           'the folders, sorted)', type=category_names)
    arch: str = _option('resnet18', 'network (default %(default)s; small_cnn: a small CNN for '
                        'small images, trained from scratch)', choices=ARCHITECTURES)
    weights: str = _option(
        'auto', 'auto (ImageNet weights if torchvision has them cached or can download them, '
        'else from scratch with a warning), imagenet (the same, but an error without them), '
        'none (from scratch) or a state_dict file (default %(default)s)')
    freeze_backbone: bool = _option(
        False, 'train the last layer only (backbone features computed once)')
    feature_cache: bool = _option(
        True, 'with --freeze-backbone: run the backbone on augmented images every epoch '
        'instead of once')
    epochs: int = _option(0, f'most epochs to train (default: from the number of images, '
                          f'{MIN_EPOCHS}-{MAX_EPOCHS})')
    batch_size: int = _option(32, 'images per step (default %(default)s; smaller on a small '
                              'set)')
    lr: float = _option(0.0, 'Adam learning rate (default: 1e-3 at batch 8, scaled by the '
                        'square root of the batch size)')
    weight_decay: float = _option(1e-4, "Adam's weight decay (default %(default)s)")
    warmup_epochs: float = _option(1.0, 'epochs of linear learning-rate warm-up before the '
                                   'cosine decay (default %(default)s)')
    image_size: int = _option(0, "model input side in pixels (default: the images' median "
                              f'shorter side rounded up to a multiple of {SIZE_STEP}, within '
                              f'{MIN_IMAGE_SIZE}-{MAX_IMAGE_SIZE})')
    precision: str = _option(
        'auto', 'arithmetic: auto (bf16 on CPUs with AVX512-BF16/AMX and on GPUs that have '
        'it, fp16 on older GPUs, else fp32), bf16, fp16 (CUDA) or fp32 (default %(default)s)',
        choices=PRECISIONS)
    val_fraction: float = _option(0.2, 'share of the images kept for validation, never '
                                  'trained on (default %(default)s)')
    seed: int = _option(0, 'seed of the validation split, the initial weights and the '
                        'augmentation (default %(default)s)')
    patience: int = _option(10, 'stop after this many epochs without a better validation '
                            'score (default %(default)s)')
    hflip: str = _option('auto', 'horizontal flips (auto: for XY models, which swap the names '
                         'of left_/right_ points; not for classifiers, where a flipped symbol '
                         'can mean another)', choices=('auto', 'on', 'off'))
    jitter: float = _option(0.3, 'colour jitter strength (default %(default)s)')
    rotation_deg: float = _option(10.0, 'max rotation, degrees (default %(default)s)',
                                  flag='--rotation', metavar='DEGREES')
    scale: float = _option(0.1, 'max zoom in/out fraction (default %(default)s)')
    shift: float = _option(0.1, 'max shift fraction (default %(default)s)')
    device: str = _option('auto', 'auto, cpu or cuda')
    workers: int = _option(-1, 'data loading processes (default %(default)s: none on a CPU, '
                           'where the model needs every core; on a CUDA GPU one per core, up '
                           f'to {MAX_CUDA_WORKERS}, leaving one for the training loop)')
    resume: str = _option('', 'continue from a <model>.last.pt file')
    save_interval_sec: float = _option(
        60.0, 'seconds between writes of the model and resume files (always written at the '
        'end and on Ctrl-C; default %(default)s)', flag='--save-interval', metavar='SECONDS')
    plots: bool = _option(True, 'do not write PNG plots')
    progress: bool = _option(True, 'no progress bar')

    def __post_init__(self):
        """Name the model file after the dataset when ``out`` is not given."""
        if not self.out:
            self.out = default_out(self.data)

    @classmethod
    def from_arguments(cls, arguments):
        """Return the options of parsed ``nano-vision train`` arguments (an argparse namespace)."""
        return cls(**{f.name: getattr(arguments, f.name) for f in fields(cls)})

    def check(self):
        """Raise ValueError for options that cannot work."""
        if self.epochs < 0 or self.batch_size < 1:
            raise ValueError('epochs must be >= 0 (0: chosen from the data) and batch_size >= 1')
        if self.lr < 0 or not math.isfinite(self.lr):
            raise ValueError(f'lr must be > 0 (or 0: chosen from the batch size), got {self.lr}')
        if self.image_size and not 8 <= self.image_size <= 4096:
            raise ValueError(f'image_size must be in [8, 4096] (or 0: chosen from the data), '
                             f'got {self.image_size}')
        for option in fields(self):
            choices = option.metadata['argparse'].get('choices')
            value = getattr(self, option.name)
            if choices and value not in choices:
                raise ValueError(f'{option.name} must be one of {", ".join(choices)}, '
                                 f'got {value!r}')
        if self.workers < -1:
            raise ValueError(f'workers must be >= 0 (or -1: chosen for the device), got '
                             f'{self.workers}')
        if self.warmup_epochs < 0:
            raise ValueError(f'warmup_epochs must be >= 0, got {self.warmup_epochs}')
        if not self.out.endswith('.pt'):
            raise ValueError(f'the model file name must end in .pt, got {self.out!r}')


def add_arguments(parser):
    """Add the :class:`TrainOptions` fields to ``parser`` as ``nano-vision train``'s arguments.

    A field without a default is a positional argument; a boolean is a switch
    (``--name``, or ``--no-name`` for one that is on by default); every other
    field is ``--name-with-dashes VALUE`` of the field's type. Each has the
    field's default, so the command and :class:`TrainOptions` used from Python
    behave alike.
    """
    for option in fields(TrainOptions):
        keywords = dict(option.metadata['argparse'], help=option.metadata['help'])
        if option.default is MISSING:
            parser.add_argument(option.name, **keywords)
            continue
        words = option.name.replace('_', '-')
        if option.type is bool:
            flag = option.metadata['flag'] or ('--no-' if option.default else '--') + words
            keywords['action'] = 'store_false' if option.default else 'store_true'
        else:
            flag = option.metadata['flag'] or '--' + words
            keywords = {'type': option.type, 'default': option.default, **keywords}
        parser.add_argument(flag, dest=option.name, **keywords)
