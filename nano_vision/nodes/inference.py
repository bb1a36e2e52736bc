"""What the classifier and regressor nodes share: newest-frame inference with statistics.

The image callback only drops the message into a one-item slot. Where a CPU is
left beside the model's threads (or the model runs on a GPU), two worker
threads take it from there: the *prepare* thread takes the newest frame and
converts, resizes and normalises it into a free input buffer, and the
*inference* thread runs the model on the prepared frame and publishes. The next
frame is prepared while the model runs (both release the GIL), timed to be
ready as the model finishes (:class:`~nano_vision.inference.live.PrepareSchedule`):
where a core is free, preprocessing overlaps inference instead of delaying it,
and a camera faster than the model costs no preprocessing of frames the model
would never see. It never builds a queue: a frame replaced in the slot before
it was taken, or prepared and then replaced by a newer prepared frame before
the model was free, is counted as dropped. Where the model's threads take every
CPU, a worker prepares the newest frame after the model is done with the last
(:func:`~nano_vision.inference.live.prepare_beside_model`); with ``frames_in_flight``
2 and an engine whose threads frames can share (ONNX Runtime on the CPU), two such
workers each take the newest frame when they are free, so one reads and prepares its
frame, on a core the model leaves idle meanwhile, while the other's runs. Results
go out one at a time in the order their frames were taken: the stateful part
(smoothing) and the publishing run under a lock, and a result that finishes before
that of a frame taken earlier waits for it.

With a ``source`` the node is its own camera (:class:`~nano_vision.nodes.capture.Capture`,
the camera node's capture thread): each frame is grabbed and stamped at its time
and goes into the slot without a message, a copy or a colour conversion (the
preprocessing reads the source's encoding); a device's or folder's frame is
decoded only when a worker takes it, so frames the model skips cost next to
nothing; frames go out on ``image`` only while someone subscribes.
"""

from dataclasses import dataclass
import queue
import threading
import time

from nano_vision_msgs.msg import InferenceStats
from sensor_msgs.msg import CompressedImage, Image

from nano_vision.image.conversion import ImageConversionError
from nano_vision.inference.config import check_model_names
from nano_vision.inference.live import (InferenceStats as StatsWindow, LatestSlot,
                                        prepare_beside_model, PrepareSchedule)
from nano_vision.ml.cpu import available_cpus, physical_cores  # no torch: cores only
from nano_vision.nodes.base import NanoVisionNode
from nano_vision.nodes.capture import Capture, CapturedFrame, GrabbedFrame
from nano_vision.nodes.graph import MODEL_NODES
from nano_vision.nodes.messages import decode_frame, stamp_age_ms
from nano_vision.nodes.qos import NEWEST_FRAME_QOS


@dataclass
class PreparedFrame:
    """A frame turned into model input, waiting for the model."""

    header: object
    batch: object
    width: int
    height: int
    prepare_ms: float
    windows: object = None  # the detector's (N, 4) windows, one batch row each
    order: int = 0  # which frame taken from the slot it is (LatestSlot.take_numbered)


