"""torch Datasets over :mod:`nano_vision.datasets` samples, with label-aware augmentation."""

from dataclasses import dataclass
import re

import cv2
import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from nano_vision.datasets import DatasetError, XY

_SIDE = re.compile(r'(left|right)', re.IGNORECASE)
_SWAP = {'left': 'right', 'right': 'left', 'Left': 'Right', 'Right': 'Left',
         'LEFT': 'RIGHT', 'RIGHT': 'LEFT'}


def mirrored_name(name):
    """Return ``name`` with left and right exchanged (``left_eye`` -> ``right_eye``)."""
    return _SIDE.sub(lambda m: _SWAP[m.group(0)], name)


def flip_permutation(names):
    """Return, for each name, the index of its mirror image (itself when it has none)."""
    index = {name: i for i, name in enumerate(names)}
    return [index.get(mirrored_name(name), i) for i, name in enumerate(names)]


def flip_changes_meaning(task, names):
    """Return True when a horizontal flip would change a classification label."""
    return task != XY and any(_SIDE.search(name) for name in names)


@dataclass(frozen=True)
class Augmentation:
    """Random changes applied to training images (and their points)."""

    jitter: float = 0.3        # brightness, contrast, saturation (hue: a sixth of it)
    rotation_deg: float = 10.0
    scale: float = 0.1         # zoom in or out by up to this fraction
    shift: float = 0.1         # move by up to this fraction of the size
    hflip: bool = True


def read_rgb(path):
    """Return the RGB uint8 pixels of an image file, or raise DatasetError."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise DatasetError(f'cannot read image {path}')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def merge_frames(samples):
    """Group XY samples of one captured frame (same group and size) into one item.

    A frame labelled with three points becomes one training example with three
    targets instead of three examples with one each: the same labels for a
    third of the compute. Returns a list of lists of samples.
    """
    items = {}
    for sample in samples:
        key = (sample.group, sample.width, sample.height) if sample.group else id(sample)
        items.setdefault(key, []).append(sample)
    return list(items.values())


class SampleDataset(torch.utils.data.Dataset):
    """Images and targets of a list of samples, preprocessed as the checkpoint says.

    Items are ``(image, target)``: for classification ``target`` is the class
    index; for XY it is ``(points, mask, size)``: (K, 2) normalised points,
    a (K,) mask of the labelled keypoints and the source image's (width, height).
    XY samples of the same frame (same group, see :func:`merge_frames`) form one item.
    """

    def __init__(self, samples, names, task, preprocessing, augmentation=None, cache=True):
        """Prepare ``samples`` (nothing is read until asked; resized images are cached).

        Augmentation draws from torch's global generator: seed it for repeatable runs.
        """
        self.names = list(names)
        self.index = {name: i for i, name in enumerate(names)}
        self.task = task
        self.items = merge_frames(samples) if task == XY else [[s] for s in samples]
        self.preprocessing = preprocessing
        self.augmentation = augmentation
        self._flip = flip_permutation(self.names)
        self._cache = {} if cache else None
        self._transform = None
        if augmentation is not None:
            a = augmentation
            steps = []
            if a.rotation_deg or a.scale or a.shift:
                steps.append(v2.RandomAffine(degrees=a.rotation_deg,
                                             translate=(a.shift, a.shift),
                                             scale=(1.0 - a.scale, 1.0 + a.scale)))
            if a.jitter:
                steps.append(v2.ColorJitter(a.jitter, a.jitter, a.jitter, a.jitter / 6))
            self._transform = v2.Compose(steps) if steps else None

    def __len__(self):
        """Return the number of items (frames)."""
        return len(self.items)

    def _resized(self, i):
        image = None if self._cache is None else self._cache.get(i)
        if image is None:
            image = self.preprocessing.resize_rgb(read_rgb(self.items[i][0].path))
            if self._cache is not None:
                self._cache[i] = image
        return image

    def __getitem__(self, i):
        """Return ``(input tensor, target)`` of item ``i``, augmented when training."""
        sample = self.items[i][0]
        image = self._resized(i)
        size = image.shape[0]
        k = len(self.names)
        points = np.zeros((k, 2), np.float32)
        mask = np.zeros(k, np.float32)
        label = self.index[sample.label]
        if self.task == XY:
            for labelled in self.items[i]:
                points[self.index[labelled.label]] = (labelled.x, labelled.y)
                mask[self.index[labelled.label]] = 1.0
        if self.augmentation is not None:
            image, points, mask = self._augment(image, points, mask, size)
        tensor = torch.from_numpy(self.preprocessing.normalise(image))
        if self.task == XY:
            return tensor, (torch.from_numpy(points), torch.from_numpy(mask),
                            torch.tensor([sample.width, sample.height], dtype=torch.float32))
        return tensor, label

    def _augment(self, image, points, mask, size):
        if self.augmentation.hflip and torch.rand(1).item() < 0.5:
            image = image[:, ::-1]
            points = points[self._flip] * np.array([-1.0, 1.0], np.float32)
            mask = mask[self._flip]
        if self._transform is None:
            return np.ascontiguousarray(image), points, mask
        chw = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1))
        pixels = (points + 1.0) * 0.5 * size
        keypoints = tv_tensors.KeyPoints(torch.from_numpy(pixels), canvas_size=(size, size))
        chw, keypoints = self._transform(chw, keypoints)
        points = (keypoints.numpy().astype(np.float32) / size) * 2.0 - 1.0
        return chw.permute(1, 2, 0).numpy(), points, mask


class FeatureDataset(torch.utils.data.Dataset):
    """Backbone outputs computed once, with the targets of their items.

    Training the last layer of a frozen backbone needs the backbone's output
    for each image; computed once, every later epoch is a few small matrix
    products. The features come from the images as validation sees them (no
    augmentation): the price of computing them once.
    """

    def __init__(self, features, targets):
        """Hold ``features`` (N, F) and the ``targets`` of the same N items."""
        self.features = features
        self.targets = targets

    def __len__(self):
        """Return the number of items."""
        return len(self.features)

    def __getitem__(self, i):
        """Return ``(feature vector, target)`` of item ``i``."""
        return self.features[i], self.targets[i]

    @classmethod
    @torch.no_grad()
    def compute(cls, backbone, dataset, device, batch_size=32):
        """Run ``backbone`` (eval mode) over ``dataset`` once and keep what comes out."""
        backbone.eval()
        features, targets = [], []
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size)
        for images, target in loader:
            features.append(backbone(images.to(device)).float())
            if isinstance(target, (tuple, list)):
                targets.extend(zip(*target))
            else:
                targets.extend(target)
        width = features[0].shape[1] if features else 0
        return cls(torch.cat(features) if features else torch.zeros(0, width), targets)
