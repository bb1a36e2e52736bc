"""Turn the frames of a bag's image topic into a dataset folder: :func:`dataset_from_bag`.

The dataset has the course layout and its manifest; frames are labelled
with one category or from a label topic (``std_msgs/String`` by time, or
messages with a header by stamp). The bag is opened with
:func:`~nano_vision.bags.read.open_bag`, so killed recordings convert too.
"""

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
import logging
import os
import shutil
import tempfile
import uuid

import cv2

from nano_vision.bags.errors import BagError
from nano_vision.bags.read import open_bag
from nano_vision.datasets.layout import check_category, DatasetError
from nano_vision.datasets.writer import DatasetWriter
from nano_vision.image.conversion import (compressed_msg_to_numpy, convert_encoding,
                                          image_msg_to_numpy, ImageConversionError,
                                          parse_compressed_format, UnsupportedEncodingError)
from nano_vision.inference.stamp_match import stamp_ns
from nano_vision.runtime.files import sync_folder

LOG = logging.getLogger(__name__)

IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
STRING_TYPE = 'std_msgs/msg/String'
#: Seconds at or above which ``start``/``end`` are absolute times (since the epoch).
ABSOLUTE_SECONDS = 1e9
#: JPEG quality of frames that arrive uncompressed.
JPEG_QUALITY = 95


@dataclass
class FromBagReport:
    """What :func:`dataset_from_bag` read and wrote."""

    bag: str
    topic: str
    msgtype: str
    out: str
    recovered: bool = False
    cut_bytes: int = 0
    frames_on_topic: int = 0
    frames_in_window: int = 0
    frames_selected: int = 0
    frames_written: int = 0
    unlabelled: int = 0
    unreadable: int = 0
    bad_labels: Counter = field(default_factory=Counter)
    counts: Counter = field(default_factory=Counter)

    def lines(self):
        """Return a short human summary."""
        text = [f'{self.bag}: {self.frames_on_topic} frames on {self.topic} ({self.msgtype}), '
                f'{self.frames_in_window} in the window, {self.frames_selected} selected']
        if self.recovered:
            text.append(f'  the recording was not closed: read up to its last complete record '
                        f'({self.cut_bytes} bytes after it left out)')
        counts = ', '.join(f'{k} {v}' for k, v in sorted(self.counts.items()))
        text.append(f'wrote {self.frames_written} frames to {self.out} ({counts})')
        if self.unlabelled:
            text.append(f'  {self.unlabelled} frames without a label skipped')
        if self.unreadable:
            text.append(f'  {self.unreadable} frames that do not decode skipped')
        for label, count in sorted(self.bad_labels.items()):
            text.append(f'  {count} labels {label!r} refused (not a usable category name)')
        return text


def _seconds_to_ns(value, bag_start_ns):
    """Return absolute ns for seconds from the bag start, or absolute seconds (>= 1e9)."""
    if value is None:
        return None
    if value >= ABSOLUTE_SECONDS:
        return int(round(value * 1e9))
    return bag_start_ns + int(round(value * 1e9))


def _stamp_ns(msg):
    """Return the header stamp of a message in nanoseconds; 0 for one without a header."""
    header = getattr(msg, 'header', None)
    return 0 if header is None else stamp_ns(header)


def _topic_list(bag):
    counts = bag.counts()
    return ', '.join(f'{t} ({bag.topics[t]}, {counts.get(t, 0)})' for t in sorted(bag.topics)) \
        or 'none'


