"""The demo's observer: reads the live pipeline's topics in a private rclpy context.

Used by nano_vision/tools/demo/run.py (``nano-vision demo``); not a node executable.
Subscribes in the demo's namespace to the model node's ``~/stats``, its
results, ``ground_truth``, ``image_annotated`` and, when asked,
``track_state`` and ``steering/command``; turns the messages into the plain
records the pure scoring in nano_vision/tools/demo/run.py works on.
"""

import time

from geometry_msgs.msg import Twist
from nano_vision_msgs.msg import (Classification, Detections, GroundTruth, InferenceStats,
                                  Keypoints)
from nano_vision_msgs.msg import TrackState
import rclpy
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import Image

from nano_vision.image.conversion import convert_encoding, ImageConversionError
from nano_vision.image.conversion import image_msg_to_numpy
from nano_vision.nodes.messages import found_objects, stamp_ns
from nano_vision.runtime.dds import on_loopback
from nano_vision.tools.demo.media import FrameKeeper
from nano_vision.tools.demo.score import LiveScore, track_summary

STATS_FIELDS = ('backend', 'device', 'fps', 'model_latency_ms_p50', 'model_latency_ms_p99',
                'latency_ms_p50', 'latency_ms_p99', 'frames_received', 'frames_processed',
                'frames_dropped', 'frames_rejected', 'frames_unusable_stamp')


def _points(keypoints):
    return {k.name: (float(k.u), float(k.v)) for k in keypoints}


class DemoMonitor:
    """Watch the demo's pipeline; record from :meth:`start_recording` on."""

    def __init__(self, namespace, model_node, steering=False, track=False,
                 montage_every_sec=1.0):
        """Create a node in its own context, subscribed in ``namespace``."""
        self.montage_every_sec = montage_every_sec
        self.context = rclpy.Context()
        with on_loopback():
            rclpy.init(context=self.context)
        self.node = rclpy.create_node('demo_monitor', namespace=namespace,
                                      context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.first_result = None
        self.detection = model_node == 'detector'
        self.recording = False
        self.stats = None
        self._stats_time = 0.0
        self._reset()
        node = self.node
        node.create_subscription(InferenceStats, f'{model_node}/stats', self._on_stats, 10)
        if model_node == 'classifier':
            node.create_subscription(Classification, 'classification', self._on_label, 50)
        elif model_node == 'detector':
            node.create_subscription(Detections, 'detections', self._on_detections, 50)
        else:
            node.create_subscription(Keypoints, 'keypoints', self._on_keypoints, 50)
        node.create_subscription(GroundTruth, 'ground_truth', self._on_truth, 50)
        node.create_subscription(Image, 'image_annotated', self._on_annotated, 10)
        if track:
            node.create_subscription(TrackState, 'track_state', self._on_state, 50)
        if steering:
            node.create_subscription(Twist, 'steering/command', self._on_command, 50)

    def _reset(self):
        self.score = LiveScore()
        self.frames = FrameKeeper(self.montage_every_sec)
        self.states = []
        self.commands = []

    def start_recording(self):
        """Forget what came before (model loading, start-up) and record from now."""
        self._reset()
        self.recording = True

    def spin(self, seconds):
        """Handle messages for ``seconds``."""
        end = time.monotonic() + seconds
        while True:
            self.executor.spin_once(timeout_sec=max(0.0, min(0.05, end - time.monotonic())))
            if time.monotonic() >= end:
                return

    def spin_for_stats(self, timeout):
        """Wait up to ``timeout`` seconds for statistics newer than now."""
        since = time.monotonic()
        while self._stats_time < since and time.monotonic() - since < timeout:
            self.executor.spin_once(timeout_sec=0.05)

    def _on_stats(self, msg):
        self.stats = {name: getattr(msg, name) for name in STATS_FIELDS}
        self._stats_time = time.monotonic()

    def _result(self, stamp, record):
        if self.first_result is None:
            self.first_result = time.monotonic()
        if self.recording:
            self.score.add_prediction(stamp, record)

    def _on_label(self, msg):
        self._result(stamp_ns(msg.header), {'label': msg.label})

    def _on_detections(self, msg):
        self._result(stamp_ns(msg.header), {'objects': found_objects(msg)})

    def _on_keypoints(self, msg):
        self._result(stamp_ns(msg.header), {'points': _points(msg.keypoints)})

    def _on_truth(self, msg):
        if not self.recording:
            return
        if msg.keypoints:
            truth = {'points': _points(msg.keypoints), 'width': msg.width,
                     'height': msg.height}
        elif self.detection:
            truth = {'objects': [(d.label, (d.x, d.y, d.width, d.height))
                                 for d in msg.objects]}
        else:
            truth = {'label': msg.label}
        self.score.add_truth(stamp_ns(msg.header), truth)

    def _on_annotated(self, msg):
        if not self.recording:
            return
        try:
            image = convert_encoding(image_msg_to_numpy(msg), msg.encoding, 'rgb8').copy()
        except ImageConversionError as exc:
            self.node.get_logger().warning(f'annotated frame dropped: {exc}',
                                           throttle_duration_sec=5.0)
            return
        self.frames.add(stamp_ns(msg.header) * 1e-9, image)

    def _on_state(self, msg):
        if self.recording:
            self.states.append(msg)

    def _on_command(self, msg):
        if self.recording:
            self.commands.append((msg.linear.x, msg.angular.z))

    def record(self):
        """Return what was recorded: statistics, live score, track and steering summaries."""
        steering = None
        if self.commands:
            angular = [a for _, a in self.commands]
            steering = {'commands': len(self.commands),
                        'following': sum(1 for linear, _ in self.commands if linear != 0.0),
                        'angular_min': round(min(angular), 3),
                        'angular_max': round(max(angular), 3)}
        return {'stats': self.stats, 'score': self.score.summary(),
                'track': track_summary(self.states), 'steering': steering}

    def close(self):
        """Destroy the node and shut its context down."""
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
