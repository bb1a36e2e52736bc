"""The line-following simulator and tracks, without ROS: geometry, camera, laps, a pure loop."""

import math

import numpy as np
import pytest

from nano_vision.control.steering import SteeringConfig, SteeringController
from nano_vision.image.coords import to_normalised
from nano_vision.scenes.line_following import (CameraModel, FloorWorld, LineFollowingScene,
                                               LineFollowingSim, SimConfig, TAPES)
from nano_vision.scenes.track import HELD_OUT_TRACK, LapCounter, Track, TRACKS, TRAINING_TRACKS


@pytest.mark.parametrize('name', sorted(TRACKS))
def test_every_track_is_a_closed_drivable_loop(name):
    track = Track(name)
    assert 5.0 < track.length < 9.0
    assert track.min_turn_radius() > 0.4  # a small robot turns tighter than this
    gaps = np.hypot(*np.diff(np.vstack([track.points, track.points[:1]]), axis=0).T)
    assert gaps.max() < 0.01  # closed, and finely sampled


def test_the_held_out_track_is_never_trained_on():
    assert HELD_OUT_TRACK in TRACKS and HELD_OUT_TRACK not in TRAINING_TRACKS
    assert set(LineFollowingScene().tracks) == set(TRAINING_TRACKS)
    with pytest.raises(ValueError, match='oval'):
        Track('moon')


def test_cross_track_error_is_positive_left_of_the_line():
    track = Track('oval')
    for arc in (0.0, 1.7, 4.2):
        x, y, heading = track.pose_at(arc, lateral=0.1)
        left = track.locate(x, y, heading)
        assert left.cross_track_error == pytest.approx(0.1, abs=0.005)
        assert abs(left.heading_error) < 0.01
        x, y, _ = track.pose_at(arc, lateral=-0.05)
        assert track.locate(x, y).cross_track_error == pytest.approx(-0.05, abs=0.005)


def test_laps_count_forwards_and_backwards():
    counter = LapCounter(10.0, start_arc=9.0)
    for arc in np.arange(9.0, 9.0 + 25.0, 0.5) % 10.0:
        counter.update(arc)
    assert counter.laps == 2 and counter.progress == pytest.approx(2.45)
    for arc in np.arange(3.5, 3.5 - 30.0, -0.5) % 10.0:
        counter.update(arc)
    assert counter.laps == -1


def test_driving_follows_exact_arcs():
    sim = LineFollowingSim('oval', seed=0)
    x0, y0, yaw0 = sim.pose
    for _ in range(10):
        sim.step(0.5, 0.0, 0.1)
    assert math.hypot(sim.x - x0, sim.y - y0) == pytest.approx(0.5)
    sim = LineFollowingSim('oval', seed=0)
    for _ in range(100):  # a full circle of radius 0.2 m comes back to the start
        sim.step(0.2 * 2 * math.pi / 10.0, 2 * math.pi / 10.0, 0.1)
    assert (sim.x, sim.y) == pytest.approx((x0, y0), abs=1e-9)
    assert sim.time == pytest.approx(10.0)


def test_the_target_is_drawn_where_the_truth_says():
    # Plain floor, no light or noise: the truth's pixel shows the tape.
    track = Track('bean')
    world = FloorWorld(track, floor='concrete', tape='red', seed=3)
    camera = CameraModel()
    for arc, lateral, turn in ((0.5, 0.0, 0.0), (2.0, 0.05, 0.2), (5.0, -0.04, -0.25)):
        x, y, heading = track.pose_at(arc, lateral)
        pose = (x, y, heading + turn)
        image = world.view(camera, pose, 224, 224)
        target = track.lookahead(track.locate(x, y).index, 0.3)
        u, v = camera.project(target, pose, 224, 224)
        assert 0 <= u < 224 and 0 <= v < 224
        pixel = image[int(v), int(u)].astype(float)
        assert np.abs(pixel - TAPES['red']).max() < 60, (pixel, (u, v))


def test_the_target_moves_to_the_side_the_line_bends_to():
    track, camera = Track('oval'), CameraModel()
    x, y, heading = track.pose_at(1.0)
    index = track.locate(x, y).index
    straight = camera.project(track.lookahead(index, 0.3), (x, y, heading), 224, 224)
    turned_left = camera.project(track.lookahead(index, 0.3), (x, y, heading + 0.3), 224, 224)
    assert turned_left[0] > straight[0]  # robot turned left: the line is now to the right
    assert camera.project((x - 2 * math.cos(heading), y - 2 * math.sin(heading)),
                          (x, y, heading), 224, 224) is None  # behind


def test_dataset_scene_labels_points_inside_the_image():
    scene = LineFollowingScene()
    rng = np.random.default_rng(0)
    xs = []
    for _ in range(20):
        state = scene.random_state(rng)
        assert state.track in TRAINING_TRACKS
        image, truth = scene.render(state, 96, 96, rng)
        assert image.shape == (96, 96, 3)
        x, y = truth.normalised('target')
        assert -1 <= x <= 1 and -1 <= y <= 1
        xs.append(x)
    assert np.std(xs) > 0.15  # poses off and across the line, not only centred


def test_sim_config_checks_values():
    assert SimConfig.from_values({'track': 'kidney'}).make_sim().track.length > 5
    with pytest.raises(ValueError, match='track'):
        SimConfig.from_values({'track': 'moon'})
    with pytest.raises(ValueError, match='tape'):
        LineFollowingSim('oval', tape='green')


def drive(track, speed, kp, seconds, start_offset=0.0, delay_steps=1):
    """Close the loop in pure Python: truth target -> steering law -> robot; return CTEs."""
    sim = LineFollowingSim(track, seed=1, start_offset_m=start_offset)
    controller = SteeringController(SteeringConfig.from_values(
        {'speed_mps': speed, 'kp': kp, 'max_linear_mps': 1.0}))
    pending, errors, t, dt = [], [], 0.0, 1.0 / 30.0
    while t < seconds:
        target = sim.target(224, 224)
        pending.append((to_normalised(*target, 224, 224), t) if target else None)
        if len(pending) > delay_steps:  # the camera and model take a frame
            seen = pending.pop(0)
            if seen:
                controller.update(*seen[0], seen[1], t)
        command = controller.command(t)
        sim.step(command.linear, command.angular, dt)
        t += dt
        errors.append(sim.status().cross_track_error)
    return sim, np.abs(errors)


@pytest.mark.parametrize('track', sorted(TRACKS))
def test_the_steering_law_follows_every_track_from_the_truth(track):
    sim, errors = drive(track, speed=0.4, kp=0.9, seconds=20.0, start_offset=0.08)
    assert sim.status().laps >= 1
    assert errors[60:].mean() < 0.03 and errors.max() < 0.1  # 8 cm off at start, then on it
