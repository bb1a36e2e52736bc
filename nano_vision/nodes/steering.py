"""steering: turn the regressor's target point into velocity commands, safely.

Subscribes to ``point`` (geometry_msgs/PointStamped, x and y normalised as
the regressor publishes them) or ``keypoints`` (nano_vision_msgs/Keypoints);
publishes ``cmd_vel`` (geometry_msgs/Twist, or TwistStamped) at ``rate_hz``
and ``~/command``, what it would send even with the motors off. The law, the
limits and the watchdog are in nano_vision/control/steering.py. A stale or missing
target gives zero commands, repeated; the last message before the node exits
is a zero command.
"""

from geometry_msgs.msg import PointStamped, Twist, TwistStamped
from nano_vision_msgs.msg import Keypoints
from rclpy.duration import Duration

from nano_vision.control.steering import SteeringConfig, SteeringController, STOP
from nano_vision.nodes.base import NanoVisionNode
from nano_vision.nodes.qos import TARGET_QOS
from nano_vision.nodes.runner import run_node


def _seconds(time_msg):
    return time_msg.sec + time_msg.nanosec * 1e-9


class SteeringNode(NanoVisionNode):
    """Follow a target point with the JetBot PD law; stop when it goes stale."""

    def __init__(self, **kwargs):
        """Declare parameters, subscribe to the target and start the control timer.

        :raises ValueError: a parameter that cannot work (the message says which)
        """
        super().__init__('steering', **kwargs)
        self.cmd_pub = None
        self.controller = SteeringController(self.declare_config(SteeringConfig))
        self.rejected = 0
        self._following = False
        kind = TwistStamped if self.config.stamped else Twist
        self.cmd_pub = self.create_publisher(kind, 'cmd_vel', 10)
        self.command_pub = self.create_publisher(kind, '~/command', 10)
        if self.config.input == 'keypoints':
            self.create_subscription(Keypoints, 'keypoints', self._on_keypoints, TARGET_QOS)
        else:
            self.create_subscription(PointStamped, 'point', self._on_point, TARGET_QOS)
        self.create_timer(1.0 / self.config.rate_hz, self._tick)
        cfg = self.config
        self.get_logger().info(
            f'following {cfg.input} at {cfg.speed_mps:g} m/s, kp {cfg.kp:g}, kd {cfg.kd:g}; '
            f'stop after {cfg.timeout_sec:g} s without a target; motors '
            f'{"on" if cfg.enabled else "off"}')

    def _now(self):
        return self.get_clock().now().nanoseconds * 1e-9

    def reconfigure(self, previous):
        """Give the controller the gains, limits and timeout changed at runtime."""
        self.controller.reconfigure(self.config)

    def _on_point(self, msg):
        self._take(msg.point.x, msg.point.y, msg.header.stamp)

    def _on_keypoints(self, msg):
        wanted = self.config.keypoint
        for keypoint in msg.keypoints:
            if not wanted or keypoint.name == wanted:
                self._take(keypoint.x, keypoint.y, msg.header.stamp)
                return
        self.rejected += 1
        self.get_logger().warning(
            f'keypoints without {wanted or "any keypoint"!r}: target ignored',
            throttle_duration_sec=5.0)

    def _take(self, x, y, stamp):
        try:
            self.controller.update(x, y, _seconds(stamp), self._now())
        except ValueError as exc:
            self.rejected += 1
            self.get_logger().warning(f'{exc}: target ignored', throttle_duration_sec=5.0)

    def _message(self, command):
        twist = Twist()
        twist.linear.x = float(command.linear)
        twist.angular.z = float(command.angular)
        if not self.config.stamped:
            return twist
        msg = TwistStamped(twist=twist)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.config.frame_id
        return msg

    def _tick(self):
        command = self.controller.command(self._now())
        if command.fresh != self._following:
            self._following = command.fresh
            if command.fresh:
                self.get_logger().info('target found: following')
            else:
                self.get_logger().warning(
                    f'no target for {self.config.timeout_sec:g} s: stopping')
        self.command_pub.publish(self._message(command))
        self.cmd_pub.publish(self._message(command if self.config.enabled else STOP))

    def stop(self):
        """Publish a zero command and wait (briefly) for subscribers to have it."""
        self.cmd_pub.publish(self._message(STOP))
        self.command_pub.publish(self._message(STOP))
        self.cmd_pub.wait_for_all_acked(Duration(seconds=0.5))

    def release(self):
        """Send a last zero command while the context works (the node is being destroyed)."""
        if self.cmd_pub is not None and self.context.ok():
            try:
                self.stop()
            except Exception as exc:  # noqa: B902 - shutting down must go on
                self.get_logger().error(f'could not send the last zero command: {exc}')


def main(args=None):
    """Run the steering node."""
    return run_node(SteeringNode, 'steering', args, stop_in_python=True)


if __name__ == '__main__':
    raise SystemExit(main())
