"""Augmentation and batch input: points follow pixels, colours change as torchvision's.

Training sees exactly the input that inference computes.
"""

import cv2
from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

torch = pytest.importorskip('torch')

from torchvision.transforms.v2 import functional as tvf  # noqa: E402

from nano_vision.image.preprocess import Preprocessing  # noqa: E402
from nano_vision.ml.augment import (Augmentation, colour_jitter, colour_transform,  # noqa: E402
                                    Geometry)
from nano_vision.ml.engine import InputMaker  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(u=st.integers(12, 52), v=st.integers(12, 52), seed=st.integers(0, 10_000))
def test_a_point_moves_with_its_pixels(u, v, seed):
    size = 64
    image = np.zeros((size, size, 3), np.uint8)
    cv2.circle(image, (u, v), 3, (255, 255, 255), -1)  # centred on pixel (u, v)
    point = np.array([[2.0 * (u + 0.5) / size - 1.0, 2.0 * (v + 0.5) / size - 1.0]], np.float32)
    geometry = Geometry(Augmentation(rotation_deg=30, scale=0.2, shift=0.15, hflip=True),
                        ['dot'])
    torch.manual_seed(seed)
    moved, moved_point, mask = geometry(image, point, np.ones(1, np.float32))
    assert moved.shape == image.shape and moved.dtype == np.uint8 and mask.tolist() == [1.0]
    ys, xs = np.nonzero(moved[:, :, 0] > 100)
    if len(xs) < 20 or xs.min() == 0 or ys.min() == 0 or xs.max() == size - 1 or \
            ys.max() == size - 1:
        return  # the dot left the image (or touches its edge): no centroid to compare
    centre = np.array([xs.mean(), ys.mean()]) + 0.5
    np.testing.assert_allclose(centre, (moved_point[0] + 1.0) * size / 2.0, atol=0.75)


def test_flips_come_half_the_time_mirror_x_and_swap_names():
    geometry = Geometry(Augmentation(rotation_deg=0, scale=0, shift=0, hflip=True),
                        ['left_eye', 'nose', 'right_eye'])
    points = np.array([[-0.5, 0.1], [0.1, 0.3], [0.4, -0.2]], np.float32)
    mask = np.array([1.0, 1.0, 0.0], np.float32)
    torch.manual_seed(0)
    flipped = 0
    for _ in range(200):
        _, moved, moved_mask = geometry(np.zeros((8, 8, 3), np.uint8), points, mask)
        if not np.array_equal(moved, points):
            # the subject's left eye is now where its right eye was, mirrored
            np.testing.assert_allclose(moved, [[-0.4, -0.2], [-0.1, 0.3], [0.5, 0.1]])
            assert moved_mask.tolist() == [0.0, 1.0, 1.0]
            flipped += 1
    assert 70 < flipped < 130


def test_colour_changes_match_torchvision_within_range():
    torch.manual_seed(1)
    images = torch.rand(4, 3, 16, 16) * 0.4 + 0.3  # nothing clips for factors near 1
    b = torch.tensor([0.9, 1.1, 1.0, 1.05])
    c = torch.tensor([1.1, 0.9, 1.0, 0.95])
    s = torch.tensor([0.8, 1.2, 1.0, 1.1])
    ours = colour_transform(images, b, c, s, torch.zeros(4))
    for i in range(4):
        theirs = tvf.adjust_brightness(images[i], float(b[i]))
        theirs = tvf.adjust_contrast(theirs, float(c[i]))
        theirs = tvf.adjust_saturation(theirs, float(s[i]))
        torch.testing.assert_close(ours[i], theirs, atol=2e-3, rtol=0)


def test_hue_turns_colour_keeps_grey_and_a_full_turn_is_nothing():
    torch.manual_seed(2)
    images = torch.rand(3, 3, 8, 8) * 0.5 + 0.25
    images[2] = images[2].mean(dim=0, keepdim=True)  # a grey image
    ones = torch.ones(3)
    turned = colour_transform(images, ones, ones, ones, torch.full((3,), 0.1))
    assert (turned[0] - images[0]).abs().max() > 0.02
    torch.testing.assert_close(turned[2], images[2], atol=1e-5, rtol=0)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    torch.testing.assert_close((turned * luma).sum(1), (images * luma).sum(1), atol=1e-5,
                               rtol=0)
    full = colour_transform(images, ones, ones, ones, ones)
    torch.testing.assert_close(full, images, atol=1e-5, rtol=0)


def test_jitter_varies_per_image_and_stays_in_range():
    torch.manual_seed(3)
    images = torch.rand(8, 3, 8, 8)
    assert colour_jitter(images, 0.0) is images
    out = colour_jitter(images.clone(), 0.5)
    assert out.min() >= 0.0 and out.max() <= 1.0
    change = (out - images).mean(dim=(1, 2, 3))
    assert change.std() > 0.01  # each image its own factors


@pytest.mark.parametrize('channels_last', [False, True])
def test_training_input_is_the_input_inference_computes(channels_last):
    rng = np.random.default_rng(4)
    preprocessing = Preprocessing(input_size=32)
    frames = [rng.integers(0, 256, (32, 32, 3), np.uint8) for _ in range(3)]
    batch = torch.from_numpy(np.stack([f.transpose(2, 0, 1) for f in frames]))
    made = InputMaker(preprocessing, torch.device('cpu'), channels_last=channels_last)(batch)
    assert made.is_contiguous(memory_format=torch.channels_last) == channels_last
    expected = np.stack([preprocessing(f, 'rgb8') for f in frames])
    np.testing.assert_allclose(made.numpy(), expected, atol=1e-5)
