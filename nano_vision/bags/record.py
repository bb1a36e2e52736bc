"""Record a rosbag2 bag of CDR-serialised messages (no rclpy): :class:`BagRecorder`.

Messages travel as CDR bytes (what ``rclpy.serialization.serialize_message``
gives), stored as they came; every topic's definition is embedded (``ros2msg``,
from :func:`~nano_vision.bags.typestore.project_typestore` through ``rosbags``'
``generate_msgdef``), so any rosbag2 reader decodes the ``nano_vision_msgs``
types without the package.

mcap (default) is written by the ``mcap`` library's ``Writer``: its
``chunk_size`` closes a chunk (with its message index) at ``chunk_bytes``
(32 KiB by default, where rosbags' writer waits for 1 MiB), and the file is
flushed after every message, so each closed chunk reaches the operating
system at once and a recorder killed with SIGKILL loses only the messages of
the unfinished chunk (docs/rosbags.md has the numbers). ``mcap`` writes the
file but not the rosbag2 folder's ``metadata.yaml``, and ``rosbags`` writes
that file only for bags of its own writer: :func:`_bag_information` builds it
(format version 9, the fields rosbags' writer and Kilted's rosbag2 write),
the one piece of rosbag2's format kept here. sqlite3 bags are written by
``rosbags``' ``Writer`` whole.
"""

from collections import Counter
import os
import threading

from mcap.well_known import MessageEncoding, Profile, SchemaEncoding
from mcap.writer import CompressionType, Writer as McapWriter
from rosbags.rosbag2 import StoragePlugin, Writer as Rosbag2Writer
import yaml

from nano_vision.bags.errors import BagError
from nano_vision.bags.typestore import MSGS_PACKAGE, project_typestore, ROS_DISTRO
from nano_vision.runtime.files import write_file_atomic

#: Storage formats :class:`BagRecorder` writes.
STORAGES = ('mcap', 'sqlite3')

#: Default size at which a recording's chunk is closed and written out.
DEFAULT_CHUNK_BYTES = 32 * 1024

#: rosbag2's ``metadata.yaml`` format version (Jazzy and Kilted write 9).
METADATA_VERSION = 9

# No QoS profiles are recorded (readers then use their defaults, as for rosbags' bags):
# the channel's metadata holds the YAML of an empty list.
_CHANNEL_METADATA = {'offered_qos_profiles': '[]'}


def _bag_information(file_name, topics, counts, start_ns, end_ns):
    """Return rosbag2's ``rosbag2_bagfile_information`` of a one-file mcap bag.

    :param topics: ``(topic, msgtype, type hash)`` in the order they were added
    :param counts: messages per topic
    :param start_ns: first message's time, ``end_ns``: the last one's
    """
    total = sum(counts.values())
    duration = max(0, end_ns - start_ns)
    return {
        'version': METADATA_VERSION,
        'storage_identifier': 'mcap',
        'relative_file_paths': [file_name],
        'duration': {'nanoseconds': duration},
        'starting_time': {'nanoseconds_since_epoch': start_ns},
        'message_count': total,
        'topics_with_message_count': [
            {'topic_metadata': {'name': topic, 'type': msgtype,
                                'serialization_format': MessageEncoding.CDR,
                                'offered_qos_profiles': [],
                                'type_description_hash': digest},
             'message_count': counts[topic]}
            for topic, msgtype, digest in topics],
        'compression_format': '',
        'compression_mode': '',
        'files': [{'path': file_name, 'starting_time': {'nanoseconds_since_epoch': start_ns},
                   'duration': {'nanoseconds': duration}, 'message_count': total}],
        'custom_data': None,
        'ros_distro': ROS_DISTRO,
    }


