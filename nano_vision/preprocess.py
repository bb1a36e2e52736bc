"""The one image preprocessing of nano_vision, shared by training, evaluation and the nodes.

Models see **RGB** images, resized to ``input_size`` x ``input_size`` (the
course stretches the frame to a square, whatever its aspect), scaled to
[0, 1] and normalised with ``mean`` and ``std`` (ImageNet's by default). The
checkpoint stores these settings, so a model file describes its own input.
Frames in other encodings (``bgr8`` from OpenCV, ``mono8``) are converted to
RGB first: the colour order cannot silently differ between training and
inference.
"""

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from nano_vision.image_conversion import convert_encoding

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
COLOR_ORDER = 'rgb'


@dataclass(frozen=True)
class Preprocessing:
    """How a frame becomes a model input."""

    input_size: int = 224
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    color_order: str = COLOR_ORDER

    def __post_init__(self):
        """Check the settings."""
        if self.color_order != COLOR_ORDER:
            raise ValueError(f'color_order must be {COLOR_ORDER!r}, got {self.color_order!r}')
        if not 8 <= int(self.input_size) <= 4096:
            raise ValueError(f'input_size must be in [8, 4096], got {self.input_size}')
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f'mean and std need 3 values, std > 0: {self.mean}, {self.std}')

    def to_dict(self):
        """Return the settings as plain types (for checkpoints and ONNX metadata)."""
        values = asdict(self)
        values['mean'] = [float(v) for v in self.mean]
        values['std'] = [float(v) for v in self.std]
        return values

    @classmethod
    def from_dict(cls, values):
        """Return the preprocessing stored by :meth:`to_dict`."""
        return cls(input_size=int(values['input_size']), mean=tuple(values['mean']),
                   std=tuple(values['std']), color_order=values['color_order'])

    def resize_rgb(self, image, encoding='rgb8'):
        """Return ``image`` as RGB uint8 at ``input_size`` x ``input_size``."""
        rgb = convert_encoding(image, encoding, 'rgb8')
        size = int(self.input_size)
        height, width = rgb.shape[:2]
        if (width, height) != (size, size):
            shrink = width > size and height > size
            rgb = cv2.resize(rgb, (size, size),
                             interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return rgb

    def normalise(self, rgb):
        """Return the float32 CHW array of an RGB uint8 image of any size."""
        scale = 1.0 / (255.0 * np.asarray(self.std, dtype=np.float32))
        shift = -np.asarray(self.mean, dtype=np.float32) / np.asarray(self.std, np.float32)
        chw = rgb.transpose(2, 0, 1).astype(np.float32)
        chw *= scale[:, None, None]
        chw += shift[:, None, None]
        return chw

    def __call__(self, image, encoding='rgb8'):
        """Return the model input (float32, 3 x size x size) of a frame in ``encoding``."""
        return self.normalise(self.resize_rgb(image, encoding))
