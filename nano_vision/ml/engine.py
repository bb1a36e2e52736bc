"""One training epoch and one evaluation pass, in torchvision's references' shape.

Batches arrive as uint8 images (what the dataset caches) and become model
input here, on the model's device: colour jitter for training, then the
checkpoint's normalisation, in channels-last memory order (oneDNN's and cuDNN's
fast layout for convolutions). Mixed precision follows ``precision``:

- ``bf16``: ``torch.autocast`` in bfloat16; on a CPU only where it has bf16
  dot-product instructions (AVX512-BF16 or AMX), otherwise it is slower than fp32;
- ``fp16``: autocast in float16 with a gradient scaler (CUDA GPUs without bf16);
- ``fp32``: no autocast.

Weights and the optimiser stay in float32 either way (autocast only changes
the arithmetic of convolutions and matrix products).
"""

from contextlib import nullcontext
import math
import sys

import numpy as np
import torch
from torch.nn import functional
from tqdm import tqdm

from nano_vision.datasets.layout import XY
from nano_vision.ml.augment import colour_jitter
from nano_vision.ml.recipe import PRECISIONS

_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


def cpu_has_bf16():
    """Return True when this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX).

    torch has no public query for it; its private ``torch.cpu`` checks are used
    (test_training.py fails if they disappear). Without them: False, i.e. fp32.
    """
    checks = [getattr(torch.cpu, name, None)
              for name in ('_is_avx512_bf16_supported', '_is_amx_tile_supported')]
    return any(check() for check in checks if check is not None)


