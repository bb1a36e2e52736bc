"""Training augmentation: geometry per image (OpenCV), colour per batch.

Geometry (horizontal flip, rotation, zoom, shift) moves the labelled points
with the pixels, so it runs per image, where the points are known: one affine
matrix for both, OpenCV's ``warpAffine`` for the pixels. Colour jitter needs no labels,
so it runs on the whole batch at once, just before normalisation: the
brightness, contrast, saturation and hue of each image are one 3x3 matrix and
one offset, a single pass over the batch instead of torchvision's per-image hue
conversion (0.57 of the 1.2 ms that loading one 112 px image took).
Random numbers come from torch's global generator, so ``torch.manual_seed``
repeats a run and DataLoader workers draw different numbers.
"""

from dataclasses import dataclass
import math
import re

import cv2
import numpy as np
import torch

_SIDE = re.compile(r'(left|right)', re.IGNORECASE)
_SWAP = {'left': 'right', 'right': 'left', 'Left': 'Right', 'Right': 'Left',
         'LEFT': 'RIGHT', 'RIGHT': 'LEFT'}
# Luma weights (ITU-R BT.601): grey for contrast and saturation, the Y of YIQ for hue.
_LUMA = (0.299, 0.587, 0.114)
# RGB -> YIQ; a hue shift is a rotation of the (I, Q) chroma plane that keeps Y.
_YIQ = np.array([_LUMA, (0.596, -0.274, -0.322), (0.211, -0.523, 0.312)], np.float64)


def mirrored_name(name):
    """Return ``name`` with left and right exchanged (``left_eye`` -> ``right_eye``)."""
    return _SIDE.sub(lambda m: _SWAP[m.group(0)], name)


def flip_permutation(names):
    """Return, for each name, the index of its mirror image (itself when it has none)."""
    index = {name: i for i, name in enumerate(names)}
    return [index.get(mirrored_name(name), i) for i, name in enumerate(names)]


@dataclass(frozen=True)
class Augmentation:
    """Random changes applied to training images (and their points)."""

    jitter: float = 0.3        # brightness, contrast, saturation (hue: a sixth of it)
    rotation_deg: float = 10.0
    scale: float = 0.1         # zoom in or out by up to this fraction
    shift: float = 0.1         # move by up to this fraction of the size
    hflip: bool = True

    @property
    def moves_pixels(self):
        """Return True when the geometry of an image can change."""
        return bool(self.rotation_deg or self.scale or self.shift or self.hflip)


class Geometry:
    """Random geometry of one image and its points: a horizontal flip, then an affine.

    The affine (rotation, zoom and shift about the centre, drawn as torchvision's
    ``RandomAffine`` draws them) is one 2x3 matrix: OpenCV's ``warpAffine`` moves the
    pixels (nearest neighbour, torchvision's default; black outside), the same matrix
    moves the points. A flip also swaps the names of mirrored points (the subject's left
    eye is where its right eye was). Per 112 px image this is several times cheaper than
    torchvision's ``RandomAffine`` on ``KeyPoints`` (``bench/training.py --ablation``).
    """

    def __init__(self, augmentation, names):
        """Prepare the changes of ``augmentation`` for points named ``names``."""
        a = augmentation
        self.hflip = a.hflip
        self.flip = flip_permutation(names)
        self.rotation_deg, self.scale, self.shift = a.rotation_deg, a.scale, a.shift
        self.moves = bool(a.rotation_deg or a.scale or a.shift)

    def matrix(self, size):
        """Return a random 2x3 affine matrix for a square image of ``size`` pixels.

        It maps pixel indices (centre of the first pixel at 0) of the source to
        those of the result: a rotation by up to ``rotation_deg`` and a zoom by up
        to ``scale`` about the image's centre, then a shift by up to ``shift`` of
        the size, in whole pixels.
        """
        draws = torch.rand(4, dtype=torch.float64).tolist()
        angle = (2.0 * draws[0] - 1.0) * self.rotation_deg
        zoom = 1.0 + (2.0 * draws[1] - 1.0) * self.scale
        limit = self.shift * size
        shift = [round((2.0 * d - 1.0) * limit) for d in draws[2:]]
        centre = (size - 1) / 2.0
        matrix = cv2.getRotationMatrix2D((centre, centre), angle, zoom)
        matrix[:, 2] += shift
        return matrix

    def __call__(self, image, points, mask):
        """Return ``(image, points, mask)`` changed: uint8 (H, W, 3), normalised (K, 2), (K,)."""
        size = image.shape[0]
        if self.hflip and torch.rand(()).item() < 0.5:
            image = image[:, ::-1]
            points = points[self.flip] * np.array([-1.0, 1.0], np.float32)
            mask = mask[self.flip]
        image = np.ascontiguousarray(image)
        if not self.moves:
            return image, points, mask
        matrix = self.matrix(size)
        image = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_NEAREST,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        # normalised points -> pixel indices -> moved -> normalised
        indices = (points.astype(np.float64) + 1.0) * (size / 2.0) - 0.5
        moved = indices @ matrix[:, :2].T + matrix[:, 2]
        return image, ((moved + 0.5) * (2.0 / size) - 1.0).astype(np.float32), mask


