"""The thumbs scene: a fist with its thumb up (``thumbs_up``) or down (``thumbs_down``).

The arm always comes from the bottom edge, so only the thumb's direction tells
the classes apart.
"""

from dataclasses import dataclass

import cv2

from nano_vision.scenes.base import (Lighting, random_colour, random_lighting, random_skin,
                                     Scene, SceneTruth, SHIFT, subpixel)
from nano_vision.scenes.hand import draw_digit, draw_hand, shade


@dataclass(frozen=True)
class ThumbsState:
    """Where and how the hand is drawn; positions are fractions of the image."""

    label: str
    cx: float
    cy: float
    size: float
    tilt_deg: float
    mirror: bool
    skin: tuple
    sleeve: tuple
    background_seed: int
    lighting: Lighting


class ThumbsScene(Scene):
    """A hand showing ``thumbs_up`` or ``thumbs_down``."""

    name = 'thumbs'
    labels = ('thumbs_up', 'thumbs_down')

    def random_state(self, rng):
        """Return a random :class:`ThumbsState` with a random label."""
        label = self.labels[int(rng.integers(0, 2))]
        size = float(rng.uniform(0.16, 0.24))  # fist half-size / image height
        return ThumbsState(
            label=label,
            cx=float(rng.uniform(0.3, 0.7)), cy=float(rng.uniform(0.4, 0.6)),
            size=size, tilt_deg=float(rng.uniform(-20.0, 20.0)),
            mirror=bool(rng.integers(0, 2)),
            skin=random_skin(rng), sleeve=random_colour(rng),
            background_seed=int(rng.integers(0, 2**31)),
            lighting=random_lighting(rng))

    def draw(self, canvas, state):
        """Draw the hand of ``state`` and return its label."""
        height, width = canvas.shape[:2]
        # Tilt blends between states; the label alone sets up or down.
        at, s = draw_hand(canvas, state,
                          state.tilt_deg + (0.0 if state.label == 'thumbs_up' else 180.0))
        knuckle = shade(state.skin, 0.65)
        for ly in (-0.25, 0.1, 0.45):
            cv2.line(canvas, subpixel(*at(0.0, ly)), subpixel(*at(0.8, ly)), knuckle,
                     max(1, int(0.08 * s)), cv2.LINE_AA, SHIFT)
        # The thumb: a long, thick capsule from the top of the fist outwards.
        draw_digit(canvas, at(-0.45, -0.4), at(-0.45, -1.7), at(-0.45, -1.6), s, state.skin)
        return SceneTruth(self.name, state.label, width, height, ())