class _McapBag:
    """A bag folder holding one ``.mcap`` file, written by ``mcap`` in small chunks."""

    def __init__(self, folder, chunk_bytes, typestore):
        os.makedirs(folder, mode=0o755)
        self._folder = folder
        self._typestore = typestore
        self._file_name = f'{os.path.basename(folder)}.mcap'
        self._file = open(os.path.join(folder, self._file_name), 'xb')
        # mcap closes a chunk once it holds more than chunk_size bytes: here at chunk_bytes.
        # No compression: frames are mostly JPEG already, and rosbags wrote none either.
        self._writer = McapWriter(self._file, chunk_size=chunk_bytes - 1,
                                  compression=CompressionType.NONE)
        self._writer.start(profile=Profile.ROS2)
        self._schemas = {}
        self._topics = []
        self._counts = Counter()
        self._start_ns, self._end_ns = 2**63 - 1, 0  # as rosbag2 writes an empty bag's

    def add_connection(self, topic, msgtype):
        """Add a channel for ``topic`` (and the schema of ``msgtype``); return its id."""
        schema = self._schemas.get(msgtype)
        if schema is None:
            text, _ = self._typestore.generate_msgdef(msgtype, ros_version=2)
            schema = self._schemas[msgtype] = self._writer.register_schema(
                msgtype, SchemaEncoding.ROS2, text.encode())
        self._topics.append((topic, msgtype, self._typestore.hash_rihs01(msgtype)))
        return self._writer.register_channel(topic, MessageEncoding.CDR, schema,
                                             dict(_CHANNEL_METADATA))

    def write(self, topic, channel, timestamp_ns, rawdata):
        """Write one message; a chunk the writer closes goes to the operating system at once."""
        self._writer.add_message(channel, timestamp_ns, rawdata, timestamp_ns)
        # Until a chunk is closed the writer holds it: this flush then costs nothing.
        self._file.flush()
        self._counts[topic] += 1
        self._start_ns = min(self._start_ns, timestamp_ns)
        self._end_ns = max(self._end_ns, timestamp_ns)

    def flush(self):
        """Close the pending chunk and hand it to the operating system."""
        self._writer.flush()

    def close(self):
        """Write the summary and index, then ``metadata.yaml``."""
        information = _bag_information(self._file_name, self._topics, self._counts,
                                       self._start_ns, self._end_ns)
        try:
            # rosbag2's mcap storage keeps the same information inside the file.
            self._writer.add_metadata('rosbag2', {
                'serialized_metadata': yaml.safe_dump(information).strip()})
            self._writer.finish()
        finally:
            self._file.close()
        text = yaml.safe_dump({'rosbag2_bagfile_information': information})
        write_file_atomic(os.path.join(self._folder, 'metadata.yaml'), text.encode('utf-8'))


class _Sqlite3Bag:
    """A sqlite3 bag written by ``rosbags`` (committed when it is closed)."""

    def __init__(self, folder, typestore):
        self._typestore = typestore
        self._writer = Rosbag2Writer(folder, version=METADATA_VERSION,
                                     storage_plugin=StoragePlugin.SQLITE3)
        self._writer.open()

    def add_connection(self, topic, msgtype):
        """Add ``topic`` carrying ``msgtype``; return its connection."""
        return self._writer.add_connection(topic, msgtype, typestore=self._typestore)

    def write(self, topic, connection, timestamp_ns, rawdata):
        """Write one message."""
        self._writer.write(connection, timestamp_ns, rawdata)

    def flush(self):
        """Do nothing: rosbags commits a sqlite3 bag when it is closed."""

    def close(self):
        """Commit the messages and write ``metadata.yaml``."""
        self._writer.close()


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
        try:
            if storage == 'mcap':
                self._bag = _McapBag(self.path, int(chunk_bytes), self._typestore)
            else:
                self._bag = _Sqlite3Bag(self.path, self._typestore)
        except Exception as exc:
            raise BagError(f'cannot create the bag {self.path}: {exc}') from exc

    @property
    def closed(self):
        """Return True once :meth:`close` ran."""
        return self._bag is None

    @property
    def topics(self):
        """Return topic -> message type of the topics added so far."""
        return {topic: msgtype for topic, (msgtype, _) in self._connections.items()}

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
                if known[0] != msgtype:
                    raise BagError(f'topic {topic} is already recorded as {known[0]}, '
                                   f'not {msgtype}')
                return
            if msgtype not in self._typestore.fielddefs:
                raise BagError(f'unknown message type {msgtype!r}: use a standard ROS 2 type '
                               f'or one of {MSGS_PACKAGE} (e.g. sensor_msgs/msg/Image)')
            self._connections[topic] = (msgtype, self._bag.add_connection(topic, msgtype))
            self.counts[topic] = 0

    def write(self, topic, rawdata, timestamp_ns):
        """Write one CDR-serialised message of ``topic`` received at ``timestamp_ns``.

        :raises BagError: a topic not added first, or a closed bag
        """
        with self._lock:
            self._check_open()
            known = self._connections.get(topic)
            if known is None:
                raise BagError(f'topic {topic} was not added to the bag {self.path}')
            self._bag.write(topic, known[1], int(timestamp_ns), bytes(rawdata))
            self.counts[topic] += 1

    def flush(self):
        """Write out the messages held in memory (mcap: close the pending chunk)."""
        with self._lock:
            if self._bag is not None:
                self._bag.flush()

    def close(self):
        """Finish the bag (summary, index, ``metadata.yaml``); calling it again does nothing."""
        with self._lock:
            bag, self._bag = self._bag, None
            if bag is not None:
                bag.close()

    def _check_open(self):
        if self._bag is None:
            raise BagError(f'the bag {self.path} is closed')

    def __enter__(self):
        """Return the recorder."""
        return self

    def __exit__(self, *exc_info):
        """Close the bag, also after an error, so that it stays readable."""
        self.close()
