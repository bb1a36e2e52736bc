"""regressor: find named points (face keypoints, a road target) in every frame.

Subscribes to ``image`` (or ``image/compressed``), publishes ``keypoints``
(nano_vision_msgs/Keypoints: normalised and pixel coordinates) and ``point``
(geometry_msgs/PointStamped: one chosen keypoint, x and y normalised to
[-1, 1] as in Keypoint.msg, z = 0), both with the frame's header, and
``~/stats``.
"""

from geometry_msgs.msg import PointStamped
from nano_vision_msgs.msg import Keypoints

from nano_vision.inference.config import RegressorConfig
from nano_vision.nodes.inference import InferenceNode
from nano_vision.nodes.messages import keypoints_msg, point_msg
from nano_vision.nodes.runner import run_node


class RegressorNode(InferenceNode):
    """Publish the keypoints of each frame (newest frame only)."""

    task = 'xy'

    def __init__(self, **kwargs):
        """Load the model named by the ``model`` parameter and start."""
        super().__init__('regressor', RegressorConfig, **kwargs)

    def setup_outputs(self):
        """Create the publishers; check the chosen keypoint exists."""
        names = self.predictor.names
        self.keypoint = self.config.keypoint or names[0]
        if self.keypoint not in names:
            raise ValueError(f'keypoint {self.keypoint!r} is not in the model; it has '
                             f'{", ".join(names)}')
        self.keypoints_pub = self.create_publisher(Keypoints, 'keypoints', 10)
        self.point_pub = self.create_publisher(PointStamped, 'point', 10)

    def publish_result(self, header, prediction, width, height):
        """Publish the Keypoints and PointStamped messages."""
        self.keypoints_pub.publish(keypoints_msg(prediction, header, width, height))
        self.point_pub.publish(point_msg(prediction, self.keypoint, header))


def main(args=None):
    """Run the regressor node."""
    return run_node(RegressorNode, 'regressor', args, events_executor=True)


if __name__ == '__main__':
    raise SystemExit(main())
