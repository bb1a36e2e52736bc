"""Write datasets of synthetic scenes in the course layout, with a manifest."""

import os
import uuid

import cv2
import numpy as np

from nano_vision.datasets.layout import MANIFEST, manifest_line, Sample, xy_file_name
from nano_vision.image.coords import to_normalised
from nano_vision.scenes import make_scene


def write_frame(out, manifest, encoded, labels, width, height, uid, stamp_ns=0, source=''):
    """Write one JPEG-encoded frame under each of its labels; return the samples.

    Classification labels give ``<out>/<label>/<uid>.jpg``; point labels give
    the course's ``<out>/<point>/<u>_<v>_<uid>.jpg``, all with the frame's
    ``uid`` (training reads them as one frame with several points). One
    manifest line per file goes to the open ``manifest`` stream.

    :param encoded: JPEG bytes of the frame
    :param labels: ``(category, (u, v))`` pairs, pixels of this frame, or
        ``(category, None)`` for a class label
    """
    samples = []
    for label, point in labels:
        x = y = None
        name = f'{uid}.jpg'
        if point is not None:
            u, v = round(point[0]), round(point[1])
            name = xy_file_name(u, v, uid)
            x, y = to_normalised(u, v, width, height)
        folder = os.path.join(out, label)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name)
        with open(path, 'wb') as stream:
            stream.write(encoded)
        sample = Sample(path, label, width, height, x, y, uid, stamp_ns, source)
        manifest.write(manifest_line(sample, out))
        samples.append(sample)
    return samples


def write_synthetic_dataset(scene_name, out, count, size=224, seed=0, jpeg_quality=90):
    """Render ``count`` independent frames of a scene into ``out``; return the samples.

    ``size`` is the side of square images, or ``(width, height)``: render at the
    camera's aspect ratio to train for that camera.

    Classification scenes give ``<out>/<label>/<uuid>.jpg``. Point scenes give
    the course's ``<out>/<point>/<u>_<v>_<uuid>.jpg`` for every point of the
    frame (see :func:`write_frame`).
    """
    width, height = (size, size) if isinstance(size, int) else size
    scene = make_scene(scene_name)
    rng = np.random.default_rng(seed)
    os.makedirs(out, exist_ok=True)
    samples = []
    with open(os.path.join(out, MANIFEST), 'a', encoding='utf-8') as manifest:
        for _ in range(count):
            image, truth = scene.render(scene.random_state(rng), width, height, rng)
            uid = str(uuid.UUID(bytes=rng.bytes(16), version=4))
            encoded = cv2.imencode('.jpg', cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])[1].tobytes()
            if scene.point_names:
                labels = [(p.name, (p.u, p.v)) for p in truth.points]
            else:
                labels = [(truth.label, None)]
            samples += write_frame(out, manifest, encoded, labels, width, height, uid, 0,
                                   f'synthetic:{scene_name}')
    return samples
