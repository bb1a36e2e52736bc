"""rosbag2 in and out through ``rosbags`` (no rclpy): record, read, recover, make datasets.

Messages travel as CDR bytes (what ``rclpy.serialization.serialize_message``
gives); ``rosbags``' typestore (de)serialises them, with the
``nano_vision_msgs`` types registered from their ``.msg`` files so that a bag
carries their definitions and any rosbag2 reader can decode it.

Recording writes mcap by default. ``rosbags``' mcap writer keeps messages in
memory until a chunk of about 1 MiB is full; :class:`BagRecorder` closes
chunks at ``chunk_bytes`` (32 KiB by default) and hands every closed chunk to
the operating system at once, so a recorder killed with SIGKILL loses only
the messages of the unfinished chunk (see docs/rosbags.md for the numbers).
A killed recording has no summary, index or ``metadata.yaml``: :func:`open_bag`
then reads its ``.mcap`` file record by record up to the last complete one.

:func:`dataset_from_bag` turns the frames of an image topic into a dataset
folder (the course layout and its manifest), labelled with one category or
from a label topic.
"""

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
import functools
import glob
import importlib.util
import io
import logging
import os
from pathlib import Path
import shutil
import tempfile
import threading
import uuid

import cv2
from mcap.exceptions import McapError
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.storage_mcap import McapWriter
from rosbags.typesys import (get_types_from_idl, get_types_from_msg, get_typestore, Stores,
                             TypesysError)

from nano_vision.datasets.layout import check_category, DatasetError, MANIFEST
from nano_vision.datasets.synth import write_frame
from nano_vision.image.conversion import (compressed_msg_to_numpy, convert_encoding,
                                          image_msg_to_numpy, ImageConversionError,
                                          parse_compressed_format, UnsupportedEncodingError)

LOG = logging.getLogger(__name__)

#: Storage formats :class:`BagRecorder` writes.
STORAGES = ('mcap', 'sqlite3')

#: Default size at which a recording's chunk is closed and written out.
DEFAULT_CHUNK_BYTES = 32 * 1024

#: Package whose message definitions are registered from ``.msg`` files.
MSGS_PACKAGE = 'nano_vision_msgs'

_MCAP_MAGIC = b'\x89MCAP0\r\n'


class BagError(ValueError):
    """A bag that cannot be written or read as asked; the message says why."""


