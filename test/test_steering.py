"""The steering law, its limits and watchdog; the steering node with real rclpy."""

import math
import os
import signal
import subprocess
import sys
import time

import pytest

from nano_vision.control.steering import (STEERING_PARAMETERS, SteeringConfig, SteeringController,
                                          target_bearing)


def controller(**values):
    return SteeringController(SteeringConfig.from_values(values))


def test_bearing_is_zero_ahead_and_positive_to_the_right():
    assert target_bearing(0.0, -0.5) == 0.0
    assert target_bearing(0.5, 0.0) > 0 > target_bearing(-0.5, 0.0)
    assert target_bearing(0.2, -0.9) < target_bearing(0.2, 0.3)  # nearer: sharper


def test_a_target_on_the_right_turns_right_and_bias_trims():
    c = controller(kp=1.0, max_angular_accel_rps2=0.0, max_linear_accel_mps2=0.0)
    c.update(0.4, 0.0, stamp=1.0, received=1.0)
    command = c.command(1.0)
    assert command.fresh and command.linear == pytest.approx(0.2)
    assert command.angular == pytest.approx(-target_bearing(0.4, 0.0))  # negative: right
    c = controller(kp=1.0, bias_rps=0.1, max_angular_accel_rps2=0.0)
    c.update(0.0, -0.5, 1.0, 1.0)
    assert c.command(1.0).angular == pytest.approx(0.1)


def test_deadband_and_turn_slowdown():
    c = controller(kp=1.0, deadband_rad=0.2, turn_slowdown=0.5, max_angular_accel_rps2=0.0,
                   max_linear_accel_mps2=0.0)
    c.update(0.05, -0.5, 1.0, 1.0)
    assert c.command(1.0).angular == 0.0
    c.update(1.0, 0.5, 1.05, 1.05)  # bearing pi/2: half speed
    assert c.command(1.05).linear == pytest.approx(0.1)


def test_derivative_term_is_per_second_of_image_time():
    c = controller(kp=0.0, kd=0.5, max_angular_accel_rps2=0.0)
    c.update(0.0, -0.5, 1.0, 1.0)
    c.update(0.2, -0.5, 1.1, 1.1)
    rate = (target_bearing(0.2, -0.5) - 0.0) / 0.1
    assert c.command(1.1).angular == pytest.approx(-0.5 * rate)


def test_speed_and_acceleration_limits():
    c = controller(kp=50.0, speed_mps=3.0, max_linear_mps=0.5, max_angular_rps=1.5,
                   max_linear_accel_mps2=1.0, max_angular_accel_rps2=4.0, rate_hz=20.0)
    commands = []
    for k in range(40):
        t = 1.0 + k * 0.05
        c.update(0.9, 0.0, t, t)
        commands.append(c.command(t))
    assert commands[0].linear == pytest.approx(0.05)  # one period of 1 m/s^2 from rest
    for a, b in zip(commands, commands[1:]):
        assert abs(b.linear - a.linear) <= 1.0 * 0.05 + 1e-9
        assert abs(b.angular - a.angular) <= 4.0 * 0.05 + 1e-9
    assert commands[-1].linear == pytest.approx(0.5) and commands[-1].angular == -1.5


def test_stale_targets_stop_at_once_by_arrival_or_by_stamp():
    c = controller(timeout_sec=0.5, max_linear_accel_mps2=0.0)
    c.update(0.0, -0.5, 10.0, 10.0)
    assert c.command(10.5).linear == pytest.approx(0.2)
    stopped = c.command(10.51)
    assert not stopped.fresh and (stopped.linear, stopped.angular) == (0.0, 0.0)
    assert c.command(11.0).linear == 0.0  # repeated until a new target arrives
    c.update(0.0, -0.5, stamp=9.0, received=11.0)  # arrives now, but taken 2 s ago
    assert c.command(11.0).linear == 0.0
    c.update(0.0, -0.5, stamp=0.0, received=11.1)  # no stamp: arrival time counts
    assert c.command(11.1).linear > 0.0


def test_non_finite_targets_are_rejected_and_the_robot_stops():
    c = controller(max_linear_accel_mps2=0.0)
    c.update(0.1, 0.0, 1.0, 1.0)
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match='not finite'):
            c.update(bad, 0.0, 1.1, 1.1)
    assert c.command(1.2).fresh
    assert not c.command(1.6).fresh  # only the good target counted


def test_config_checks():
    assert {spec.name for spec in STEERING_PARAMETERS} == set(SteeringConfig.__dataclass_fields__)
    with pytest.raises(ValueError, match='frame_id'):
        SteeringConfig.from_values({'stamped': True, 'frame_id': ''})
    with pytest.raises(ValueError, match='kp'):
        SteeringConfig.from_values({'kp': -1.0})
    config = SteeringConfig.from_values({})
    assert config.changed(kp=3.0).kp == 3.0 and config.kp == 2.0
    with pytest.raises(ValueError, match='timeout_sec'):
        config.changed(timeout_sec=0.0)


