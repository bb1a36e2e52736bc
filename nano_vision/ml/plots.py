"""PNG plots of training curves and confusion matrices (matplotlib, no display needed)."""

import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nano_vision.runtime.files import atomic_writer  # noqa: E402


def plot_curves(history, task, path):
    """Plot loss and accuracy (or RMSE) per epoch to ``path``; return ``path``."""
    epochs = [row['epoch'] for row in history]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [r['train_loss'] for r in history], 'o-', label='train')
    left.plot(epochs, [r['val_loss'] for r in history], 'o-', label='validation')
    left.set(title='loss', xlabel='epoch')
    left.set_yscale('log')
    left.legend()
    if task == 'xy':
        right.plot(epochs, [r['val_rmse'] for r in history], 'o-', color='C1',
                   label='validation')
        right.set(title='RMSE (normalised, point distance)', xlabel='epoch')
    else:
        right.plot(epochs, [r['train_acc'] for r in history], 'o-', label='train')
        right.plot(epochs, [r['val_acc'] for r in history], 'o-', label='validation')
        right.set(title='accuracy', xlabel='epoch', ylim=(0, 1.02))
    best = [r['epoch'] for r in history if r.get('best')]
    if best:
        for axis in (left, right):
            axis.axvline(best[-1], color='grey', linestyle=':', label='kept')
    right.legend()
    return _save(figure, path)


def plot_confusion(matrix, names, path):
    """Plot a confusion matrix (rows: truth, columns: prediction) to ``path``."""
    matrix = np.asarray(matrix)
    size = max(3.5, 0.9 * len(names) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(matrix, cmap='Blues')
    axis.set_xticks(range(len(names)), labels=names, rotation=45, ha='right')
    axis.set_yticks(range(len(names)), labels=names)
    axis.set(xlabel='predicted', ylabel='true', title='validation confusion matrix')
    limit = matrix.max() / 2 if matrix.size else 0
    for (i, j), value in np.ndenumerate(matrix):
        axis.text(j, i, str(value), ha='center', va='center',
                  color='white' if value > limit else 'black')
    return _save(figure, path)


def _save(figure, path):
    """Write ``figure`` to ``path`` atomically (format from the suffix), close it; return it."""
    try:
        figure.tight_layout()
        with atomic_writer(path) as stream:
            figure.savefig(stream, format=os.path.splitext(path)[1][1:] or None, dpi=100)
    finally:
        plt.close(figure)
    return path