def _msg_folder():
    """Return the folder of the ``nano_vision_msgs`` ``.msg`` files, or None."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.append(os.path.join(get_package_share_directory(MSGS_PACKAGE), 'msg'))
    except (ImportError, LookupError, OSError, ValueError):  # not installed, or no ament index
        pass
    # Without an ament index: <prefix>/lib/pythonX.Y/site-packages/<pkg> -> <prefix>/share.
    spec = importlib.util.find_spec(MSGS_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        parents = Path(location).resolve().parents
        if len(parents) > 3:
            candidates.append(str(parents[3] / 'share' / MSGS_PACKAGE / 'msg'))
    # A source checkout: the interface package sits beside the Python package.
    candidates.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                   MSGS_PACKAGE, 'msg'))
    for folder in candidates:
        if glob.glob(os.path.join(folder, '*.msg')):
            return folder
    return None


@functools.lru_cache(maxsize=None)
def project_typestore():
    """Return a typestore of ROS 2 (Kilted) with the ``nano_vision_msgs`` messages.

    The definitions come from the package's ``.msg`` files (installed share
    folder, else the source tree); without them only the standard types are
    known.
    """
    store = get_typestore(Stores.ROS2_KILTED)
    folder = _msg_folder()
    if folder is None:
        LOG.warning('%s .msg files not found: its types cannot be recorded', MSGS_PACKAGE)
        return store
    types = {}
    for path in sorted(glob.glob(os.path.join(folder, '*.msg'))):
        name = f'{MSGS_PACKAGE}/msg/{os.path.splitext(os.path.basename(path))[0]}'
        with open(path, encoding='utf-8') as stream:
            types.update(get_types_from_msg(stream.read(), name))
    store.register(types)
    return store


class _ChunkedMcapWriter(McapWriter):
    """``rosbags``' mcap storage that closes chunks early and flushes each one.

    A closed chunk (with its message index) goes to the operating system at
    once, so a killed process loses only the chunk still being filled.
    """

    chunk_bytes = DEFAULT_CHUNK_BYTES

    def write(self, connection, timestamp, data):
        """Write a message; close the chunk once it holds ``chunk_bytes``."""
        super().write(connection, timestamp, data)
        if self.chunk.msgs and self.chunk.bio.tell() >= self.chunk_bytes:
            self.close_chunk()

    def close_chunk(self):
        """Close the pending chunk and flush the file."""
        super().close_chunk()
        self.bio.flush()

    def flush(self):
        """Write out the messages of the pending chunk now."""
        if self.chunk.msgs:
            self.close_chunk()


class _Writer(Writer):
    STORAGE_PLUGINS = {**Writer.STORAGE_PLUGINS, StoragePlugin.MCAP: _ChunkedMcapWriter}


class BagRecorder:
    """Write a new rosbag2 bag of CDR-serialised messages.

    ::

        with BagRecorder('runs/thumbs_1') as bag:
            bag.add_topic('/image', 'sensor_msgs/msg/Image')
            bag.write('/image', serialize_message(msg), stamp_ns)

    ``mcap`` (default) survives a killed recorder up to the last
    ``chunk_bytes`` of messages; ``sqlite3`` (``rosbags`` commits only when
    the bag is closed) loses the whole bag. Methods may be called from
    several threads.

    :param path: bag folder to create; it must not exist
    :param storage: ``'mcap'`` or ``'sqlite3'``
    :param chunk_bytes: mcap chunk size: what a killed recording can lose
    :raises BagError: the folder exists, or an unknown storage
    """

    def __init__(self, path, storage='mcap', chunk_bytes=DEFAULT_CHUNK_BYTES):
        """Create the bag folder ``path`` and open its storage file."""
        if storage not in STORAGES:
            raise BagError(f'unknown bag storage {storage!r}; use one of {", ".join(STORAGES)}')
        if int(chunk_bytes) < 1:
            raise BagError(f'chunk_bytes must be positive, got {chunk_bytes}')
        self.path = os.path.abspath(path)
        self.storage = storage
        if os.path.lexists(self.path):
            raise BagError(f'{self.path} exists already: a bag is never overwritten; '
                           'choose a new name or move the old bag away')
        self._lock = threading.Lock()
        self._connections = {}
        self.counts = {}
        self._typestore = project_typestore()
        plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
        self._writer = _Writer(self.path, version=Writer.VERSION_LATEST, storage_plugin=plugin)
        try:
            self._writer.open()
        except Exception as exc:
            raise BagError(f'cannot create the bag {self.path}: {exc}') from exc
        if storage == 'mcap':
            self._writer.storage.chunk_bytes = int(chunk_bytes)

    @property
    def closed(self):
        """Return True once :meth:`close` ran."""
        return self._writer is None

    @property
    def topics(self):
        """Return topic -> message type of the topics added so far."""
        return {topic: c.msgtype for topic, c in self._connections.items()}

    def add_topic(self, topic, msgtype):
        """Add ``topic`` carrying ``msgtype`` (e.g. ``sensor_msgs/msg/Image``).

        Adding a topic again with the same type does nothing.

        :raises BagError: a type the typestore does not know, a topic added
            with another type, or a closed bag
        """
        with self._lock:
            self._check_open()
            known = self._connections.get(topic)
            if known is not None:
                if known.msgtype != msgtype:
                    raise BagError(f'topic {topic} is already recorded as {known.msgtype}, '
                                   f'not {msgtype}')
                return
            if msgtype not in self._typestore.fielddefs:
                raise BagError(f'unknown message type {msgtype!r}: use a standard ROS 2 type '
                               f'or one of {MSGS_PACKAGE} (e.g. sensor_msgs/msg/Image)')
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=self._typestore)
            self.counts[topic] = 0

    def write(self, topic, rawdata, timestamp_ns):
        """Write one CDR-serialised message of ``topic`` received at ``timestamp_ns``.

        :raises BagError: a topic not added first, or a closed bag
        """
        with self._lock:
            self._check_open()
            connection = self._connections.get(topic)
            if connection is None:
                raise BagError(f'topic {topic} was not added to the bag {self.path}')
            self._writer.write(connection, int(timestamp_ns), bytes(rawdata))
            self.counts[topic] += 1

    def flush(self):
        """Write out the messages held in memory (mcap: close the pending chunk)."""
        with self._lock:
            if self._writer is not None and self.storage == 'mcap':
                self._writer.storage.flush()

    def close(self):
        """Finish the bag (summary, index, ``metadata.yaml``); calling it again does nothing."""
        with self._lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.close()

    def _check_open(self):
        if self._writer is None:
            raise BagError(f'the bag {self.path} is closed')

    def __enter__(self):
        """Return the recorder."""
        return self

    def __exit__(self, *exc_info):
        """Close the bag, also after an error, so that it stays readable."""
        self.close()


# ---------------------------------------------------------------- reading


def _types_from_definition(msgtype, encoding, text):
    """Return the type definitions of one bag schema (``ros2msg`` or ``ros2idl``)."""
    if encoding == 'ros2msg':
        return get_types_from_msg(text, msgtype)
    if encoding == 'ros2idl':
        separator = '=' * 80 + '\n'
        if text.startswith(separator + 'IDL: '):
            types = {}
            for part in text.split(separator)[1:]:
                types.update(get_types_from_idl(part.split('\n', 1)[1]))
            return types
        return get_types_from_idl(text)
    return {}


def _complete_length(stream, size):
    """Return the end of the last complete top-level MCAP record of ``stream``.

    A record is an opcode byte, a little-endian uint64 length and its body:
    an MCAP file cut short by a killed writer ends inside a record.
    """
    stream.seek(0)
    if stream.read(8) != _MCAP_MAGIC:
        return 0
    end = 8
    while end + 9 <= size:
        stream.seek(end + 1)
        length = int.from_bytes(stream.read(8), 'little')
        if end + 9 + length > size:
            break
        end += 9 + length
    return end


class _Prefix(io.RawIOBase):
    """The first ``length`` bytes of a binary file, read-only."""

    def __init__(self, stream, length):
        self._stream = stream
        self._left = length
        stream.seek(0)

    def readable(self):
        return True

    def readinto(self, buffer):
        count = min(len(buffer), self._left)
        data = self._stream.read(count)
        buffer[:len(data)] = data
        self._left -= len(data)
        return len(data)


class _RecoveredMcap:
    """An mcap file without summary or footer (a killed recording), read record by record.

    Everything up to the last complete record is read; a cut record at the
    end is left out.
    """

    def __init__(self, path):
        self.path = path
        self._stream = open(path, 'rb')
        size = os.fstat(self._stream.fileno()).st_size
        self.length = _complete_length(self._stream, size)
        self.cut_bytes = size - self.length
        if self.length == 0:
            self._stream.close()
            raise BagError(f'{path} is not an mcap file')
        try:
            self._scan()
        except BaseException:
            self._stream.close()
            raise

    def _scan(self):
        """Find the topics, types, counts and time span of the complete records."""
        self.topics, self._counts, self._schemas, channels = {}, Counter(), {}, {}
        self.start_ns = self.end_ns = None
        for record in self._records():
            if isinstance(record, Schema):
                self._schemas[record.id] = record
            elif isinstance(record, Channel):
                channels[record.id] = record.topic
                schema = self._schemas.get(record.schema_id)
                self.topics[record.topic] = schema.name if schema else ''
            elif isinstance(record, Message):
                self._counts[channels.get(record.channel_id, '')] += 1
                t = record.log_time
                self.start_ns = t if self.start_ns is None else min(self.start_ns, t)
                self.end_ns = t if self.end_ns is None else max(self.end_ns, t)
        self.typestore = self._make_typestore()

    def _records(self):
        reader = StreamReader(_Prefix(self._stream, self.length), record_size_limit=None)
        try:
            yield from reader.records
        except McapError:
            return  # EndOfFile after the last complete record

    def _make_typestore(self):
        types = {}
        for schema in self._schemas.values():
            types.update(_types_from_definition(schema.name, schema.encoding,
                                                schema.data.decode('utf-8', 'replace')))
        if not types:
            return project_typestore()
        store = get_typestore(Stores.EMPTY)
        store.register(types)
        return store

    def topic_counts(self):
        """Return topic -> number of complete messages."""
        return Counter(self._counts)

    def messages(self, topics, start_ns=None, stop_ns=None):
        """Yield ``(topic, log_time_ns, rawdata)`` of ``topics``, in file order."""
        channels = {}
        for record in self._records():
            if isinstance(record, Channel):
                channels[record.id] = record.topic
            elif isinstance(record, Message):
                topic = channels.get(record.channel_id)
                t = record.log_time
                if topic in topics and (start_ns is None or t >= start_ns) and (
                        stop_ns is None or t < stop_ns):
                    yield topic, t, record.data

    def deserialize(self, rawdata, msgtype):
        """Return the message of ``rawdata`` (CDR)."""
        return self.typestore.deserialize_cdr(rawdata, msgtype)

    def close(self):
        """Close the file."""
        self._stream.close()


class _IndexedBag:
    """A complete bag (folder with metadata.yaml, or one .mcap / .db3 file) read by rosbags."""

    cut_bytes = 0

    def __init__(self, path):
        self.path = path
        self._reader = AnyReader([Path(path)], default_typestore=project_typestore())
        self._reader.open()
        self.topics = {c.topic: c.msgtype for c in self._reader.connections}
        self.start_ns = self._reader.start_time if self._reader.message_count else None
        self.end_ns = self._reader.end_time - 1 if self._reader.message_count else None

    def topic_counts(self):
        """Return topic -> number of messages."""
        counts = Counter()
        for c in self._reader.connections:
            counts[c.topic] += c.msgcount
        return counts

    def messages(self, topics, start_ns=None, stop_ns=None):
        """Yield ``(topic, log_time_ns, rawdata)`` of ``topics`` in time order."""
        connections = [c for c in self._reader.connections if c.topic in topics]
        if not connections:
            return
        for connection, t, rawdata in self._reader.messages(connections, start_ns, stop_ns):
            yield connection.topic, t, rawdata

    def deserialize(self, rawdata, msgtype):
        """Return the message of ``rawdata`` (CDR)."""
        return self._reader.deserialize(rawdata, msgtype)

    def close(self):
        """Close the bag."""
        self._reader.close()


@dataclass
class Bag:
    """An open bag: its topics, time span and messages.

    ``recovered`` is True for a recording that was not closed (no summary),
    read up to its last complete record; ``cut_bytes`` were left out.
    """

    path: str
    topics: dict
    start_ns: int
    end_ns: int
    recovered: bool
    cut_bytes: int
    _storage: object = field(repr=False)

    def counts(self):
        """Return topic -> number of messages."""
        return self._storage.topic_counts()

    def messages(self, topics, start_ns=None, stop_ns=None):
        """Yield ``(topic, timestamp_ns, rawdata)`` of ``topics``; stop is exclusive."""
        return self._storage.messages(set(topics), start_ns, stop_ns)

    def deserialize(self, rawdata, msgtype):
        """Return the message (attributes as in rclpy) of CDR ``rawdata``.

        :raises BagError: data that does not decode as ``msgtype``
        """
        try:
            return self._storage.deserialize(rawdata, msgtype)
        except Exception as exc:  # any decoding error of corrupt data
            raise BagError(f'a {msgtype} message of {self.path} does not decode: {exc}') \
                from exc

    def close(self):
        """Close the bag's files."""
        self._storage.close()

    def __enter__(self):
        """Return the bag."""
        return self

    def __exit__(self, *exc_info):
        """Close the bag."""
        self.close()


