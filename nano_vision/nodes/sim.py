"""sim: a simulated line-following robot with a forward camera (scenes/line_following.py).

Subscribes to ``cmd_vel`` (geometry_msgs/Twist, or TwistStamped) and drives a
differential-drive robot along a track; at ``rate_hz`` publishes what its
camera sees on ``image_raw`` (sensor_msgs/Image, rgb8) and, with the same
header, the truth: ``ground_truth`` (nano_vision_msgs/GroundTruth with the
``target`` point), ``ground_truth/point`` (the target as the regressor's
``point`` would be: feed it to the steering node for an oracle) and
``track_state`` (nano_vision_msgs/TrackState: cross-track error, laps).
"""

import math

from geometry_msgs.msg import PointStamped, Twist, TwistStamped
from nano_vision_msgs.msg import GroundTruth, TrackState
from sensor_msgs.msg import Image

from nano_vision.image.coords import to_normalised
from nano_vision.nodes.base import NanoVisionNode
from nano_vision.nodes.messages import ground_truth_msg, image_msg, make_header
from nano_vision.nodes.qos import CAMERA_QOS
from nano_vision.nodes.runner import run_node
from nano_vision.scenes.line_following import SimConfig

# A late tick must not teleport the robot: longer gaps are simulated as this.
MAX_STEP_SEC = 0.1


class SimNode(NanoVisionNode):
    """Step the robot with the newest cmd_vel and publish its camera view and truth."""

    def __init__(self, **kwargs):
        """Declare parameters, build the track and start the simulation timer.

        :raises ValueError: a parameter that cannot work (the message says which)
        """
        super().__init__('sim', **kwargs)
        cfg = self.declare_config(SimConfig)
        self.sim = cfg.make_sim()
        self._command = (0.0, 0.0)
        self._command_time = None
        self._last_step = None
        self.frames = 0
        self.image_pub = self.create_publisher(Image, 'image_raw', CAMERA_QOS)
        self.truth_pub = self.create_publisher(GroundTruth, 'ground_truth', 10)
        self.point_pub = self.create_publisher(PointStamped, 'ground_truth/point', 10)
        self.state_pub = self.create_publisher(TrackState, 'track_state', 10)
        if cfg.stamped:
            self.create_subscription(TwistStamped, 'cmd_vel',
                                     lambda msg: self._on_cmd_vel(msg.twist), 10)
        else:
            self.create_subscription(Twist, 'cmd_vel', self._on_cmd_vel, 10)
        self.create_timer(1.0 / cfg.rate_hz, self._tick)
        self.get_logger().info(
            f'track {cfg.track} ({self.sim.track.length:.2f} m, {self.sim.world.floor} floor, '
            f'{self.sim.world.tape} tape), {cfg.width}x{cfg.height} at {cfg.rate_hz:g} Hz')

    def _now(self):
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_cmd_vel(self, twist):
        linear, angular = twist.linear.x, twist.angular.z
        if not (math.isfinite(linear) and math.isfinite(angular)):
            self.get_logger().warning('cmd_vel is not finite: ignored', throttle_duration_sec=5.0)
            return
        self._command = (linear, angular)
        self._command_time = self._now()

    def _tick(self):
        now = self._now()
        if self._last_step is not None:
            dt = min(MAX_STEP_SEC, max(0.0, now - self._last_step))
            linear, angular = self._command
            if self._command_time is None or now - self._command_time > \
                    self.config.cmd_vel_timeout_sec:
                linear = angular = 0.0  # the base's own watchdog
            self.sim.step(linear, angular, dt)
        self._last_step = now
        self.publish_frame(now)

    def publish_frame(self, now):
        """Render the camera view and publish it with the truth and the track state."""
        cfg = self.config
        header = make_header(self.get_clock().now().to_msg(), cfg.frame_id)
        image, truth = self.sim.render(cfg.width, cfg.height)
        self.image_pub.publish(image_msg(image, 'rgb8', header))
        if truth is not None:
            self.truth_pub.publish(ground_truth_msg(truth, header))
            point = truth.points[0]
            msg = PointStamped(header=header)
            msg.point.x, msg.point.y = to_normalised(point.u, point.v, cfg.width, cfg.height)
            self.point_pub.publish(msg)
        status = self.sim.status()
        stale = self._command_time is None or now - self._command_time > cfg.cmd_vel_timeout_sec
        linear, angular = (0.0, 0.0) if stale else self._command
        self.state_pub.publish(TrackState(
            header=header, track=cfg.track, x=status.x, y=status.y, yaw=status.yaw,
            cross_track_error=status.cross_track_error, heading_error=status.heading_error,
            progress=status.progress, laps=status.laps, on_track=status.on_track,
            linear=float(linear), angular=float(angular)))
        self.frames += 1
        if cfg.laps and status.laps >= cfg.laps:
            if not self.done.is_set():
                self.get_logger().info(f'{status.laps} laps driven: stopping')
            self.end()


def main(args=None):
    """Run the sim node."""
    return run_node(SimNode, 'sim', args)


if __name__ == '__main__':
    raise SystemExit(main())
