"""Convert between ROS image messages and numpy arrays, without rclpy.

The functions read and fill message objects by attribute only
(``sensor_msgs/Image``: height, width, encoding, is_bigendian, step, data;
``sensor_msgs/CompressedImage``: format, data), so this module imports no ROS
package: the nodes create the messages, this module fills and reads them.

Arrays are ``uint8`` with shape ``(height, width)`` for ``mono8`` and
``(height, width, channels)`` otherwise, in the channel order the encoding
names. Nothing here loops over bytes in Python: a 640x480 frame costs one
memory copy to publish and none to read.
"""

import array

import cv2
import numpy as np

#: Channels of each supported raw encoding (all 8 bits per channel).
CHANNELS = {'mono8': 1, 'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4}

#: Encodings every function of this module accepts.
SUPPORTED_ENCODINGS = tuple(CHANNELS)

#: Compressed formats that can be encoded.
COMPRESSED_FORMATS = ('jpeg', 'png')

# cv2.cvtColor codes for every ordered pair of distinct encodings.
_CVT = {
    ('rgb8', 'bgr8'): cv2.COLOR_RGB2BGR,
    ('bgr8', 'rgb8'): cv2.COLOR_BGR2RGB,
    ('rgb8', 'mono8'): cv2.COLOR_RGB2GRAY,
    ('bgr8', 'mono8'): cv2.COLOR_BGR2GRAY,
    ('rgba8', 'mono8'): cv2.COLOR_RGBA2GRAY,
    ('bgra8', 'mono8'): cv2.COLOR_BGRA2GRAY,
    ('mono8', 'rgb8'): cv2.COLOR_GRAY2RGB,
    ('mono8', 'bgr8'): cv2.COLOR_GRAY2BGR,
    ('mono8', 'rgba8'): cv2.COLOR_GRAY2RGBA,
    ('mono8', 'bgra8'): cv2.COLOR_GRAY2BGRA,
    ('rgb8', 'rgba8'): cv2.COLOR_RGB2RGBA,
    ('rgb8', 'bgra8'): cv2.COLOR_RGB2BGRA,
    ('bgr8', 'bgra8'): cv2.COLOR_BGR2BGRA,
    ('bgr8', 'rgba8'): cv2.COLOR_BGR2RGBA,
    ('rgba8', 'rgb8'): cv2.COLOR_RGBA2RGB,
    ('rgba8', 'bgr8'): cv2.COLOR_RGBA2BGR,
    ('bgra8', 'bgr8'): cv2.COLOR_BGRA2BGR,
    ('bgra8', 'rgb8'): cv2.COLOR_BGRA2RGB,
    ('rgba8', 'bgra8'): cv2.COLOR_RGBA2BGRA,
    ('bgra8', 'rgba8'): cv2.COLOR_BGRA2RGBA,
}


class ImageConversionError(ValueError):
    """An image message or array that cannot be converted."""


class UnsupportedEncodingError(ImageConversionError):
    """The encoding or compressed format is not one this module handles."""


class ImageLayoutError(ImageConversionError):
    """Size, step or data length do not describe a valid image."""


class ImageDecodeError(ImageConversionError):
    """Compressed data that does not decode to an image."""


def check_encoding(encoding):
    """Return ``encoding`` if supported, else raise :class:`UnsupportedEncodingError`."""
    if encoding not in CHANNELS:
        raise UnsupportedEncodingError(
            f'unsupported encoding {encoding!r}; supported: {", ".join(SUPPORTED_ENCODINGS)}')
    return encoding


def convert_encoding(image, src, dst):
    """Return ``image`` converted from encoding ``src`` to ``dst``.

    Returns ``image`` itself when the encodings are equal.

    :param image: array in encoding ``src``
    :param src: encoding of ``image``
    :param dst: wanted encoding
    """
    check_encoding(src)
    check_encoding(dst)
    if src == dst:
        return image
    return cv2.cvtColor(image, _CVT[(src, dst)])


def _shape_for(encoding, height, width):
    channels = CHANNELS[encoding]
    return (height, width) if channels == 1 else (height, width, channels)


def image_msg_to_numpy(msg):
    """Return the pixels of a ``sensor_msgs/Image`` as an array, without copying.

    The array is a view of ``msg.data`` (rows may be strided when ``step`` pads
    them); copy it before changing the message.

    :param msg: a ``sensor_msgs/Image`` (or any object with the same fields)
    :raises UnsupportedEncodingError: encoding not in :data:`SUPPORTED_ENCODINGS`
    :raises ImageLayoutError: zero size, ``step`` too small, or a data length
        that is not ``step * height``
    """
    encoding = check_encoding(msg.encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageLayoutError(f'image has zero size ({width}x{height})')
    row_bytes = width * CHANNELS[encoding]
    if step < row_bytes:
        raise ImageLayoutError(
            f'step {step} is smaller than width * channels = {width} * '
            f'{CHANNELS[encoding]} = {row_bytes} bytes for {encoding}')
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size != step * height:
        raise ImageLayoutError(
            f'data has {data.size} bytes but step * height = {step} * {height} = '
            f'{step * height}')
    rows = data.reshape(height, step)
    if step != row_bytes:
        rows = rows[:, :row_bytes]
    # 8-bit encodings have no byte order, so is_bigendian changes nothing.
    return rows.reshape(_shape_for(encoding, height, width))


def check_image_array(image, encoding):
    """Raise :class:`ImageConversionError` unless ``image`` fits ``encoding``."""
    check_encoding(encoding)
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ImageConversionError(
            f'expected a uint8 numpy array, got {type(image).__name__}'
            f'{"" if not isinstance(image, np.ndarray) else " of " + str(image.dtype)}')
    channels = CHANNELS[encoding]
    ok = (image.ndim == 2 and channels == 1) or (
        image.ndim == 3 and image.shape[2] == channels)
    if not ok:
        raise ImageLayoutError(
            f'array of shape {image.shape} does not hold {encoding} '
            f'({channels} channel{"s" if channels > 1 else ""})')
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ImageLayoutError(f'image has zero size ({image.shape[1]}x{image.shape[0]})')


def to_byte_array(image):
    """Return the bytes of ``image`` as ``array.array('B')`` in one copy.

    ``array.array`` is what the generated message classes store for
    ``uint8[]``; assigning one skips their per-byte range check, which costs
    tens of milliseconds per frame on Humble.
    """
    data = array.array('B')
    data.frombytes(memoryview(np.ascontiguousarray(image)).cast('B'))
    return data


def numpy_to_image_msg(image, encoding, msg):
    """Fill ``msg`` (a ``sensor_msgs/Image``) with ``image`` and return it.

    The header is left to the caller.

    :param image: uint8 array of shape ``(h, w)`` or ``(h, w, channels)``
    :param encoding: encoding that describes ``image``'s channels
    :param msg: the message to fill
    """
    check_image_array(image, encoding)
    height, width = image.shape[:2]
    msg.height = height
    msg.width = width
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = width * CHANNELS[encoding]
    msg.data = to_byte_array(image)
    return msg


def parse_compressed_format(fmt):
    """Return the compression (``'jpeg'`` or ``'png'``) named by a format string.

    Accepts the plain names (``jpeg``, ``jpg``, ``png``) and image_transport's
    ``"<encoding>; <jpeg|png> compressed <encoding>"``.

    :raises UnsupportedEncodingError: no known compression in ``fmt``
    """
    words = fmt.replace(';', ' ').lower().split()
    for word in words:
        if word in ('jpeg', 'jpg'):
            return 'jpeg'
        if word == 'png':
            return 'png'
    raise UnsupportedEncodingError(
        f'unsupported compressed format {fmt!r}; supported: jpeg, png')


def compressed_msg_to_numpy(msg, encoding='rgb8'):
    """Decode a ``sensor_msgs/CompressedImage`` into an array of ``encoding``.

    :param msg: a ``sensor_msgs/CompressedImage`` (format, data)
    :param encoding: wanted encoding of the result
    :raises UnsupportedEncodingError: unknown format or encoding
    :raises ImageDecodeError: empty or corrupt data
    """
    check_encoding(encoding)
    parse_compressed_format(msg.format)
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size == 0:
        raise ImageDecodeError(f'compressed image ({msg.format}) has no data')
    if data[:2].tobytes() == b'\xff\xd8' and b'\xff\xd9' not in data[-64:].tobytes():
        # libjpeg decodes a cut-off file with grey rows at the bottom: refuse it.
        raise ImageDecodeError(
            f'{len(data)} bytes of JPEG data end without an end-of-image marker (truncated)')
    flags = cv2.IMREAD_GRAYSCALE if encoding == 'mono8' else cv2.IMREAD_COLOR
    decoded = cv2.imdecode(data, flags)
    if decoded is None:
        raise ImageDecodeError(
            f'{len(data)} bytes of {msg.format!r} data do not decode to an image '
            '(corrupt or truncated)')
    return convert_encoding(decoded, 'mono8' if encoding == 'mono8' else 'bgr8', encoding)


def numpy_to_compressed_msg(image, encoding, msg, fmt='jpeg', jpeg_quality=90):
    """Compress ``image`` into ``msg`` (a ``sensor_msgs/CompressedImage``).

    The format string follows image_transport's compressed transport
    (e.g. ``"rgb8; jpeg compressed bgr8"``), so its subscribers decode it.

    :param image: array in ``encoding``
    :param encoding: encoding of ``image``
    :param msg: the message to fill
    :param fmt: ``'jpeg'`` or ``'png'``
    :param jpeg_quality: 1 (smallest) to 100 (best)
    """
    check_image_array(image, encoding)
    if fmt not in COMPRESSED_FORMATS:
        raise UnsupportedEncodingError(
            f'unsupported compressed format {fmt!r}; supported: jpeg, png')
    if not 1 <= int(jpeg_quality) <= 100:
        raise ValueError(f'jpeg_quality must be in [1, 100], got {jpeg_quality}')
    mono = CHANNELS[encoding] == 1
    stored = 'mono8' if mono else 'bgr8'
    pixels = convert_encoding(image, encoding, stored)
    if fmt == 'jpeg':
        ok, buffer = cv2.imencode('.jpg', pixels, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    else:
        ok, buffer = cv2.imencode('.png', pixels)
    if not ok:  # pragma: no cover - OpenCV encodes every checked uint8 array
        raise ImageDecodeError(f'OpenCV could not encode a {image.shape} image as {fmt}')
    msg.format = f'{encoding}; {fmt} compressed {stored}'
    msg.data = to_byte_array(buffer)
    return msg
