"""What every synthetic scene shares: states, ground truth, lighting, backgrounds, animation.

Each scene draws random *states* (where the target is, its size, tilt,
colours, background, lighting) and renders a state at any image size, together
with the truth of what it drew: the class label and the pixel position of each
named point. :class:`SceneAnimator` moves smoothly from one random state to
the next, which gives the camera node a live-looking video; datasets draw
independent states with :meth:`Scene.random_state`.

Images are RGB ``uint8`` arrays of shape ``(height, width, 3)``.
"""

import dataclasses
from dataclasses import dataclass
import math

import cv2
import numpy as np

from nano_vision.image.coords import to_normalised

# cv2 drawing with 4 fractional bits: sub-pixel positions, so the truth of a
# point and the pixels drawn for it agree to 1/16 px.
SHIFT = 4
ONE = 1 << SHIFT


@dataclass(frozen=True)
class TruthPoint:
    """A named point of the scene, in pixels of the rendered image."""

    name: str
    u: float
    v: float


@dataclass(frozen=True)
class SceneTruth:
    """What a rendered frame shows."""

    scene: str
    label: str
    width: int
    height: int
    points: tuple = ()
    #: Objects shown (detection scenes): ``(label, (x, y, width, height))`` in pixels.
    boxes: tuple = ()

    def point(self, name):
        """Return the :class:`TruthPoint` called ``name``."""
        for p in self.points:
            if p.name == name:
                return p
        raise KeyError(f'scene {self.scene!r} has no point {name!r}')

    def normalised(self, name):
        """Return the normalised ``(x, y)`` of the point called ``name``."""
        p = self.point(name)
        return to_normalised(p.u, p.v, self.width, self.height)


@dataclass(frozen=True)
class Lighting:
    """Global light: per-channel gain, offset and a linear shading ramp."""

    gain_r: float
    gain_g: float
    gain_b: float
    offset: float
    ramp: float
    ramp_angle: float


def subpixel(u, v):
    return (int(round(u * ONE)), int(round(v * ONE)))


def fixed_points(points):
    """Return pixel points (N x 2) as cv2's int32 points with SHIFT fractional bits."""
    return np.round(np.asarray(points) * ONE).astype(np.int32)


def random_colour(rng, low=0, high=256):
    return tuple(int(c) for c in rng.integers(low, high, size=3))


def random_skin(rng):
    base = np.array([224.0, 172.0, 138.0]) * rng.uniform(0.45, 1.1)
    return tuple(int(c) for c in np.clip(base + rng.normal(0.0, 12.0, 3), 0, 255))


def random_lighting(rng):
    """Return a random :class:`Lighting` (colour cast, brightness, shading ramp)."""
    cast = rng.uniform(0.85, 1.15, size=3)
    return Lighting(
        gain_r=float(cast[0]), gain_g=float(cast[1]), gain_b=float(cast[2]),
        offset=float(rng.uniform(-35.0, 25.0)), ramp=float(rng.uniform(0.0, 0.35)),
        ramp_angle=float(rng.uniform(0.0, 360.0)))


class Scene:
    """Base of the synthetic scenes: random states, rendering, noise and light."""

    #: Scene name, as in the camera's ``synthetic:<name>`` source.
    name = ''
    #: Class names the scene can show (classification scenes).
    labels = ()
    #: Point names the scene reports (regression scenes).
    point_names = ()
    #: Whether frames show objects at boxes (detection scenes: datasets are windows).
    detection = False

    def __init__(self, noise_std=3.0):
        """Create the scene.

        :param noise_std: standard deviation of the sensor noise, in grey levels
        """
        self.noise_std = float(noise_std)
        self._background_cache = {}

    def random_state(self, rng):
        """Return a random state drawn with the numpy Generator ``rng``."""
        raise NotImplementedError

    def draw(self, canvas, state):
        """Draw ``state`` onto the RGB ``canvas`` and return the truth."""
        raise NotImplementedError

    def render(self, state, width, height, rng=None):
        """Return ``(image, truth)`` for ``state`` at ``width`` x ``height``.

        :param rng: Generator for the sensor noise; no noise when None
        """
        canvas = self._background(state.background_seed, width, height).copy()
        truth = self.draw(canvas, state)
        return self._light(canvas, state.lighting, rng), truth

    def _background(self, seed, width, height):
        key = (seed, width, height)
        image = self._background_cache.get(key)
        if image is None:
            if len(self._background_cache) > 8:
                self._background_cache.clear()
            image = random_background(np.random.default_rng(seed), width, height)
            self._background_cache[key] = image
        return image

    def _light(self, image, light, rng):
        return apply_lighting(image, light, rng, self.noise_std)


