"""Synthetic scenes: the truth describes what was drawn, and scenes vary."""

import numpy as np
import pytest

from nano_vision.image.coords import to_normalised, to_pixels
from nano_vision.scenes import make_scene, SCENES
from nano_vision.scenes.base import SceneAnimator
from nano_vision.scenes.emotions import EmotionsScene
from nano_vision.scenes.face import FaceScene, FaceState
from nano_vision.scenes.fingers import FingersScene, SHAPES
from nano_vision.scenes.thumbs import ThumbsScene


def test_coordinates_round_trip_and_follow_the_course_convention():
    assert to_normalised(0, 0, 640, 480) == (-1.0, -1.0)
    assert to_normalised(320, 240, 640, 480) == (0.0, 0.0)
    assert to_normalised(640, 480, 640, 480) == (1.0, 1.0)
    assert to_pixels(*to_normalised(123.5, 77.25, 640, 480), 640, 480) == pytest.approx(
        (123.5, 77.25))


def test_face_points_sit_on_the_features_they_name():
    scene = FaceScene(noise_std=0.0)
    rng = np.random.default_rng(3)
    for _ in range(20):
        state = scene.random_state(rng)
        image, truth = scene.render(state, 320, 240)
        assert [p.name for p in truth.points] == ['nose', 'left_eye', 'right_eye']
        for point in truth.points:
            assert 0 <= point.u < 320 and 0 <= point.v < 240
        for name in ('left_eye', 'right_eye'):
            p = truth.point(name)
            pupil = image[int(p.v), int(p.u)].astype(int)
            # the pupil is the darkest thing on the face, whatever the light
            assert pupil.sum() < image[int(truth.point('nose').v),
                                       int(truth.point('nose').u)].astype(int).sum()
        # the subject's left eye is on the image's right (the face looks at the camera)
        left, right = truth.point('left_eye'), truth.point('right_eye')
        tilt = np.radians(state.tilt_deg)
        along = (left.u - right.u) * np.cos(tilt) + (left.v - right.v) * np.sin(tilt)
        assert along > 0


def test_face_points_move_with_the_face():
    scene = FaceScene(noise_std=0.0)
    state = scene.random_state(np.random.default_rng(0))
    _, truth = scene.render(state, 200, 100)
    moved = type(state)(**{**state.__dict__, 'cx': state.cx + 0.05})
    _, truth_moved = scene.render(moved, 200, 100)
    for a, b in zip(truth.points, truth_moved.points):
        assert b.u - a.u == pytest.approx(0.05 * 200)
        assert b.v == pytest.approx(a.v)


def test_the_nose_pixel_is_drawn_where_the_truth_says():
    """Render the same state twice, with and without the nose, and compare there."""
    scene = FaceScene(noise_std=0.0)
    state = scene.random_state(np.random.default_rng(5))
    image, truth = scene.render(state, 256, 256)
    nose = truth.point('nose')
    patch = image[int(nose.v) - 1:int(nose.v) + 2, int(nose.u) - 1:int(nose.u) + 2]
    # the nostril dot is dark red at the nose point
    assert patch[..., 0].mean() > patch[..., 2].mean()


def test_thumbs_classes_differ_only_by_the_thumb_direction():
    scene = ThumbsScene(noise_std=0.0)
    rng = np.random.default_rng(1)
    labels = [scene.random_state(rng).label for _ in range(200)]
    assert set(labels) == {'thumbs_up', 'thumbs_down'}
    assert 70 < labels.count('thumbs_up') < 130
    state = scene.random_state(rng)
    flipped = type(state)(**{**state.__dict__, 'label': 'thumbs_down'
                             if state.label == 'thumbs_up' else 'thumbs_up'})
    a, truth_a = scene.render(state, 160, 120)
    b, truth_b = scene.render(flipped, 160, 120)
    assert truth_a.label != truth_b.label
    assert not np.array_equal(a, b)


def test_emotions_are_the_courses_four_drawn_about_evenly():
    scene = EmotionsScene()
    rng = np.random.default_rng(2)
    labels = [scene.random_state(rng).label for _ in range(400)]
    assert scene.labels == ('none', 'happy', 'sad', 'angry')
    assert set(labels) == set(scene.labels)
    assert all(70 < labels.count(label) < 130 for label in scene.labels)


