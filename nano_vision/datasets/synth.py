"""Write datasets of synthetic scenes in the course layout, with a manifest."""

import uuid

import cv2
import numpy as np

from nano_vision.datasets.writer import DatasetWriter
from nano_vision.scenes import make_scene
from nano_vision.scenes.objects import labelled_windows


def write_synthetic_dataset(scene_name, out, count, size=224, seed=0, jpeg_quality=90):
    """Render ``count`` independent frames of a scene into ``out``; return the samples.

    ``size`` is the side of square images, or ``(width, height)``: render at the
    camera's aspect ratio to train for that camera.

    Classification scenes give ``<out>/<label>/<uuid>.jpg``. Point scenes give
    the course's ``<out>/<point>/<u>_<v>_<uuid>.jpg`` for every point of the
    frame (see :mod:`nano_vision.datasets.writer`; written in bulk: a killed
    run leaves the frames of the batches it finished). Detection scenes give
    windows of each frame for a sliding-window classifier: ``<out>/<label>/``
    crops of each object's box and ``<out>/background/`` crops that show none
    (:func:`~nano_vision.scenes.objects.labelled_windows`).

    :raises DatasetError: the folder or a file cannot be written
    """
    width, height = (size, size) if isinstance(size, int) else size
    scene = make_scene(scene_name)
    rng = np.random.default_rng(seed)
    samples = []
    with DatasetWriter(out, bulk=True) as writer:
        for _ in range(count):
            image, truth = scene.render(scene.random_state(rng), width, height, rng)
            if scene.detection:
                pieces = [(crop, [(label, None)])
                          for label, crop in labelled_windows(image, truth.boxes, rng)]
            elif scene.point_names:
                pieces = [(image, [(p.name, (p.u, p.v)) for p in truth.points])]
            else:
                pieces = [(image, [(truth.label, None)])]
            for pixels, labels in pieces:
                uid = str(uuid.UUID(bytes=rng.bytes(16), version=4))
                samples += writer.write_frame(_jpeg(pixels, jpeg_quality), labels,
                                              pixels.shape[1], pixels.shape[0], uid, 0,
                                              f'synthetic:{scene_name}')
    return samples


def _jpeg(image, quality):
    """Return the JPEG bytes of an RGB image."""
    return cv2.imencode('.jpg', cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
