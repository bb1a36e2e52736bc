"""Record a rosbag2 bag of CDR-serialised messages (no rclpy): :class:`BagRecorder`.

Messages travel as CDR bytes (what ``rclpy.serialization.serialize_message``
gives); every topic's definition is embedded, from
:func:`~nano_vision.bags.typestore.project_typestore`, so any rosbag2 reader
decodes the ``nano_vision_msgs`` types without the package.

Recording writes mcap by default. ``rosbags``' mcap writer keeps messages in
memory until a chunk of about 1 MiB is full; :class:`BagRecorder` closes
chunks at ``chunk_bytes`` (32 KiB by default) and hands every closed chunk to
the operating system at once, so a recorder killed with SIGKILL loses only
the messages of the unfinished chunk (see docs/rosbags.md for the numbers).
"""

import os
import threading

from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.storage_mcap import McapWriter

from nano_vision.bags.errors import BagError
from nano_vision.bags.typestore import MSGS_PACKAGE, project_typestore

#: Storage formats :class:`BagRecorder` writes.
STORAGES = ('mcap', 'sqlite3')

#: Default size at which a recording's chunk is closed and written out.
DEFAULT_CHUNK_BYTES = 32 * 1024


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
