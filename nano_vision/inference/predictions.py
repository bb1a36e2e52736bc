"""Model outputs turned into results: class probabilities or named points (no torch)."""

from dataclasses import dataclass

import numpy as np

#: Label reported when the best class is below the minimum confidence.
UNKNOWN = 'unknown'


@dataclass(frozen=True)
class Prediction:
    """The result for one image.

    Classification: ``probabilities`` (softmax, in ``names`` order), ``class_id``,
    ``label``, ``confidence``. XY: ``points``, a (K, 2) array of normalised
    ``(x, y)``, one row per name.
    """

    task: str
    names: tuple
    probabilities: np.ndarray = None
    class_id: int = -1
    label: str = ''
    confidence: float = 0.0
    points: np.ndarray = None

    def point(self, name):
        """Return the normalised ``(x, y)`` of keypoint ``name``."""
        return tuple(float(v) for v in self.points[self.names.index(name)])


def softmax(logits):
    """Return the softmax of each row of ``logits``."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def decode(task, names, outputs, min_confidence=0.0):
    """Return one :class:`Prediction` per row of raw model ``outputs``.

    :param outputs: (N, C) logits for classification, (N, 2K) points for XY
    :param min_confidence: below it a classification's label is ``unknown``
        (class_id -1); its probabilities are still reported
    """
    names = tuple(names)
    outputs = np.asarray(outputs)
    if task == 'xy':
        points = outputs.reshape(len(outputs), len(names), 2).astype(np.float32)
        return [Prediction(task, names, points=p) for p in points]
    return [classify(names, p, min_confidence) for p in softmax(outputs).astype(np.float32)]


def classify(names, probabilities, min_confidence=0.0):
    """Return the classification :class:`Prediction` of one row of probabilities."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    best = int(probabilities.argmax())
    confident = probabilities[best] >= min_confidence
    return Prediction('classification', tuple(names), probabilities=probabilities,
                      class_id=best if confident else -1,
                      label=names[best] if confident else UNKNOWN,
                      confidence=float(probabilities[best]))


def outputs_problem(task, names, num_outputs):
    """Return why a model with these ``names`` and ``num_outputs`` cannot work, or ''.

    A classifier has one output per name, an XY model two (x, y) per name; names
    are distinct, non-empty strings.
    """
    if not isinstance(names, (list, tuple)) or not names or \
            not all(isinstance(n, str) and n for n in names):
        return f'names must be a non-empty list of names, got {names!r}'
    if len(set(names)) != len(names):
        return f'names repeat: {list(names)}'
    expected = len(names) * (2 if task == 'xy' else 1)
    if num_outputs != expected:
        return (f'the model has {num_outputs} outputs but {len(names)} names ({", ".join(names)}'
                f'), which need {expected}: the file is damaged or was edited by hand')
    return ''
