"""Steering from a target point: the JetBot road-following law, limits and a watchdog (no ROS).

The regressor gives a target point ``(x, y)`` in normalised image
coordinates (x right, y down, both in [-1, 1]; see image/coords.py). As in JetBot's
road following, the target's bearing is ``angle = atan2(x, (0.5 - y) / 2)``:
0 straight ahead, positive to the right. The turn rate is a PD law on it,

    angular = -(kp * angle + kd * d(angle)/dt) + bias

(ROS convention: positive angular z turns left, hence the minus), and the
forward speed is ``speed``, reduced in tight turns by ``turn_slowdown``.
Unlike JetBot, whose derivative is per frame, ``d(angle)/dt`` is per second of
image time, so gains do not change with the camera's frame rate.

Safety, as ros2_controllers' diff_drive_controller does it: no fresh target
within ``timeout_sec`` (by arrival time or by the image's stamp) gives a zero
command at once, not a ramp; the speed and acceleration limits apply to every
other command.
"""

from dataclasses import dataclass
import math

from nano_vision.parameters import NodeConfig, ParamSpec

STEERING_PARAMETERS = (
    ParamSpec('input', 'point',
              "What to follow: 'point' (geometry_msgs/PointStamped on point, x and y "
              "normalised as the regressor publishes them) or 'keypoints' "
              '(nano_vision_msgs/Keypoints on keypoints).', choices=('point', 'keypoints')),
    ParamSpec('keypoint', '', "With input 'keypoints': the keypoint to follow; empty takes "
              'the first of each message.'),
    ParamSpec('speed_mps', 0.2, 'Forward speed while following (m/s).', read_only=False,
              min_value=0.0, max_value=5.0),
    ParamSpec('kp', 2.0, 'Proportional gain: turn rate (rad/s) per radian of target '
              'bearing.', read_only=False, min_value=0.0, max_value=100.0),
    ParamSpec('kd', 0.0, 'Derivative gain: turn rate (rad/s) per rad/s of bearing change.',
              read_only=False, min_value=0.0, max_value=10.0),
    ParamSpec('bias_rps', 0.0, 'Turn rate added to every command (rad/s, positive turns '
              'left): trims a robot that pulls to one side.', read_only=False,
              min_value=-5.0, max_value=5.0),
    ParamSpec('deadband_rad', 0.0, 'Bearings smaller than this (radians) count as straight '
              'ahead.', read_only=False, min_value=0.0, max_value=1.0),
    ParamSpec('turn_slowdown', 0.0, 'Fraction of speed_mps given up at a 90 degree bearing '
              '(0: constant speed; linear in between).', read_only=False,
              min_value=0.0, max_value=1.0),
    ParamSpec('max_linear_mps', 0.5, 'Largest forward or backward speed sent (m/s).',
              read_only=False, min_value=0.0, max_value=10.0),
    ParamSpec('max_angular_rps', 3.0, 'Largest turn rate sent (rad/s).', read_only=False,
              min_value=0.0, max_value=20.0),
    ParamSpec('max_linear_accel_mps2', 1.0, 'Largest change of forward speed (m/s^2); 0 '
              'for no limit. Stopping on a stale input is not limited.', read_only=False,
              min_value=0.0, max_value=100.0),
    ParamSpec('max_angular_accel_rps2', 10.0, 'Largest change of turn rate (rad/s^2); 0 for '
              'no limit.', read_only=False, min_value=0.0, max_value=1000.0),
    ParamSpec('timeout_sec', 0.5, 'Stop (zero command) when the newest target arrived, or '
              'its image was taken, longer ago than this (seconds).', read_only=False,
              min_value=0.01, max_value=10.0),
    ParamSpec('rate_hz', 20.0, 'Rate of cmd_vel messages (Hz); also how often the timeout '
              'is checked.', min_value=1.0, max_value=1000.0),
    ParamSpec('enabled', True, 'Drive the motors. False (motors off): cmd_vel carries zero '
              'and ~/command still shows what would be sent.', read_only=False),
    ParamSpec('stamped', False, 'Publish geometry_msgs/TwistStamped instead of Twist on '
              "cmd_vel (Jazzy's diff_drive_controller wants stamped)."),
    ParamSpec('frame_id', 'base_link', 'frame_id of TwistStamped commands.'),
)


