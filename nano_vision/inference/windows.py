"""Sliding-window detection: a classifier run on a grid of windows becomes a detector (no torch).

A frame is cut into square windows of one size (a fraction of the frame's
shorter side, or pixels) at one or more scales, stepping by a fraction of the
window; the model classifies every window in one batch. The per-window class
probabilities become a heat map per class (each pixel: the highest probability
of the windows covering it) and detections: windows whose best class is an
object class scoring at least ``score_threshold``, reduced per class by
non-maximum suppression (OpenCV's ``cv2.dnn.NMSBoxes``).
"""

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class WindowGrid:
    """How a frame is cut into windows.

    :param size: window side: a fraction of the frame's shorter side when <= 1,
        else pixels
    :param stride: step between windows, as a fraction of the window side (0, 1]
    :param scales: window sizes as multiples of ``size`` (one grid per scale)
    """

    size: float = 0.5
    stride: float = 0.5
    scales: tuple = (1.0,)

    def __post_init__(self):
        """Check the settings."""
        if not self.size > 0:
            raise ValueError(f'window size must be > 0 (a fraction of the shorter side, or '
                             f'pixels), got {self.size}')
        if not 0 < self.stride <= 1:
            raise ValueError(f'window stride must be in (0, 1] (a fraction of the window), '
                             f'got {self.stride}')
        if not self.scales or any(not s > 0 for s in self.scales):
            raise ValueError(f'window scales must be one or more values > 0, got '
                             f'{self.scales}')

    def side(self, width, height, scale=1.0):
        """Return the window side in pixels at ``scale`` for a ``width`` x ``height`` frame."""
        pixels = self.size * min(width, height) if self.size <= 1 else self.size
        return int(round(pixels * scale))

    def boxes(self, width, height):
        """Return the windows of a frame as an (N, 4) int array of ``x, y, width, height``.

        At each scale the windows cover the frame edge to edge: their number per
        row is the fewest whose steps do not exceed the stride, spread evenly.
        A window larger than the frame is left out.

        :raises ValueError: a frame in which no window fits
        """
        rows = []
        for scale in self.scales:
            side = self.side(width, height, scale)
            if side < 1 or side > min(width, height):
                continue
            step = max(1.0, self.stride * side)
            xs = _positions(width - side, step)
            ys = _positions(height - side, step)
            for y in ys:
                rows.extend((x, y, side, side) for x in xs)
        if not rows:
            raise ValueError(f'no window of {self} fits a {width}x{height} frame')
        return np.asarray(rows, dtype=np.int32)


def _positions(span, step):
    """Return evenly spread window origins from 0 to ``span`` at most ``step`` apart."""
    count = int(np.ceil(span / step)) + 1 if span > 0 else 1
    return np.round(np.linspace(0, span, count)).astype(int).tolist()


def crops(image, boxes):
    """Return views of ``image`` (H x W [x C]) inside each ``x, y, width, height`` box."""
    return [image[y:y + h, x:x + w] for x, y, w, h in np.asarray(boxes)]


@dataclass(frozen=True)
class Detection:
    """An object found in a frame: a box ``x, y, width, height`` in pixels, label and score."""

    label: str
    score: float
    x: int
    y: int
    width: int
    height: int

    @property
    def box(self):
        """Return ``(x, y, width, height)``."""
        return (self.x, self.y, self.width, self.height)


def object_classes(names, background):
    """Return the indexes of ``names`` that are objects (not among the ``background`` names).

    :raises ValueError: a background name the model does not have, or no object class left
    """
    background = set(background)
    unknown = sorted(background - set(names))
    if unknown:
        raise ValueError(f'background class {", ".join(unknown)} is not among the model\'s '
                         f'classes ({", ".join(names)})')
    classes = [i for i, name in enumerate(names) if name not in background]
    if not classes:
        raise ValueError(f'every class of the model ({", ".join(names)}) is background: '
                         'nothing to detect')
    return classes


def _check(boxes, probabilities):
    boxes = np.asarray(boxes)
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or probabilities.ndim != 2 \
            or len(boxes) != len(probabilities):
        raise ValueError(f'need one row of probabilities per box: boxes {boxes.shape}, '
                         f'probabilities {probabilities.shape}')
    return boxes, probabilities


def detect(boxes, probabilities, names, background=(), score_threshold=0.5,
           iou_threshold=0.3):
    """Return the detections of per-window probabilities, best first.

    A window is a candidate for the object class it scores highest (background
    windows are none); candidates under ``score_threshold`` are dropped and
    those of one class overlapping a better one by more than ``iou_threshold``
    are suppressed.

    :param boxes: (N, 4) windows ``x, y, width, height`` (:meth:`WindowGrid.boxes`)
    :param probabilities: (N, C) class probabilities in ``names`` order
    :param background: names of the classes that are not objects
    """
    boxes, probabilities = _check(boxes, probabilities)
    objects = object_classes(names, background)
    best = probabilities.argmax(axis=1)
    found = []
    for c in objects:
        chosen = np.flatnonzero((best == c) & (probabilities[:, c] >= score_threshold))
        if not len(chosen):
            continue
        scores = probabilities[chosen, c]
        keep = cv2.dnn.NMSBoxes(boxes[chosen].tolist(), scores.tolist(),
                                float(score_threshold), float(iou_threshold))
        for k in np.asarray(keep, dtype=int).reshape(-1):
            x, y, w, h = (int(v) for v in boxes[chosen[k]])
            found.append(Detection(names[c], float(scores[k]), x, y, w, h))
    return sorted(found, key=lambda d: -d.score)


def heat_map(boxes, probabilities, width, height, class_index=None, background_classes=()):
    """Return a mono8 (height, width) heat map: per pixel the highest probability over windows.

    :param class_index: the class to map; None: the highest of the classes not in
        ``background_classes`` (indexes)
    """
    boxes, probabilities = _check(boxes, probabilities)
    if class_index is None:
        columns = [i for i in range(probabilities.shape[1]) if i not in set(background_classes)]
        values = probabilities[:, columns].max(axis=1)
    else:
        values = probabilities[:, class_index]
    heat = np.zeros((height, width), np.float32)
    # windows in rising order: each one writes the maximum over itself at once
    for k in np.argsort(values, kind='stable'):
        x, y, w, h = boxes[k]
        heat[y:y + h, x:x + w] = values[k]
    return np.clip(np.rint(heat * 255.0), 0, 255).astype(np.uint8)


def iou(a, b):
    """Return the intersection over union of two ``x, y, width, height`` boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = min(ax + aw, bx + bw) - max(ax, bx)
    h = min(ay + ah, by + bh) - max(ay, by)
    inter = max(0, w) * max(0, h)
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def match(detections, truth, iou_threshold=0.5):
    """Return (true positives, false positives, false negatives) against ``truth``.

    A detection is true when it has the label of a truth box not yet matched and
    overlaps it by at least ``iou_threshold``; detections are matched best first.

    :param truth: ``(label, (x, y, width, height))`` pairs
    """
    unmatched = list(truth)
    tp = 0
    for d in sorted(detections, key=lambda d: -d.score):
        overlaps = [(iou(d.box, box), i) for i, (label, box) in enumerate(unmatched)
                    if label == d.label]
        best = max(overlaps, default=(0.0, -1))
        if best[0] >= iou_threshold:
            tp += 1
            unmatched.pop(best[1])
    return tp, len(detections) - tp, len(unmatched)