class InferenceNode(NanoVisionNode):
    """Base of the model nodes; subclasses set ``task`` and implement ``publish_result``."""

    task = ''

    def __init__(self, name, config_class, **kwargs):
        """Declare ``config_class``'s parameters, load the model, subscribe, start the workers.

        :raises ValueError: bad parameters, or a model that is missing, damaged or
            trained for the other task (the message says which)
        """
        super().__init__(name, **kwargs)
        self._threads = []
        self.capture = None
        self.slot = LatestSlot()
        self._ready = LatestSlot()  # the newest prepared frame, for the model
        self._free = queue.Queue()  # input buffers nobody uses
        self.schedule = PrepareSchedule()
        self.stats = StatsWindow()
        self.rejected = 0
        # frames_in_flight workers: one takes a frame at a time; one result goes out at a
        # time, in the order the frames were taken
        self._take_lock = threading.Lock()
        self._result_lock = threading.Lock()
        self._in_flight = set()  # the order numbers of the frames taken and not yet done
        self._waiting = {}  # order number -> a finished result waiting for older frames'
        self.declare_config(config_class)

        from nano_vision.ml.predictor import load_predictor  # torch loads with the model
        self.predictor = load_predictor(self.config.model, self.config.device,
                                        self.config.threads, self.config.backend)
        if self.predictor.task != self.task:
            raise ValueError(
                f'{self.config.model} is a {self.predictor.task} model; run it with the '
                f'{MODEL_NODES[self.predictor.task]} node, not the {name} node')
        check_model_names(self.config.expected_names, self.predictor.names, self.config.model)
        self.setup_outputs()

        camera = self.config.camera
        if camera is not None:
            self.capture = Capture(self, camera, 'image', on_frame=self.slot.put,
                                   when_subscribed=True, lazy=True)
        elif self.config.image_transport == 'compressed':
            self.create_subscription(CompressedImage, 'image/compressed', self.slot.put,
                                     NEWEST_FRAME_QOS)
        else:
            self.create_subscription(Image, 'image', self.slot.put, NEWEST_FRAME_QOS)
        self.stats_pub = self.create_publisher(InferenceStats, '~/stats', 10)
        self.create_timer(self.config.stats_period_sec, self.publish_stats)
        self.prepare_beside_model = prepare_beside_model(
            str(self.predictor.device), self.config.threads or physical_cores(),
            available_cpus())
        self.frames_in_flight = 1 if self.prepare_beside_model or not \
            self.predictor.concurrent else self.config.frames_in_flight
        self.get_logger().info(
            f'{self.predictor.task} model {self.config.model} ({self.predictor.backend} on '
            f'{self.predictor.device}, {self._workers_text()}): '
            f'{", ".join(self.predictor.names)}' + (
                f'; frames of {camera.source.kind} {camera.source.target!r} at '
                f'{camera.fps:g} fps' if camera is not None else ''))
        # input buffers: one in the model, one waiting for it, one being prepared; or one
        # per worker where the workers prepare after the model
        for _ in range(3 if self.prepare_beside_model else self.frames_in_flight):
            self._free.put(self.predictor.new_input())
        workers = ((self._prepare_loop, 'prepare'), (self._inference_loop, 'inference')) \
            if self.prepare_beside_model else tuple(
                (self._sequential_loop, 'inference' + (f'-{i + 1}' if i else ''))
                for i in range(self.frames_in_flight))
        self._threads = [threading.Thread(target=target, name=name, daemon=True)
                         for target, name in workers]
        for thread in self._threads:
            thread.start()
        if self.capture is not None:
            self.capture.start()

    def _workers_text(self):
        if self.prepare_beside_model:
            return 'frames prepared beside the model'
        count = self.frames_in_flight
        return f'{count} frame{"s" if count > 1 else ""} at once'

    def setup_outputs(self):
        """Create the publishers of the results."""
        raise NotImplementedError

    def publish_result(self, header, prediction, width, height):
        """Publish the messages of one prediction with the frame's ``header``."""
        raise NotImplementedError

    def _prepare_loop(self):
        while not self.stopping.is_set():
            if not self.schedule.wait(timeout=0.2):  # the model is not due for a frame yet
                continue
            msg = self.slot.take(timeout=0.2)
            if msg is None:
                continue
            # never blocks for long: the model and the ready slot hold one buffer each
            buffer = self._free.get()
            started = time.perf_counter()
            item = self.prepare(msg, buffer)
            if item is None:
                self._free.put(buffer)
                continue
            self.schedule.prepared(time.perf_counter() - started)
            self.schedule.frame_ready()
            replaced = self._ready.put(item)  # a newer frame replaces one the model missed
            if replaced is not None:
                self._free.put(replaced.batch)

    def _inference_loop(self):
        while not self.stopping.is_set():
            item = self._ready.take(timeout=0.2)
            if item is not None:
                self.schedule.model_started()
                try:
                    self.finish(item)
                finally:
                    self.schedule.model_finished()
                    self._free.put(item.batch)

    def _sequential_loop(self):
        buffer = self._free.get()
        while not self.stopping.is_set():
            with self._take_lock:  # taken and counted in flight at once: no result overtakes
                order, msg = self.slot.take_numbered(timeout=0.2)
                if msg is None:
                    continue
                self.frame_taken(order)
            try:
                buffer = self.process(msg, buffer, order)
            finally:
                self.frame_done(order)

    def frame_taken(self, order):
        """Note that a worker took frame ``order``: newer frames' results wait for its."""
        with self._result_lock:
            self._in_flight.add(order)

    def frame_done(self, order):
        """Note that frame ``order`` is done (published, dropped or rejected).

        Publishes the results of newer frames that were waiting for it.
        """
        with self._result_lock:
            self._in_flight.discard(order)
            while self._waiting:
                first = min(self._waiting)
                if self._in_flight and min(self._in_flight) < first:
                    break
                self._publish(*self._waiting.pop(first))

    def process(self, msg, out=None, order=0):
        """Prepare, run and publish one frame message in the calling thread.

        Returns the input buffer to prepare the next frame into: the one the frame was
        prepared in (the detector's grows with its windows), else ``out``.

        :param out: an input buffer to prepare the frame into, or None for a new one
        :param order: which frame taken from the slot it is (0: no order to keep)
        """
        item = self.prepare(msg, out, order)
        if item is None:
            return out
        self.finish(item)
        return item.batch

    def _reject(self, exc):
        """Count and log a dropped frame (unless the node is shutting down)."""
        if isinstance(exc, ImageConversionError):
            self.rejected += 1
            self.get_logger().warning(f'frame dropped: {exc}', throttle_duration_sec=5.0)
            return
        if self.stopping.is_set() or not self.context.ok():
            return  # shutting down: the publishers are gone, the frame no longer matters
        self.rejected += 1
        self.get_logger().error(f'frame dropped: {type(exc).__name__}: {exc}',
                                throttle_duration_sec=5.0)

    def prepare(self, msg, out, order=0):
        """Return the :class:`PreparedFrame` of a frame, or None for a bad frame.

        :param msg: an Image or CompressedImage message, or a
            :class:`~nano_vision.nodes.capture.CapturedFrame` of the node's own camera

        :param out: a ``predictor.new_input()`` array to write into, or None for a new one
        :param order: which frame taken from the slot it is (0: no order to keep)
        """
        try:
            if isinstance(msg, GrabbedFrame):  # the node's own camera: decoded only now
                msg = self.capture.retrieve(msg)
                if msg is None:  # a newer frame was grabbed meanwhile; it is in the slot
                    return None
            if isinstance(msg, CapturedFrame):  # the node's own camera: no message
                image, encoding = msg.image, msg.encoding
            else:
                image, encoding = decode_frame(msg)
            started = time.perf_counter()
            batch, windows = self.prepare_input(image, encoding, out)
            return PreparedFrame(msg.header, batch, image.shape[1], image.shape[0],
                                 (time.perf_counter() - started) * 1e3, windows, order)
        except Exception as exc:  # noqa: B902 - one bad frame must never end the node
            self._reject(exc)
            return None

    def prepare_input(self, image, encoding, out):
        """Return the model input of a decoded frame and its windows (None: the whole frame).

        :param out: an input buffer to write into (one this method returned before, or
            ``predictor.new_input()``), or None for a new one
        """
        return self.predictor.prepare([image], encoding, out), None

    def finish(self, item):
        """Run the model on a prepared frame, publish the result and record the timings.

        The model may run for several frames at once (``frames_in_flight``); what follows
        it runs one frame at a time, in the order the frames were taken: a result waits
        while a frame taken before its own is still in flight (:meth:`frame_done`).
        """
        try:
            started = time.perf_counter()
            output = self.run_model(item)
            model_ms = item.prepare_ms + (time.perf_counter() - started) * 1e3
        except Exception as exc:  # noqa: B902 - one bad frame must never end the node
            self._reject(exc)
            return
        with self._result_lock:
            if any(order < item.order for order in self._in_flight):
                self._waiting[item.order] = (item, output, model_ms)  # see frame_done
            else:
                self._publish(item, output, model_ms)

    def _publish(self, item, output, model_ms):
        """Interpret, publish and record one result (holding the result lock)."""
        try:
            self.publish_result(item.header, self.interpret(item, output), item.width,
                                item.height)
        except Exception as exc:  # noqa: B902 - one bad frame must never end the node
            self._reject(exc)
            return
        self.stats.record(model_ms, stamp_age_ms(item.header, self.get_clock().now().nanoseconds))

    def run_model(self, item):
        """Return the model's output for a :class:`PreparedFrame` (frames may run at once)."""
        return self.predictor.infer(item.batch)[0]

    def interpret(self, item, output):
        """Return the prediction to publish from :meth:`run_model`'s output.

        Called one frame at a time, in the order the frames were taken: state across
        frames (smoothing) goes here. ``item.batch`` may hold another frame by now.
        """
        return output

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
                             frames_dropped=self.slot.dropped + self._ready.dropped,
                             frames_rejected=self.rejected,
                             frames_unusable_stamp=self.stats.unusable_stamps)
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
                f'{msg.frames_rejected} rejected' + (
                    f', {msg.frames_unusable_stamp} with an unusable stamp (no latency: '
                    'is the camera stamping with this clock?)' if msg.frames_unusable_stamp
                    else ''))

    def release(self):
        """Stop the capture, wake the worker threads and wait for them to stop."""
        if self.capture is not None:
            self.capture.close()
        self.slot.close()
        self._ready.close()
        for thread in self._threads:
            thread.join(timeout=10.0)
