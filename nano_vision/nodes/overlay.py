"""overlay: draw predictions on the frames they were computed from.

Subscribes to ``image`` and to ``classification``, ``keypoints`` and/or
``detections`` (boxes with labels and scores), pairs
each prediction with the frame of the same stamp, and publishes
``image_annotated`` (rgb8, the frame's header) for rqt_image_view or Foxglove.
With ``heatmap`` set it also subscribes to the detector's ``heatmap`` and blends
it under the boxes of the same stamp.

With ``lazy`` (the default) the overlay subscribes to its inputs only while someone
subscribes to ``image_annotated`` (it follows the publisher's matched events): a
viewer closed, it unsubscribes, and a model node that reads its own camera then
publishes no frames at all.
"""

from nano_vision_msgs.msg import Classification, Detections, Keypoints
from rclpy.event_handler import PublisherEventCallbacks
from sensor_msgs.msg import Image

from nano_vision.image.conversion import convert_encoding, ImageConversionError
from nano_vision.image.drawing import (draw_classification, draw_detections, draw_heatmap,
                                       draw_keypoints)
from nano_vision.inference.config import OverlayConfig
from nano_vision.inference.stamp_match import StampMatcher
from nano_vision.nodes.base import NanoVisionNode
from nano_vision.nodes.messages import decode_frame, image_msg, stamp_ns
from nano_vision.nodes.runner import run_node


class OverlayNode(NanoVisionNode):
    """Publish each frame that has a prediction, with the prediction drawn on it."""

    def __init__(self, **kwargs):
        """Declare parameters; subscribe now or (``lazy``) when image_annotated has a reader."""
        super().__init__('overlay', **kwargs)
        self.declare_config(OverlayConfig)
        self.matcher = StampMatcher(self.config.buffer_frames)
        # (frame, detections) pairs wait here for the heat map of their stamp
        self.heat_matcher = StampMatcher(self.config.buffer_frames)
        self.published = 0
        self._inputs = []  # the subscriptions to frames and predictions, while subscribed
        self.publisher = self.create_publisher(
            Image, 'image_annotated', 10, event_callbacks=PublisherEventCallbacks(
                matched=self._on_matched) if self.config.lazy else None)
        if not self.config.lazy:
            self._subscribe()

    @property
    def subscribed(self):
        """Return whether the overlay subscribes to its inputs now."""
        return bool(self._inputs)

    def _on_matched(self, info):
        # a subscriber of image_annotated came or went: follow whether anyone is left
        if info.current_count > 0 and not self._inputs:
            self._subscribe()
        elif info.current_count == 0 and self._inputs:
            for subscription in self._inputs:
                self.destroy_subscription(subscription)
            self._inputs = []
            # frames and predictions from before would pair with nothing new
            self.matcher = StampMatcher(self.config.buffer_frames)
            self.heat_matcher = StampMatcher(self.config.buffer_frames)
            self.get_logger().info('nobody subscribes to image_annotated: inputs unsubscribed')

    def _subscribe(self):
        inputs = [(Image, 'image', self._on_image)]
        if self.config.mode in ('auto', 'classification'):
            inputs.append((Classification, 'classification', self._on_prediction))
        if self.config.mode in ('auto', 'keypoints'):
            inputs.append((Keypoints, 'keypoints', self._on_prediction))
        if self.config.mode in ('auto', 'detections'):
            inputs.append((Detections, 'detections', self._on_prediction))
            if self.config.heatmap:
                inputs.append((Image, 'heatmap', self._on_heatmap))
        self._inputs = [self.create_subscription(kind, topic, callback, 10)
                        for kind, topic, callback in inputs]
        if self.config.lazy:
            self.get_logger().info('image_annotated has a subscriber: inputs subscribed')

    def _on_image(self, msg):
        stamp = stamp_ns(msg.header)
        self._paired(stamp, self.matcher.add_frame(stamp, msg))

    def _on_prediction(self, msg):
        stamp = stamp_ns(msg.header)
        self._paired(stamp, self.matcher.add_prediction(stamp, msg))

    def _on_heatmap(self, msg):
        matched = self.heat_matcher.add_prediction(stamp_ns(msg.header), msg)
        if matched is not None:
            (frame, detections), heat = matched
            self._draw(frame, detections, heat)

    def _paired(self, stamp, pair):
        if pair is None:
            return
        if self.config.heatmap and isinstance(pair[1], Detections):
            matched = self.heat_matcher.add_frame(stamp, pair)
            if matched is not None:
                self._draw(*matched[0], matched[1])
            return
        self._draw(*pair)

    def _draw(self, frame, prediction, heat=None):
        try:
            pixels, encoding = decode_frame(frame)
            image = convert_encoding(pixels, encoding, 'rgb8').copy()
            if heat is not None:
                heat_pixels, heat_encoding = decode_frame(heat)
                draw_heatmap(image, convert_encoding(heat_pixels, heat_encoding, 'mono8'))
        except ImageConversionError as exc:
            self.get_logger().warning(f'frame not drawn: {exc}', throttle_duration_sec=5.0)
            return
        if isinstance(prediction, Classification):
            draw_classification(image, prediction.class_names, prediction.probabilities,
                                prediction.label, prediction.confidence)
        elif isinstance(prediction, Detections):
            draw_detections(image, [(d.label, d.score, d.x, d.y, d.width, d.height)
                                    for d in prediction.detections])
        else:
            draw_keypoints(image, [(k.name, k.x, k.y) for k in prediction.keypoints])
        self.publisher.publish(image_msg(image, 'rgb8', frame.header))
        self.published += 1


def main(args=None):
    """Run the overlay node."""
    return run_node(OverlayNode, 'overlay', args)


if __name__ == '__main__':
    raise SystemExit(main())