# --- the node, with real rclpy ---------------------------------------------------------

@pytest.fixture
def steering_env(ros):
    """Return (ros, make_steering, probe, received commands by topic)."""
    from geometry_msgs.msg import PointStamped, Twist, TwistStamped
    probe = ros.probe()
    got = {'cmd_vel': [], 'steering/command': []}

    def make(parameters=None, **kwargs):
        from nano_vision.nodes.steering import SteeringNode
        node = ros.make(SteeringNode, parameters, **kwargs)
        kind = TwistStamped if node.config.stamped else Twist
        for topic, messages in got.items():
            probe.create_subscription(kind, topic, messages.append, 50)
        return node

    probe.point_pub = probe.create_publisher(PointStamped, 'point', 10)
    return ros, make, probe, got


def point(probe, x, y, stamp=None):
    from geometry_msgs.msg import PointStamped
    msg = PointStamped()
    msg.header.stamp = stamp or probe.get_clock().now().to_msg()
    msg.point.x, msg.point.y = float(x), float(y)
    probe.point_pub.publish(msg)


def publish_clock(probe, publisher, seconds):
    from rosgraph_msgs.msg import Clock
    msg = Clock()
    msg.clock.sec, msg.clock.nanosec = int(seconds), int(round((seconds % 1) * 1e9))
    publisher.publish(msg)
    return msg.clock


@pytest.mark.slow
def test_watchdog_gives_zero_within_timeout_plus_one_period(steering_env):
    # As ros2_controllers tests diff_drive_controller's cmd_vel timeout, on a
    # clock the test drives (use_sim_time); commands are stamped with that
    # clock, so the bound holds exactly however late the test reads them.
    from rosgraph_msgs.msg import Clock
    ros, make, probe, got = steering_env
    clock_topic = ros.namespace + '/clock'
    clock_pub = probe.create_publisher(Clock, clock_topic, 10)
    node = make({'use_sim_time': True, 'timeout_sec': 0.5, 'rate_hz': 20.0, 'stamped': True,
                 'max_linear_accel_mps2': 0.0},
                cli_args=['--ros-args', '-r', f'/clock:={clock_topic}'])

    def advance_to(seconds):
        stamp = publish_clock(probe, clock_pub, seconds)
        assert ros.spin_until(lambda: node.get_clock().now().nanoseconds >= seconds * 1e9)
        ros.spin_until(lambda: False, 0.002)  # run the timer if it is due
        return stamp

    step, t, last_target = 0.01, 100.0, None
    advance_to(t)
    while t < 101.0:  # one second of targets at 20 Hz: the robot drives
        t = round(t + step, 3)
        stamp = advance_to(t)
        if round(t * 100) % 5 == 0:
            point(probe, 0.1, -0.4, stamp)
            last_target = t
            ros.spin_until(lambda: False, 0.005)
    assert ros.spin_until(lambda: got['cmd_vel'] and got['cmd_vel'][-1].twist.linear.x > 0.1)
    while t < last_target + 1.5:  # targets stop; time goes on
        t = round(t + step, 3)
        advance_to(t)
    ros.spin_until(lambda: False, 0.2)

    def seconds(msg):
        return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9

    zeros = [seconds(m) for m in got['cmd_vel']
             if seconds(m) > last_target and m.twist.linear.x == 0.0]
    assert zeros, 'never stopped'
    assert min(zeros) <= last_target + 0.5 + 1.0 / 20.0 + 1e-6
    after = [m for m in got['cmd_vel'] if seconds(m) >= min(zeros)]
    assert len(after) >= 15  # repeated at 20 Hz until a target comes
    assert all(m.twist.linear.x == 0.0 and m.twist.angular.z == 0.0 for m in after)


def test_follows_points_and_a_runtime_gain_change_through_the_parameter_service(steering_env):
    from rcl_interfaces.msg import Parameter as ParameterMsg, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters
    ros, make, probe, got = steering_env
    node = make({'kp': 0.0, 'max_angular_accel_rps2': 0.0})

    def angular_after_points():
        got['cmd_vel'].clear()
        for _ in range(6):
            point(probe, 0.5, 0.0)
            ros.spin_until(lambda: False, 0.06)
        assert ros.spin_until(lambda: len(got['cmd_vel']) >= 3)
        return got['cmd_vel'][-1].angular.z

    assert angular_after_points() == 0.0
    client = probe.create_client(SetParameters, 'steering/set_parameters')  # ros2 param set
    assert ros.spin_until(lambda: client.service_is_ready())

    def set_kp(value):
        request = SetParameters.Request(parameters=[ParameterMsg(
            name='kp', value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE,
                                            double_value=value))])
        future = client.call_async(request)
        assert ros.spin_until(future.done)
        return future.result().results[0]

    assert set_kp(1.0).successful
    assert node.config.kp == 1.0 and node.controller.config is node.config
    assert angular_after_points() == pytest.approx(-target_bearing(0.5, 0.0), rel=1e-3)
    config = node.config
    refused = set_kp(-2.0)
    assert not refused.successful and 'kp' in refused.reason
    assert node.config is config and node.controller.config is config
    assert angular_after_points() == pytest.approx(-target_bearing(0.5, 0.0), rel=1e-3)


