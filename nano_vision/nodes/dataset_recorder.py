"""dataset_recorder: save labelled frames of ``image`` as a dataset, from services or a page.

Subscribes to ``image`` (sensor_msgs/Image, newest frame only) and
``ground_truth`` (nano_vision_msgs/GroundTruth of a synthetic camera).
Service ``~/capture`` (nano_vision_msgs/srv/Capture) saves the newest frame
with a label, and a point for XY datasets; the ``label`` parameter sets the
current label, ``continuous`` captures at ``rate_hz``. With ``port`` set, a
labelling page is served (see :mod:`nano_vision.web.server`).

Files are written by one writer thread, never by the thread that receives
SIGINT: a capture that was answered is on disk, and one that was under way
when the node was stopped is finished before it exits. With ``bag`` set, the
frames, the ground truth and the current label (also published on
``~/label``) go to an mcap bag through a bag thread, closed when the node is
destroyed.
"""

from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
import queue
import threading
import uuid

import cv2
from nano_vision_msgs.msg import GroundTruth
from nano_vision_msgs.srv import Capture
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image
from std_msgs.msg import String

from nano_vision.datasets.layout import XY
from nano_vision.datasets.recorder import Recorder, RecorderError
from nano_vision.datasets.recorder_config import RecorderConfig
from nano_vision.image.conversion import convert_encoding, image_msg_to_numpy, ImageConversionError
from nano_vision.nodes.base import NanoVisionNode
from nano_vision.nodes.messages import stamp_ns
from nano_vision.nodes.qos import LABEL_QOS, NEWEST_FRAME_QOS
from nano_vision.nodes.runner import run_node

# Ground truth kept to pair with frames by stamp (a few seconds of a camera).
TRUTH_BUFFER = 120
# Messages waiting for the bag thread; beyond this (a disk slower than the
# camera) frames are dropped from the bag and counted, never queued without end.
BAG_QUEUE = 60


