"""The face scene: a cartoon face with the course's points nose, left_eye and right_eye.

``left_eye`` is the subject's left eye, which a camera facing the subject sees on
the *right* of the image (as in COCO keypoints); a horizontal flip swaps the two eyes.
"""

from dataclasses import dataclass
import math

import cv2

from nano_vision.scenes.base import (Lighting, ONE, random_colour, random_lighting, random_skin,
                                     Scene, SceneTruth, SHIFT, subpixel, TruthPoint)


@dataclass(frozen=True)
class FaceState:
    """Where and how the face is drawn; positions are fractions of the image."""

    cx: float
    cy: float
    size: float
    tilt_deg: float
    yaw: float
    skin: tuple
    hair: tuple
    shirt: tuple
    background_seed: int
    lighting: Lighting


class FaceScene(Scene):
    """A cartoon face with the course's ``nose``, ``left_eye``, ``right_eye`` points."""

    name = 'face'
    point_names = ('nose', 'left_eye', 'right_eye')

    def random_state(self, rng):
        """Return a random :class:`FaceState`."""
        size = float(rng.uniform(0.16, 0.3))  # half-height of the head / image height
        margin = size * 1.05
        return FaceState(
            cx=float(rng.uniform(margin * 0.75, 1.0 - margin * 0.75)),
            cy=float(rng.uniform(margin, 1.0 - margin)),
            size=size,
            tilt_deg=float(rng.uniform(-25.0, 25.0)),
            yaw=float(rng.uniform(-1.0, 1.0)),
            skin=random_skin(rng), hair=random_colour(rng, 0, 120), shirt=random_colour(rng),
            background_seed=int(rng.integers(0, 2**31)),
            lighting=random_lighting(rng))

    def draw(self, canvas, state):
        """Draw the face of ``state`` and return the truth of its points."""
        height, width = canvas.shape[:2]
        b = state.size * height       # head half-height, pixels
        a = 0.78 * b                  # head half-width
        cx, cy = state.cx * width, state.cy * height
        phi = math.radians(state.tilt_deg)
        cos_p, sin_p = math.cos(phi), math.sin(phi)

        def at(lx, ly):  # face-local (units of a, b) -> image pixels
            x, y = lx * a, ly * b
            return cx + x * cos_p - y * sin_p, cy + x * sin_p + y * cos_p

        # Shoulders, then hair as a cap behind the head, then the head.
        su, sv = at(0.0, 1.25)
        cv2.ellipse(canvas, subpixel(su, sv + 0.6 * b), subpixel(2.0 * a, 0.9 * b), state.tilt_deg,
                    0, 360, state.shirt, -1, cv2.LINE_AA, SHIFT)
        hu, hv = at(0.0, -0.12)
        cv2.ellipse(canvas, subpixel(hu, hv), subpixel(1.08 * a, 1.0 * b), state.tilt_deg, 0, 360,
                    state.hair, -1, cv2.LINE_AA, SHIFT)
        cv2.ellipse(canvas, subpixel(cx, cy), subpixel(a, b), state.tilt_deg, 0, 360, state.skin,
                    -1, cv2.LINE_AA, SHIFT)

        shift = 0.18 * state.yaw  # turning the head moves the features sideways
        eye_r = 0.15 * a
        points = []
        for name, side in (('left_eye', 1.0), ('right_eye', -1.0)):
            u, v = at(side * 0.38 + shift, -0.18)
            cv2.ellipse(canvas, subpixel(u, v), subpixel(eye_r * 1.3, eye_r * 0.85),
                        state.tilt_deg, 0, 360, (245, 245, 245), -1, cv2.LINE_AA, SHIFT)
            cv2.circle(canvas, subpixel(u, v), int(eye_r * 0.6 * ONE), (25, 20, 15), -1,
                       cv2.LINE_AA, SHIFT)
            points.append(TruthPoint(name, u, v))
        nu, nv = at(2.0 * shift, 0.14)
        nose = tuple(int(c * 0.7) for c in state.skin)
        cv2.ellipse(canvas, subpixel(nu, nv), subpixel(0.13 * a, 0.1 * b), state.tilt_deg, 0, 360,
                    nose, -1, cv2.LINE_AA, SHIFT)
        cv2.circle(canvas, subpixel(nu, nv), int(0.04 * a * ONE), (90, 30, 30), -1, cv2.LINE_AA,
                   SHIFT)
        mu, mv = at(1.3 * shift, 0.52)
        cv2.ellipse(canvas, subpixel(mu, mv), subpixel(0.35 * a, 0.12 * b), state.tilt_deg, 0,
                    180, (150, 40, 50), max(1, int(0.05 * a)), cv2.LINE_AA, SHIFT)
        points.insert(0, TruthPoint('nose', nu, nv))
        return SceneTruth(self.name, '', width, height, tuple(points))