class _Labels:
    """Labels of frames from a label topic.

    ``std_msgs/String``: the newest label received at or before the frame
    (bag time). Messages with a header (``GroundTruth``, ``Classification``,
    ``Keypoints``): the message with the frame's header stamp, its
    ``keypoints`` or else its ``label`` (none for a classifier's ``unknown``).
    """

    def __init__(self, bag, topic):
        msgtype = bag.topics[topic]
        self.by_time = msgtype == STRING_TYPE
        self.times, self.values, self.by_stamp = [], [], {}
        for _, t, raw in bag.messages([topic]):
            msg = bag.deserialize(raw, msgtype)
            if self.by_time:
                self.times.append(t)
                self.values.append(([(msg.data.strip(), None)], 0, 0))
                continue
            if not hasattr(msg, 'header') or not (hasattr(msg, 'label')
                                                  or hasattr(msg, 'keypoints')):
                raise BagError(
                    f'label topic {topic} carries {msgtype}: use {STRING_TYPE} or a message '
                    'with a header and a label or keypoints (nano_vision_msgs GroundTruth, '
                    'Classification, Keypoints)')
            points = [(k.name, (float(k.u), float(k.v))) for k in getattr(msg, 'keypoints', ())]
            name = str(getattr(msg, 'label', '')).strip()
            if getattr(msg, 'class_id', 0) < 0:
                name = ''  # a classifier's "unknown": below its minimum confidence
            labels = points or [(name, None)]
            self.by_stamp[_stamp_ns(msg)] = (labels, int(getattr(msg, 'width', 0)),
                                             int(getattr(msg, 'height', 0)))
        if self.by_time:
            order = sorted(range(len(self.times)), key=self.times.__getitem__)
            self.times = [self.times[i] for i in order]
            self.values = [self.values[i] for i in order]

    def find(self, time_ns, stamp_ns):
        """Return ``(labels, width, height)`` for a frame, or None."""
        if self.by_time:
            index = bisect_right(self.times, time_ns) - 1
            return self.values[index] if index >= 0 else None
        return self.by_stamp.get(stamp_ns)


