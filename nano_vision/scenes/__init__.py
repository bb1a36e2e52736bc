"""Synthetic scenes with ground truth, for running and testing without a camera.

``face``
    A cartoon face with the course's points ``nose``, ``left_eye`` and ``right_eye``
    (face.py).
``thumbs``
    A fist with its thumb up or down (thumbs.py).
``emotions``
    The face scene's face showing ``none``, ``happy``, ``sad`` or ``angry`` (emotions.py).
``fingers``
    A hand holding up 1 to 5 fingers (fingers.py).
``objects``
    One to four circles, squares and triangles at known boxes, for sliding-window
    detection (objects.py); its datasets are windows: each object's box and
    ``background`` windows.
``line_following``
    A small robot's forward camera over a floor with a tape line on it, with the
    point ``target`` on the line ahead (JetBot road following); the simulator that
    drives it lives beside it (line_following.py). Datasets show the training tracks only.

The shared parts (states, truth, lighting, :class:`~nano_vision.scenes.base.SceneAnimator`)
are in base.py; the hand and arm of thumbs and fingers in hand.py; the tracks in track.py.
"""

from nano_vision.scenes.emotions import EmotionsScene
from nano_vision.scenes.face import FaceScene
from nano_vision.scenes.fingers import FingersScene
from nano_vision.scenes.line_following import LineFollowingScene
from nano_vision.scenes.objects import ObjectsScene
from nano_vision.scenes.thumbs import ThumbsScene

#: Scene name -> class of every synthetic scene.
SCENES = {FaceScene.name: FaceScene, ThumbsScene.name: ThumbsScene,
          LineFollowingScene.name: LineFollowingScene,
          EmotionsScene.name: EmotionsScene, FingersScene.name: FingersScene,
          ObjectsScene.name: ObjectsScene}


def make_scene(name, **kwargs):
    """Return a new scene called ``name`` (one of :data:`SCENES`)."""
    try:
        return SCENES[name](**kwargs)
    except KeyError:
        raise ValueError(
            f'unknown synthetic scene {name!r}; available: {", ".join(SCENES)}') from None
