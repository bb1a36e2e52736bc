"""Sliding-window detection without a model: grids, heat maps, detections, matching."""

import numpy as np
import pytest

from nano_vision.inference.windows import (crops, detect, Detection, heat_map, iou, match,
                                           object_classes, WindowGrid)

NAMES = ('background', 'thumbs_up', 'thumbs_down')


def test_grid_covers_the_frame_edge_to_edge():
    boxes = WindowGrid(size=0.5, stride=0.5).boxes(200, 100)
    assert boxes.shape[1] == 4
    assert set(boxes[:, 2]) == {50} and set(boxes[:, 3]) == {50}
    assert sorted(set(boxes[:, 0])) == [0, 25, 50, 75, 100, 125, 150]
    assert sorted(set(boxes[:, 1])) == [0, 25, 50]
    assert len(boxes) == 7 * 3


def test_grid_in_pixels_with_scales_and_uneven_spans():
    boxes = WindowGrid(size=40, stride=0.5, scales=(1.0, 2.0)).boxes(100, 90)
    small = boxes[boxes[:, 2] == 40]
    large = boxes[boxes[:, 2] == 80]
    assert len(small) + len(large) == len(boxes)
    # the last window ends at the frame's edge, steps no longer than the stride
    assert small[:, 0].max() == 60 and small[:, 1].max() == 50
    assert np.diff(sorted(set(small[:, 0]))).max() <= 20
    assert sorted(set(large[:, 0])) == [0, 20] and sorted(set(large[:, 1])) == [0, 10]


def test_windows_larger_than_the_frame_are_left_out():
    boxes = WindowGrid(size=0.5, stride=1.0, scales=(1.0, 3.0)).boxes(100, 100)
    assert set(boxes[:, 2]) == {50}
    with pytest.raises(ValueError, match='no window'):
        WindowGrid(size=300).boxes(100, 100)


@pytest.mark.parametrize('kwargs, message', [
    ({'size': 0}, 'size'), ({'stride': 0}, 'stride'), ({'stride': 1.5}, 'stride'),
    ({'scales': ()}, 'scales'), ({'scales': (1.0, -1.0)}, 'scales')])
def test_bad_grids_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WindowGrid(**kwargs)


def test_crops_are_the_windows_pixels():
    image = np.arange(10 * 12).reshape(10, 12).astype(np.uint8)
    (a, b) = crops(image, [(0, 0, 3, 3), (9, 7, 3, 3)])
    assert a.shape == b.shape == (3, 3)
    assert b[0, 0] == image[7, 9] and b[-1, -1] == image[9, 11]


def _windows():
    # four windows: two overlapping ones on one hand, one apart on another, one background
    boxes = np.array([(0, 0, 50, 50), (10, 0, 50, 50), (100, 0, 50, 50), (0, 50, 50, 50)])
    probabilities = np.array([[0.1, 0.8, 0.1],
                              [0.1, 0.6, 0.3],
                              [0.2, 0.1, 0.7],
                              [0.9, 0.05, 0.05]], np.float32)
    return boxes, probabilities


def test_detections_after_suppression_per_class():
    boxes, probabilities = _windows()
    found = detect(boxes, probabilities, NAMES, background=('background',),
                   score_threshold=0.5, iou_threshold=0.3)
    assert found == [Detection('thumbs_up', pytest.approx(0.8), 0, 0, 50, 50),
                     Detection('thumbs_down', pytest.approx(0.7), 100, 0, 50, 50)]


def test_thresholds_decide_what_stays():
    boxes, probabilities = _windows()
    # a loose IoU threshold keeps both overlapping thumbs_up windows (IoU 40/60 = 0.67)
    loose = detect(boxes, probabilities, NAMES, ('background',), 0.5, 0.9)
    assert [d.label for d in loose] == ['thumbs_up', 'thumbs_down', 'thumbs_up']
    strict = detect(boxes, probabilities, NAMES, ('background',), 0.75, 0.3)
    assert [(d.label, d.box) for d in strict] == [('thumbs_up', (0, 0, 50, 50))]
    # no background: the last window is a detection of its own class
    every = detect(boxes, probabilities, NAMES, (), 0.5, 0.3)
    assert ('background', (0, 50, 50, 50)) in [(d.label, d.box) for d in every]


def test_detection_input_problems_are_named():
    boxes, probabilities = _windows()
    with pytest.raises(ValueError, match='one row of probabilities per box'):
        detect(boxes[:3], probabilities, NAMES)
    with pytest.raises(ValueError, match='not among'):
        detect(boxes, probabilities, NAMES, ('sky',))
    with pytest.raises(ValueError, match='nothing to detect'):
        object_classes(('a', 'b'), ('a', 'b'))


def test_heat_map_holds_the_best_window_per_pixel():
    boxes, probabilities = _windows()
    heat = heat_map(boxes, probabilities, 160, 100, class_index=1)
    assert heat.shape == (100, 160) and heat.dtype == np.uint8
    assert heat[5, 5] == round(0.8 * 255)  # only the first window
    assert heat[5, 55] == round(0.6 * 255)  # only the second
    assert heat[5, 30] == round(0.8 * 255)  # both: the higher
    assert heat[5, 155] == 0  # no window
    assert heat[75, 25] == round(0.05 * 255)
    # no class: the best object class of each window
    objects = heat_map(boxes, probabilities, 160, 100, background_classes=(0,))
    assert objects[5, 120] == round(0.7 * 255) and objects[75, 25] == round(0.05 * 255)


def test_iou_and_matching_against_truth():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 0, 10, 10)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    truth = [('thumbs_up', (0, 0, 50, 50)), ('thumbs_down', (100, 0, 50, 50))]
    found = [Detection('thumbs_up', 0.9, 2, 2, 50, 50),
             Detection('thumbs_up', 0.8, 0, 0, 50, 50),  # the same hand twice
             Detection('thumbs_up', 0.7, 100, 0, 50, 50)]  # wrong label
    assert match(found, truth) == (1, 2, 1)
    assert match([], truth) == (0, 0, 2)
