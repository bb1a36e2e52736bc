"""classifier: label every frame with a classification model.

Subscribes to ``image`` (or ``image/compressed``), publishes
``classification`` (nano_vision_msgs/Classification) with the frame's header,
and ``~/stats``. Class names and preprocessing come from the model file.
"""

from nano_vision_msgs.msg import Classification

from nano_vision.inference.config import ClassifierConfig
from nano_vision.inference.live import ProbabilitySmoother
from nano_vision.inference.predictions import classify
from nano_vision.nodes.inference import InferenceNode
from nano_vision.nodes.messages import classification_msg
from nano_vision.nodes.runner import run_node


class ClassifierNode(InferenceNode):
    """Publish the class of each frame (newest frame only)."""

    task = 'classification'

    def __init__(self, **kwargs):
        """Load the model named by the ``model`` parameter and start."""
        self._smoother = None
        super().__init__('classifier', ClassifierConfig, **kwargs)

    def setup_outputs(self):
        """Create the classification publisher."""
        self._smoother = ProbabilitySmoother(self.config.smoothing_frames)
        self.publisher = self.create_publisher(Classification, 'classification', 10)

    def interpret(self, item, output):
        """Return the (smoothed, thresholded) classification of the model's output."""
        return classify(output.names, self._smoother(output.probabilities),
                        self.config.min_confidence)

    def publish_result(self, header, prediction, width, height):
        """Publish the Classification message."""
        self.publisher.publish(classification_msg(prediction, header))


def main(args=None):
    """Run the classifier node."""
    return run_node(ClassifierNode, 'classifier', args, events_executor=True)


if __name__ == '__main__':
    raise SystemExit(main())
