"""sensor_msgs/Image and CompressedImage <-> numpy, with every bad input."""

import array

import cv2
import numpy as np
import pytest

from nano_vision.image.conversion import (CHANNELS, check_image_array, compressed_msg_to_numpy,
                                          convert_encoding, image_msg_to_numpy,
                                          ImageConversionError, ImageDecodeError,
                                          ImageLayoutError, numpy_to_compressed_msg,
                                          numpy_to_image_msg, parse_compressed_format,
                                          SUPPORTED_ENCODINGS, UnsupportedEncodingError)

sensor_msgs = pytest.importorskip('sensor_msgs.msg')
Image, CompressedImage = sensor_msgs.Image, sensor_msgs.CompressedImage


def random_image(encoding, height=7, width=5, seed=0):
    shape = (height, width) if CHANNELS[encoding] == 1 else (height, width, CHANNELS[encoding])
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def smooth_image(height=48, width=64):
    """Return a gradient picture, which JPEG keeps close to the original."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.dstack([xs * 255 // width, ys * 255 // height,
                      (xs + ys) * 255 // (width + height)]).astype(np.uint8)


@pytest.mark.parametrize('encoding', SUPPORTED_ENCODINGS)
@pytest.mark.parametrize('size', [(1, 1), (7, 5), (480, 640), (3, 1001)])
def test_round_trip_keeps_every_pixel(encoding, size):
    image = random_image(encoding, *size)
    msg = numpy_to_image_msg(image, encoding, Image())
    assert (msg.height, msg.width, msg.encoding) == (size[0], size[1], encoding)
    assert msg.step == size[1] * CHANNELS[encoding]
    np.testing.assert_array_equal(image_msg_to_numpy(msg), image)


def test_published_data_is_a_byte_array_not_a_per_byte_checked_list():
    msg = numpy_to_image_msg(random_image('rgb8'), 'rgb8', Image())
    assert isinstance(msg.data, array.array) and msg.data.typecode == 'B'


def test_non_contiguous_arrays_are_published_correctly():
    image = random_image('rgb8', 10, 20)[:, ::2]  # a strided view
    msg = numpy_to_image_msg(image, 'rgb8', Image())
    np.testing.assert_array_equal(image_msg_to_numpy(msg), image)


@pytest.mark.parametrize('encoding', SUPPORTED_ENCODINGS)
@pytest.mark.parametrize('padding', [1, 3, 64])
def test_padded_rows_are_read_without_the_padding(encoding, padding):
    image = random_image(encoding, 6, 5, seed=padding)
    row = 5 * CHANNELS[encoding]
    rows = np.full((6, row + padding), 0xAB, dtype=np.uint8)
    rows[:, :row] = image.reshape(6, row)
    msg = Image(height=6, width=5, encoding=encoding, step=row + padding,
                data=array.array('B', rows.tobytes()))
    np.testing.assert_array_equal(image_msg_to_numpy(msg), image)


def test_byte_order_flag_does_not_change_8_bit_images():
    image = random_image('bgr8')
    msg = numpy_to_image_msg(image, 'bgr8', Image())
    msg.is_bigendian = 1
    np.testing.assert_array_equal(image_msg_to_numpy(msg), image)


def test_reading_does_not_copy_the_message_data():
    msg = numpy_to_image_msg(random_image('rgb8'), 'rgb8', Image())
    view = image_msg_to_numpy(msg)
    msg.data[0] = (msg.data[0] + 1) % 256
    assert view[0, 0, 0] == msg.data[0]


@pytest.mark.parametrize('encoding', ['yuv422', '16UC1', 'bayer_rggb8', '', 'RGB8'])
def test_unsupported_encoding_is_named(encoding):
    msg = Image(height=2, width=2, encoding=encoding, step=6, data=array.array('B', bytes(12)))
    with pytest.raises(UnsupportedEncodingError, match='unsupported encoding'):
        image_msg_to_numpy(msg)


@pytest.mark.parametrize('height, width', [(0, 4), (4, 0), (0, 0)])
def test_zero_size_is_refused(height, width):
    msg = Image(height=height, width=width, encoding='rgb8', step=width * 3)
    with pytest.raises(ImageLayoutError, match='zero size'):
        image_msg_to_numpy(msg)


def test_step_smaller_than_a_row_is_refused():
    msg = Image(height=2, width=4, encoding='rgb8', step=11, data=array.array('B', bytes(22)))
    with pytest.raises(ImageLayoutError, match='step 11 is smaller than .* 12 bytes'):
        image_msg_to_numpy(msg)


@pytest.mark.parametrize('length', [0, 23, 25, 1000])
def test_data_length_that_does_not_match_step_times_height_is_refused(length):
    msg = Image(height=2, width=4, encoding='rgb8', step=12,
                data=array.array('B', bytes(length)))
    with pytest.raises(ImageLayoutError, match=f'data has {length} bytes but .* = 24'):
        image_msg_to_numpy(msg)


@pytest.mark.parametrize('array_in, encoding', [
    (np.zeros((4, 4, 3), np.float32), 'rgb8'),
    (np.zeros((4, 4, 3), np.uint16), 'rgb8'),
    (np.zeros((4, 4), np.uint8), 'rgb8'),
    (np.zeros((4, 4, 3), np.uint8), 'mono8'),
    (np.zeros((4, 4, 3), np.uint8), 'rgba8'),
    (np.zeros((0, 4, 3), np.uint8), 'rgb8'),
    ([[1, 2], [3, 4]], 'mono8'),
])
def test_arrays_that_do_not_fit_the_encoding_are_refused(array_in, encoding):
    with pytest.raises(ImageConversionError):
        check_image_array(array_in, encoding)
    with pytest.raises(ImageConversionError):
        numpy_to_image_msg(array_in, encoding, Image())


def test_colour_conversion_swaps_channels_and_keeps_grey():
    rgb = random_image('rgb8')
    np.testing.assert_array_equal(convert_encoding(rgb, 'rgb8', 'bgr8'), rgb[:, :, ::-1])
    assert convert_encoding(rgb, 'rgb8', 'rgb8') is rgb
    grey = random_image('mono8')
    for encoding in SUPPORTED_ENCODINGS:
        there = convert_encoding(grey, 'mono8', encoding)
        np.testing.assert_array_equal(convert_encoding(there, encoding, 'mono8'), grey)


@pytest.mark.parametrize('src', SUPPORTED_ENCODINGS)
@pytest.mark.parametrize('dst', SUPPORTED_ENCODINGS)
def test_every_encoding_pair_converts_to_the_right_shape(src, dst):
    out = convert_encoding(random_image(src), src, dst)
    check_image_array(out, dst)


def test_alpha_conversion_keeps_colour_order():
    rgb = random_image('rgb8')
    bgra = convert_encoding(rgb, 'rgb8', 'bgra8')
    np.testing.assert_array_equal(bgra[:, :, 2], rgb[:, :, 0])
    assert (bgra[:, :, 3] == 255).all()
    np.testing.assert_array_equal(convert_encoding(bgra, 'bgra8', 'rgba8')[:, :, :3], rgb)


@pytest.mark.parametrize('encoding', SUPPORTED_ENCODINGS)
def test_png_round_trip_is_lossless(encoding):
    image = random_image(encoding, 9, 11)
    msg = numpy_to_compressed_msg(image, encoding, CompressedImage(), fmt='png')
    assert msg.format.startswith(f'{encoding}; png compressed')
    decoded = compressed_msg_to_numpy(msg, 'rgb8')
    expected = convert_encoding(
        convert_encoding(image, encoding, 'mono8' if encoding == 'mono8' else 'rgb8'),
        'mono8' if encoding == 'mono8' else 'rgb8', 'rgb8')
    np.testing.assert_array_equal(decoded, expected)


def test_jpeg_round_trip_is_close_and_keeps_colour_order():
    image = smooth_image()
    image[:8, :8] = (255, 0, 0)  # a red corner stays red, not blue
    msg = numpy_to_compressed_msg(image, 'rgb8', CompressedImage(), jpeg_quality=95)
    assert msg.format == 'rgb8; jpeg compressed bgr8'
    assert isinstance(msg.data, array.array)
    decoded = compressed_msg_to_numpy(msg, 'rgb8')
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - image).mean() < 3
    assert decoded[2, 2, 0] > 200 and decoded[2, 2, 2] < 60
    bgr = compressed_msg_to_numpy(msg, 'bgr8')
    np.testing.assert_array_equal(bgr, decoded[:, :, ::-1])
    assert compressed_msg_to_numpy(msg, 'mono8').ndim == 2


def test_jpeg_quality_changes_the_size():
    image = random_image('rgb8', 64, 64)
    small = numpy_to_compressed_msg(image, 'rgb8', CompressedImage(), jpeg_quality=10)
    large = numpy_to_compressed_msg(image, 'rgb8', CompressedImage(), jpeg_quality=100)
    assert len(small.data) < len(large.data)


@pytest.mark.parametrize('quality', [0, 101, -5])
def test_jpeg_quality_out_of_range_is_refused(quality):
    with pytest.raises(ValueError, match='jpeg_quality'):
        numpy_to_compressed_msg(smooth_image(), 'rgb8', CompressedImage(), jpeg_quality=quality)


def test_files_written_by_opencv_decode():
    ok, buffer = cv2.imencode('.jpg', smooth_image()[:, :, ::-1])
    assert ok
    msg = CompressedImage(format='jpeg', data=array.array('B', buffer.tobytes()))
    assert compressed_msg_to_numpy(msg).shape == (48, 64, 3)


@pytest.mark.parametrize('fmt, expected', [
    ('jpeg', 'jpeg'), ('JPG', 'jpeg'), ('png', 'png'),
    ('rgb8; jpeg compressed bgr8', 'jpeg'), ('mono8; png compressed mono8', 'png'),
])
def test_compressed_formats_are_recognised(fmt, expected):
    assert parse_compressed_format(fmt) == expected


@pytest.mark.parametrize('fmt', ['', 'tiff', 'h264', 'rgb8; compressedDepth'])
def test_unknown_compressed_formats_are_named(fmt):
    msg = CompressedImage(format=fmt, data=array.array('B', b'\xff\xd8\xff'))
    with pytest.raises(UnsupportedEncodingError, match='compressed format'):
        compressed_msg_to_numpy(msg)


def test_corrupt_and_empty_jpeg_are_refused():
    good = numpy_to_compressed_msg(smooth_image(), 'rgb8', CompressedImage())
    bad_payloads = {
        'empty': b'',
        'garbage': bytes(range(256)) * 4,
        'header only': bytes(good.data[:20]),
        'cut in half': bytes(good.data[:len(good.data) // 2]),
        'scrambled body': bytes(good.data[:200]) + bytes(len(good.data) - 202) + b'\xff\xd9',
    }
    for name, payload in bad_payloads.items():
        msg = CompressedImage(format='jpeg', data=array.array('B', payload))
        with pytest.raises(ImageDecodeError, match='no data|do not decode|truncated'):
            compressed_msg_to_numpy(msg)
