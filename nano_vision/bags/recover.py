"""Read an mcap file that was never closed (a killed recording) up to its last complete record.

A killed writer leaves no summary, no footer and usually a record cut short
at the end; readers that start from the footer (``rosbags``) refuse such a
file. The ``mcap`` library's ``StreamReader`` and ``NonSeekingReader`` read it
from the front, but a record cut short can come out of them with its data
cut as well (their reads accept a short read as long as it is not empty), so
:func:`complete_length` first finds where the last complete top-level record
ends, and the readers see only the bytes up to there (a memory map of that
length). That walk over the record framing (an opcode byte, a little-endian
uint64 length, the body) is the one piece of mcap's format kept here.

The types of a recovered file come from its schemas; rosbag2's ``ros2idl``
schemas hold several IDL files separated by a line of 80 ``=`` and an
``IDL: <name>`` line, which ``rosbags`` splits only inside ``AnyReader``:
:func:`_types_from_schema` does the same split.
"""

from collections import Counter
import mmap
import os
import struct

from mcap.exceptions import EndOfFile, McapError
from mcap.reader import NonSeekingReader
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader
from mcap.well_known import SchemaEncoding
from rosbags.typesys import get_types_from_idl, get_types_from_msg, get_typestore, Stores

from nano_vision.bags.errors import BagError
from nano_vision.bags.typestore import project_typestore

# Length of the magic every mcap file starts with (the readers check it).
_MAGIC_BYTES = 8
# A top-level record: opcode (1 byte) and the length of its body (uint64).
_RECORD_HEADER = struct.Struct('<BQ')
# rosbag2's separator of the IDL files in one ros2idl schema.
_IDL_SEPARATOR = '=' * 80 + '\n'


def complete_length(data):
    """Return the end of the last complete top-level record of the mcap bytes ``data``.

    :param data: the file's bytes (or a memory map), from its magic on
    """
    end = _MAGIC_BYTES
    while end + _RECORD_HEADER.size <= len(data):
        _, length = _RECORD_HEADER.unpack_from(data, end)
        if end + _RECORD_HEADER.size + length > len(data):
            break
        end += _RECORD_HEADER.size + length
    return end


def _types_from_schema(schema):
    """Return the type definitions of one ``ros2msg`` or ``ros2idl`` schema."""
    text = schema.data.decode('utf-8', 'replace')
    if schema.encoding == SchemaEncoding.ROS2:
        return get_types_from_msg(text, schema.name)
    if schema.encoding != SchemaEncoding.ROS2IDL:
        return {}
    if not text.startswith(_IDL_SEPARATOR + 'IDL: '):
        return get_types_from_idl(text)
    types = {}
    for part in text.split(_IDL_SEPARATOR)[1:]:
        types.update(get_types_from_idl(part.split('\n', 1)[1]))
    return types


class RecoveredMcap:
    """An mcap file without summary or footer, read up to its last complete record.

    :param path: the ``.mcap`` file
    :raises BagError: not an mcap file
    """

    def __init__(self, path):
        """Open ``path`` and read its topics, counts and time span."""
        self.path = path
        self._file = open(path, 'rb')
        try:
            size = os.fstat(self._file.fileno()).st_size
            if size < _MAGIC_BYTES:
                raise BagError(f'{path} is not an mcap file ({size} bytes)')
            with mmap.mmap(self._file.fileno(), size, access=mmap.ACCESS_READ) as whole:
                self.length = complete_length(whole)
            self.cut_bytes = size - self.length
            self._scan()
        except McapError as exc:
            self._file.close()
            raise BagError(f'{path} is not a readable mcap file: {exc}') from exc
        except BaseException:
            self._file.close()
            raise

    def _complete(self):
        """Return a read-only view of the complete records (a file object for the readers)."""
        return mmap.mmap(self._file.fileno(), self.length, access=mmap.ACCESS_READ)

    def _scan(self):
        """Find the topics, types, counts and time span of the complete records."""
        self.topics, self._counts, schemas, channels = {}, Counter(), {}, {}
        self.start_ns = self.end_ns = None
        with self._complete() as view:
            try:
                for record in StreamReader(view, validate_crcs=True,
                                           record_size_limit=None).records:
                    if isinstance(record, Schema):
                        schemas[record.id] = record
                    elif isinstance(record, Channel):
                        channels[record.id] = record.topic
                        schema = schemas.get(record.schema_id)
                        self.topics[record.topic] = schema.name if schema else ''
                    elif isinstance(record, Message):
                        self._counts[channels.get(record.channel_id, '')] += 1
                        t = record.log_time
                        self.start_ns = t if self.start_ns is None else min(self.start_ns, t)
                        self.end_ns = t if self.end_ns is None else max(self.end_ns, t)
            except EndOfFile:
                pass  # after the last complete record
        types = {}
        for schema in schemas.values():
            types.update(_types_from_schema(schema))
        if types:
            self.typestore = get_typestore(Stores.EMPTY)
            self.typestore.register(types)
        else:
            self.typestore = project_typestore()

    def topic_counts(self):
        """Return topic -> number of complete messages."""
        return Counter(self._counts)

    def messages(self, topics, start_ns=None, stop_ns=None):
        """Yield ``(topic, log_time_ns, rawdata)`` of ``topics``, in file order."""
        with self._complete() as view:
            reader = NonSeekingReader(view, validate_crcs=True, record_size_limit=None)
            try:
                for _, channel, message in reader.iter_messages(
                        topics, log_time_order=False, starting_at=start_ns,
                        ending_before=stop_ns):
                    yield channel.topic, message.log_time, message.data
            except EndOfFile:
                return  # after the last complete record

    def deserialize(self, rawdata, msgtype):
        """Return the message of ``rawdata`` (CDR)."""
        return self.typestore.deserialize_cdr(rawdata, msgtype)

    def close(self):
        """Close the file."""
        self._file.close()
