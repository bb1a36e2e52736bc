"""Draw predictions on frames (labels with score bars, keypoints, boxes), in place, with OpenCV."""

import zlib

import cv2
import numpy as np

from nano_vision.image.coords import to_pixels

# Distinct colours (RGB) for keypoints, in order.
PALETTE = ((255, 64, 64), (64, 200, 64), (64, 128, 255), (255, 200, 0), (200, 64, 255),
           (0, 220, 220), (255, 128, 0), (128, 128, 128))


def _scale(image):
    return max(0.4, min(image.shape[0], image.shape[1]) / 480.0)


def draw_classification(image, names, probabilities, label, confidence):
    """Draw the label and one score bar per class on an RGB (or BGR) image."""
    scale = _scale(image)
    thickness = max(1, int(round(2 * scale)))
    row = int(22 * scale)
    width = int(160 * scale)
    left = int(8 * scale)
    top = int(8 * scale)
    cv2.rectangle(image, (0, 0), (left * 2 + width + int(140 * scale),
                                  top + row * (len(names) + 1) + 4), (0, 0, 0), -1)
    cv2.putText(image, f'{label} {confidence:.2f}', (left, top + int(16 * scale)),
                cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (255, 255, 255), thickness, cv2.LINE_AA)
    for i, (name, p) in enumerate(zip(names, probabilities)):
        y = top + row * (i + 1)
        colour = (64, 200, 64) if name == label else (200, 200, 200)
        cv2.rectangle(image, (left, y + 4), (left + int(width * float(p)), y + row - 4),
                      colour, -1)
        cv2.rectangle(image, (left, y + 4), (left + width, y + row - 4), (200, 200, 200), 1)
        cv2.putText(image, f'{name} {float(p):.2f}', (left * 2 + width, y + row - 6),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale, (255, 255, 255),
                    max(1, thickness - 1), cv2.LINE_AA)
    return image


def draw_keypoints(image, points):
    """Draw named normalised points ``[(name, x, y), ...]`` as marked circles."""
    height, width = image.shape[:2]
    scale = _scale(image)
    for i, (name, x, y) in enumerate(points):
        u, v = to_pixels(x, y, width, height)
        centre = (int(round(u)), int(round(v)))
        colour = PALETTE[i % len(PALETTE)]
        cv2.circle(image, centre, int(8 * scale), colour, max(1, int(2 * scale)), cv2.LINE_AA)
        cv2.circle(image, centre, max(1, int(2 * scale)), colour, -1, cv2.LINE_AA)
        cv2.putText(image, name, (centre[0] + int(10 * scale), centre[1] - int(6 * scale)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale, colour, max(1, int(scale)),
                    cv2.LINE_AA)
    return image


def label_colour(label):
    """Return the palette colour of a class name: the same in every frame and every run."""
    return PALETTE[zlib.crc32(label.encode('utf-8')) % len(PALETTE)]


def draw_heatmap(image, heat, opacity=0.6):
    """Blend a mono8 heat map (0-255) over an RGB image in place, as colours from blue to red.

    Each pixel's colour weighs ``opacity`` times its heat, so where the map is cold
    the image stays as it was. A map of another size is stretched to the image's.
    """
    height, width = image.shape[:2]
    heat = np.asarray(heat, np.uint8).reshape(heat.shape[0], heat.shape[1])
    if heat.shape != (height, width):
        heat = cv2.resize(heat, (width, height), interpolation=cv2.INTER_NEAREST)
    colours = cv2.cvtColor(cv2.applyColorMap(heat, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    weight = heat.astype(np.float32)[..., None] * (opacity / 255.0)
    blended = image.astype(np.float32) * (1.0 - weight) + colours.astype(np.float32) * weight
    image[...] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return image


def draw_detections(image, detections):
    """Draw boxes with their label and score: ``[(label, score, x, y, width, height), ...]``."""
    scale = _scale(image)
    thickness = max(1, int(round(2 * scale)))
    for label, score, x, y, w, h in detections:
        colour = label_colour(label)
        # axis-aligned: plain lines are exact, antialiasing would only blur them
        cv2.rectangle(image, (int(x), int(y)), (int(x + w) - 1, int(y + h) - 1), colour,
                      thickness, cv2.LINE_8)
        text = f'{label} {float(score):.2f}'
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale,
                                         max(1, thickness - 1))
        top = max(int(y) - th - base, 0)
        cv2.rectangle(image, (int(x), top), (int(x) + tw, top + th + base), colour, -1)
        cv2.putText(image, text, (int(x), top + th), cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale,
                    (0, 0, 0), max(1, thickness - 1), cv2.LINE_AA)
    return image
