"""torch Datasets over :mod:`nano_vision.datasets.layout` samples, with label-aware augmentation.

Items are uint8 images; :class:`nano_vision.ml.engine.InputMaker` normalises whole
batches on the model's device (a quarter of the bytes to collate and move).
"""

import cv2
import numpy as np
import torch

from nano_vision.datasets.layout import DatasetError, XY
from nano_vision.ml.augment import Geometry
from nano_vision.ml.engine import autocast


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
    """Images and targets of a list of samples, resized as the checkpoint says.

    Items are ``(image, target)``: ``image`` is uint8 (3, S, S) RGB; for
    classification ``target`` is the class index; for XY it is ``(points, mask,
    size)``: (K, 2) normalised points, a (K,) mask of the labelled keypoints and
    the source image's (width, height). XY samples of the same frame (same group,
    see :func:`merge_frames`) form one item. Colour jitter is left to the batch
    (:func:`nano_vision.ml.augment.colour_jitter`); geometry happens here.
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
        moves = augmentation is not None and augmentation.moves_pixels
        self._geometry = Geometry(augmentation, self.names) if moves else None
        self._cache = {} if cache else None

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
        """Return ``(uint8 image tensor, target)`` of item ``i``, augmented when training."""
        sample = self.items[i][0]
        image = self._resized(i)
        k = len(self.names)
        points = np.zeros((k, 2), np.float32)
        mask = np.zeros(k, np.float32)
        if self.task == XY:
            for labelled in self.items[i]:
                points[self.index[labelled.label]] = (labelled.x, labelled.y)
                mask[self.index[labelled.label]] = 1.0
        if self._geometry is not None:
            image, points, mask = self._geometry(image, points, mask)
        tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
        if self.task == XY:
            return tensor, (torch.from_numpy(points), torch.from_numpy(mask),
                            torch.tensor([sample.width, sample.height], dtype=torch.float32))
        return tensor, self.index[sample.label]


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
    def compute(cls, backbone, dataset, make_input, batch_size=32, precision='fp32'):
        """Run ``backbone`` (eval mode) over ``dataset`` once and keep what comes out.

        :param make_input: the :class:`~nano_vision.ml.engine.InputMaker` of the model
        """
        backbone.eval()
        features, targets = [], []
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size)
        for images, target in loader:
            with autocast(make_input.device, precision):
                features.append(backbone(make_input(images)).float())
            if isinstance(target, (tuple, list)):
                targets.extend(zip(*target))
            else:
                targets.extend(target)
        width = features[0].shape[1] if features else 0
        return cls(torch.cat(features) if features else torch.zeros(0, width), targets)
