"""Camera calibration files (camera_calibration_parsers YAML) and CameraInfo fields.

The YAML is the one ``cameracalibrator`` writes (``image_width``,
``camera_matrix``, ``distortion_model``, ...). Without a file the camera is
reported uncalibrated: ``K``, ``R`` and ``P`` all zero, as CameraInfo.msg
defines.
"""

from dataclasses import dataclass

import yaml


@dataclass(frozen=True)
class Calibration:
    """Intrinsics of one camera at the size it was calibrated at."""

    width: int
    height: int
    k: tuple
    d: tuple
    r: tuple
    p: tuple
    distortion_model: str = 'plumb_bob'

    def scaled(self, width, height):
        """Return the calibration of the same camera resized to ``width`` x ``height``."""
        if (width, height) == (self.width, self.height):
            return self
        sx, sy = width / self.width, height / self.height
        k = list(self.k)
        k[0] *= sx
        k[2] *= sx
        k[4] *= sy
        k[5] *= sy
        p = list(self.p)
        p[0] *= sx
        p[2] *= sx
        p[3] *= sx
        p[5] *= sy
        p[6] *= sy
        return Calibration(width, height, tuple(k), self.d, self.r, tuple(p),
                           self.distortion_model)


def _matrix(doc, key, size, path):
    try:
        data = [float(v) for v in doc[key]['data']]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f'{path}: {key}.data is missing or not numbers ({exc})') from None
    if size and len(data) != size:
        raise ValueError(f'{path}: {key}.data has {len(data)} values, expected {size}')
    return tuple(data)


def load_calibration(path):
    """Read a camera_calibration_parsers YAML file.

    :raises ValueError: unreadable file or missing fields (the message names them)
    """
    try:
        with open(path, encoding='utf-8') as stream:
            doc = yaml.safe_load(stream)
    except OSError as exc:
        raise ValueError(f'cannot read calibration file {path}: {exc.strerror}') from None
    except yaml.YAMLError as exc:
        raise ValueError(f'calibration file {path} is not valid YAML: {exc}') from None
    if not isinstance(doc, dict):
        raise ValueError(f'calibration file {path} does not hold a mapping')
    try:
        width, height = int(doc['image_width']), int(doc['image_height'])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f'{path}: image_width and image_height are required') from None
    return Calibration(
        width, height,
        k=_matrix(doc, 'camera_matrix', 9, path),
        d=_matrix(doc, 'distortion_coefficients', 0, path),
        r=_matrix(doc, 'rectification_matrix', 9, path),
        p=_matrix(doc, 'projection_matrix', 12, path),
        distortion_model=str(doc.get('distortion_model', 'plumb_bob')))


def fill_camera_info(msg, width, height, calibration=None):
    """Fill the size and intrinsics of ``msg`` (a ``sensor_msgs/CameraInfo``)."""
    msg.width = width
    msg.height = height
    if calibration is None:
        return msg
    cal = calibration.scaled(width, height)
    msg.distortion_model = cal.distortion_model
    msg.d = list(cal.d)
    msg.k = list(cal.k)
    msg.r = list(cal.r)
    msg.p = list(cal.p)
    return msg
