"""camera: publish frames of a device, a file, a folder or a synthetic scene.

Publishes ``image_raw`` (sensor_msgs/Image), ``camera_info``, optionally
``image_raw/compressed`` and, for synthetic scenes, ``ground_truth``
(nano_vision_msgs/GroundTruth) with the same header as its frame.

A capture thread reads the source as fast as it delivers (devices) or at
``fps`` (files, folders, scenes), stamps each frame as it is read and
publishes it at once: there is never a queue of old frames.
"""

import os
import threading

import cv2
from nano_vision_msgs.msg import GroundTruth
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from nano_vision.camera.config import CameraConfig
from nano_vision.camera.info import fill_camera_info, load_calibration
from nano_vision.camera.sources import EndOfStream, open_source, Pacer, SourceError
from nano_vision.image.conversion import convert_encoding, ImageConversionError
from nano_vision.nodes.base import NanoVisionNode
from nano_vision.nodes.messages import (compressed_image_msg, ground_truth_msg, image_msg,
                                        make_header)
from nano_vision.nodes.qos import CAMERA_QOS
from nano_vision.nodes.runner import run_node


def resolve_url(url):
    """Return the file path of a calibration URL (path, file:// or package://)."""
    if url.startswith('file://'):
        return url[len('file://'):]
    if url.startswith('package://'):
        from ament_index_python.packages import get_package_share_directory
        package, _, relative = url[len('package://'):].partition('/')
        return os.path.join(get_package_share_directory(package), relative)
    return url


class CameraNode(NanoVisionNode):
    """Capture frames from one source and publish them with camera_info."""

    def __init__(self, **kwargs):
        """Declare parameters, open the source and start capturing.

        :raises ValueError: a parameter that cannot work (the message says which)
        :raises SourceError: the source cannot be opened (the message says what to check)
        """
        super().__init__('camera', **kwargs)
        self.frames_published = 0
        self._thread = None
        self.source = None
        cfg = self.declare_config(CameraConfig)
        calibration = None
        if cfg.camera_info_url:
            calibration = load_calibration(resolve_url(cfg.camera_info_url))

        self.image_pub = self.create_publisher(Image, 'image_raw', CAMERA_QOS)
        self.info_pub = self.create_publisher(CameraInfo, 'camera_info', CAMERA_QOS)
        self.compressed_pub = None
        if cfg.publish_compressed:
            self.compressed_pub = self.create_publisher(
                CompressedImage, 'image_raw/compressed', CAMERA_QOS)
        self.truth_pub = None
        if cfg.source.kind == 'synthetic':
            self.truth_pub = self.create_publisher(GroundTruth, 'ground_truth', 10)

        self._calibration = calibration
        self._info_size = None
        self._info = CameraInfo()
        self.source = open_source(cfg.source, cfg.width, cfg.height, cfg.fps, loop=cfg.loop,
                                  seed=cfg.seed, flip_method=cfg.csi_flip_method)
        self.get_logger().info(
            f'{cfg.camera_name}: publishing {cfg.source.kind} {cfg.source.target!r} as '
            f'{cfg.encoding} at {cfg.fps:g} fps')
        self._thread = threading.Thread(target=self._capture_loop, name='capture', daemon=True)
        self._thread.start()

    def _capture_loop(self):
        pacer = None if self.source.paced else Pacer(self.config.fps)
        failure = None
        try:
            while not self.stopping.is_set():
                if pacer is not None and not pacer.wait(self.stopping):
                    break
                frame = self.source.read()
                if frame is None:
                    self._reconnect()
                    continue
                stamp = self.get_clock().now().to_msg()
                try:
                    self.publish_frame(frame, stamp)
                except ImageConversionError as exc:
                    self.get_logger().warning(f'frame dropped: {exc}',
                                              throttle_duration_sec=5.0)
        except EndOfStream:
            self.get_logger().info(f'end of {self.config.source.target}: '
                                   f'{self.frames_published} frames published')
        except SourceError as exc:
            failure = str(exc)
        except Exception as exc:  # noqa: B902 - a dead capture thread must end the node
            failure = f'capture failed: {type(exc).__name__}: {exc}'
        finally:
            self.end(failure)

    def _reconnect(self):
        """Reopen a source that stopped delivering, or raise SourceError."""
        cfg = self.config
        self.get_logger().warning(f'{cfg.camera_name}: no frame from {cfg.source.target}; '
                                  'reopening')
        self.source.close()
        for attempt in range(1, cfg.reconnect_attempts + 1):
            if self.stopping.wait(cfg.reconnect_interval_sec):
                return
            try:
                self.source.open()
                self.get_logger().info(f'{cfg.source.target} reopened (attempt {attempt})')
                return
            except SourceError as exc:
                self.get_logger().warning(
                    f'attempt {attempt}/{cfg.reconnect_attempts}: {exc}')
        raise SourceError(
            f'{cfg.source.target} stopped delivering frames and could not be reopened in '
            f'{cfg.reconnect_attempts} attempts; check the cable and that no other program '
            'took the device')

    def publish_frame(self, frame, stamp):
        """Resize, convert and publish one :class:`~nano_vision.camera.sources.Frame`."""
        cfg = self.config
        image = frame.image
        height, width = image.shape[:2]
        if cfg.width and (width, height) != (cfg.width, cfg.height):
            shrink = cfg.width < width
            image = cv2.resize(image, (cfg.width, cfg.height),
                               interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
            height, width = cfg.height, cfg.width
        image = convert_encoding(image, frame.encoding, cfg.encoding)
        header = make_header(stamp, cfg.frame_id)
        self.image_pub.publish(image_msg(image, cfg.encoding, header))
        if self.compressed_pub is not None and self.compressed_pub.get_subscription_count():
            self.compressed_pub.publish(compressed_image_msg(
                image, cfg.encoding, header, jpeg_quality=cfg.jpeg_quality))
        if self._info_size != (width, height):
            self._info = fill_camera_info(CameraInfo(), width, height, self._calibration)
            self._info_size = (width, height)
        self._info.header = header
        self.info_pub.publish(self._info)
        if self.truth_pub is not None and frame.truth is not None:
            self.truth_pub.publish(ground_truth_msg(frame.truth, header))
        self.frames_published += 1

    def release(self):
        """Wait for the capture thread to stop, then close the source."""
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        if self.source is not None:
            self.source.close()


def main(args=None):
    """Run the camera node."""
    return run_node(CameraNode, 'camera', args)


if __name__ == '__main__':
    raise SystemExit(main())
