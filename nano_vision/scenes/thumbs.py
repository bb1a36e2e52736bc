"""The thumbs scene: a fist with its thumb up (``thumbs_up``) or down (``thumbs_down``).

The arm always comes from the bottom edge, so only the thumb's direction tells
the classes apart.
"""

from dataclasses import dataclass
import math

import cv2
import numpy as np

from nano_vision.scenes.base import (fixed_points, Lighting, ONE, random_colour,
                                     random_lighting, random_skin, Scene, SceneTruth, SHIFT,
                                     subpixel)


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
        s = state.size * height
        cx, cy = state.cx * width, state.cy * height
        # The arm comes from below whatever the thumb does.
        cv2.line(canvas, subpixel(cx, cy), subpixel(cx + 0.3 * s, height + s), state.sleeve,
                 max(1, int(1.1 * s)), cv2.LINE_AA, SHIFT)
        # Tilt blends between states; the label alone sets up or down.
        phi = math.radians(state.tilt_deg + (0.0 if state.label == 'thumbs_up' else 180.0))
        cos_p, sin_p = math.cos(phi), math.sin(phi)
        side = -1.0 if state.mirror else 1.0

        def at(lx, ly):  # hand-local (units of s, thumb along -y) -> pixels
            x, y = side * lx * s, ly * s
            return cx + x * cos_p - y * sin_p, cy + x * sin_p + y * cos_p

        corners = np.array([at(-0.8, -0.6), at(0.8, -0.6), at(0.8, 0.9), at(-0.8, 0.9)])
        cv2.fillConvexPoly(canvas, fixed_points(corners), state.skin, cv2.LINE_AA, SHIFT)
        knuckle = tuple(int(c * 0.65) for c in state.skin)
        for ly in (-0.25, 0.1, 0.45):
            cv2.line(canvas, subpixel(*at(0.0, ly)), subpixel(*at(0.8, ly)), knuckle,
                     max(1, int(0.08 * s)), cv2.LINE_AA, SHIFT)
        # The thumb: a long, thick capsule from the top of the fist outwards,
        # outlined so it stands out from any background.
        outline = tuple(int(c * 0.5) for c in state.skin)
        base, tip = subpixel(*at(-0.45, -0.4)), subpixel(*at(-0.45, -1.7))
        cv2.line(canvas, base, tip, outline, max(3, int(0.7 * s)), cv2.LINE_AA, SHIFT)
        cv2.line(canvas, base, tip, state.skin, max(2, int(0.55 * s)), cv2.LINE_AA, SHIFT)
        nail = tuple(min(255, int(c * 1.15) + 20) for c in state.skin)
        cv2.circle(canvas, subpixel(*at(-0.45, -1.6)), int(0.16 * s * ONE), nail, -1,
                   cv2.LINE_AA, SHIFT)
        return SceneTruth(self.name, state.label, width, height, ())
