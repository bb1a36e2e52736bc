"""Closed line-following tracks: centre line, cross-track error, progress and laps (no ROS).

A track is a closed centre line on the floor, in metres, driven counter-clockwise
(increasing arc length). Shapes are smooth closed curves
``r(t) = radius * (1 + sum(a_k * cos(k * t + phase_k)))`` stretched by
``scale``: a few numbers give ovals, peanuts and beans that a small robot can
follow (the tightest curve of every shipped track is checked by a test).
"""

from dataclasses import dataclass
import math

import numpy as np


@dataclass(frozen=True)
class TrackShape:
    """The numbers of one track shape."""

    radius: float
    scale: tuple = (1.0, 1.0)
    harmonics: tuple = ()   # (k, amplitude, phase) triples
    line_width: float = 0.03  # tape width, metres

    def centre_line(self, samples=2048):
        """Return ``(samples, 2)`` points of the closed centre line (not repeating the first)."""
        t = np.linspace(0.0, 2.0 * math.pi, samples, endpoint=False)
        r = np.ones_like(t)
        for k, amplitude, phase in self.harmonics:
            r += amplitude * np.cos(k * t + phase)
        r *= self.radius
        return np.stack([r * np.cos(t) * self.scale[0], r * np.sin(t) * self.scale[1]], axis=1)


#: Shipped tracks. ``kidney`` is held out: datasets never show it, so driving
#: it measures how a trained model does on a track it has not seen.
TRACKS = {
    'oval': TrackShape(radius=1.0, scale=(1.3, 0.8)),
    'peanut': TrackShape(radius=1.0, scale=(1.35, 0.95), harmonics=((2, 0.12, 0.0),)),
    'bean': TrackShape(radius=1.0, scale=(1.2, 0.9),
                       harmonics=((1, 0.08, 0.0), (2, 0.1, 1.2))),
    'trefoil': TrackShape(radius=1.05, scale=(1.1, 1.0), harmonics=((3, 0.08, 0.3),)),
    'kidney': TrackShape(radius=1.0, scale=(1.25, 0.9),
                         harmonics=((2, 0.09, 0.9), (3, 0.06, 0.2))),
}
HELD_OUT_TRACK = 'kidney'
TRAINING_TRACKS = tuple(name for name in TRACKS if name != HELD_OUT_TRACK)


def track_shape(name):
    """Return the :class:`TrackShape` called ``name``.

    :raises ValueError: unknown name (the message lists the tracks)
    """
    try:
        return TRACKS[name]
    except KeyError:
        raise ValueError(f'unknown track {name!r}; available: {", ".join(TRACKS)}') from None


@dataclass(frozen=True)
class TrackPosition:
    """Where a point is relative to the track."""

    index: int                # nearest centre-line sample
    arc: float                # arc length of that sample, metres from the start
    cross_track_error: float  # metres; positive: left of the line, facing along the track
    heading_error: float      # radians; robot heading minus track heading, in [-pi, pi)


class Track:
    """A closed centre line with arc lengths, tangents and lookups."""

    def __init__(self, shape, samples=2048):
        """Sample ``shape`` (a :class:`TrackShape` or a track name)."""
        self.shape = track_shape(shape) if isinstance(shape, str) else shape
        self.points = self.shape.centre_line(samples)
        step = np.roll(self.points, -1, axis=0) - self.points
        seg = np.hypot(step[:, 0], step[:, 1])
        self.arc = np.concatenate([[0.0], np.cumsum(seg)[:-1]])
        self.length = float(seg.sum())
        # Central differences: the tangent at a sample, not of the segment after it.
        diff = np.roll(self.points, -1, axis=0) - np.roll(self.points, 1, axis=0)
        self.tangents = diff / np.hypot(diff[:, 0], diff[:, 1])[:, None]
        self.headings = np.arctan2(self.tangents[:, 1], self.tangents[:, 0])

    @property
    def line_width(self):
        """Return the tape width in metres."""
        return self.shape.line_width

    def bounds(self, margin=0.0):
        """Return ``(x_min, y_min, x_max, y_max)`` of the centre line plus ``margin``."""
        low = self.points.min(axis=0) - margin
        high = self.points.max(axis=0) + margin
        return float(low[0]), float(low[1]), float(high[0]), float(high[1])

    def min_turn_radius(self):
        """Return the radius of the tightest curve, metres."""
        n = len(self.points)
        a, b, c = self.points[np.arange(n) - 1], self.points, self.points[(np.arange(n) + 1) % n]
        ab, bc, ca = (np.hypot(*(b - a).T), np.hypot(*(c - b).T), np.hypot(*(a - c).T))
        cross = np.abs((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0])
        with np.errstate(divide='ignore'):
            radius = ab * bc * ca / (2.0 * cross)
        return float(radius.min())

    def index_at(self, arc):
        """Return the sample index at arc length ``arc`` (any real number, wraps)."""
        arc = float(arc) % self.length
        return int(min(np.searchsorted(self.arc, arc, side='right') - 1, len(self.arc) - 1))

    def pose_at(self, arc, lateral=0.0):
        """Return ``(x, y, heading)`` at ``arc``, ``lateral`` metres to the left of the line."""
        i = self.index_at(arc)
        x, y = self.points[i]
        tx, ty = self.tangents[i]
        return float(x - ty * lateral), float(y + tx * lateral), float(self.headings[i])

    def locate(self, x, y, yaw=0.0, hint=None, window=64):
        """Return the :class:`TrackPosition` of point ``(x, y)`` with heading ``yaw``.

        :param hint: index found last time; only ``window`` samples around it are
            searched (a robot moves little between two steps), else all of them
        """
        n = len(self.points)
        if hint is None:
            candidates = np.arange(n)
        else:
            candidates = (np.arange(-window, window + 1) + hint) % n
        d = self.points[candidates] - (x, y)
        best = candidates[int(np.argmin(d[:, 0] ** 2 + d[:, 1] ** 2))]
        if hint is not None and best in (candidates[0], candidates[-1]):
            return self.locate(x, y, yaw)  # left the window: search everything
        px, py = self.points[best]
        tx, ty = self.tangents[best]
        cte = tx * (y - py) - ty * (x - px)
        heading_error = (yaw - self.headings[best] + math.pi) % (2.0 * math.pi) - math.pi
        return TrackPosition(int(best), float(self.arc[best]), float(cte), float(heading_error))

    def lookahead(self, index, distance):
        """Return the centre-line point ``distance`` metres ahead of sample ``index``."""
        i = self.index_at(self.arc[index] + distance)
        return float(self.points[i, 0]), float(self.points[i, 1])


class LapCounter:
    """Count laps from successive arc positions (driving backwards counts down)."""

    def __init__(self, length, start_arc=0.0):
        """Start counting at ``start_arc`` on a track of ``length`` metres."""
        self.length = float(length)
        self._last = float(start_arc)
        self.distance = 0.0

    def update(self, arc):
        """Add the move to ``arc`` (the shortest way round); return the laps driven."""
        delta = (arc - self._last + self.length / 2.0) % self.length - self.length / 2.0
        self.distance += delta
        self._last = float(arc)
        return self.progress

    @property
    def progress(self):
        """Return laps driven, fractional."""
        return self.distance / self.length

    @property
    def laps(self):
        """Return whole laps completed."""
        return int(math.floor(self.progress))