def _storage_files(folder):
    return sorted(glob.glob(os.path.join(folder, '*.mcap'))
                  + glob.glob(os.path.join(folder, '*.db3')))


def open_bag(path):
    """Open a rosbag2 bag: a bag folder, or one ``.mcap`` or ``.db3`` file.

    Bags written by :class:`BagRecorder` or by ``ros2 bag record`` (mcap or
    sqlite3, with or without message definitions) open alike. A recording
    that was killed (an mcap file without summary, and no ``metadata.yaml``)
    is read up to its last complete record.

    :raises BagError: no such bag, or nothing readable in it
    """
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise BagError(f'bag {path} does not exist')
    target = path
    if os.path.isdir(path) and not os.path.exists(os.path.join(path, 'metadata.yaml')):
        files = _storage_files(path)
        if not files:
            raise BagError(f'{path} holds no metadata.yaml and no .mcap or .db3 file: '
                           'not a rosbag2 bag')
        if len(files) > 1:
            raise BagError(f'{path} has no metadata.yaml and {len(files)} storage files; '
                           'run `ros2 bag reindex` on it, or give one file')
        target = files[0]
    try:
        storage = _IndexedBag(target)
        recovered = False
    except (AnyReaderError, FileNotFoundError, TypesysError, KeyError, ValueError) as exc:
        mcap_files = [target] if target.endswith('.mcap') else (
            [f for f in _storage_files(target) if f.endswith('.mcap')]
            if os.path.isdir(target) else [])
        if len(mcap_files) != 1:
            raise BagError(f'cannot read the bag {path}: {exc}') from exc
        try:
            storage = _RecoveredMcap(mcap_files[0])
        except BagError:
            raise
        except Exception as recovery:
            raise BagError(f'cannot read the bag {path}: {exc}; read record by record: '
                           f'{recovery}') from recovery
        recovered = True
        LOG.warning('%s was not closed (%s): read up to its last complete record, '
                    '%d bytes after it left out', mcap_files[0], exc, storage.cut_bytes)
    return Bag(path, storage.topics, storage.start_ns, storage.end_ns, recovered,
               storage.cut_bytes, storage)


# ---------------------------------------------------------------- datasets from bags

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
    header = getattr(msg, 'header', None)
    if header is None:
        return 0
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


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
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return report


def _write_frames(bag, report, work, every, start_ns, end_ns, label, labels):
    """Write the selected, labelled frames into the folder ``work``."""
    stop_ns = None if end_ns is None else end_ns + 1
    source = f'rosbag2:{bag.path}:{report.topic}'
    with open(os.path.join(work, MANIFEST), 'w', encoding='utf-8') as manifest:
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
            samples = write_frame(work, manifest, encoded, chosen, width, height, uid, stamp,
                                  source)
            report.frames_written += 1
            report.counts.update(s.label for s in samples)
