"""camera: publish frames of a device, a file, a folder or a synthetic scene.

Publishes ``image_raw`` (sensor_msgs/Image), ``camera_info``, optionally
``image_raw/compressed`` and, for synthetic scenes, ``ground_truth``
(nano_vision_msgs/GroundTruth) with the same header as its frame.

A capture thread (:class:`~nano_vision.nodes.capture.Capture`, which the model
nodes' in-process camera shares) reads the source as fast as it delivers
(devices) or at ``fps`` (files, folders, scenes), stamps each frame as it is
read and publishes it at once: there is never a queue of old frames.
"""

from nano_vision.camera.config import CameraConfig
from nano_vision.nodes.base import NanoVisionNode
from nano_vision.nodes.capture import Capture
from nano_vision.nodes.runner import run_node


class CameraNode(NanoVisionNode):
    """Capture frames from one source and publish them with camera_info."""

    def __init__(self, **kwargs):
        """Declare parameters, open the source and start capturing.

        :raises ValueError: a parameter that cannot work (the message says which)
        :raises SourceError: the source cannot be opened (the message says what to check)
        """
        super().__init__('camera', **kwargs)
        self.capture = None
        cfg = self.declare_config(CameraConfig)
        self.capture = Capture(self, cfg, 'image_raw')
        self.get_logger().info(
            f'{cfg.camera_name}: publishing {cfg.source.kind} {cfg.source.target!r} as '
            f'{cfg.encoding} at {cfg.fps:g} fps')
        self.capture.start()

    @property
    def source(self):
        """Return the open :class:`~nano_vision.camera.sources.FrameSource`."""
        return self.capture.source

    @property
    def frames_published(self):
        """Return how many frames went out on image_raw."""
        return self.capture.frames_published if self.capture is not None else 0

    def reconfigure(self, previous):
        """Hand a runtime change (jpeg_quality) to the capture."""
        self.capture.config = self.config

    def release(self):
        """Wait for the capture thread to stop, then close the source."""
        if self.capture is not None:
            self.capture.close()


def main(args=None):
    """Run the camera node."""
    return run_node(CameraNode, 'camera', args)


if __name__ == '__main__':
    raise SystemExit(main())