@pytest.mark.parametrize('seed', range(4))
def test_emotions_show_the_face_scenes_face_and_differ_only_by_its_expression(seed):
    scene = EmotionsScene(noise_std=0.0)
    state = scene.random_state(np.random.default_rng(seed))
    face_state = FaceState(**{name: value for name, value in state.__dict__.items()
                              if name not in ('label', 'intensity')})
    face, face_truth = FaceScene(noise_std=0.0).render(face_state, 200, 160)
    renders = {}
    for label in scene.labels:
        image, truth = scene.render(type(state)(**{**state.__dict__, 'label': label}), 200, 160)
        assert truth.label == label and truth.scene == 'emotions'
        renders[label] = image
        # the same face, background and light as the face scene's: only the brows and the
        # mouth differ, and they are on the head, between the eyes' level and the chin
        changed = np.argwhere(np.abs(image.astype(int) - face).max(axis=2) > 0)
        assert len(changed) > 0
        centre = np.array([state.cy * 160, state.cx * 200])
        radius = state.size * 160  # the head's half-height
        assert (np.linalg.norm(changed - centre, axis=1) < radius).all()
        eyes = [face_truth.point(name) for name in ('left_eye', 'right_eye')]
        for eye in eyes:  # the pupils the face scene's truth names are drawn alike
            assert (image[int(eye.v), int(eye.u)] == face[int(eye.v), int(eye.u)]).all()
    for a in scene.labels:
        for b in scene.labels:
            assert (a == b) == np.array_equal(renders[a], renders[b]), (a, b)


def test_fingers_draws_every_count_in_every_shape_about_equally_often():
    scene = FingersScene()
    rng = np.random.default_rng(2)
    states = [scene.random_state(rng) for _ in range(1000)]
    labels = [state.label for state in states]
    assert scene.labels == ('1', '2', '3', '4', '5')
    assert all(150 < labels.count(label) < 250 for label in scene.labels)
    for label, shapes in SHAPES.items():
        assert {s.raised for s in states if s.label == label} == set(shapes)
        assert all(len(raised) == int(label) for raised in shapes)


def test_fingers_each_raised_finger_adds_to_the_hand():
    """The same hand with 0 .. 5 fingers up: each count differs, and more skin shows."""
    scene = FingersScene(noise_std=0.0)
    state = scene.random_state(np.random.default_rng(4))
    state = type(state)(**{**state.__dict__, 'tilt_deg': 0.0})
    fist, _ = scene.render(type(state)(**{**state.__dict__, 'raised': ()}), 160, 160)
    changed = {}
    for label in scene.labels:
        for raised in SHAPES[label]:
            image, truth = scene.render(
                type(state)(**{**state.__dict__, 'label': label, 'raised': raised}), 160, 160)
            assert truth.label == label and truth.scene == 'fingers' and not truth.points
            changed[raised] = int(np.any(image != fist, axis=2).sum())
    assert len(set(changed.values())) == len(changed)  # every shape draws differently
    index_first = [changed[SHAPES[label][0]] for label in scene.labels]
    assert 0 < index_first[0] and index_first == sorted(set(index_first))


def test_fingers_same_seed_same_hands():
    a, b = FingersScene(), FingersScene()
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    for _ in range(5):
        state_a, state_b = a.random_state(rng_a), b.random_state(rng_b)
        assert state_a == state_b
        image_a, truth_a = a.render(state_a, 96, 72, rng_a)
        image_b, truth_b = b.render(state_b, 96, 72, rng_b)
        np.testing.assert_array_equal(image_a, image_b)
        assert truth_a == truth_b


@pytest.mark.parametrize('name', sorted(SCENES))
def test_scenes_vary_background_light_and_position(name):
    scene = make_scene(name)
    rng = np.random.default_rng(0)
    images = [scene.render(scene.random_state(rng), 64, 48, rng)[0] for _ in range(12)]
    means = np.array([img.reshape(-1, 3).mean(axis=0) for img in images])
    assert means.std(axis=0).min() > 5  # colours and brightness change between samples
    assert all(img.dtype == np.uint8 and img.shape == (48, 64, 3) for img in images)


def test_same_seed_same_video_and_motion_is_smooth():
    a = SceneAnimator(make_scene('face'), seed=7, segment_frames=10)
    b = SceneAnimator(make_scene('face'), seed=7, segment_frames=10)
    previous = None
    for _ in range(9):  # inside one segment the face glides
        image_a, truth_a = a.next_frame(64, 48)
        image_b, truth_b = b.next_frame(64, 48)
        np.testing.assert_array_equal(image_a, image_b)
        assert truth_a == truth_b
        nose = truth_a.normalised('nose')
        if previous is not None:
            assert abs(nose[0] - previous[0]) < 0.3 and abs(nose[1] - previous[1]) < 0.3
        previous = nose


def test_unknown_scene_lists_the_known_ones():
    with pytest.raises(ValueError, match='face, thumbs'):
        make_scene('cats')
    with pytest.raises(ValueError, match='segment_frames'):
        SceneAnimator(make_scene('face'), segment_frames=0)
