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

from nano_vision.image.conversion import check_encoding, convert_encoding

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
        return convert_encoding(self._resized(image, encoding), encoding, 'rgb8')

    def _resized(self, image, encoding):
        """Return ``image`` at ``input_size`` x ``input_size``, still in ``encoding``.

        Resizing works on each channel alone, so resizing before the colour
        conversion gives the same pixels as after it, on far fewer of them.
        Shrinking averages areas (no aliasing). A frame at least twice the size
        each way is first resized linearly to the nearest whole multiple of the
        size, then averaged in whole blocks: OpenCV's area resize by a whole factor
        is several times faster than by a fraction, and the pixels stay within a
        fraction of a level of a direct area resize on camera images
        (test_speed_paths.py).
        """
        check_encoding(encoding)
        size = int(self.input_size)
        height, width = image.shape[:2]
        if (width, height) == (size, size):
            return image
        if width <= size or height <= size:
            return cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
        blocks = (width // size * size, height // size * size)
        if min(blocks) >= 2 * size and blocks != (width, height):
            image = cv2.resize(image, blocks, interpolation=cv2.INTER_LINEAR)
        return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)

    def _scale_shift(self):
        # x / 255 normalised is x * scale + shift: one multiply and one add per value
        std = np.asarray(self.std, np.float32)
        scale = 1.0 / (255.0 * std)
        shift = -np.asarray(self.mean, np.float32) / std
        return scale[:, None, None], shift[:, None, None]

    def normalise(self, rgb, out=None):
        """Return the float32 CHW array of an RGB uint8 image of any size.

        :param out: a float32 (3, H, W) array to write into (reused between
            frames on the hot path); a new array when None
        """
        return self._normalise_hwc(rgb, out)

    def _normalise_hwc(self, pixels, out, reverse=False):
        scale, shift = self._scale_shift()
        chw = (pixels[:, :, ::-1] if reverse else pixels).transpose(2, 0, 1)
        if out is None:
            out = np.empty(chw.shape, np.float32)
        np.multiply(chw, scale, out=out, casting='unsafe')
        np.add(out, shift, out=out)
        return out

    def __call__(self, image, encoding='rgb8', out=None):
        """Return the model input (float32, 3 x size x size) of a frame in ``encoding``.

        Resize, colour order and normalisation in one pass, without PIL.

        :param out: a float32 (3, size, size) array to write into, or None
        """
        resized = self._resized(image, encoding)
        if encoding == 'bgr8':
            return self._normalise_hwc(resized, out, reverse=True)
        return self._normalise_hwc(convert_encoding(resized, encoding, 'rgb8'), out)
