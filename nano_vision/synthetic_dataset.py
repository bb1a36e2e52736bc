"""Write datasets of synthetic scenes in the course layout, with a manifest."""

import os
import uuid

import cv2
import numpy as np

from nano_vision.datasets import MANIFEST, manifest_line, Sample, xy_file_name
from nano_vision.synthetic import make_scene


def write_synthetic_dataset(scene_name, out, count, size=224, seed=0, jpeg_quality=90):
    """Render ``count`` independent frames of a scene into ``out``; return the samples.

    Classification scenes give ``<out>/<label>/<uuid>.jpg``. Point scenes give
    the course's ``<out>/<point>/<u>_<v>_<uuid>.jpg``, one point per frame, its
    category drawn at random, so every frame teaches one point as a click
    does in the course.
    """
    scene = make_scene(scene_name)
    rng = np.random.default_rng(seed)
    os.makedirs(out, exist_ok=True)
    samples = []
    with open(os.path.join(out, MANIFEST), 'a', encoding='utf-8') as manifest:
        for _ in range(count):
            image, truth = scene.render(scene.random_state(rng), size, size, rng)
            uid = str(uuid.UUID(bytes=rng.bytes(16), version=4))
            if scene.point_names:
                point = truth.points[int(rng.integers(0, len(truth.points)))]
                label, name = point.name, xy_file_name(point.u, point.v, uid)
                u, v = round(point.u), round(point.v)
                x, y = 2.0 * u / size - 1.0, 2.0 * v / size - 1.0
            else:
                label, name, x, y = truth.label, f'{uid}.jpg', None, None
            folder = os.path.join(out, label)
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, name)
            cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
            sample = Sample(path, label, size, size, x, y, uid, 0, f'synthetic:{scene_name}')
            manifest.write(manifest_line(sample, out))
            samples.append(sample)
    return samples
