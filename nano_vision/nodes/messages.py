"""ROS messages to and from the pure types; every header comes from the source frame."""

from geometry_msgs.msg import PointStamped
from nano_vision_msgs.msg import (Classification, Detection, Detections, GroundTruth, Keypoint,
                                  Keypoints)
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from nano_vision.image.conversion import (compressed_msg_to_numpy, image_msg_to_numpy,
                                          numpy_to_compressed_msg, numpy_to_image_msg)
from nano_vision.image.coords import to_normalised, to_pixels
from nano_vision.inference.stamp_match import stamp_ns
from nano_vision.inference.windows import Detection as FoundObject

# Frames older than this (or stamped in the future) give no latency: their stamp is unset
# (0) or comes from a clock far from this one.
MAX_STAMP_AGE_NS = 60 * 10**9


def stamp_age_ms(header, now_ns):
    """Return how long before ``now_ns`` the header was stamped (ms), or None if unusable.

    A stamp left at 0, in the future or over :data:`MAX_STAMP_AGE_NS` old says nothing
    about the latency.
    """
    age_ns = now_ns - stamp_ns(header)
    return age_ns / 1e6 if 0 <= age_ns < MAX_STAMP_AGE_NS else None


def decode_frame(msg):
    """Return ``(pixels, encoding)`` of an Image or CompressedImage message.

    :raises ImageConversionError: a message whose pixels cannot be read
    """
    if isinstance(msg, CompressedImage):
        return compressed_msg_to_numpy(msg, 'rgb8'), 'rgb8'
    return image_msg_to_numpy(msg), msg.encoding


def make_header(stamp, frame_id):
    """Return a Header with ``stamp`` (builtin_interfaces/Time) and ``frame_id``."""
    return Header(stamp=stamp, frame_id=frame_id)


def image_msg(image, encoding, header):
    """Return a sensor_msgs/Image holding ``image`` with ``header``."""
    msg = Image(header=header)
    return numpy_to_image_msg(image, encoding, msg)


def compressed_image_msg(image, encoding, header, fmt='jpeg', jpeg_quality=90):
    """Return a sensor_msgs/CompressedImage of ``image`` with ``header``."""
    msg = CompressedImage(header=header)
    return numpy_to_compressed_msg(image, encoding, msg, fmt, jpeg_quality)


def keypoint_msg(name, u, v, width, height):
    """Return a Keypoint with pixel and normalised coordinates of ``(u, v)``."""
    x, y = to_normalised(u, v, width, height)
    return Keypoint(name=name, x=float(x), y=float(y), u=float(u), v=float(v))


def ground_truth_msg(truth, header):
    """Return the GroundTruth message of a :class:`~nano_vision.scenes.base.SceneTruth`."""
    return GroundTruth(
        header=header, scene=truth.scene, label=truth.label,
        width=truth.width, height=truth.height,
        keypoints=[keypoint_msg(p.name, p.u, p.v, truth.width, truth.height)
                   for p in truth.points],
        objects=[Detection(label=label, score=1.0, x=int(x), y=int(y), width=int(w),
                           height=int(h)) for label, (x, y, w, h) in truth.boxes])


def classification_msg(prediction, header):
    """Return the Classification message of a classification prediction."""
    return Classification(
        header=header, label=prediction.label, class_id=prediction.class_id,
        confidence=float(prediction.confidence), class_names=list(prediction.names),
        probabilities=[float(p) for p in prediction.probabilities])


def keypoints_msg(prediction, header, width, height):
    """Return the Keypoints message of an XY prediction on a ``width`` x ``height`` frame."""
    keypoints = []
    for name, (x, y) in zip(prediction.names, prediction.points):
        u, v = to_pixels(float(x), float(y), width, height)
        keypoints.append(Keypoint(name=name, x=float(x), y=float(y), u=float(u), v=float(v)))
    return Keypoints(header=header, width=width, height=height, keypoints=keypoints)


def point_msg(prediction, name, header):
    """Return keypoint ``name`` as a PointStamped (x, y normalised, z = 0)."""
    msg = PointStamped(header=header)
    msg.point.x, msg.point.y = prediction.point(name)
    return msg


def detections_msg(found, header, width, height):
    """Return the Detections message of :class:`~nano_vision.inference.windows.Detection` s."""
    return Detections(header=header, width=width, height=height, detections=[
        Detection(label=d.label, score=float(d.score), x=int(d.x), y=int(d.y),
                  width=int(d.width), height=int(d.height)) for d in found])


def found_objects(msg):
    """Return the :class:`~nano_vision.inference.windows.Detection` s of a Detections message."""
    return [FoundObject(d.label, float(d.score), d.x, d.y, d.width, d.height)
            for d in msg.detections]
