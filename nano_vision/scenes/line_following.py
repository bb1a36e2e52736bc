"""A line-following simulator: a differential-drive robot and its forward camera (no ROS).

The floor is a top-down texture (wood, carpet, concrete or tiles, with stains)
with the track's tape line drawn on it. The robot's camera is a pinhole
camera a few centimetres above the floor, pitched down; the floor is a plane,
so the camera's view of it is one homography of the floor texture
(``cv2.warpPerspective``), and rows above the horizon show a wall. Lighting,
colour cast and sensor noise vary as in the other synthetic scenes.

Ground truth per frame: the target point (the centre line ``lookahead``
metres ahead of the robot's nearest point, in image coordinates, as a JetBot
user would click it), the cross-track error and the laps driven.
"""

from dataclasses import dataclass
import functools
import math

import cv2
import numpy as np

from nano_vision.parameters import NodeConfig, ParamSpec
from nano_vision.scenes.base import (apply_lighting, Lighting, random_lighting, Scene, SceneTruth,
                                     TruthPoint)
from nano_vision.scenes.track import HELD_OUT_TRACK, LapCounter, Track, TRACKS, TRAINING_TRACKS

FLOORS = ('wood', 'carpet', 'concrete', 'tiles')
TAPES = {'yellow': (230, 200, 40), 'white': (235, 235, 230), 'black': (25, 25, 28),
         'blue': (40, 90, 200), 'red': (200, 40, 40)}
TARGET = 'target'


@dataclass(frozen=True)
class CameraModel:
    """A pinhole camera on the robot: mounting and field of view."""

    height_m: float = 0.12      # lens above the floor
    forward_m: float = 0.05     # lens ahead of the robot's centre (the wheel axle)
    pitch_deg: float = 35.0     # down from horizontal
    hfov_deg: float = 90.0      # horizontal field of view

    def intrinsics(self, width, height):
        """Return the 3x3 camera matrix for a ``width`` x ``height`` image (square pixels)."""
        f = (width / 2.0) / math.tan(math.radians(self.hfov_deg) / 2.0)
        return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])

    def rotation(self):
        """Return the matrix taking robot-frame vectors (x fwd, y left, z up) to camera axes."""
        s, c = math.sin(math.radians(self.pitch_deg)), math.cos(math.radians(self.pitch_deg))
        return np.array([[0.0, -1.0, 0.0], [-s, 0.0, -c], [c, 0.0, -s]])

    def world_to_camera(self, x, y, yaw):
        """Return the 3x3 matrix from floor points ``(X, Y, 1)`` to camera coordinates."""
        c, s = math.cos(yaw), math.sin(yaw)
        # Floor point -> vector from the lens in the robot frame (its z is -height).
        to_lens = np.array([[c, s, -(c * x + s * y) - self.forward_m],
                            [-s, c, s * x - c * y],
                            [0.0, 0.0, -self.height_m]])
        return self.rotation() @ to_lens

    def project(self, point, pose, width, height):
        """Return pixel ``(u, v)`` of floor ``point`` seen from robot ``pose``, or None behind."""
        cam = self.world_to_camera(*pose) @ np.array([point[0], point[1], 1.0])
        if cam[2] <= 1e-6:
            return None
        uvw = self.intrinsics(width, height) @ cam
        return float(uvw[0] / uvw[2]), float(uvw[1] / uvw[2])

    @functools.lru_cache(maxsize=8)
    def floor_mask(self, width, height):
        """Return a bool (height, width) array: True where a pixel sees the floor."""
        u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
        rays = np.linalg.inv(self.intrinsics(width, height)) @ np.stack(
            [u.ravel(), v.ravel(), np.ones(u.size)])
        down = (self.rotation().T @ rays)[2]
        # A little margin: rays that meet the floor far away alias badly.
        return (down < -0.02 * np.linalg.norm(rays, axis=0)).reshape(height, width)