def apply_lighting(image, light, rng=None, noise_std=0.0):
    """Return ``image`` (RGB uint8) under ``light``, with sensor noise drawn from ``rng``."""
    height, width = image.shape[:2]
    theta = math.radians(light.ramp_angle)
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32) * math.cos(theta)
    ys = np.linspace(-0.5, 0.5, height, dtype=np.float32) * math.sin(theta)
    shade = 1.0 + light.ramp * (ys[:, None] + xs[None, :])
    gains = np.array([light.gain_r, light.gain_g, light.gain_b], dtype=np.float32)
    out = image.astype(np.float32)
    out *= shade[:, :, None]
    out *= gains
    out += light.offset
    if rng is not None and noise_std > 0:
        # cv2.randn is 4x faster than numpy's normal; seeding it from rng
        # keeps the video reproducible (cv2's generator is per thread).
        cv2.setRNGSeed(int(rng.integers(0, 2**31)))
        noise = np.empty_like(out)
        cv2.randn(noise, 0.0, noise_std)
        out += noise
    return np.clip(out, 0, 255).astype(np.uint8)


def random_background(rng, width, height):
    """Return a random RGB background: smooth colour noise plus a few shapes."""
    grid = rng.uniform(30, 230, size=(int(rng.integers(2, 6)), int(rng.integers(2, 6)), 3))
    image = cv2.resize(grid.astype(np.float32), (width, height),
                       interpolation=cv2.INTER_CUBIC)
    image = np.clip(image, 0, 255).astype(np.uint8)
    scale = max(width, height)
    for _ in range(int(rng.integers(2, 7))):
        colour = random_colour(rng, 20, 236)
        kind = rng.integers(0, 3)
        if kind == 0:
            p1 = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            p2 = (int(p1[0] + rng.uniform(0.05, 0.4) * scale),
                  int(p1[1] + rng.uniform(0.05, 0.4) * scale))
            cv2.rectangle(image, p1, p2, colour, -1, cv2.LINE_AA)
        elif kind == 1:
            centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            cv2.circle(image, centre, int(rng.uniform(0.02, 0.12) * scale), colour, -1,
                       cv2.LINE_AA)
        else:
            p1 = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            p2 = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            cv2.line(image, p1, p2, colour, max(1, int(rng.uniform(0.005, 0.03) * scale)),
                     cv2.LINE_AA)
    return image


def _interpolate(a, b, t):
    """Return a state between ``a`` and ``b``: floats blend, the rest comes from ``a``."""
    values = {}
    for field in dataclasses.fields(a):
        va, vb = getattr(a, field.name), getattr(b, field.name)
        if isinstance(va, float):
            values[field.name] = va + (vb - va) * t
        elif isinstance(va, Lighting):
            values[field.name] = _interpolate(va, vb, t)
        else:
            values[field.name] = va
    return type(a)(**values)


class SceneAnimator:
    """Move a scene smoothly between random states, one frame at a time."""

    def __init__(self, scene, seed=0, segment_frames=60):
        """Create the animation.

        :param scene: the :class:`Scene` to animate
        :param seed: seed of every random choice (same seed, same video)
        :param segment_frames: frames spent moving from one state to the next;
            labels and backgrounds change at segment boundaries
        """
        if segment_frames < 1:
            raise ValueError(f'segment_frames must be >= 1, got {segment_frames}')
        self.scene = scene
        self.segment_frames = int(segment_frames)
        self._rng = np.random.default_rng(seed)
        self._start = scene.random_state(self._rng)
        self._end = scene.random_state(self._rng)
        self._frame = 0

    def next_frame(self, width, height):
        """Return ``(image, truth)`` for the next frame."""
        k = self._frame % self.segment_frames
        if k == 0 and self._frame > 0:
            self._start, self._end = self._end, self.scene.random_state(self._rng)
        self._frame += 1
        t = k / self.segment_frames
        t = t * t * (3.0 - 2.0 * t)  # ease in and out
        state = _interpolate(self._start, self._end, t)
        return self.scene.render(state, width, height, self._rng)
