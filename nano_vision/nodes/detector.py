"""detector: find objects in every frame with a classifier slid over a grid of windows.

Subscribes to ``image`` (or ``image/compressed``) like the classifier (newest
frame only), classifies the frame's windows in one batch and publishes
``detections`` (nano_vision_msgs/Detections) and ``heatmap`` (sensor_msgs/Image,
mono8) with the frame's header, and ``~/stats``. The model is any classifier of
nano-vision train, ideally with a background class (docs/detection.md).
"""

from nano_vision_msgs.msg import Detections
from sensor_msgs.msg import Image

from nano_vision.inference.config import DetectorConfig
from nano_vision.inference.windows import detect, heat_map, object_classes
from nano_vision.nodes.inference import InferenceNode
from nano_vision.nodes.messages import detections_msg, image_msg
from nano_vision.nodes.runner import run_node


class DetectorNode(InferenceNode):
    """Publish the objects of each frame (newest frame only) and a heat map of one class."""

    task = 'classification'

    def __init__(self, **kwargs):
        """Load the model named by the ``model`` parameter and start.

        :raises ValueError: bad parameters, background or heat-map classes the model
            does not have, or a model that is not a classifier
        """
        self._heat_index = None
        self._background_indexes = ()
        super().__init__('detector', DetectorConfig, **kwargs)

    def setup_outputs(self):
        """Check the classes against the model; create the publishers."""
        names = self.predictor.names
        objects = object_classes(names, self.config.background_names)
        wanted = self.config.heatmap_class
        if wanted and wanted not in names:
            raise ValueError(f'heatmap_class {wanted!r} is not one of the classes of the '
                             f'model ({", ".join(names)})')
        self._heat_index = names.index(wanted) if wanted else None
        self._background_indexes = tuple(i for i in range(len(names)) if i not in objects)
        self.publisher = self.create_publisher(Detections, 'detections', 10)
        self.heatmap_pub = self.create_publisher(Image, 'heatmap', 10)

    def prepare_input(self, image, encoding, out):
        """Return the model input of the frame's windows (one batch) and the windows."""
        boxes = self.config.grid.boxes(image.shape[1], image.shape[0])
        if out is None or out.shape[0] != len(boxes):
            out = self.predictor.new_input(len(boxes))  # the grid or the frame size changed
        return self.predictor.prepare_windows(image, boxes, encoding, out), boxes

    def run_model(self, item):
        """Return the class probabilities of a frame's windows."""
        return self.predictor.probabilities(item.batch)

    def interpret(self, item, output):
        """Return the windows, their class probabilities and the detections of a frame."""
        config = self.config
        found = detect(item.windows, output, self.predictor.names, config.background_names,
                       config.score_threshold, config.iou_threshold)
        return item.windows, output, found

    def publish_result(self, header, prediction, width, height):
        """Publish the Detections message and, when someone listens, the heat map."""
        boxes, probabilities, found = prediction
        self.publisher.publish(detections_msg(found, header, width, height))
        if self.heatmap_pub.get_subscription_count():
            heat = heat_map(boxes, probabilities, width, height, self._heat_index,
                            self._background_indexes)
            self.heatmap_pub.publish(image_msg(heat, 'mono8', header))


def main(args=None):
    """Run the detector node."""
    return run_node(DetectorNode, 'detector', args, events_executor=True)


if __name__ == '__main__':
    raise SystemExit(main())