def resolve_precision(precision, device):
    """Return the precision to train with on ``device`` for the option ``precision``.

    ``auto``: bf16 on CPUs that have it and on CUDA GPUs that support it, fp16 on
    older CUDA GPUs (a Jetson Nano), fp32 elsewhere.

    :raises ValueError: an unknown precision, or one this device cannot run
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {", ".join(PRECISIONS)}, got {precision!r}')
    cuda = device.type == 'cuda'
    if precision == 'auto':
        if cuda:
            return 'bf16' if torch.cuda.is_bf16_supported() else 'fp16'
        return 'bf16' if device.type == 'cpu' and cpu_has_bf16() else 'fp32'
    if precision == 'fp16' and not cuda:
        raise ValueError('precision fp16 needs a CUDA GPU (a CPU has no fast float16): '
                         'use bf16, fp32 or auto')
    return precision


def autocast(device, precision):
    """Return the autocast context of ``precision`` (a no-op for fp32)."""
    if precision == 'fp32':
        return nullcontext()
    return torch.autocast(device.type, dtype=_DTYPES[precision])


def make_scaler(device, precision):
    """Return a gradient scaler for fp16 (small gradients would round to zero), else None."""
    return torch.amp.GradScaler(device.type) if precision == 'fp16' else None


class InputMaker:
    """Turn uint8 (B, 3, H, W) batches into normalised model input on ``device``."""

    def __init__(self, preprocessing, device, channels_last=True):
        """Keep the normalisation of ``preprocessing`` (the checkpoint's) on ``device``."""
        self.device = device
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        mean = torch.tensor(preprocessing.mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(preprocessing.std, dtype=torch.float32).view(1, 3, 1, 1)
        # (x / 255 - mean) / std as one multiply and one add, as Preprocessing.normalise does
        self.scale, self.shift = (1.0 / (255.0 * std)).to(device), (-mean / std).to(device)

    def __call__(self, images, jitter=0.0):
        """Return the model input of uint8 ``images``, colour-jittered by ``jitter``."""
        pixels = images.to(self.device, non_blocking=True).float()
        scale = self.scale
        if jitter:
            pixels, scale = colour_jitter(pixels.div_(255.0), jitter), scale * 255.0
        return pixels.mul_(scale).add_(self.shift).contiguous(memory_format=self.memory_format)


def loss_fn(task, outputs, target):
    """Return the training loss of a batch.

    XY: the mean distance between predicted and labelled points, over the labelled
    keypoints only, so a sample labelled ``nose`` trains the nose outputs and nothing else.
    The course uses the squared error; the distance itself measured better on the face
    set (validation RMSE 2.25 against 2.97 px, 3 seeds, ``bench/training.py``): it keeps
    pulling the points that are already close, where the square fades.
    """
    outputs = outputs.float()
    if task != XY:
        return functional.cross_entropy(outputs, target)
    points, mask = target[0], target[1]
    predicted = outputs.view(points.shape)
    # the epsilon keeps the gradient finite at a perfect prediction
    distance = (((predicted - points) ** 2).sum(dim=2) + 1e-6).sqrt() * mask
    return distance.sum() / mask.sum().clamp(min=1.0)


def to_device(target, device):
    """Move a batch target (a tensor or a tuple of tensors) to ``device``."""
    if isinstance(target, (tuple, list)):
        return tuple(t.to(device) for t in target)
    return target.to(device)


def train_one_epoch(model, loader, optimizer, task, make_input, *, precision='fp32',
                    jitter=0.0, scheduler=None, scaler=None, frozen_batchnorm=False,
                    description='', progress=True):
    """Train ``model`` on one pass over ``loader``; return ``(mean loss, correct, seen)``.

    :param make_input: an :class:`InputMaker`, or None when the loader yields model
        input already (cached backbone features)
    :param scheduler: stepped after every batch (a per-step learning-rate schedule)
    :param scaler: a ``GradScaler`` for fp16
    :param frozen_batchnorm: keep BatchNorm statistics as they are (a frozen backbone)
    :raises FloatingPointError: the loss became NaN or infinite
    """
    model.train()
    if frozen_batchnorm:
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()
    device = make_input.device if make_input else next(model.parameters()).device
    total, correct, seen = 0.0, 0, 0
    # the bar only on a terminal: in a log file each redraw would add to one endless line,
    # and the per-epoch table says the same
    bar = tqdm(loader, desc=description, leave=False, file=sys.stderr, mininterval=0.5,
               disable=not (progress and sys.stderr.isatty()))
    for images, target in bar:
        images = make_input(images, jitter) if make_input else images.to(device)
        target = to_device(target, device)
        with autocast(device, precision):
            out = model(images)
        loss = loss_fn(task, out, target)
        value = loss.item()
        if not math.isfinite(value):
            raise FloatingPointError(f'loss became {value} in {description or "training"}: '
                                     'lower the learning rate (--lr)')
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        if scheduler is not None:
            scheduler.step()
        total += value * images.shape[0]
        seen += images.shape[0]
        if task != XY:
            correct += (out.argmax(dim=1) == target).sum().item()
        bar.set_postfix(loss=f'{total / seen:.4f}')
    return total / max(seen, 1), correct, seen


@torch.no_grad()
def collect(model, loader, task, make_input, precision='fp32'):
    """Return ``(mean loss, outputs, targets)`` of ``model`` over ``loader`` (numpy).

    :param make_input: an :class:`InputMaker`, or None for loaders of model input
    """
    model.eval()
    device = make_input.device if make_input else next(model.parameters()).device
    total, count, outputs, targets = 0.0, 0, [], []
    for images, target in loader:
        images = make_input(images) if make_input else images.to(device)
        target = to_device(target, device)
        with autocast(device, precision):
            out = model(images).float()
        total += loss_fn(task, out, target).item() * images.shape[0]
        count += images.shape[0]
        outputs.append(out.cpu())
        targets.append(tuple(t.cpu() for t in target) if task == XY else target.cpu())
    out = torch.cat(outputs).numpy() if outputs else np.zeros((0, 0))
    if task == XY:
        joined = tuple(torch.cat([t[i] for t in targets]).numpy() for i in range(3)) \
            if targets else (np.zeros((0, 0, 2)), np.zeros((0, 0)), np.zeros((0, 2)))
    else:
        joined = torch.cat(targets).numpy() if targets else np.zeros(0, int)
    return total / max(count, 1), out, joined
