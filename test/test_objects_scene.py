"""The objects scene: shapes where its truth says, apart, and training windows from it."""

import cv2
import numpy as np

from nano_vision.inference.windows import iou
from nano_vision.scenes.objects import BACKGROUND, labelled_windows, ObjectsScene


def test_every_shape_is_drawn_inside_its_truth_box_and_boxes_never_overlap():
    scene = ObjectsScene(noise_std=0.0)
    rng = np.random.default_rng(3)
    counts = set()
    for _ in range(20):
        state = scene.random_state(rng)
        truth = scene.boxes(state, 160, 120)
        counts.add(len(truth))
        assert 1 <= len(truth) <= 4
        image, _ = scene.render(state, 160, 120)
        plain = scene.render(state.__class__((), state.background_seed, state.lighting),
                             160, 120)[0]
        # more than a faint antialiasing shade
        changed = (np.abs(image.astype(int) - plain).max(axis=2) > 8)
        inside = np.zeros_like(changed)
        for label, (x, y, w, h) in truth:
            assert label in scene.labels
            assert 0 <= x and 0 <= y and x + w <= 160 and y + h <= 120
            assert changed[y + h // 2, x + w // 2]  # the shape's centre is drawn
            # antialiased edges blend into at most two pixels around the box
            inside[max(y - 2, 0):y + h + 2, max(x - 2, 0):x + w + 2] = True
        assert not (changed & ~inside).any()  # nothing drawn outside the boxes
        for i, (_, a) in enumerate(truth):
            assert all(iou(a, b) == 0.0 for _, b in truth[i + 1:])
    assert len(counts) > 2


def test_training_windows_are_the_objects_and_background_that_overlaps_none_much():
    scene = ObjectsScene()
    rng = np.random.default_rng(0)
    state = scene.random_state(rng)
    image, _ = scene.render(state, 320, 240, rng)
    truth = scene.boxes(state, 320, 240)
    windows = labelled_windows(image, truth, rng, background=3)
    labels = [label for label, _ in windows]
    assert labels[:len(truth)] == [label for label, _ in truth]
    assert len(truth) < labels.count(BACKGROUND) <= len(truth) + 3
    for label, crop in windows:
        assert crop.shape[0] == crop.shape[1] and crop.shape[2] == 3
        if label == BACKGROUND:  # find the crop in the frame: it overlaps no object much
            found = cv2.matchTemplate(image, crop, cv2.TM_SQDIFF)
            _, _, (x, y), _ = cv2.minMaxLoc(found)
            side = crop.shape[0]
            assert all(iou((x, y, side, side), box) < 0.25 for _, box in truth)
    # without jitter an object's window is its box's pixels
    exact = labelled_windows(image, truth, rng, jitter=0.0, background=0)
    (x, y, w, h) = truth[0][1]
    np.testing.assert_array_equal(exact[0][1], image[y:y + h, x:x + w])


def test_frames_carry_their_boxes_and_a_dataset_of_the_scene_is_its_windows(tmp_path):
    from collections import Counter
    from nano_vision.datasets.synth import write_synthetic_dataset
    from nano_vision.scenes import make_scene
    scene = make_scene('objects')
    rng = np.random.default_rng(5)
    state = scene.random_state(rng)
    _, truth = scene.render(state, 320, 240, rng)
    assert truth.boxes == tuple(scene.boxes(state, 320, 240)) and truth.boxes
    assert not truth.label and not truth.points

    samples = write_synthetic_dataset('objects', str(tmp_path), 8, (320, 240), seed=2)
    labels = Counter(sample.label for sample in samples)
    assert set(labels) <= {BACKGROUND, *scene.labels} and labels[BACKGROUND] >= 8 * 3
    assert sum(n for label, n in labels.items() if label != BACKGROUND) >= 8
    for sample in samples:  # square crops about an object's size, not whole frames
        image = cv2.imread(sample.path)
        assert image.shape[:2] == (sample.height, sample.width)
        assert sample.width == sample.height and 20 < sample.width < 120
    # the same seed, the same dataset
    again = write_synthetic_dataset('objects', str(tmp_path / 'again'), 8, (320, 240), seed=2)
    assert [(s.label, s.width) for s in again] == [(s.label, s.width) for s in samples]
