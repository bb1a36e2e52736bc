"""Run a model over samples and score it (accuracy and confusion, or RMSE per keypoint)."""

import numpy as np
import torch
from torch.nn import functional

from nano_vision.datasets import load_dataset, XY
from nano_vision.metrics import classification_report, xy_report
from nano_vision.ml.checkpoint import (checkpoint_preprocessing, load_checkpoint,
                                       model_from_checkpoint)
from nano_vision.ml.data import SampleDataset
from nano_vision.ml.model import select_device


def loss_fn(task, outputs, target):
    """Return the training loss of a batch.

    XY: mean squared error over the labelled keypoints only, so a sample
    labelled ``nose`` trains the nose outputs and nothing else (the course's
    loss on the pair of the sample's category).
    """
    if task != XY:
        return functional.cross_entropy(outputs, target)
    points, mask = target[0], target[1]
    predicted = outputs.view(points.shape)
    squared = ((predicted - points) ** 2).sum(dim=2) * mask
    return squared.sum() / (2.0 * mask.sum().clamp(min=1.0))


def to_device(target, device):
    """Move a batch target (a tensor or a tuple of tensors) to ``device``."""
    if isinstance(target, (tuple, list)):
        return tuple(t.to(device) for t in target)
    return target.to(device)


@torch.no_grad()
def collect(model, loader, task, device):
    """Return ``(mean loss, outputs, targets)`` of ``model`` over ``loader`` (numpy)."""
    model.eval()
    total, count, outputs, targets = 0.0, 0, [], []
    for images, target in loader:
        target = to_device(target, device)
        out = model(images.to(device))
        total += loss_fn(task, out, target).item() * images.shape[0]
        count += images.shape[0]
        outputs.append(out.float().cpu())
        targets.append(tuple(t.cpu() for t in target) if task == XY else target.cpu())
    out = torch.cat(outputs).numpy() if outputs else np.zeros((0, 0))
    if task == XY:
        joined = tuple(torch.cat([t[i] for t in targets]).numpy() for i in range(3)) \
            if targets else (np.zeros((0, 0, 2)), np.zeros((0, 0)), np.zeros((0, 2)))
    else:
        joined = torch.cat(targets).numpy() if targets else np.zeros(0, int)
    return total / max(count, 1), out, joined


def report(task, names, outputs, targets):
    """Return the metrics of ``outputs`` against ``targets`` (see nano_vision.metrics)."""
    if task == XY:
        points, mask, sizes = targets
        predicted = outputs.reshape(len(outputs), len(names), 2)
        return xy_report(predicted, points, mask, sizes, names)
    return classification_report(targets, outputs.argmax(axis=1), names)


def evaluate(model_path, data, device='auto', batch_size=16):
    """Score the model file ``model_path`` on the dataset folder ``data``; return metrics."""
    device = select_device(device)
    checkpoint = load_checkpoint(model_path)
    names, task = checkpoint['names'], checkpoint['task']
    dataset = load_dataset(data, task=task, names=None)
    unknown = sorted(set(dataset.names) - set(names))
    if unknown:
        raise ValueError(f'{data} has categories the model does not know: {", ".join(unknown)}'
                         f' (model: {", ".join(names)})')
    samples = [s for s in dataset.samples if s.label in names]
    loader = torch.utils.data.DataLoader(
        SampleDataset(samples, names, task, checkpoint_preprocessing(checkpoint), cache=False),
        batch_size=batch_size)
    model = model_from_checkpoint(checkpoint, device)
    loss, outputs, targets = collect(model, loader, task, device)
    metrics = report(task, names, outputs, targets)
    metrics['loss'] = loss
    return metrics
