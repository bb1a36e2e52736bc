"""Open a rosbag2 bag for reading: :func:`open_bag` gives a :class:`Bag`.

Bags that were closed (a folder with ``metadata.yaml``, or one ``.mcap`` or
``.db3`` file, mcap or sqlite3, with or without embedded definitions) are read
by ``rosbags``' ``AnyReader``, with
:func:`~nano_vision.bags.typestore.project_typestore` for bags that carry no
definitions. A killed recording has no summary, index or ``metadata.yaml``:
:func:`open_bag` then reads its ``.mcap`` file record by record up to the
last complete one.
"""

from collections import Counter
from dataclasses import dataclass, field
import glob
import io
import logging
import os
from pathlib import Path

from mcap.exceptions import McapError
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.typesys import (get_types_from_idl, get_types_from_msg, get_typestore, Stores,
                             TypesysError)

from nano_vision.bags.errors import BagError
from nano_vision.bags.typestore import project_typestore

LOG = logging.getLogger(__name__)

_MCAP_MAGIC = b'\x89MCAP0\r\n'


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

    Bags written by :class:`~nano_vision.bags.record.BagRecorder` or by
    ``ros2 bag record`` (mcap or sqlite3, with or without message
    definitions) open alike. A recording that was killed (an mcap file
    without summary, and no ``metadata.yaml``) is read up to its last
    complete record.

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
