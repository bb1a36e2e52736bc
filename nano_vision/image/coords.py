"""Pixel and normalised image coordinates (see nano_vision_msgs/Keypoint.msg).

Normalised coordinates put the image centre at (0, 0) and the edges at -1 and
+1; x grows to the right and y downwards, as in the Jetson Nano course:
``x = 2 * u / width - 1``. Pixel coordinates ``(u, v)`` are measured from the
top-left corner of the top-left pixel, so the centre of pixel ``(i, j)`` is
``(i + 0.5, j + 0.5)``.
"""


def to_normalised(u, v, width, height):
    """Return ``(x, y)`` in [-1, 1] for pixel position ``(u, v)``."""
    return 2.0 * u / width - 1.0, 2.0 * v / height - 1.0


def to_pixels(x, y, width, height):
    """Return pixel position ``(u, v)`` for normalised ``(x, y)``."""
    return (x + 1.0) * 0.5 * width, (y + 1.0) * 0.5 * height