@dataclass(frozen=True)
class SteeringConfig(NodeConfig):
    """Checked settings of the steering node."""

    PARAMETERS = STEERING_PARAMETERS

    input: str
    keypoint: str
    speed_mps: float
    kp: float
    kd: float
    bias_rps: float
    deadband_rad: float
    turn_slowdown: float
    max_linear_mps: float
    max_angular_rps: float
    max_linear_accel_mps2: float
    max_angular_accel_rps2: float
    timeout_sec: float
    rate_hz: float
    enabled: bool
    stamped: bool
    frame_id: str

    def check(self):
        """Refuse stamped commands without a frame_id."""
        if self.stamped and not self.frame_id:
            raise ValueError('frame_id must not be empty when stamped is true')


def target_bearing(x, y):
    """Return the bearing (radians, positive right) of normalised image point ``(x, y)``."""
    return math.atan2(x, (0.5 - y) / 2.0)


def _limit(value, bound):
    return max(-bound, min(bound, value))


def _ramp(previous, desired, max_rate, dt):
    if max_rate <= 0.0:
        return desired
    return previous + _limit(desired - previous, max_rate * max(0.0, dt))


@dataclass(frozen=True)
class Command:
    """A velocity command and why it is what it is."""

    linear: float = 0.0
    angular: float = 0.0
    fresh: bool = False      # False: no usable target, the command is a stop
    bearing: float = 0.0     # radians, of the newest target


STOP = Command()


class SteeringController:
    """Targets in, rate-limited velocity commands out; stops on stale targets.

    Times are seconds on one clock (the node's ROS clock): ``received`` when a
    target arrived, ``stamp`` when its image was taken.
    """

    def __init__(self, config):
        """Start with ``config`` (a :class:`SteeringConfig`) and no target."""
        self.config = config
        self._target = None       # (bearing, stamp, received)
        self._derivative = 0.0
        self._last = STOP
        self._last_time = None

    def reconfigure(self, config):
        """Use ``config`` from now on (gains, limits, timeout)."""
        self.config = config

    def update(self, x, y, stamp, received):
        """Take a new target at normalised ``(x, y)``; return its bearing.

        :param stamp: image time of the target (seconds); 0 when unknown
        :param received: arrival time (seconds)
        :raises ValueError: a coordinate that is not finite; the target is ignored
        """
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f'target ({x}, {y}) is not finite')
        bearing = target_bearing(x, y)
        stamp = stamp if stamp > 0.0 else received
        previous = self._target
        if previous is not None and self._is_fresh(previous, received) and stamp > previous[1]:
            self._derivative = (bearing - previous[0]) / (stamp - previous[1])
        else:
            self._derivative = 0.0
        self._target = (bearing, stamp, received)
        return bearing

    def _is_fresh(self, target, now):
        timeout = self.config.timeout_sec
        return now - target[2] <= timeout and now - target[1] <= timeout

    def fresh(self, now):
        """Return whether there is a target younger than the timeout at ``now``."""
        return self._target is not None and self._is_fresh(self._target, now)

    def desired(self):
        """Return ``(linear, angular)`` the law asks for the newest target, before limits."""
        cfg = self.config
        bearing = self._target[0]
        if abs(bearing) < cfg.deadband_rad:
            bearing = 0.0
        angular = -(cfg.kp * bearing + cfg.kd * self._derivative) + cfg.bias_rps
        slowdown = cfg.turn_slowdown * min(1.0, abs(bearing) / (math.pi / 2.0))
        return cfg.speed_mps * (1.0 - slowdown), angular

    def command(self, now):
        """Return the :class:`Command` to send at time ``now``."""
        cfg = self.config
        # The first command may change as much as one control period allows.
        dt = 1.0 / cfg.rate_hz if self._last_time is None else now - self._last_time
        self._last_time = now
        if not self.fresh(now):
            # A stale target stops the robot at once (no ramp), as
            # diff_drive_controller does on its cmd_vel timeout.
            self._last = STOP
            self._derivative = 0.0
            return STOP
        linear, angular = self.desired()
        linear = _limit(linear, cfg.max_linear_mps)
        angular = _limit(angular, cfg.max_angular_rps)
        linear = _ramp(self._last.linear, linear, cfg.max_linear_accel_mps2, dt)
        angular = _ramp(self._last.angular, angular, cfg.max_angular_accel_rps2, dt)
        self._last = Command(linear, angular, True, self._target[0])
        return self._last
