"""The fingers scene: an open hand holding up 1 to 5 fingers (labels ``1`` .. ``5``).

The palm faces the camera and the arm comes from the bottom edge, as in the thumbs scene.
Where a count can be shown more than one way, the state picks one (two: index and middle,
or thumb and index); the label is the number of raised fingers. The others are folded:
short knuckles on top of the palm, the thumb across it.
"""

from dataclasses import dataclass

import cv2

from nano_vision.scenes.base import (Lighting, random_colour, random_lighting, random_skin,
                                     Scene, SceneTruth, SHIFT, subpixel)
from nano_vision.scenes.hand import draw_digit, draw_hand, hand_frame, shade

# Hand-local (units of the palm's half-size, fingers along -y): where each finger leaves
# the palm and its length when raised.
FINGERS = {'index': (-0.6, 1.15), 'middle': (-0.2, 1.3), 'ring': (0.2, 1.2),
           'pinky': (0.6, 0.95)}
# The raised digits of each count, in every way the state chooses from.
SHAPES = {
    '1': (('index',), ('thumb',)),
    '2': (('index', 'middle'), ('thumb', 'index')),
    '3': (('index', 'middle', 'ring'), ('thumb', 'index', 'middle')),
    '4': (('index', 'middle', 'ring', 'pinky'),),
    '5': (('thumb', 'index', 'middle', 'ring', 'pinky'),),
}


@dataclass(frozen=True)
class FingersState:
    """Where and how the hand is drawn; positions are fractions of the image."""

    label: str
    raised: tuple
    cx: float
    cy: float
    size: float
    tilt_deg: float
    spread_deg: float
    mirror: bool
    skin: tuple
    sleeve: tuple
    background_seed: int
    lighting: Lighting


class FingersScene(Scene):
    """A hand holding up ``1`` to ``5`` fingers."""

    name = 'fingers'
    labels = tuple(SHAPES)

    def random_state(self, rng):
        """Return a random :class:`FingersState` with a random count."""
        label = self.labels[int(rng.integers(0, len(self.labels)))]
        shapes = SHAPES[label]
        return FingersState(
            label=label, raised=shapes[int(rng.integers(0, len(shapes)))],
            cx=float(rng.uniform(0.3, 0.7)), cy=float(rng.uniform(0.5, 0.65)),
            size=float(rng.uniform(0.15, 0.2)),  # palm half-size / image height
            tilt_deg=float(rng.uniform(-20.0, 20.0)), spread_deg=float(rng.uniform(6.0, 14.0)),
            mirror=bool(rng.integers(0, 2)),
            skin=random_skin(rng), sleeve=random_colour(rng),
            background_seed=int(rng.integers(0, 2**31)),
            lighting=random_lighting(rng))

    def draw(self, canvas, state):
        """Draw the hand of ``state`` and return its label."""
        height, width = canvas.shape[:2]
        at, s = draw_hand(canvas, state, state.tilt_deg)
        crease = shade(state.skin, 0.65)
        cv2.line(canvas, subpixel(*at(-0.5, 0.35)), subpixel(*at(0.6, 0.1)), crease,
                 max(1, int(0.06 * s)), cv2.LINE_AA, SHIFT)
        side = -1.0 if state.mirror else 1.0
        for k, (finger, (lx, length)) in enumerate(FINGERS.items()):
            # Raised fingers fan out from the middle of the hand by spread_deg each.
            fan = hand_frame(*at(lx, -0.55), s,
                             state.tilt_deg + side * (k - 1.5) * state.spread_deg, state.mirror)
            if finger in state.raised:
                draw_digit(canvas, fan(0.0, 0.0), fan(0.0, -length), fan(0.0, 0.1 - length),
                           s, state.skin, width=0.5, core=0.38, nail_radius=0.12)
            else:  # folded: a knuckle
                draw_digit(canvas, fan(0.0, 0.0), fan(0.0, -0.2), None, s, state.skin,
                           width=0.5, core=0.38)
        if 'thumb' in state.raised:  # out to the side and up
            draw_digit(canvas, at(-0.7, 0.4), at(-1.45, -0.45), at(-1.39, -0.38), s,
                       state.skin, width=0.55, core=0.42, nail_radius=0.13)
        else:  # folded across the palm
            draw_digit(canvas, at(-0.75, 0.55), at(0.05, 0.05), None, s, state.skin,
                       width=0.55, core=0.42)
        return SceneTruth(self.name, state.label, width, height, ())
