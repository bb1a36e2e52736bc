"""What the hand scenes (thumbs, fingers) share: the arm, the hand's frame and its digits.

A hand is drawn in hand-local coordinates in units of its size ``s`` (pixels), its digits
pointing along -y before the tilt; :func:`hand_frame` maps them to pixels.
"""

import math

import cv2
import numpy as np

from nano_vision.scenes.base import fixed_points, ONE, SHIFT, subpixel


def draw_arm(canvas, cx, cy, s, sleeve):
    """Draw the sleeved arm from the bottom edge to the hand centred at ``(cx, cy)``."""
    height = canvas.shape[0]
    cv2.line(canvas, subpixel(cx, cy), subpixel(cx + 0.3 * s, height + s), sleeve,
             max(1, int(1.1 * s)), cv2.LINE_AA, SHIFT)


def hand_frame(cx, cy, s, angle_deg, mirror):
    """Return ``at(lx, ly)``: hand-local point -> pixel ``(u, v)``.

    :param angle_deg: rotation of the hand (0: digits up), clockwise in the image
    :param mirror: True for the other hand (local x flipped)
    """
    phi = math.radians(angle_deg)
    cos_p, sin_p = math.cos(phi), math.sin(phi)
    side = -1.0 if mirror else 1.0

    def at(lx, ly):
        x, y = side * lx * s, ly * s
        return cx + x * cos_p - y * sin_p, cy + x * sin_p + y * cos_p

    return at


# The palm (or fist): a block of skin around the hand's centre, digits leaving its top.
PALM = ((-0.8, -0.6), (0.8, -0.6), (0.8, 0.9), (-0.8, 0.9))


def draw_palm(canvas, at, skin):
    """Fill :data:`PALM` with ``skin`` through ``at`` (from :func:`hand_frame`)."""
    corners = np.array([at(*corner) for corner in PALM])
    cv2.fillConvexPoly(canvas, fixed_points(corners), skin, cv2.LINE_AA,
                       SHIFT)


def draw_hand(canvas, state, angle_deg):
    """Draw the arm and the palm of a hand ``state``; return ``(at, s)`` for its digits.

    ``state`` places the hand as the hand scenes do: ``cx``, ``cy`` (fractions of the
    image), ``size`` (palm half-size, a fraction of its height), ``mirror``, ``skin`` and
    ``sleeve``; ``angle_deg`` turns the hand (the arm comes from below whatever it is).
    :func:`hand_frame` gives ``at``, ``s`` is the size in pixels.
    """
    height, width = canvas.shape[:2]
    s = state.size * height
    cx, cy = state.cx * width, state.cy * height
    draw_arm(canvas, cx, cy, s, state.sleeve)
    at = hand_frame(cx, cy, s, angle_deg, state.mirror)
    draw_palm(canvas, at, state.skin)
    return at, s


def shade(skin, factor, lift=0):
    """Return ``skin`` scaled by ``factor`` (plus ``lift``), clipped to 255."""
    return tuple(min(255, int(c * factor) + lift) for c in skin)


def draw_digit(canvas, base, tip, nail, s, skin, width=0.7, core=0.55, nail_radius=0.16):
    """Draw a finger or thumb: an outlined skin capsule from ``base`` to ``tip`` with a nail.

    The outline makes it stand out from any background.

    :param base: pixel ``(u, v)`` where it leaves the hand
    :param tip: pixel ``(u, v)`` of its end
    :param nail: pixel ``(u, v)`` of the nail's centre, or None for no nail
    :param width: outline width, in units of ``s``
    :param core: skin width inside the outline, in units of ``s``
    :param nail_radius: in units of ``s``
    """
    base, tip = subpixel(*base), subpixel(*tip)
    cv2.line(canvas, base, tip, shade(skin, 0.5), max(3, int(width * s)), cv2.LINE_AA, SHIFT)
    cv2.line(canvas, base, tip, skin, max(2, int(core * s)), cv2.LINE_AA, SHIFT)
    if nail is not None:
        cv2.circle(canvas, subpixel(*nail), int(nail_radius * s * ONE), shade(skin, 1.15, 20),
                   -1, cv2.LINE_AA, SHIFT)
