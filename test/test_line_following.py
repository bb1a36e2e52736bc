"""The closed loop with real rclpy: sim -> ground-truth point -> steering -> cmd_vel -> sim."""

import time

import numpy as np
import pytest

# A lap counts when the robot stays this close to the line on average (metres).
MEAN_CTE_BOUND_M = 0.02


def sim_node(ros, **parameters):
    from nano_vision.nodes.sim import SimNode
    return ros.make(SimNode, parameters)


@pytest.mark.slow
def test_oracle_loop_drives_a_full_lap_of_the_held_out_track(ros):
    from nano_vision.nodes.steering import SteeringNode
    from nano_vision_msgs.msg import TrackState
    from nano_vision.scenes.track import HELD_OUT_TRACK
    probe = ros.probe()
    states = []
    probe.create_subscription(TrackState, 'track_state', states.append, 100)
    sim = sim_node(ros, track=HELD_OUT_TRACK, laps=1, start_offset_m=0.05)
    ros.make(SteeringNode, {'speed_mps': 0.5, 'kp': 1.1},
             cli_args=['--ros-args', '-r', 'point:=ground_truth/point'])
    # Real time: a 7 m lap at 0.5 m/s takes 14 s; the bound only guards a stuck loop.
    assert ros.spin_until(sim.done.is_set, timeout_sec=90.0), \
        f'no full lap: {states[-1].progress if states else 0:.2f} laps'
    errors = np.abs([s.cross_track_error for s in states])
    assert states[-1].laps >= 1 or sim.sim.status().laps >= 1
    assert all(s.on_track for s in states)
    assert errors.mean() < MEAN_CTE_BOUND_M, f'mean cross-track error {errors.mean():.3f} m'
    assert errors.max() < 0.08


@pytest.mark.slow
def test_the_simulated_base_stops_without_commands_and_reads_stamped_twists(ros):
    from geometry_msgs.msg import TwistStamped
    from nano_vision_msgs.msg import TrackState
    probe = ros.probe()
    states = []
    probe.create_subscription(TrackState, 'track_state', states.append, 100)
    pub = probe.create_publisher(TwistStamped, 'cmd_vel', 10)
    sim = sim_node(ros, stamped=True, cmd_vel_timeout_sec=0.3)
    command = TwistStamped()
    command.twist.linear.x = 0.4
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        pub.publish(command)
        ros.spin_until(lambda: False, 0.03)
    assert ros.spin_until(lambda: states and states[-1].linear == pytest.approx(0.4))
    moved = sim.sim.status().progress
    assert moved > 0.01
    ros.spin_until(lambda: False, 1.0)  # no more commands: the base's watchdog stops it
    assert states[-1].linear == 0.0
    still = sim.sim.status().progress
    ros.spin_until(lambda: False, 0.3)
    assert sim.sim.status().progress == pytest.approx(still)


def test_ground_truth_topics_agree_with_the_image(ros):
    from geometry_msgs.msg import PointStamped
    from nano_vision_msgs.msg import GroundTruth
    from sensor_msgs.msg import Image
    probe = ros.probe()
    got = {'image_raw': [], 'ground_truth': [], 'ground_truth/point': []}
    for topic, kind in (('image_raw', Image), ('ground_truth', GroundTruth),
                        ('ground_truth/point', PointStamped)):
        probe.create_subscription(kind, topic, got[topic].append, 10)
    sim_node(ros, width=160, height=120, track='bean')
    assert ros.spin_until(lambda: all(len(v) >= 3 for v in got.values()))
    image = got['image_raw'][-1]
    assert (image.width, image.height, image.encoding) == (160, 120, 'rgb8')
    stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in got['image_raw']}
    truth = got['ground_truth'][-1]
    assert (truth.header.stamp.sec, truth.header.stamp.nanosec) in stamps
    assert truth.scene == 'line_following' and truth.keypoints[0].name == 'target'
    point = got['ground_truth/point'][-1]
    assert (point.header.stamp.sec, point.header.stamp.nanosec) in stamps
    matching = [t for t in got['ground_truth'] if t.header.stamp == point.header.stamp][0]
    assert point.point.x == pytest.approx(matching.keypoints[0].x)
    assert point.point.y == pytest.approx(matching.keypoints[0].y)


def test_bad_sim_configuration_fails_at_start(ros):
    from nano_vision.nodes.sim import SimNode
    from rclpy.exceptions import InvalidParameterValueException
    with pytest.raises((ValueError, InvalidParameterValueException), match='track|frame_id'):
        ros.make(SimNode, {'frame_id': ''})


def test_the_sim_refuses_runtime_changes_but_takes_use_sim_time(ros):
    from rclpy.parameter import Parameter
    sim = sim_node(ros, width=32, height=32)
    config = sim.config
    result = sim.set_parameters([Parameter('track', value='kidney')])[0]
    assert not result.successful and 'read-only' in result.reason
    assert sim.config is config
    assert sim.set_parameters([Parameter('use_sim_time', value=True)])[0].successful
    assert sim.get_clock().ros_time_is_active