def colour_jitter(images, strength):
    """Jitter brightness, contrast, saturation (each by up to ``strength``) and hue per image.

    :param images: float (B, 3, H, W) RGB in [0, 1]
    :param strength: 0 changes nothing; hue turns by up to ``strength / 6`` of a full turn
    :return: the jittered images, clipped to [0, 1]
    """
    if not strength:
        return images
    count = images.shape[0]

    def uniform(limit):
        return (torch.rand(count, dtype=torch.float64) * 2.0 - 1.0) * limit

    return colour_transform(images, 1.0 + uniform(strength), 1.0 + uniform(strength),
                            1.0 + uniform(strength), uniform(strength / 6.0))


def colour_transform(images, brightness, contrast, saturation, hue):
    """Change each image's colours by its factors, as one 3x3 matrix and offset per image.

    In torchvision's order and sense: ``brightness`` scales, ``contrast`` blends
    with the image's mean grey, ``saturation`` blends each pixel with its grey
    (1 keeps each image as it is); ``hue`` turns the chroma plane of YIQ by that
    fraction of a full turn (grey stays grey). Clipped to [0, 1] once, at the end.

    :param images: float (B, 3, H, W) RGB in [0, 1]
    :param brightness: (B,) factors, likewise ``contrast``, ``saturation`` and ``hue``
    """
    dtype, device = images.dtype, images.device
    brightness, contrast, saturation, hue = (torch.as_tensor(v, dtype=torch.float64)
                                             for v in (brightness, contrast, saturation, hue))
    count = images.shape[0]
    luma = torch.tensor(_LUMA, dtype=torch.float64)
    grey = torch.outer(torch.ones(3, dtype=torch.float64), luma)
    saturate = saturation[:, None, None] * torch.eye(3, dtype=torch.float64) + \
        (1.0 - saturation)[:, None, None] * grey
    turn = hue * 2.0 * math.pi
    rotate = torch.zeros(count, 3, 3, dtype=torch.float64)
    rotate[:, 0, 0] = 1.0
    rotate[:, 1, 1] = rotate[:, 2, 2] = turn.cos()
    rotate[:, 1, 2], rotate[:, 2, 1] = -turn.sin(), turn.sin()
    yiq = torch.from_numpy(_YIQ)
    matrices = (contrast * brightness)[:, None, None] * (
        torch.linalg.inv(yiq) @ rotate @ yiq @ saturate)
    # both matrices keep grey as it is, so contrast's blend towards the (brightened) mean
    # grey is the same offset in every channel
    mean_grey = torch.einsum('c,bc->b', luma.to(dtype).to(device),
                             images.mean(dim=(2, 3))).cpu().double()
    offset = (1.0 - contrast) * brightness * mean_grey
    out = torch.einsum('bij,bjhw->bihw', matrices.to(dtype).to(device), images)
    out += offset.to(dtype).to(device)[:, None, None, None]
    return out.clamp_(0.0, 1.0)
