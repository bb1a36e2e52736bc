"""What the demo does for each project: dataset, training and live settings."""

from dataclasses import dataclass, replace

from nano_vision.scenes.track import HELD_OUT_TRACK


# Marks a dataset folder as the demo's own, which the next run may replace.
DATASET_MARK = '.nano_vision_demo'


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and what to look at."""


@dataclass(frozen=True)
class DemoPlan:
    """What the demo does for one project: dataset, training and live settings.

    ``dataset_size`` and ``frame_size`` are the side of square frames, or
    ``(width, height)``.
    """

    project: str
    scene: str
    task: str
    model_node: str
    count: int
    dataset_size: int
    image_size: int
    epochs: int
    seconds: float
    frame_size: int = 224
    fps: float = 15.0
    steering: str = ''
    track: str = HELD_OUT_TRACK


# The sets of docs/training.md's reference runs (same data and seeds), trained with
# nano-vision train's defaults (batch size and learning rate from the set's size) for a fixed
# number of epochs. face_xy and thumbs: RMSE about 3 px at 112 px and accuracy 1.000.
# line_following: then more than a lap of the held-out track in 30 s (the bench's 3000
# images are not needed to drive).
# emotions: the four expressions differ only in the brows and the mouth, a few pixels of the
# frame, and learn late: with 800 images at 128 px, validation accuracy stays near chance for
# about 16 epochs, is 0.876 after 30 and 0.969 after 40 (one run of each, 2026-11-26).
# fingers: five classes told apart by fingers learn slower than thumbs' two classes told apart
# by the whole hand's direction: more, smaller images (1200 at 128 px, trained at 96 px) and
# more epochs (20), about 3 times thumbs' training work.
# objects: sliding-window detection (docs/detection.md): the classifier learns window crops of
# 300 frames at the camera's 320x240 (each object's box and background windows, about 2400
# crops of ~65 px), trained at 40 px; the detector slides it over 204 windows a frame.
PROJECTS = {
    'face_xy': DemoPlan('face_xy', 'face', 'xy', 'regressor', count=250, dataset_size=112,
                        image_size=112, epochs=26, seconds=20.0, steering='motors_off'),
    'thumbs': DemoPlan('thumbs', 'thumbs', 'classification', 'classifier', count=400,
                       dataset_size=224, image_size=112, epochs=15, seconds=20.0),
    'emotions': DemoPlan('emotions', 'emotions', 'classification', 'classifier', count=800,
                         dataset_size=224, image_size=128, epochs=40, seconds=20.0),
    'fingers': DemoPlan('fingers', 'fingers', 'classification', 'classifier', count=1200,
                        dataset_size=128, image_size=96, epochs=20, seconds=20.0),
    'objects': DemoPlan('objects', 'objects', 'classification', 'detector', count=300,
                        dataset_size=(320, 240), image_size=40, epochs=15, seconds=20.0,
                        frame_size=(320, 240)),
    'line_following': DemoPlan('line_following', 'line_following', 'xy', 'regressor',
                               count=1200, dataset_size=128, image_size=96, epochs=10,
                               seconds=30.0, steering='driving'),
}


# --quick: every step and file, in seconds (the model is not expected to be good).
QUICK = {'count': 24, 'dataset_size': 64, 'image_size': 64, 'epochs': 1, 'seconds': 5.0}


def size_text(size):
    """Return a plan's size as text: ``224`` or ``320x240``."""
    return str(size) if isinstance(size, int) else 'x'.join(map(str, size))


def frame_dimensions(size):
    """Return ``(width, height)`` of a plan's size."""
    return (size, size) if isinstance(size, int) else tuple(size)


def make_plan(project, quick=False, seconds=None):
    """Return the :class:`DemoPlan` of ``project``, shrunk by ``quick``, live for ``seconds``.

    :raises ValueError: an unknown project or a bad number of seconds
    """
    try:
        plan = PROJECTS[project]
    except KeyError:
        raise ValueError(f'unknown project {project!r}; available: '
                         f'{", ".join(PROJECTS)}') from None
    if quick:
        plan = replace(plan, **QUICK)
    if seconds is not None:
        if not seconds > 0:
            raise ValueError(f'seconds must be > 0, got {seconds}')
        plan = replace(plan, seconds=float(seconds))
    return plan
