"""The camera of a node: read a source in a thread, stamp each frame, publish it.

The ``camera`` node and the model nodes with a ``source`` (an in-process camera)
share it. A capture thread reads the source as fast as it delivers (devices) or
at ``fps`` (files, folders, scenes), stamps each frame as it is read, hands it
to the node (``on_frame``) and publishes it at once: there is never a queue of
old frames. With ``when_subscribed`` the frames are converted and published
only while someone subscribes to them, so a model node that reads its own
camera spends nothing on messages nobody reads. With ``lazy`` as well, a frame
nobody subscribes to is only grabbed (taken from the device, stamped) and handed
on as a :class:`GrabbedFrame`; the node decodes it with :meth:`Capture.retrieve`
if it uses it, so frames a slower model skips are never decoded.
"""

from dataclasses import dataclass
import os
import threading

import cv2
from nano_vision_msgs.msg import GroundTruth
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from nano_vision.camera.info import fill_camera_info, load_calibration
from nano_vision.camera.sources import EndOfStream, open_source, Pacer, SourceError
from nano_vision.image.conversion import convert_encoding, ImageConversionError
from nano_vision.nodes.messages import (compressed_image_msg, ground_truth_msg, image_msg,
                                        make_header)
from nano_vision.nodes.qos import CAMERA_QOS


def resolve_url(url):
    """Return the file path of a calibration URL (path, file:// or package://)."""
    if url.startswith('file://'):
        return url[len('file://'):]
    if url.startswith('package://'):
        from ament_index_python.packages import get_package_share_directory
        package, _, relative = url[len('package://'):].partition('/')
        return os.path.join(get_package_share_directory(package), relative)
    return url


@dataclass(frozen=True)
class GrabbedFrame:
    """A frame of the node's own camera that was grabbed and stamped, not yet decoded."""

    header: object
    grab: int  # which grab of the capture it is


@dataclass(frozen=True)
class CapturedFrame:
    """A frame of the node's own camera: at the published size, in the source's encoding."""

    header: object
    image: object
    encoding: str