class DatasetRecorderNode(NanoVisionNode):
    """Save the newest frame with a label or a point; serve the labelling page."""

    def __init__(self, **kwargs):
        """Declare parameters, open the dataset, subscribe, offer ~/capture.

        :raises ValueError: a parameter that cannot work, or a dataset folder that
            cannot be written (the message says what to fix)
        :raises OSError: the page's port is taken
        """
        super().__init__('dataset_recorder', **kwargs)
        self._writer = None
        self.server = None
        self.bag = None
        self._bag_thread = None
        cfg = self.declare_config(RecorderConfig)
        try:
            self.recorder = Recorder(cfg.dataset, cfg.task, cfg.categories, cfg.jpeg_quality)
        except RecorderError as exc:
            raise ValueError(str(exc)) from None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix='writer')
        self._frame = None
        self._last_saved = None
        self._truths = OrderedDict()
        self._jpeg_cache = (None, None)
        self._jpeg_lock = threading.Lock()
        self.label_pub = self.create_publisher(String, '~/label', LABEL_QOS)
        self.create_subscription(Image, 'image', self._on_image, NEWEST_FRAME_QOS)
        self.create_subscription(GroundTruth, 'ground_truth', self._on_truth, 10)
        self.create_service(Capture, '~/capture', self._on_capture)
        self._timer = self.create_timer(1.0 / cfg.rate_hz, self._on_timer)
        if cfg.port:
            from nano_vision.web.server import LabellingServer
            self.server = LabellingServer(self, cfg.host, cfg.port).start()
        try:
            if cfg.bag:
                self._open_bag(cfg.bag)
        except BaseException:
            if self.server is not None:
                self.server.close()  # main() only destroys a node that was made
            raise
        self._publish_label()
        counts = ', '.join(f'{k} {v}' for k, v in self.recorder.counts().items()) or 'empty'
        repaired = ''
        if self.recorder.removed_temporary or self.recorder.repaired:
            repaired = (f' (removed {self.recorder.removed_temporary} temporary file(s) and '
                        f'repaired {self.recorder.repaired} manifest line(s) of a stopped run)')
        self.get_logger().info(
            f'recording {cfg.task} dataset {self.recorder.root}: {counts}{repaired}'
            + (f'; bag {self.bag.path}' if self.bag else '')
            + (f'; labelling page at {self.server.url}' if self.server else ''))

    # -- bag -----------------------------------------------------------------

    def _open_bag(self, path):
        # mcap and rosbags only when asked for
        from nano_vision.bags.errors import BagError
        from nano_vision.bags.record import BagRecorder
        try:
            self.bag = BagRecorder(path, storage='mcap')
        except BagError as exc:
            raise ValueError(str(exc)) from None
        self._bag_topics = {
            Image: self.resolve_topic_name('image'),
            GroundTruth: self.resolve_topic_name('ground_truth'),
            String: self.resolve_topic_name('~/label'),
        }
        for msg_type, topic in self._bag_topics.items():
            self.bag.add_topic(topic, f'{msg_type.__module__.split(".")[0]}/msg/'
                                      f'{msg_type.__name__}')
        self.bag_dropped = 0
        self._bag_queue = queue.Queue(maxsize=BAG_QUEUE)
        self._bag_thread = threading.Thread(target=self._bag_loop, name='bag', daemon=True)
        self._bag_thread.start()

    def _to_bag(self, msg):
        if self.bag is None:
            return
        try:
            self._bag_queue.put_nowait((msg, self.get_clock().now().nanoseconds))
        except queue.Full:
            self.bag_dropped += 1
            self.get_logger().warning(f'bag: the disk is slower than the frames; '
                                      f'{self.bag_dropped} message(s) dropped from the bag',
                                      throttle_duration_sec=5.0)

    def _bag_loop(self):
        while True:
            item = self._bag_queue.get()
            if item is None:
                return
            msg, received_ns = item
            try:
                self.bag.write(self._bag_topics[type(msg)], serialize_message(msg),
                               received_ns)
            except Exception as exc:  # noqa: B902 - a full disk must not end the node
                self.get_logger().error(f'bag: {exc}', throttle_duration_sec=5.0)

    def _close_bag(self):
        if self._bag_thread is not None:
            self._bag_queue.put(None)
            self._bag_thread.join(timeout=30.0)
        if self.bag is not None:
            self.bag.close()
            counts = ', '.join(f'{t} {n}' for t, n in self.bag.counts.items())
            self.get_logger().info(f'bag {self.bag.path} closed: {counts}')

    def _publish_label(self):
        msg = String(data=self.config.label)
        self.label_pub.publish(msg)
        self._to_bag(msg)

    # -- inputs ------------------------------------------------------------

    def _on_image(self, msg):
        self._frame = msg
        self._to_bag(msg)

    def _on_truth(self, msg):
        self._to_bag(msg)
        self._truths[stamp_ns(msg.header)] = msg
        while len(self._truths) > TRUTH_BUFFER:
            self._truths.popitem(last=False)

    def reconfigure(self, previous):
        """Announce a new label; give the recorder its JPEG quality; retime the captures."""
        cfg = self.config
        if cfg.label != previous.label:
            self._publish_label()
        self.recorder.jpeg_quality = cfg.jpeg_quality
        if cfg.rate_hz != previous.rate_hz:
            self._timer.cancel()
            self.destroy_timer(self._timer)
            self._timer = self.create_timer(1.0 / cfg.rate_hz, self._on_timer)

    # -- capturing -----------------------------------------------------------

    def capture(self, label, point=None):
        """Save the newest frame with ``label`` (and ``point``); return the Sample.

        Called by the service, the web page and the timer; the writing itself
        happens on the writer thread.

        :raises RecorderError: no frame yet, no label, or the files could not be
            written (the message says why)
        """
        label = label or self.config.label
        if not label:
            raise RecorderError('no label: give one, or set the label parameter')
        msg = self._newest_frame()
        return self._writer.submit(self._save, msg, [(label, point)]).result()[0]

    def _newest_frame(self):
        msg = self._frame
        if msg is None:
            topic = self.resolve_topic_name('image')
            raise RecorderError(f'no frame received on {topic} yet: is the camera running, '
                                'and is its image_raw remapped to image?')
        return msg

    def _save(self, msg, labels):
        """Write one frame under each ``(label, point)`` (writer thread); return the Samples."""
        try:
            image = image_msg_to_numpy(msg)
        except ImageConversionError as exc:
            raise RecorderError(f'cannot save this frame: {exc}') from None
        group = None
        if len(labels) > 1:
            group = str(uuid.uuid4())
        source = self.resolve_topic_name('image')
        samples = [self.recorder.capture(image, msg.encoding, label, point,
                                         stamp_ns(msg.header), source, group)
                   for label, point in labels]
        self._last_saved = msg
        return samples

    def _truth_labels(self, msg):
        """Return ``[(label, point)]`` of the ground truth of frame ``msg``."""
        truth = self._truths.get(stamp_ns(msg.header))
        if truth is None:
            raise RecorderError('no ground truth with the stamp of the newest frame: is '
                                'the camera a synthetic: source publishing ground_truth?')
        cfg = self.config
        if cfg.task != XY:
            if not truth.label:
                raise RecorderError(f'the {truth.scene} scene has no class to label with')
            return [(truth.label, None)]
        points = [k for k in truth.keypoints if not cfg.label or k.name == cfg.label]
        if not points:
            raise RecorderError(f'the ground truth has no keypoint {cfg.label!r} (it has '
                                f'{", ".join(k.name for k in truth.keypoints) or "none"})')
        return [(k.name, (max(-1.0, min(1.0, k.x)), max(-1.0, min(1.0, k.y))))
                for k in points]

    def _on_timer(self):
        cfg = self.config
        if not cfg.continuous:
            return
        msg = self._frame
        if msg is None or msg is self._last_saved:
            return  # never save one frame twice
        try:
            if cfg.label_source == 'ground_truth':
                labels = self._truth_labels(msg)
            elif cfg.task == XY:
                raise RecorderError('continuous capture of an XY dataset needs '
                                    'label_source ground_truth (a point per frame)')
            elif not cfg.label:
                raise RecorderError('continuous capture needs the label parameter')
            else:
                labels = [(cfg.label, None)]
            self._writer.submit(self._save, msg, labels).result()
        except RecorderError as exc:
            self.get_logger().warning(f'continuous capture: {exc}', throttle_duration_sec=5.0)

    def _on_capture(self, request, response):
        point = (float(request.x), float(request.y)) if request.has_point else None
        try:
            sample = self.capture(request.label, point)
            response.success = True
            response.path = sample.path
            response.message = f'saved {sample.label}'
        except RecorderError as exc:
            response.success = False
            response.message = str(exc)
            self.get_logger().error(f'capture failed: {exc}', throttle_duration_sec=1.0)
        counts = self.recorder.counts()
        response.labels = list(counts)
        response.counts = list(counts.values())
        return response

    # -- what the labelling page asks ---------------------------------------

    def state(self):
        """Return what the page shows: task, dataset, current label, frame size."""
        msg, cfg = self._frame, self.config
        return {'ok': True, 'task': cfg.task, 'dataset': self.recorder.root,
                'label': cfg.label, 'continuous': cfg.continuous,
                'frame': [msg.width, msg.height] if msg is not None else None}

    def frame_jpeg(self):
        """Return the newest frame as JPEG bytes (encoded once per frame), or None."""
        msg = self._frame
        if msg is None:
            return None
        with self._jpeg_lock:
            if self._jpeg_cache[0] is not msg:
                try:
                    bgr = convert_encoding(image_msg_to_numpy(msg), msg.encoding, 'bgr8')
                except ImageConversionError as exc:
                    self.get_logger().warning(f'cannot show frame: {exc}',
                                              throttle_duration_sec=5.0)
                    return None
                jpeg = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
                self._jpeg_cache = (msg, jpeg)
            return self._jpeg_cache[1]

    def release(self):
        """Stop the page, finish the writes under way, close the bag."""
        if self.server is not None:
            self.server.close()
        if self._writer is not None:
            self._writer.shutdown(wait=True)
        self._close_bag()


def main(args=None):
    """Run the dataset_recorder node."""
    return run_node(DatasetRecorderNode, 'dataset_recorder', args)


if __name__ == '__main__':
    raise SystemExit(main())
