"""The emotions scene: the face scene's face showing ``none``, ``happy``, ``sad`` or ``angry``.

The face (pose, size, skin, hair, lighting, background) varies as in the face
scene (face.py draws it); the brows and the mouth show the expression:

``none``   level brows, a straight mouth
``happy``  raised brows, a smile
``sad``    brows raised at their inner ends, a frown
``angry``  brows lowered at their inner ends onto the eyes, an open mouth showing teeth

How strong the expression is varies too (``intensity``).
"""

from dataclasses import dataclass

import cv2
import numpy as np

from nano_vision.scenes.base import fixed_points, Scene, SceneTruth, SHIFT
from nano_vision.scenes.face import draw_face, FaceState, random_face

# Face-local heights (face.py's FaceLayout, y downwards). The brows: level at _LEVEL_BROW,
# and how far each expression moves their inner and outer ends down (up: < 0) at full
# intensity.
_LEVEL_BROW = -0.42
_BROWS = {'none': (0.0, 0.0), 'happy': (-0.08, -0.08), 'sad': (-0.12, 0.06),
          'angry': (0.15, -0.05)}
# The mouth: its middle at _MOUTH, and how far each expression raises its corners above
# the middle at full intensity (below it: a frown).
_MOUTH = 0.58
_MOUTH_CURVE = {'none': 0.0, 'happy': 0.26, 'sad': -0.22, 'angry': 0.0}


@dataclass(frozen=True)
class EmotionsState(FaceState):
    """A :class:`~nano_vision.scenes.face.FaceState` with its expression and its strength."""

    label: str
    intensity: float


class EmotionsScene(Scene):
    """A face showing one of the course's emotions ``none``, ``happy``, ``sad``, ``angry``."""

    name = 'emotions'
    labels = ('none', 'happy', 'sad', 'angry')

    def random_state(self, rng):
        """Return a random :class:`EmotionsState` with a random label."""
        label = self.labels[int(rng.integers(0, len(self.labels)))]
        return EmotionsState(**random_face(rng), label=label,
                             intensity=float(rng.uniform(0.7, 1.0)))

    def draw(self, canvas, state):
        """Draw the face of ``state`` with its expression and return its label."""
        height, width = canvas.shape[:2]
        face, _ = draw_face(canvas, state)
        ink = tuple(int(c * 0.6) for c in state.hair)
        brow_width = max(2, int(0.13 * face.a))
        inner, outer = (state.intensity * d for d in _BROWS[state.label])
        for side in (1.0, -1.0):
            brow = [face.at(side * lx + face.shift, _LEVEL_BROW + dy)
                    for lx, dy in ((0.16, inner), (0.6, outer))]
            cv2.polylines(canvas, [fixed_points(brow)], False, ink, brow_width, cv2.LINE_AA, SHIFT)

        # The mouth: a curve through its corners and its middle, or for angry an open mouth.
        xs = np.linspace(-0.36, 0.36, 13)
        centre = 1.3 * face.shift
        if state.label == 'angry':
            top = _MOUTH - 0.08 * state.intensity
            bottom = _MOUTH + 0.12 * state.intensity
            lips = ([face.at(centre + x, top) for x in xs]
                    + [face.at(centre + x, bottom) for x in xs[::-1]])
            cv2.fillPoly(canvas, [fixed_points(lips)], (70, 20, 25), cv2.LINE_AA, SHIFT)
            teeth = ([face.at(centre + 0.85 * x, top + 0.01) for x in xs]
                     + [face.at(centre + 0.85 * x, top + 0.07) for x in xs[::-1]])
            cv2.fillPoly(canvas, [fixed_points(teeth)], (240, 240, 235), cv2.LINE_AA, SHIFT)
        else:
            rise = state.intensity * _MOUTH_CURVE[state.label]
            curve = [face.at(centre + x, _MOUTH - rise * (x / 0.36) ** 2) for x in xs]
            cv2.polylines(canvas, [fixed_points(curve)], False, (150, 40, 50),
                          max(2, int(0.11 * face.a)), cv2.LINE_AA, SHIFT)
        return SceneTruth(self.name, state.label, width, height, ())