class Capture:
    """The capture thread and the publishers of one camera, for ``node``.

    :param config: a :class:`~nano_vision.camera.config.CameraConfig`
    :param image_topic: the topic of the frames (``camera_info``, ``image_raw/compressed``
        style topics are named after it: ``<image_topic>/compressed``)
    :param on_frame: called with each :class:`CapturedFrame` in the capture thread, or None
    :param when_subscribed: convert and publish frames only while someone subscribes
    :param lazy: with ``when_subscribed``: while nobody subscribes, hand ``on_frame``
        a :class:`GrabbedFrame` to decode with :meth:`retrieve`, not a decoded frame
    :raises ValueError: a calibration file that cannot be read
    :raises SourceError: the source cannot be opened (the message says what to check)
    """

    def __init__(self, node, config, image_topic, on_frame=None, when_subscribed=False,
                 lazy=False):
        """Create the publishers and open the source (the thread starts with :meth:`start`)."""
        self.node, self.config = node, config
        self.on_frame = on_frame
        self.when_subscribed = when_subscribed
        self.lazy = lazy and when_subscribed
        # grab and retrieve of the capture thread and the node's threads take turns
        self._lock = threading.Lock()
        self._grabs = 0
        self._grab_header = None
        self.frames_captured = 0
        self.frames_published = 0
        self.source = None
        self._thread = None
        self._calibration = None
        if config.camera_info_url:
            self._calibration = load_calibration(resolve_url(config.camera_info_url))
        self.image_pub = node.create_publisher(Image, image_topic, CAMERA_QOS)
        self.info_pub = node.create_publisher(CameraInfo, 'camera_info', CAMERA_QOS)
        self.compressed_pub = None
        if config.publish_compressed:
            self.compressed_pub = node.create_publisher(
                CompressedImage, f'{image_topic}/compressed', CAMERA_QOS)
        self.truth_pub = None
        if config.source.kind == 'synthetic':
            self.truth_pub = node.create_publisher(GroundTruth, 'ground_truth', 10)
        self._info_size = None
        self._info = CameraInfo()
        self.source = open_source(config.source, config.width, config.height, config.fps,
                                  loop=config.loop, seed=config.seed,
                                  flip_method=config.csi_flip_method)

    def start(self):
        """Start the capture thread."""
        self._thread = threading.Thread(target=self._capture_loop, name='capture', daemon=True)
        self._thread.start()

    def _capture_loop(self):
        node = self.node
        pacer = None if self.source.paced else Pacer(self.config.fps)
        failure = None
        try:
            while not node.stopping.is_set():
                if pacer is not None and not pacer.wait(node.stopping):
                    break
                if self.lazy and not self._anyone_subscribed():
                    if not self._grab():
                        self._reconnect()
                        continue
                    self.frames_captured += 1
                    self.on_frame(GrabbedFrame(self._grab_header, self._grabs))
                    continue
                with self._lock:
                    frame = self.source.read()
                    self._grabs += 1  # a grabbed frame not yet decoded can no longer be
                if frame is None:
                    self._reconnect()
                    continue
                stamp = node.get_clock().now().to_msg()
                try:
                    self.handle(frame, stamp)
                except ImageConversionError as exc:
                    node.get_logger().warning(f'frame dropped: {exc}',
                                              throttle_duration_sec=5.0)
        except EndOfStream:
            node.get_logger().info(f'end of {self.config.source.target}: '
                                   f'{self.frames_captured} frames captured')
        except SourceError as exc:
            failure = str(exc)
        except Exception as exc:  # noqa: B902 - a dead capture thread must end the node
            failure = f'capture failed: {type(exc).__name__}: {exc}'
        finally:
            node.end(failure)

    def _anyone_subscribed(self):
        return any(publisher is not None and publisher.get_subscription_count() > 0
                   for publisher in (self.image_pub, self.compressed_pub, self.info_pub,
                                     self.truth_pub))

    def _grab(self):
        """Grab the next frame and stamp it; False when the source gave none."""
        with self._lock:
            if not self.source.grab():
                return False
            self._grabs += 1
            self._grab_header = make_header(self.node.get_clock().now().to_msg(),
                                            self.config.frame_id)
            return True

    def retrieve(self, grabbed):
        """Decode a :class:`GrabbedFrame` into a :class:`CapturedFrame`, or return None.

        None when a newer frame was grabbed meanwhile and the source can no
        longer decode this one (a device keeps only its newest grab): the newer
        one is on its way to the node.

        :raises ImageConversionError: the source could not decode the frame
        """
        with self._lock:
            if grabbed.grab != self._grabs:
                return None
            frame = self.source.retrieve()
        if frame is None:
            raise ImageConversionError(f'a frame of {self.config.source.target} could not be '
                                       'decoded')
        return CapturedFrame(grabbed.header, self._resized(frame.image), frame.encoding)

    def _resized(self, image):
        """Return ``image`` at the configured size (shrunk with area averaging)."""
        cfg = self.config
        height, width = image.shape[:2]
        if cfg.width and (width, height) != (cfg.width, cfg.height):
            shrink = cfg.width < width
            image = cv2.resize(image, (cfg.width, cfg.height),
                               interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return image

    def _reconnect(self):
        """Reopen a source that stopped delivering, or raise SourceError."""
        cfg, node = self.config, self.node
        node.get_logger().warning(f'{cfg.camera_name}: no frame from {cfg.source.target}; '
                                  'reopening')
        with self._lock:
            self.source.close()
        for attempt in range(1, cfg.reconnect_attempts + 1):
            if node.stopping.wait(cfg.reconnect_interval_sec):
                return
            try:
                with self._lock:
                    self.source.open()
                node.get_logger().info(f'{cfg.source.target} reopened (attempt {attempt})')
                return
            except SourceError as exc:
                node.get_logger().warning(
                    f'attempt {attempt}/{cfg.reconnect_attempts}: {exc}')
        raise SourceError(
            f'{cfg.source.target} stopped delivering frames and could not be reopened in '
            f'{cfg.reconnect_attempts} attempts; check the cable and that no other program '
            'took the device')

    def handle(self, frame, stamp):
        """Resize one :class:`~nano_vision.camera.sources.Frame`, hand it on and publish it."""
        image = self._resized(frame.image)
        header = make_header(stamp, self.config.frame_id)
        self.frames_captured += 1
        if self.on_frame is not None:
            self.on_frame(CapturedFrame(header, image, frame.encoding))
        self.publish(image, frame.encoding, header, frame.truth)

    def _wanted(self, publisher):
        return publisher is not None and (not self.when_subscribed
                                          or publisher.get_subscription_count() > 0)

    def publish(self, image, encoding, header, truth=None):
        """Publish a frame (in ``encoding``), its camera_info and its truth, as configured."""
        cfg = self.config
        image_wanted = self._wanted(self.image_pub)
        compressed_wanted = (self.compressed_pub is not None
                             and self.compressed_pub.get_subscription_count() > 0)
        if image_wanted or compressed_wanted:
            image = convert_encoding(image, encoding, cfg.encoding)
            if image_wanted:
                self.image_pub.publish(image_msg(image, cfg.encoding, header))
                self.frames_published += 1
            if compressed_wanted:
                self.compressed_pub.publish(compressed_image_msg(
                    image, cfg.encoding, header, jpeg_quality=cfg.jpeg_quality))
        if self._wanted(self.info_pub):
            height, width = image.shape[:2]
            if self._info_size != (width, height):
                self._info = fill_camera_info(CameraInfo(), width, height, self._calibration)
                self._info_size = (width, height)
            self._info.header = header
            self.info_pub.publish(self._info)
        if truth is not None and self._wanted(self.truth_pub):
            self.truth_pub.publish(ground_truth_msg(truth, header))

    def close(self):
        """Wait for the capture thread to stop, then close the source."""
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        if self.source is not None:
            with self._lock:
                self.source.close()
