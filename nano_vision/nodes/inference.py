"""What the classifier and regressor nodes share: newest-frame inference with statistics.

The image callback only drops the message into a one-item slot; a worker
thread takes the newest frame whenever the model is free. A camera faster
than the model therefore never builds a queue: frames that were replaced
before the model got to them are counted as dropped, and every result is
computed from the newest frame there was.
"""

import threading
import time

from nano_vision_msgs.msg import InferenceStats
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from nano_vision.image_conversion import (compressed_msg_to_numpy, image_msg_to_numpy,
                                          ImageConversionError)
from nano_vision.inference_config import check_model_names
from nano_vision.live import InferenceStats as StatsWindow, LatestSlot
from nano_vision.nodes.parameters import declare_parameters, validate_changes

# Consumers take frames best effort and keep one: the newest is all we want.
NEWEST_FRAME_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                              reliability=ReliabilityPolicy.BEST_EFFORT,
                              durability=DurabilityPolicy.VOLATILE)
TASK_NODES = {'classification': 'classifier', 'xy': 'regressor'}


def stamp_ns(header):
    """Return a header's stamp in nanoseconds."""
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def decode_frame(msg):
    """Return ``(pixels, encoding)`` of an Image or CompressedImage message."""
    if isinstance(msg, CompressedImage):
        return compressed_msg_to_numpy(msg, 'rgb8'), 'rgb8'
    return image_msg_to_numpy(msg), msg.encoding


class InferenceNode(Node):
    """Base of the model nodes; subclasses set ``task`` and implement ``publish_result``."""

    task = ''

    def __init__(self, name, parameters, config_class, **kwargs):
        """Declare ``parameters``, load the model, subscribe and start the worker.

        :raises ValueError: bad parameters, or a model that is missing, damaged or
            trained for the other task (the message says which)
        """
        super().__init__(name, **kwargs)
        self.failure = None
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self.slot = LatestSlot()
        self.stats = StatsWindow()
        self.rejected = 0
        self._parameter_specs = parameters
        self.config = config_class.from_values(declare_parameters(self, parameters))
        self.add_on_set_parameters_callback(self._on_set_parameters)

        from nano_vision.ml.predictor import load_predictor  # torch loads with the model
        self.predictor = load_predictor(self.config.model, self.config.device,
                                        self.config.threads)
        if self.predictor.task != self.task:
            raise ValueError(
                f'{self.config.model} is a {self.predictor.task} model; run it with the '
                f'{TASK_NODES[self.predictor.task]} node, not the {name} node')
        check_model_names(self.config.expected_names, self.predictor.names, self.config.model)
        self.setup_outputs()

        if self.config.image_transport == 'compressed':
            self.create_subscription(CompressedImage, 'image/compressed', self.slot.put,
                                     NEWEST_FRAME_QOS)
        else:
            self.create_subscription(Image, 'image', self.slot.put, NEWEST_FRAME_QOS)
        self.stats_pub = self.create_publisher(InferenceStats, '~/stats', 10)
        self.create_timer(self.config.stats_period_sec, self.publish_stats)
        self.get_logger().info(
            f'{self.predictor.task} model {self.config.model} ({self.predictor.backend} on '
            f'{self.predictor.device}): {", ".join(self.predictor.names)}')
        self._thread = threading.Thread(target=self._work, name='inference', daemon=True)
        self._thread.start()

    def setup_outputs(self):
        """Create the publishers of the results."""
        raise NotImplementedError

    def publish_result(self, header, prediction, width, height):
        """Publish the messages of one prediction with the frame's ``header``."""
        raise NotImplementedError

    def _on_set_parameters(self, parameters):
        return validate_changes(self._parameter_specs, parameters)

    def _work(self):
        while not self._stop.is_set():
            msg = self.slot.take(timeout=0.2)
            if msg is not None:
                self.process(msg)

    def process(self, msg):
        """Run the model on one frame message and publish; bad frames are logged and dropped."""
        try:
            image, encoding = decode_frame(msg)
            started = time.perf_counter()
            prediction = self.predict(image, encoding)
            model_ms = (time.perf_counter() - started) * 1e3
            self.publish_result(msg.header, prediction, image.shape[1], image.shape[0])
        except ImageConversionError as exc:
            self.rejected += 1
            self.get_logger().warning(f'frame dropped: {exc}', throttle_duration_sec=5.0)
            return
        except Exception as exc:  # noqa: B902 - one bad frame must never end the node
            if self._stop.is_set() or not self.context.ok():
                return  # shutting down: the publishers are gone, the frame no longer matters
            self.rejected += 1
            self.get_logger().error(f'frame dropped: {type(exc).__name__}: {exc}',
                                    throttle_duration_sec=5.0)
            return
        age_ns = self.get_clock().now().nanoseconds - stamp_ns(msg.header)
        latency_ms = age_ns / 1e6 if 0 <= age_ns < 60e9 else float('nan')
        self.stats.record(model_ms, latency_ms)

    def predict(self, image, encoding):
        """Return the prediction for one frame (subclasses add smoothing, thresholds)."""
        return self.predictor.predict(image, encoding)

    def stats_message(self):
        """Return the InferenceStats message of the current window."""
        s = self.stats.snapshot()
        msg = InferenceStats(backend=self.predictor.backend, device=str(self.predictor.device),
                             fps=s['fps'], model_latency_ms_p50=s['model_ms_p50'],
                             model_latency_ms_p99=s['model_ms_p99'],
                             latency_ms_p50=s['latency_ms_p50'],
                             latency_ms_p99=s['latency_ms_p99'],
                             frames_received=self.slot.received,
                             frames_processed=self.stats.processed,
                             frames_dropped=self.slot.dropped, frames_rejected=self.rejected)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.get_name()
        return msg

    def publish_stats(self):
        """Publish and log the statistics."""
        msg = self.stats_message()
        self.stats_pub.publish(msg)
        if msg.frames_received:
            self.get_logger().info(
                f'{msg.fps:.1f} fps, model {msg.model_latency_ms_p50:.1f} ms, latency '
                f'{msg.latency_ms_p50:.1f} ms p50 / {msg.latency_ms_p99:.1f} ms p99, frames '
                f'{msg.frames_processed} processed, {msg.frames_dropped} dropped (newer frame), '
                f'{msg.frames_rejected} rejected')

    def destroy_node(self):
        """Stop the worker thread, then destroy the node."""
        self._stop.set()
        self.slot.close()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        return super().destroy_node()
