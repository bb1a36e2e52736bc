"""The objects scene: one to four shapes (circle, square, triangle) at known places, for detection.

Each shape fills a square box whose side is a fraction of the frame's height;
the truth of a frame is its boxes with their labels (:meth:`ObjectsScene.boxes`).
Boxes never overlap at the 4:3 frames the scene is drawn for. Training crops
come from the same frames: each object's box (jittered a little, as the windows
of a grid fall), and background windows, beside the objects and anywhere, that
overlap none of them much (:func:`labelled_windows`).
"""

from dataclasses import dataclass

import cv2
import numpy as np

from nano_vision.inference.windows import iou
from nano_vision.scenes.base import (Lighting, ONE, random_colour, random_lighting, Scene,
                                     SceneTruth, SHIFT)

#: Class of the windows that show no object.
BACKGROUND = 'background'
#: The frame aspect (width / height) the placements are checked at.
ASPECT = 4.0 / 3.0


@dataclass(frozen=True)
class PlacedObject:
    """One shape: its centre in fractions of the frame, its side in fractions of the height."""

    label: str
    cx: float
    cy: float
    size: float
    colour: tuple


@dataclass(frozen=True)
class ObjectsState:
    """The shapes of a frame, its background and its light."""

    objects: tuple
    background_seed: int
    lighting: Lighting


class ObjectsScene(Scene):
    """One to ``max_objects`` shapes on a textured background."""

    name = 'objects'
    labels = ('circle', 'square', 'triangle')
    detection = True

    def __init__(self, max_objects=4, sizes=(0.22, 0.32), noise_std=3.0):
        """Create the scene.

        :param max_objects: most shapes in a frame (at least one)
        :param sizes: smallest and largest side, as fractions of the frame height
        """
        super().__init__(noise_std)
        self.max_objects = int(max_objects)
        self.sizes = tuple(sizes)

    def random_state(self, rng):
        """Return a random :class:`ObjectsState`: shapes placed apart, inside the frame."""
        wanted = int(rng.integers(1, self.max_objects + 1))
        placed = []
        for _ in range(50 * wanted):  # rejection sampling: a crowded frame gets fewer shapes
            if len(placed) == wanted:
                break
            size = float(rng.uniform(*self.sizes))
            half_w = size / 2 / ASPECT  # in fractions of the width
            candidate = PlacedObject(
                label=self.labels[int(rng.integers(0, len(self.labels)))],
                cx=float(rng.uniform(half_w, 1 - half_w)),
                cy=float(rng.uniform(size / 2, 1 - size / 2)),
                size=size, colour=random_colour(rng, 40, 256))
            if all(not _overlap(candidate, other) for other in placed):
                placed.append(candidate)
        return ObjectsState(objects=tuple(placed), background_seed=int(rng.integers(0, 2**31)),
                            lighting=random_lighting(rng))

    def boxes(self, state, width, height):
        """Return the truth of a frame: ``(label, (x, y, width, height))`` per shape, pixels."""
        found = []
        for obj in state.objects:
            side = obj.size * height
            x, y = obj.cx * width - side / 2, obj.cy * height - side / 2
            found.append((obj.label, (int(round(x)), int(round(y)), int(round(side)),
                                      int(round(side)))))
        return found

    def draw(self, canvas, state):
        """Draw the shapes of ``state`` (outlined, so they stand out from any background)."""
        height, width = canvas.shape[:2]
        boxes = tuple(self.boxes(state, width, height))
        for obj, (_, (x, y, w, h)) in zip(state.objects, boxes):
            outline = tuple(int(c * 0.4) for c in obj.colour)
            thickness = max(1, w // 16)
            if obj.label == 'circle':
                centre = (int((x + w / 2) * ONE), int((y + h / 2) * ONE))
                radius = int((w / 2 - thickness / 2) * ONE)
                cv2.circle(canvas, centre, radius, obj.colour, -1, cv2.LINE_AA, SHIFT)
                cv2.circle(canvas, centre, radius, outline, thickness, cv2.LINE_AA, SHIFT)
                continue
            # the outline's centre line inset by half its width: the stroke stays in the box
            i = thickness / 2
            if obj.label == 'square':
                corners = [(x + i, y + i), (x + w - i, y + i), (x + w - i, y + h - i),
                           (x + i, y + h - i)]
            else:  # triangle, point up
                corners = [(x + w / 2, y + i), (x + w - i, y + h - i), (x + i, y + h - i)]
            points = np.round(np.asarray(corners, np.float64) * ONE).astype(np.int32)
            cv2.fillConvexPoly(canvas, points, obj.colour, cv2.LINE_AA, SHIFT)
            cv2.polylines(canvas, [points], True, outline, thickness, cv2.LINE_AA, SHIFT)
        return SceneTruth(self.name, '', width, height, (), boxes)


def _overlap(a, b, gap=0.02):
    """Return whether two placed shapes overlap (or nearly) at the scene's aspect."""
    reach_x = (a.size + b.size) / 2 / ASPECT + gap
    reach_y = (a.size + b.size) / 2 + gap
    return abs(a.cx - b.cx) < reach_x and abs(a.cy - b.cy) < reach_y


def labelled_windows(image, truth, rng, jitter=0.15, background=3, max_iou=0.25):
    """Return ``(label, crop)`` training windows of a frame and its truth boxes.

    Each object gives its box moved and resized by up to ``jitter`` of its side
    (kept in the frame) and a window of its size pushed off it by half to most of a
    side: a part of an object is background, so the windows beside an object do
    not detect it again. ``background`` more windows, of the objects' sizes, fall
    anywhere. Every background window overlaps each object with an IoU under
    ``max_iou`` and is labelled :data:`BACKGROUND`.
    """
    height, width = image.shape[:2]

    def window(cx, cy, side):
        side = max(4, min(int(round(side)), width, height))
        left = int(np.clip(round(cx - side / 2), 0, width - side))
        top = int(np.clip(round(cy - side / 2), 0, height - side))
        return left, top, side

    objects, candidates = [], []
    for label, (x, y, w, _) in truth:
        left, top, side = window(x + w / 2 + rng.uniform(-jitter, jitter) * w,
                                 y + w / 2 + rng.uniform(-jitter, jitter) * w,
                                 w * rng.uniform(1 - jitter, 1 + jitter))
        objects.append((label, image[top:top + side, left:left + side]))
        angle = rng.uniform(0, 2 * np.pi)
        push = rng.uniform(0.5, 0.9) * w
        candidates.append(window(x + w / 2 + push * np.cos(angle),
                                 y + w / 2 + push * np.sin(angle), w))
    sides = [box[2] for _, box in truth] or [min(width, height) // 4]
    for _ in range(background * 20):
        side = int(sides[int(rng.integers(0, len(sides)))])
        candidates.append((int(rng.integers(0, width - side + 1)),
                           int(rng.integers(0, height - side + 1)), side))
    found = []
    wanted = len(truth) + background
    for left, top, side in candidates:
        if len(found) == wanted:
            break
        if all(iou((left, top, side, side), box) < max_iou for _, box in truth):
            found.append((BACKGROUND, image[top:top + side, left:left + side]))
    return objects + found
