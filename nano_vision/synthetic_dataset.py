"""Write datasets of synthetic scenes in the course layout, with a manifest."""

import os
import uuid

import cv2
import numpy as np

from nano_vision.datasets import MANIFEST, manifest_line, Sample, xy_file_name
from nano_vision.synthetic import make_scene


def write_synthetic_dataset(scene_name, out, count, size=224, seed=0, jpeg_quality=90):
    """Render ``count`` independent frames of a scene into ``out``; return the samples.

    ``size`` is the side of square images, or ``(width, height)``: render at the
    camera's aspect ratio to train for that camera.

    Classification scenes give ``<out>/<label>/<uuid>.jpg``. Point scenes give
    the course's ``<out>/<point>/<u>_<v>_<uuid>.jpg`` for every point of the
    frame, all with the frame's uuid (training reads them as one frame with
    several points).
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
                labels = []
                for point in truth.points:
                    u, v = round(point.u), round(point.v)
                    labels.append((point.name, xy_file_name(u, v, uid),
                                   2.0 * u / width - 1.0, 2.0 * v / height - 1.0))
            else:
                labels = [(truth.label, f'{uid}.jpg', None, None)]
            for label, name, x, y in labels:
                folder = os.path.join(out, label)
                os.makedirs(folder, exist_ok=True)
                path = os.path.join(folder, name)
                with open(path, 'wb') as stream:
                    stream.write(encoded)
                sample = Sample(path, label, width, height, x, y, uid, 0,
                                f'synthetic:{scene_name}')
                manifest.write(manifest_line(sample, out))
                samples.append(sample)
    return samples
