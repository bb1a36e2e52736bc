"""Evaluation metrics on numpy arrays (no torch): accuracy, confusion, RMSE."""

import numpy as np


def confusion_matrix(targets, predictions, num_classes):
    """Return the ``num_classes`` x ``num_classes`` matrix: rows truth, columns prediction."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(targets, int), np.asarray(predictions, int)), 1)
    return matrix


def classification_report(targets, predictions, names):
    """Return accuracy, per-class precision/recall/F1/support and the confusion matrix."""
    matrix = confusion_matrix(targets, predictions, len(names))
    total = matrix.sum()
    per_class = {}
    for i, name in enumerate(names):
        tp = matrix[i, i]
        predicted, actual = matrix[:, i].sum(), matrix[i, :].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {'precision': float(precision), 'recall': float(recall),
                           'f1': float(f1), 'support': int(actual)}
    return {'accuracy': float(np.trace(matrix) / total) if total else 0.0,
            'per_class': per_class, 'confusion_matrix': matrix.tolist(),
            'count': int(total)}


def xy_report(predicted, targets, mask, sizes, names):
    """Return RMSE per keypoint and overall, normalised and in pixels.

    :param predicted: (N, K, 2) normalised predictions
    :param targets: (N, K, 2) normalised labels
    :param mask: (N, K) 1 where the sample labels that keypoint
    :param sizes: (N, 2) width, height of each source image (for pixels)
    :param names: the K keypoint names
    """
    predicted, targets = np.asarray(predicted, float), np.asarray(targets, float)
    mask, sizes = np.asarray(mask, bool), np.asarray(sizes, float)
    error = predicted - targets
    # one normalised unit is half the image along that axis
    error_px = error * (sizes[:, None, :] / 2.0)
    report = {'per_keypoint': {}, 'count': int(mask.sum())}
    for k, name in enumerate(names):
        chosen = mask[:, k]
        if not chosen.any():
            continue
        report['per_keypoint'][name] = {
            'rmse': float(np.sqrt((error[chosen, k] ** 2).sum(axis=1).mean())),
            'rmse_px': float(np.sqrt((error_px[chosen, k] ** 2).sum(axis=1).mean())),
            'count': int(chosen.sum())}
    if mask.any():
        report['rmse'] = float(np.sqrt((error[mask] ** 2).sum(axis=1).mean()))
        report['rmse_px'] = float(np.sqrt((error_px[mask] ** 2).sum(axis=1).mean()))
    else:
        report['rmse'] = report['rmse_px'] = float('nan')
    return report