def _encode_frame(msg, msgtype):
    """Return ``(jpeg_bytes, width, height)`` of an Image or CompressedImage message.

    :raises UnsupportedEncodingError: an encoding or format that cannot be read
    :raises ImageConversionError: data that does not make an image
    """
    if msgtype == COMPRESSED_TYPE:
        kind = parse_compressed_format(msg.format)
        pixels = compressed_msg_to_numpy(msg, 'bgr8')
        height, width = pixels.shape[:2]
        if kind == 'jpeg':  # keep the camera's JPEG as it is: no second compression
            return bytes(msg.data), width, height
    else:
        pixels = convert_encoding(image_msg_to_numpy(msg), msg.encoding, 'bgr8')
        height, width = pixels.shape[:2]
    ok, encoded = cv2.imencode('.jpg', pixels, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes every uint8 BGR image
        raise ImageConversionError(f'OpenCV could not encode a {width}x{height} frame')
    return encoded.tobytes(), width, height


def _usable_labels(labels, width, height, frame_width, frame_height, report):
    """Return the labels of a frame with points scaled to it; count refused names."""
    usable = []
    for name, point in labels:
        if not name:
            continue
        try:
            check_category(name)
        except DatasetError:
            report.bad_labels[name] += 1
            continue
        if point is not None:
            u, v = point
            if width and height and (width, height) != (frame_width, frame_height):
                u, v = u * frame_width / width, v * frame_height / height
            if not (0 <= u <= frame_width and 0 <= v <= frame_height):
                continue  # the point left the image
            point = (u, v)
        usable.append((name, point))
    return usable


def _check_out(out):
    if os.path.lexists(out) and not (os.path.isdir(out) and not os.listdir(out)):
        raise BagError(f'{out} exists and is not an empty folder: give a new dataset folder')


def dataset_from_bag(bag_path, out, topic, every=1, start=None, end=None, label=None,
                     label_topic=None):
    """Write the frames of ``topic`` in a bag as a dataset folder; return a :class:`FromBagReport`.

    Frames are ``sensor_msgs/Image`` (any encoding of
    :mod:`nano_vision.image.conversion`, stored as JPEG) or
    ``sensor_msgs/CompressedImage`` (JPEG kept as recorded). The dataset has
    the course layout and a manifest whose ``source`` names the bag and the
    topic and whose ``stamp_ns`` is the frame's header stamp. It is written
    beside ``out`` under a temporary name and renamed at the end: after an
    error nothing is left.

    :param every: keep every Nth frame of the window (1: all)
    :param start: window start, seconds from the bag's first message, or
        absolute seconds since the epoch (>= 1e9); None: the beginning
    :param end: window end (inclusive), same units; None: the end
    :param label: one category for every frame
    :param label_topic: labels from this topic (see :class:`_Labels`)
    :raises BagError: missing topics, an unreadable encoding, an empty window,
        no labelled frame, or an ``out`` that is not new
    """
    if (label is None) == (label_topic is None):
        raise BagError('give either a fixed label or a label topic')
    if int(every) < 1:
        raise BagError(f'every must be 1 or more, got {every}')
    if label is not None:
        try:
            check_category(label)
        except DatasetError as exc:
            raise BagError(str(exc)) from None
    out = os.path.abspath(out)
    _check_out(out)
    with open_bag(bag_path) as bag:
        if topic not in bag.topics:
            raise BagError(f'{bag.path} has no topic {topic}; its topics: {_topic_list(bag)}')
        msgtype = bag.topics[topic]
        if msgtype not in (IMAGE_TYPE, COMPRESSED_TYPE):
            raise BagError(f'{topic} carries {msgtype}, not {IMAGE_TYPE} or {COMPRESSED_TYPE}')
        if label_topic is not None and label_topic not in bag.topics:
            raise BagError(f'{bag.path} has no label topic {label_topic}; its topics: '
                           f'{_topic_list(bag)}')
        report = FromBagReport(bag.path, topic, msgtype, out, bag.recovered, bag.cut_bytes,
                               bag.counts().get(topic, 0))
        if report.frames_on_topic == 0:
            raise BagError(f'{bag.path} holds no message on {topic}')
        start_ns = _seconds_to_ns(start, bag.start_ns)
        end_ns = _seconds_to_ns(end, bag.start_ns)
        if start_ns is not None and end_ns is not None and end_ns < start_ns:
            raise BagError(f'the window ends ({end} s) before it starts ({start} s)')
        labels = _Labels(bag, label_topic) if label_topic is not None else None
        parent = os.path.dirname(out)
        os.makedirs(parent, exist_ok=True)
        work = tempfile.mkdtemp(prefix=f'.{os.path.basename(out)}.', suffix='.partial',
                                dir=parent)
        try:
            _write_frames(bag, report, work, every, start_ns, end_ns, label, labels)
            if report.frames_in_window == 0:
                first, last = ((t - bag.start_ns) / 1e9 for t in (bag.start_ns, bag.end_ns))
                raise BagError(f'no frame of {topic} in the window {start} s .. {end} s '
                               f'(the bag spans {first:.3f} .. {last:.3f} s from its start, '
                               f'{bag.start_ns / 1e9:.3f} .. {bag.end_ns / 1e9:.3f} absolute)')
            if report.frames_written == 0:
                why = [f'{report.unlabelled} without a label' + (
                    f' on {label_topic}' if labels else '')] if report.unlabelled else []
                why += [f'{report.unreadable} that do not decode'] if report.unreadable else []
                why += [f'{n} labelled {name!r}, not a usable category name'
                        for name, n in sorted(report.bad_labels.items())]
                raise BagError(f'none of the {report.frames_selected} selected frames of '
                               f'{topic} could be written: {", ".join(why)}')
            if os.path.isdir(out):
                os.rmdir(out)  # checked empty above
            os.rename(work, out)
            sync_folder(os.path.dirname(os.path.abspath(out)))  # the rename itself is durable
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return report


def _write_frames(bag, report, work, every, start_ns, end_ns, label, labels):
    """Write the selected, labelled frames into the folder ``work``."""
    stop_ns = None if end_ns is None else end_ns + 1
    source = f'rosbag2:{bag.path}:{report.topic}'
    with DatasetWriter(work, bulk=True) as writer:
        for _, t, raw in bag.messages([report.topic], start_ns, stop_ns):
            index = report.frames_in_window
            report.frames_in_window += 1
            if index % every:
                continue
            report.frames_selected += 1
            try:
                msg = bag.deserialize(raw, report.msgtype)
                encoded, width, height = _encode_frame(msg, report.msgtype)
            except UnsupportedEncodingError as exc:
                raise BagError(f'frame {index} of {report.topic}: {exc}') from None
            except (BagError, ImageConversionError) as exc:
                report.unreadable += 1
                LOG.warning('frame %d of %s skipped: %s', index, report.topic, exc)
                continue
            stamp = _stamp_ns(msg) or t
            if labels is None:
                found = ([(label, None)], 0, 0)
            else:
                found = labels.find(t, _stamp_ns(msg))
            chosen = _usable_labels(found[0], found[1], found[2], width, height, report) \
                if found else []
            if not chosen:
                report.unlabelled += 1
                continue
            # Names from the frame's place in the bag: a bag always gives the same dataset.
            uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f'{report.topic}:{t}:{stamp}:{index}'))
            samples = writer.write_frame(encoded, chosen, width, height, uid, stamp, source)
            report.frames_written += 1
            report.counts.update(s.label for s in samples)
