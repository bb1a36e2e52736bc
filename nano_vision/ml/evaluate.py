"""Run a model over samples and score it (accuracy and confusion, or RMSE per keypoint)."""

import torch

from nano_vision.datasets.layout import load_dataset, XY
from nano_vision.ml.checkpoint import (checkpoint_preprocessing, load_checkpoint,
                                       model_from_checkpoint)
from nano_vision.ml.data import SampleDataset
from nano_vision.ml.engine import collect, InputMaker
from nano_vision.ml.metrics import classification_report, xy_report
from nano_vision.ml.model import select_device


def report(task, names, outputs, targets):
    """Return the metrics of ``outputs`` against ``targets`` (see nano_vision.ml.metrics)."""
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
    preprocessing = checkpoint_preprocessing(checkpoint)
    loader = torch.utils.data.DataLoader(
        SampleDataset(samples, names, task, preprocessing, cache=False), batch_size=batch_size)
    model = model_from_checkpoint(checkpoint, device)
    loss, outputs, targets = collect(model, loader, task, InputMaker(preprocessing, device))
    metrics = report(task, names, outputs, targets)
    metrics['loss'] = loss
    return metrics