def test_limits_hold_on_cmd_vel(steering_env):
    ros, make, probe, got = steering_env
    make({'kp': 20.0, 'max_angular_rps': 0.7, 'max_angular_accel_rps2': 0.0})
    for _ in range(8):
        point(probe, 0.9, 0.2)
        ros.spin_until(lambda: False, 0.05)
    turning = [m.angular.z for m in got['cmd_vel'] if m.angular.z != 0.0]
    assert turning and min(turning) == pytest.approx(-0.7)


def test_motors_off_sends_zero_but_reports_the_command(steering_env):
    ros, make, probe, got = steering_env
    make({'enabled': False, 'max_linear_accel_mps2': 0.0})
    for _ in range(6):
        point(probe, 0.2, -0.3)
        ros.spin_until(lambda: False, 0.05)
    assert ros.spin_until(lambda: len(got['steering/command']) >= 3 and
                          got['steering/command'][-1].linear.x > 0)
    assert got['cmd_vel'] and all(m.linear.x == 0.0 and m.angular.z == 0.0
                                  for m in got['cmd_vel'])


def test_keypoints_input_stamped_output_and_bad_targets(steering_env):
    from nano_vision_msgs.msg import Keypoint, Keypoints
    ros, make, probe, got = steering_env
    node = make({'input': 'keypoints', 'keypoint': 'nose', 'stamped': True,
                 'frame_id': 'base_footprint', 'max_linear_accel_mps2': 0.0})
    pub = probe.create_publisher(Keypoints, 'keypoints', 10)

    def send(*keypoints):
        msg = Keypoints(keypoints=[Keypoint(name=n, x=x, y=y) for n, x, y in keypoints])
        msg.header.stamp = probe.get_clock().now().to_msg()
        pub.publish(msg)
        ros.spin_until(lambda: False, 0.06)

    for _ in range(4):
        send(('left_eye', math.nan, 0.0), ('nose', 0.0, -0.4))
    assert ros.spin_until(lambda: got['cmd_vel'] and got['cmd_vel'][-1].twist.linear.x > 0)
    assert got['cmd_vel'][-1].header.frame_id == 'base_footprint'
    for _ in range(4):
        send(('nose', math.nan, 0.0))
        send(('mouth', 0.0, 0.0))
    assert node.rejected == 8


def test_bad_configuration_fails_at_start(ros):
    from nano_vision.nodes.steering import SteeringNode
    with pytest.raises(ValueError, match='frame_id'):
        ros.make(SteeringNode, {'stamped': True, 'frame_id': ''})


@pytest.mark.slow
@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_the_last_command_before_exit_is_zero(ros, signum):
    from geometry_msgs.msg import PointStamped, Twist
    probe = ros.probe()
    commands = []
    probe.create_subscription(Twist, 'cmd_vel', commands.append, 100)
    pub = probe.create_publisher(PointStamped, 'point', 10)
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', ROS_LOCALHOST_ONLY='1')
    process = subprocess.Popen(
        [sys.executable, '-m', 'nano_vision.nodes.steering', '--ros-args', '-r',
         f'__ns:={ros.namespace}', '-p', 'max_linear_accel_mps2:=0.0'], env=env)
    try:
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline and not (commands and commands[-1].linear.x > 0):
            msg = PointStamped()
            msg.header.stamp = probe.get_clock().now().to_msg()
            msg.point.y = -0.4
            pub.publish(msg)
            ros.spin_until(lambda: False, 0.05)
        assert commands and commands[-1].linear.x > 0, 'the node never drove'
        count = len(commands)
        # Keep the target fresh while the signal arrives, so only the exit stops it.
        process.send_signal(signum)
        deadline = time.monotonic() + 10.0
        while process.poll() is None and time.monotonic() < deadline:
            pub.publish(msg)
            ros.spin_until(lambda: False, 0.02)
        assert process.wait(timeout=10.0) == 0
        ros.spin_until(lambda: False, 0.3)
        assert len(commands) > count
        assert commands[-1].linear.x == 0.0 and commands[-1].angular.z == 0.0
    finally:
        if process.poll() is None:
            process.kill()
