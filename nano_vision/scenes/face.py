"""The face scene: a cartoon face with the course's points nose, left_eye and right_eye.

``left_eye`` is the subject's left eye, which a camera facing the subject sees on
the *right* of the image (as in COCO keypoints); a horizontal flip swaps the two eyes.

The face itself (pose, size, skin, hair, shoulders, eyes and nose) is drawn by
:func:`draw_face`, which the emotions scene shares; each scene adds its own mouth.
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


def random_face(rng):
    """Return the fields of a random :class:`FaceState`, drawn with the Generator ``rng``."""
    size = float(rng.uniform(0.16, 0.3))  # half-height of the head / image height
    margin = size * 1.05
    return {  # in this order: each value draws from rng
        'cx': float(rng.uniform(margin * 0.75, 1.0 - margin * 0.75)),
        'cy': float(rng.uniform(margin, 1.0 - margin)),
        'size': size,
        'tilt_deg': float(rng.uniform(-25.0, 25.0)),
        'yaw': float(rng.uniform(-1.0, 1.0)),
        'skin': random_skin(rng), 'hair': random_colour(rng, 0, 120),
        'shirt': random_colour(rng),
        'background_seed': int(rng.integers(0, 2**31)),
        'lighting': random_lighting(rng)}


class FaceLayout:
    """Where a face lies on the canvas: face-local coordinates to image pixels.

    Face-local ``x`` is in units of the head's half-width ``a``, ``y`` of its half-height
    ``b``, from the head's centre, ``y`` downwards; ``shift`` is how far turning the head
    moves the features sideways.
    """

    def __init__(self, state, width, height):
        """Lay out the face of ``state`` (a :class:`FaceState`) on ``width`` x ``height``."""
        self.b = state.size * height  # head half-height, pixels
        self.a = 0.78 * self.b        # head half-width
        self.cx, self.cy = state.cx * width, state.cy * height
        self.tilt_deg = state.tilt_deg
        phi = math.radians(state.tilt_deg)
        self._cos, self._sin = math.cos(phi), math.sin(phi)
        self.shift = 0.18 * state.yaw

    def at(self, lx, ly):
        """Return the image pixel ``(u, v)`` of the face-local point ``(lx, ly)``."""
        x, y = lx * self.a, ly * self.b
        return (self.cx + x * self._cos - y * self._sin,
                self.cy + x * self._sin + y * self._cos)


def draw_face(canvas, state):
    """Draw the face of ``state`` but its mouth: shoulders, hair, head, eyes and nose.

    :returns: ``(layout, points)``: the :class:`FaceLayout`, and the truth points
        ``nose``, ``left_eye``, ``right_eye``
    """
    height, width = canvas.shape[:2]
    face = FaceLayout(state, width, height)
    a, b, at = face.a, face.b, face.at

    # Shoulders, then hair as a cap behind the head, then the head.
    su, sv = at(0.0, 1.25)
    cv2.ellipse(canvas, subpixel(su, sv + 0.6 * b), subpixel(2.0 * a, 0.9 * b), state.tilt_deg,
                0, 360, state.shirt, -1, cv2.LINE_AA, SHIFT)
    hu, hv = at(0.0, -0.12)
    cv2.ellipse(canvas, subpixel(hu, hv), subpixel(1.08 * a, 1.0 * b), state.tilt_deg, 0, 360,
                state.hair, -1, cv2.LINE_AA, SHIFT)
    cv2.ellipse(canvas, subpixel(face.cx, face.cy), subpixel(a, b), state.tilt_deg, 0, 360,
                state.skin, -1, cv2.LINE_AA, SHIFT)

    eye_r = 0.15 * a
    points = []
    for name, side in (('left_eye', 1.0), ('right_eye', -1.0)):
        u, v = at(side * 0.38 + face.shift, -0.18)
        cv2.ellipse(canvas, subpixel(u, v), subpixel(eye_r * 1.3, eye_r * 0.85),
                    state.tilt_deg, 0, 360, (245, 245, 245), -1, cv2.LINE_AA, SHIFT)
        cv2.circle(canvas, subpixel(u, v), int(eye_r * 0.6 * ONE), (25, 20, 15), -1,
                   cv2.LINE_AA, SHIFT)
        points.append(TruthPoint(name, u, v))
    nu, nv = at(2.0 * face.shift, 0.14)
    nose = tuple(int(c * 0.7) for c in state.skin)
    cv2.ellipse(canvas, subpixel(nu, nv), subpixel(0.13 * a, 0.1 * b), state.tilt_deg, 0, 360,
                nose, -1, cv2.LINE_AA, SHIFT)
    cv2.circle(canvas, subpixel(nu, nv), int(0.04 * a * ONE), (90, 30, 30), -1, cv2.LINE_AA,
               SHIFT)
    points.insert(0, TruthPoint('nose', nu, nv))
    return face, tuple(points)


class FaceScene(Scene):
    """A cartoon face with the course's ``nose``, ``left_eye``, ``right_eye`` points."""

    name = 'face'
    point_names = ('nose', 'left_eye', 'right_eye')

    def random_state(self, rng):
        """Return a random :class:`FaceState`."""
        return FaceState(**random_face(rng))

    def draw(self, canvas, state):
        """Draw the face of ``state`` and return the truth of its points."""
        height, width = canvas.shape[:2]
        face, points = draw_face(canvas, state)
        mu, mv = face.at(1.3 * face.shift, 0.52)
        cv2.ellipse(canvas, subpixel(mu, mv), subpixel(0.35 * face.a, 0.12 * face.b),
                    state.tilt_deg, 0, 180, (150, 40, 50), max(1, int(0.05 * face.a)),
                    cv2.LINE_AA, SHIFT)
        return SceneTruth(self.name, '', width, height, points)