def floor_texture(rng, width, height, style):
    """Return an RGB floor texture of ``style`` (one of :data:`FLOORS`)."""
    base = np.array(rng.uniform(70, 200, size=3))
    if style == 'wood':
        base = np.array([rng.uniform(120, 200), rng.uniform(80, 140), rng.uniform(40, 90)])
        plank = max(8, int(rng.integers(int(0.08 * height), int(0.2 * height))))
        rows = np.repeat(rng.uniform(0.8, 1.15, size=height // plank + 1), plank)[:height]
        grain = cv2.resize(rng.uniform(0.9, 1.1, size=(height, 8)).astype(np.float32),
                           (width, height), interpolation=cv2.INTER_LINEAR)
        shade = rows[:, None] * grain
        image = shade[:, :, None] * base
        image[::plank] *= 0.7
    elif style == 'carpet':
        noise = rng.normal(1.0, 0.12, size=(height, width)).astype(np.float32)
        image = cv2.GaussianBlur(noise, (3, 3), 0)[:, :, None] * base
    elif style == 'concrete':
        blobs = cv2.resize(rng.uniform(0.8, 1.2, size=(6, 8)).astype(np.float32),
                           (width, height), interpolation=cv2.INTER_CUBIC)
        grey = np.full(3, rng.uniform(110, 190))
        image = (blobs * rng.normal(1.0, 0.04, size=(height, width)))[:, :, None] * grey
    elif style == 'tiles':
        image = np.empty((height, width, 3), np.float32)
        image[:] = base
        tile = int(rng.integers(40, 90))
        grout = np.clip(base * 0.6 + 40, 0, 255)
        image[::tile] = grout
        image[:, ::tile] = grout
        image[1::tile] = grout
        image[:, 1::tile] = grout
    else:
        raise ValueError(f'unknown floor {style!r}; available: {", ".join(FLOORS)}')
    image = np.asarray(image, np.float32)
    for _ in range(int(rng.integers(0, 6))):  # stains and scuffs
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(10, 60)), int(rng.integers(5, 40)))
        tone = float(rng.uniform(0.75, 1.2))
        stain = np.zeros((height, width), np.uint8)
        cv2.ellipse(stain, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
        image[stain > 0] *= tone
    return np.clip(image, 0, 255).astype(np.uint8)


class FloorWorld:
    """The floor of one track: texture with the tape line, and its pixels-per-metre map."""

    def __init__(self, track, floor='wood', tape='yellow', seed=0, pixels_per_m=400,
                 margin_m=0.8):
        """Draw ``track`` with ``tape`` on a ``floor`` texture (random details from ``seed``)."""
        rng = np.random.default_rng(seed)
        self.track = track
        self.floor, self.tape = floor, tape
        self.pixels_per_m = float(pixels_per_m)
        x_min, y_min, x_max, y_max = track.bounds(margin_m)
        self.x_min, self.y_max = x_min, y_max
        width = int(math.ceil((x_max - x_min) * pixels_per_m))
        height = int(math.ceil((y_max - y_min) * pixels_per_m))
        self.texture = floor_texture(rng, width, height, floor)
        colour = np.clip(np.array(TAPES[tape], float) + rng.normal(0, 10, 3), 0, 255)
        shift = 4  # sub-pixel line positions
        pts = np.round(self.to_pixels(track.points) * (1 << shift)).astype(np.int32)
        thickness = max(1, int(round(track.line_width * pixels_per_m)))
        cv2.polylines(self.texture, [pts], True, tuple(float(c) for c in colour), thickness,
                      cv2.LINE_AA, shift)
        self.wall = tuple(float(c) for c in rng.uniform(60, 220, size=3))
        # Floor beyond the texture looks like the floor's mean colour.
        self.mean = tuple(float(c) for c in self.texture.reshape(-1, 3).mean(axis=0))
        self._texture_from_world = np.array([[pixels_per_m, 0.0, -x_min * pixels_per_m],
                                             [0.0, -pixels_per_m, y_max * pixels_per_m],
                                             [0.0, 0.0, 1.0]])

    def to_pixels(self, points):
        """Return texture pixel coordinates of floor points (metres)."""
        points = np.asarray(points, float)
        return np.stack([(points[..., 0] - self.x_min) * self.pixels_per_m,
                         (self.y_max - points[..., 1]) * self.pixels_per_m], axis=-1)

    def view(self, camera, pose, width, height):
        """Return the RGB image the robot's camera sees from ``pose`` = (x, y, yaw)."""
        homography = (camera.intrinsics(width, height) @ camera.world_to_camera(*pose)
                      @ np.linalg.inv(self._texture_from_world))
        image = cv2.warpPerspective(self.texture, homography, (width, height),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                    borderValue=self.mean)
        image[~camera.floor_mask(width, height)] = np.array(self.wall, np.uint8)
        return image


@functools.lru_cache(maxsize=None)
def _track(name):
    """Return the shipped :class:`Track` called ``name``, sampled once."""
    return Track(name)


# Enough for every world of a dataset (12 per training track, about 2 MB each):
# building one takes far longer than rendering a view of it.
@functools.lru_cache(maxsize=64)
def _world(track_name, world_seed):
    """Return a cached :class:`FloorWorld` of a track (floor and tape chosen by the seed)."""
    rng = np.random.default_rng(world_seed)
    floor = FLOORS[int(rng.integers(len(FLOORS)))]
    tape = list(TAPES)[int(rng.integers(len(TAPES)))]
    return FloorWorld(_track(track_name), floor, tape, seed=world_seed, pixels_per_m=300)


def _truth(track, camera, pose, index, lookahead_m, width, height):
    """Return the SceneTruth (target point) of a robot at ``pose`` nearest to sample ``index``."""
    target = track.lookahead(index, lookahead_m)
    uv = camera.project(target, pose, width, height)
    if uv is None:  # behind the camera: the far edge on the target's side
        return None
    return SceneTruth('line_following', '', width, height, (TruthPoint(TARGET, *uv),))


@dataclass(frozen=True)
class LineFollowingState:
    """A robot pose near a training track, with the look of the floor and the light."""

    track: str
    world_seed: int
    arc: float
    lateral: float
    heading: float
    lighting: Lighting


class LineFollowingScene(Scene):
    """Camera views of robots near the line, labelled with the target point (datasets)."""

    name = 'line_following'
    point_names = (TARGET,)

    def __init__(self, noise_std=3.0, tracks=TRAINING_TRACKS, worlds=12, lookahead_m=0.3,
                 camera=CameraModel()):
        """Draw poses near ``tracks`` on ``worlds`` floor variants per track."""
        super().__init__(noise_std)
        self.tracks = tuple(tracks)
        self.worlds = int(worlds)
        self.lookahead_m = float(lookahead_m)
        self.camera = camera

    def random_state(self, rng):
        """Return a pose off and across the line (for recovery), with the target in view."""
        while True:
            name = self.tracks[int(rng.integers(len(self.tracks)))]
            track = _track(name)
            state = LineFollowingState(
                name, int(rng.integers(self.worlds)) + 1000 * list(TRACKS).index(name),
                float(rng.uniform(0, track.length)),
                float(np.clip(rng.normal(0.0, 0.05), -0.12, 0.12)),
                float(np.clip(rng.normal(0.0, 0.25), -0.6, 0.6)), random_lighting(rng))
            if self._truth(state, 224, 224) is not None:
                return state

    def _pose(self, state):
        track = _track(state.track)
        x, y, heading = track.pose_at(state.arc, state.lateral)
        return track, (x, y, heading + state.heading)

    def _truth(self, state, width, height):
        track, pose = self._pose(state)
        truth = _truth(track, self.camera, pose, track.index_at(state.arc), self.lookahead_m,
                       width, height)
        if truth is None:
            return None
        point = truth.points[0]
        return truth if 0 <= point.u < width and 0 <= point.v < height else None

    def render(self, state, width, height, rng=None):
        """Return ``(image, truth)``; the target may be outside the image when far off the line."""
        track, pose = self._pose(state)
        image = _world(state.track, state.world_seed).view(self.camera, pose, width, height)
        truth = _truth(track, self.camera, pose, track.index_at(state.arc), self.lookahead_m,
                       width, height)
        if truth is None:
            truth = SceneTruth('line_following', '', width, height,
                               (TruthPoint(TARGET, width / 2.0, 0.0),))
        return self._light(image, state.lighting, rng), truth


@dataclass(frozen=True)
class SimStatus:
    """Where the simulated robot is, for ground truth and scoring."""

    x: float
    y: float
    yaw: float
    cross_track_error: float
    heading_error: float
    progress: float
    laps: int
    on_track: bool


class LineFollowingSim:
    """A differential-drive robot on a track, stepped by velocity commands."""

    def __init__(self, track='oval', floor='random', tape='random', seed=0, lookahead_m=0.3,
                 start_offset_m=0.0, off_track_m=0.25, camera=CameraModel(), noise_std=3.0):
        """Put the robot on ``track`` at its start, ``start_offset_m`` left of the line.

        :param floor: one of :data:`FLOORS` or ``random`` (chosen by ``seed``)
        :param tape: one of :data:`TAPES` or ``random``
        :param off_track_m: cross-track error beyond which the robot counts as off the track
        """
        rng = np.random.default_rng(seed)
        if floor == 'random':
            floor = FLOORS[int(rng.integers(len(FLOORS)))]
        if tape == 'random':
            tape = list(TAPES)[int(rng.integers(len(TAPES)))]
        if tape not in TAPES:
            raise ValueError(f'unknown tape {tape!r}; available: {", ".join(TAPES)}, random')
        self.track = Track(track)
        self.world = FloorWorld(self.track, floor, tape, seed)
        self.camera = camera
        self.lookahead_m = float(lookahead_m)
        self.off_track_m = float(off_track_m)
        self.lighting = random_lighting(rng)
        self.noise_std = float(noise_std)
        self._rng = rng
        self.x, self.y, self.yaw = self.track.pose_at(0.0, start_offset_m)
        self.time = 0.0
        self._position = self.track.locate(self.x, self.y, self.yaw)
        self.laps = LapCounter(self.track.length, self._position.arc)

    @property
    def pose(self):
        """Return ``(x, y, yaw)``."""
        return self.x, self.y, self.yaw

    def step(self, linear, angular, dt):
        """Drive for ``dt`` seconds at ``linear`` m/s and ``angular`` rad/s (exact arcs)."""
        if abs(angular) < 1e-9:
            self.x += linear * dt * math.cos(self.yaw)
            self.y += linear * dt * math.sin(self.yaw)
        else:
            radius = linear / angular
            yaw = self.yaw + angular * dt
            self.x += radius * (math.sin(yaw) - math.sin(self.yaw))
            self.y -= radius * (math.cos(yaw) - math.cos(self.yaw))
            self.yaw = yaw
        self.yaw = (self.yaw + math.pi) % (2.0 * math.pi) - math.pi
        self.time += dt
        self._position = self.track.locate(self.x, self.y, self.yaw, hint=self._position.index)
        self.laps.update(self._position.arc)

    def status(self):
        """Return the :class:`SimStatus` now."""
        p = self._position
        return SimStatus(self.x, self.y, self.yaw, p.cross_track_error, p.heading_error,
                         self.laps.progress, self.laps.laps,
                         abs(p.cross_track_error) <= self.off_track_m)

    def target(self, width, height):
        """Return the ground-truth target in pixels, or None when it is behind the camera."""
        truth = _truth(self.track, self.camera, self.pose, self._position.index,
                       self.lookahead_m, width, height)
        return None if truth is None else (truth.points[0].u, truth.points[0].v)

    def render(self, width, height):
        """Return ``(image, truth)``: the camera view now and the target point."""
        image = self.world.view(self.camera, self.pose, width, height)
        image = apply_lighting(image, self.lighting, self._rng, self.noise_std)
        truth = _truth(self.track, self.camera, self.pose, self._position.index,
                       self.lookahead_m, width, height)
        return image, truth


SIM_PARAMETERS = (
    ParamSpec('track', 'oval', f'Track to drive; {HELD_OUT_TRACK!r} is never in synthetic '
              'datasets (held out for evaluation).', choices=tuple(TRACKS)),
    ParamSpec('floor', 'random', 'Floor texture (random: chosen by seed).',
              choices=FLOORS + ('random',)),
    ParamSpec('tape', 'random', 'Colour of the tape line (random: chosen by seed).',
              choices=tuple(TAPES) + ('random',)),
    ParamSpec('seed', 0, 'Seed of the floor details, lighting and sensor noise.',
              min_value=0, max_value=2**31 - 1),
    ParamSpec('width', 224, 'Camera image width in pixels.', min_value=16, max_value=4096),
    ParamSpec('height', 224, 'Camera image height in pixels.', min_value=16, max_value=4096),
    ParamSpec('rate_hz', 30.0, 'Camera frames and simulation steps per second.',
              min_value=1.0, max_value=240.0),
    ParamSpec('lookahead_m', 0.3, 'Distance along the line from the robot to the '
              'ground-truth target point (metres).', min_value=0.05, max_value=2.0),
    ParamSpec('start_offset_m', 0.0, 'Start this far left of the line (metres; negative: '
              'right).', min_value=-0.5, max_value=0.5),
    ParamSpec('off_track_m', 0.25, 'Cross-track error beyond which the robot counts as off '
              'the track (metres).', min_value=0.01, max_value=5.0),
    ParamSpec('cmd_vel_timeout_sec', 0.5, 'The simulated base stops when the newest cmd_vel '
              "is older than this, as diff_drive_controller's cmd_vel_timeout does.",
              min_value=0.01, max_value=10.0),
    ParamSpec('stamped', False, 'Read geometry_msgs/TwistStamped on cmd_vel instead of '
              'Twist.'),
    ParamSpec('frame_id', 'camera_optical_frame', 'frame_id of the images and ground truth.'),
    ParamSpec('noise_std', 3.0, 'Sensor noise (grey levels, standard deviation).',
              min_value=0.0, max_value=50.0),
    ParamSpec('laps', 0, 'Stop the node after this many laps (0: run until stopped).',
              min_value=0, max_value=1000000),
)


@dataclass(frozen=True)
class SimConfig(NodeConfig):
    """Checked settings of the sim node."""

    PARAMETERS = SIM_PARAMETERS

    track: str
    floor: str
    tape: str
    seed: int
    width: int
    height: int
    rate_hz: float
    lookahead_m: float
    start_offset_m: float
    off_track_m: float
    cmd_vel_timeout_sec: float
    stamped: bool
    frame_id: str
    noise_std: float
    laps: int

    def check(self):
        """Refuse an empty frame_id."""
        if not self.frame_id:
            raise ValueError('frame_id must not be empty')

    def make_sim(self):
        """Return the :class:`LineFollowingSim` these settings describe."""
        return LineFollowingSim(self.track, self.floor, self.tape, self.seed, self.lookahead_m,
                                self.start_offset_m, self.off_track_m,
                                noise_std=self.noise_std)
