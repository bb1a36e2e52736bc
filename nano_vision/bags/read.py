"""Open a rosbag2 bag for reading: :func:`open_bag` gives a :class:`Bag`.

Bags that were closed (a folder with ``metadata.yaml``, or one ``.mcap`` or
``.db3`` file, mcap or sqlite3, with or without embedded definitions) are read
by ``rosbags``' ``AnyReader``, with
:func:`~nano_vision.bags.typestore.project_typestore` for bags that carry no
definitions. A killed recording (an mcap file without summary or footer, and
no ``metadata.yaml``) is read up to its last complete record by
:class:`~nano_vision.bags.recover.RecoveredMcap`.
"""

from collections import Counter
from dataclasses import dataclass, field
import glob
import logging
import os
from pathlib import Path

from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.typesys import TypesysError

from nano_vision.bags.errors import BagError
from nano_vision.bags.recover import RecoveredMcap
from nano_vision.bags.typestore import project_typestore

LOG = logging.getLogger(__name__)


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
            storage = RecoveredMcap(mcap_files[0])
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
