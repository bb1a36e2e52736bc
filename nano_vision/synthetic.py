"""Synthetic scenes with ground truth, for running and testing without a camera.

Each scene draws random *states* (where the target is, its size, tilt,
colours, background, lighting) and renders a state at any image size, together
with the truth of what it drew: the class label and the pixel position of each
named point. :class:`SceneAnimator` moves smoothly from one random state to
the next, which gives the camera node a live-looking video; datasets draw
independent states with :meth:`Scene.random_state`.

Scenes:

``face``
    A cartoon face on a random background, with the course's face points
    ``nose``, ``left_eye`` and ``right_eye``. ``left_eye`` is the subject's
    left eye, which a camera facing the subject sees on the *right* of the
    image (as in COCO keypoints); a horizontal flip swaps the two eyes.
``thumbs``
    A fist with its thumb pointing up (``thumbs_up``) or down
    (``thumbs_down``), the arm always coming from the bottom edge, so only the
    thumb's direction tells the classes apart.
``line_following``
    A small robot's forward camera over a floor with a tape line on it (see
    sim.py), with the point ``target`` on the line ahead (JetBot road
    following). Datasets show the training tracks only.

Images are RGB ``uint8`` arrays of shape ``(height, width, 3)``.
"""

import dataclasses
from dataclasses import dataclass
import math

import cv2
import numpy as np

from nano_vision.coords import to_normalised

# cv2 drawing with 4 fractional bits: sub-pixel positions, so the truth of a
# point and the pixels drawn for it agree to 1/16 px.
_SHIFT = 4
_ONE = 1 << _SHIFT


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


def _pt(u, v):
    return (int(round(u * _ONE)), int(round(v * _ONE)))


def _colour(rng, low=0, high=256):
    return tuple(int(c) for c in rng.integers(low, high, size=3))


def _skin(rng):
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
        colour = _colour(rng, 20, 236)
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
            skin=_skin(rng), hair=_colour(rng, 0, 120), shirt=_colour(rng),
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
        cv2.ellipse(canvas, _pt(su, sv + 0.6 * b), _pt(2.0 * a, 0.9 * b), state.tilt_deg,
                    0, 360, state.shirt, -1, cv2.LINE_AA, _SHIFT)
        hu, hv = at(0.0, -0.12)
        cv2.ellipse(canvas, _pt(hu, hv), _pt(1.08 * a, 1.0 * b), state.tilt_deg, 0, 360,
                    state.hair, -1, cv2.LINE_AA, _SHIFT)
        cv2.ellipse(canvas, _pt(cx, cy), _pt(a, b), state.tilt_deg, 0, 360, state.skin, -1,
                    cv2.LINE_AA, _SHIFT)

        shift = 0.18 * state.yaw  # turning the head moves the features sideways
        eye_r = 0.15 * a
        points = []
        for name, side in (('left_eye', 1.0), ('right_eye', -1.0)):
            u, v = at(side * 0.38 + shift, -0.18)
            cv2.ellipse(canvas, _pt(u, v), _pt(eye_r * 1.3, eye_r * 0.85), state.tilt_deg,
                        0, 360, (245, 245, 245), -1, cv2.LINE_AA, _SHIFT)
            cv2.circle(canvas, _pt(u, v), int(eye_r * 0.6 * _ONE), (25, 20, 15), -1,
                       cv2.LINE_AA, _SHIFT)
            points.append(TruthPoint(name, u, v))
        nu, nv = at(2.0 * shift, 0.14)
        nose = tuple(int(c * 0.7) for c in state.skin)
        cv2.ellipse(canvas, _pt(nu, nv), _pt(0.13 * a, 0.1 * b), state.tilt_deg, 0, 360,
                    nose, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(canvas, _pt(nu, nv), int(0.04 * a * _ONE), (90, 30, 30), -1, cv2.LINE_AA,
                   _SHIFT)
        mu, mv = at(1.3 * shift, 0.52)
        cv2.ellipse(canvas, _pt(mu, mv), _pt(0.35 * a, 0.12 * b), state.tilt_deg, 0, 180,
                    (150, 40, 50), max(1, int(0.05 * a)), cv2.LINE_AA, _SHIFT)
        points.insert(0, TruthPoint('nose', nu, nv))
        return SceneTruth(self.name, '', width, height, tuple(points))


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
            skin=_skin(rng), sleeve=_colour(rng),
            background_seed=int(rng.integers(0, 2**31)),
            lighting=random_lighting(rng))

    def draw(self, canvas, state):
        """Draw the hand of ``state`` and return its label."""
        height, width = canvas.shape[:2]
        s = state.size * height
        cx, cy = state.cx * width, state.cy * height
        # The arm comes from below whatever the thumb does.
        cv2.line(canvas, _pt(cx, cy), _pt(cx + 0.3 * s, height + s), state.sleeve,
                 max(1, int(1.1 * s)), cv2.LINE_AA, _SHIFT)
        # Tilt blends between states; the label alone sets up or down.
        phi = math.radians(state.tilt_deg + (0.0 if state.label == 'thumbs_up' else 180.0))
        cos_p, sin_p = math.cos(phi), math.sin(phi)
        side = -1.0 if state.mirror else 1.0

        def at(lx, ly):  # hand-local (units of s, thumb along -y) -> pixels
            x, y = side * lx * s, ly * s
            return cx + x * cos_p - y * sin_p, cy + x * sin_p + y * cos_p

        corners = np.array([at(-0.8, -0.6), at(0.8, -0.6), at(0.8, 0.9), at(-0.8, 0.9)])
        cv2.fillConvexPoly(canvas, np.round(corners * _ONE).astype(np.int32), state.skin,
                           cv2.LINE_AA, _SHIFT)
        knuckle = tuple(int(c * 0.65) for c in state.skin)
        for ly in (-0.25, 0.1, 0.45):
            cv2.line(canvas, _pt(*at(0.0, ly)), _pt(*at(0.8, ly)), knuckle,
                     max(1, int(0.08 * s)), cv2.LINE_AA, _SHIFT)
        # The thumb: a long, thick capsule from the top of the fist outwards,
        # outlined so it stands out from any background.
        outline = tuple(int(c * 0.5) for c in state.skin)
        base, tip = _pt(*at(-0.45, -0.4)), _pt(*at(-0.45, -1.7))
        cv2.line(canvas, base, tip, outline, max(3, int(0.7 * s)), cv2.LINE_AA, _SHIFT)
        cv2.line(canvas, base, tip, state.skin, max(2, int(0.55 * s)), cv2.LINE_AA, _SHIFT)
        nail = tuple(min(255, int(c * 1.15) + 20) for c in state.skin)
        cv2.circle(canvas, _pt(*at(-0.45, -1.6)), int(0.16 * s * _ONE), nail, -1,
                   cv2.LINE_AA, _SHIFT)
        return SceneTruth(self.name, state.label, width, height, ())


def _line_following_scene(**kwargs):
    from nano_vision.sim import LineFollowingScene  # it builds on Scene, defined here
    return LineFollowingScene(**kwargs)


#: Scene name -> class (or factory) of every synthetic scene.
SCENES = {FaceScene.name: FaceScene, ThumbsScene.name: ThumbsScene,
          'line_following': _line_following_scene}


def make_scene(name, **kwargs):
    """Return a new scene called ``name`` (one of :data:`SCENES`)."""
    try:
        return SCENES[name](**kwargs)
    except KeyError:
        raise ValueError(
            f'unknown synthetic scene {name!r}; available: {", ".join(SCENES)}') from None


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
