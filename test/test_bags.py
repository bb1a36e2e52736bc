"""rosbag2 in and out: bags the project writes read by mcap's own reader, and back."""

import io
import os
import signal
import subprocess
import sys

from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
nano_vision_msgs = pytest.importorskip('nano_vision_msgs.msg')
GroundTruth = getattr(nano_vision_msgs, 'GroundTruth', None)
Keypoint = getattr(nano_vision_msgs, 'Keypoint', None)
if GroundTruth is None:  # an uninstalled nano_vision_msgs imports as an empty namespace
    pytest.skip('nano_vision_msgs is not built', allow_module_level=True)

from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from helpers import check_written_dataset  # noqa: E402
from nano_vision.bags.errors import BagError  # noqa: E402
from nano_vision.bags.read import open_bag  # noqa: E402
from nano_vision.bags.record import BagRecorder, DEFAULT_CHUNK_BYTES  # noqa: E402
from nano_vision.bags.to_dataset import dataset_from_bag  # noqa: E402
from nano_vision.datasets.layout import load_dataset  # noqa: E402
from nano_vision.image.conversion import (compressed_msg_to_numpy,  # noqa: E402
                                          image_msg_to_numpy, numpy_to_compressed_msg,
                                          numpy_to_image_msg)
from nano_vision.tools.cli import main as cli  # noqa: E402

SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND


def pattern(index, width=64, height=48):
    """Return an rgb8 frame that tells its index and has distinct red/blue halves."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2, 0] = 250  # red on the left
    image[:, width // 2:, 2] = 250  # blue on the right
    image[0, 0] = (index % 256, index // 256, 7)
    return image


def image_msg(index, stamp_ns, encoding='rgb8', width=64, height=48):
    msg = Image()
    pixels = pattern(index, width, height)
    if encoding == 'bgr8':
        pixels = pixels[:, :, ::-1]
    elif encoding == 'mono8':
        pixels = pixels[:, :, 0]
    numpy_to_image_msg(np.ascontiguousarray(pixels), encoding, msg)
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, SECOND)
    msg.header.frame_id = 'camera'
    return msg


def compressed_msg(index, stamp_ns):
    msg = CompressedImage()
    numpy_to_compressed_msg(pattern(index), 'rgb8', msg, 'jpeg', 95)
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, SECOND)
    return msg


def truth_msg(stamp_ns, label='', points=()):
    msg = GroundTruth(scene='test', label=label, width=64, height=48,
                      keypoints=[Keypoint(name=n, u=float(u), v=float(v),
                                          x=2 * u / 64 - 1, y=2 * v / 48 - 1)
                                 for n, u, v in points])
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, SECOND)
    return msg


def read_with_mcap(path):
    """Return [(topic, log_time, decoded, raw)] read by the mcap library alone."""
    with open(path, 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        return [(channel.topic, message.log_time, decoded, message.data)
                for _, channel, message, decoded in reader.iter_decoded_messages()]


def test_a_recorded_bag_is_read_by_the_mcap_library(tmp_path):
    sent = {'/image': [], '/image/compressed': [], '/truth': [], '/label': []}
    with BagRecorder(tmp_path / 'run') as bag:
        bag.add_topic('/image', 'sensor_msgs/msg/Image')
        bag.add_topic('/image/compressed', 'sensor_msgs/msg/CompressedImage')
        bag.add_topic('/truth', 'nano_vision_msgs/msg/GroundTruth')
        bag.add_topic('/label', 'std_msgs/msg/String')
        for i in range(5):
            stamp = T0 + i * SECOND // 10
            msgs = {'/image': image_msg(i, stamp), '/image/compressed': compressed_msg(i, stamp),
                    '/truth': truth_msg(stamp, points=[('nose', 10 + i, 20)]),
                    '/label': String(data=f'label_{i}')}
            for topic, msg in msgs.items():
                raw = serialize_message(msg)
                bag.write(topic, raw, stamp + 1000)
                sent[topic].append((msg, raw))
    assert bag.counts == dict.fromkeys(sent, 5)
    assert (tmp_path / 'run' / 'metadata.yaml').exists()
    got = read_with_mcap(tmp_path / 'run' / 'run.mcap')
    assert len(got) == 20
    classes = {'/image': Image, '/image/compressed': CompressedImage, '/truth': GroundTruth,
               '/label': String}
    for topic, msgs in sent.items():
        rows = [row for row in got if row[0] == topic]
        assert [r[1] for r in rows] == [T0 + i * SECOND // 10 + 1000 for i in range(5)]
        for (_, _, decoded, raw), (msg, sent_raw) in zip(rows, msgs):
            assert raw == sent_raw
            assert deserialize_message(raw, classes[topic]) == deserialize_message(
                sent_raw, classes[topic])
        if topic == '/image':
            decoded = rows[3][2]
            assert (decoded.width, decoded.height, decoded.encoding) == (64, 48, 'rgb8')
            assert bytes(decoded.data) == bytes(msgs[3][0].data)
            assert decoded.header.frame_id == 'camera'
        if topic == '/truth':
            decoded = rows[2][2]
            assert decoded.keypoints[0].name == 'nose' and decoded.keypoints[0].u == 12
        if topic == '/label':
            assert [r[2].data for r in rows] == [f'label_{i}' for i in range(5)]


def test_the_recorder_refuses_what_it_cannot_do(tmp_path):
    existing = tmp_path / 'old'
    existing.mkdir()
    (existing / 'keep.txt').write_text('precious')
    with pytest.raises(BagError, match='exists already'):
        BagRecorder(existing)
    assert (existing / 'keep.txt').read_text() == 'precious'
    with pytest.raises(BagError, match='unknown bag storage'):
        BagRecorder(tmp_path / 'x', storage='rosbag1')
    with BagRecorder(tmp_path / 'new') as bag:
        with pytest.raises(BagError, match='unknown message type'):
            bag.add_topic('/x', 'sensor_msgs/msg/NoSuchThing')
        with pytest.raises(BagError, match='was not added'):
            bag.write('/image', b'\x00\x01\x00\x00', T0)
        bag.add_topic('/image', 'sensor_msgs/msg/Image')
        bag.add_topic('/image', 'sensor_msgs/msg/Image')  # the same again is fine
        with pytest.raises(BagError, match='already recorded as'):
            bag.add_topic('/image', 'sensor_msgs/msg/CompressedImage')
    with pytest.raises(BagError, match='closed'):
        bag.write('/image', serialize_message(image_msg(0, T0)), T0)
    bag.close()  # a second close does nothing


def test_sqlite3_bags_are_written_too(tmp_path):
    from rosbags.rosbag2 import Reader
    with BagRecorder(tmp_path / 'db', storage='sqlite3') as bag:
        bag.add_topic('/label', 'std_msgs/msg/String')
        for i in range(3):
            bag.write('/label', serialize_message(String(data=str(i))), T0 + i)
    assert os.path.exists(tmp_path / 'db' / 'db.db3')
    with Reader(tmp_path / 'db') as reader:
        raws = [raw for _, _, raw in reader.messages()]
    assert [deserialize_message(raw, String).data for raw in raws] == ['0', '1', '2']


KILLED_WRITER = r"""
import sys
import numpy as np
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CompressedImage, Image
from nano_vision.bags.record import BagRecorder
from nano_vision.image.conversion import numpy_to_compressed_msg, numpy_to_image_msg
from nano_vision.scenes import make_scene

path, kind = sys.argv[1], sys.argv[2]
scene = make_scene('thumbs')
rng = np.random.default_rng(0)
frames = [scene.render(scene.random_state(rng), 640, 480, rng)[0] for _ in range(8)]
bag = BagRecorder(path)
topic = '/image' if kind == 'rgb8' else '/image/compressed'
bag.add_topic(topic, 'sensor_msgs/msg/Image' if kind == 'rgb8'
              else 'sensor_msgs/msg/CompressedImage')
index = 0
while True:  # until killed
    pixels = frames[index % len(frames)].copy()
    pixels[0, :3, 0] = (index % 256, index // 256, 7)  # the frame tells its index
    if kind == 'rgb8':
        msg = numpy_to_image_msg(pixels, 'rgb8', Image())
    else:
        msg = numpy_to_compressed_msg(pixels, 'rgb8', CompressedImage(), 'jpeg', 90)
    msg.header.stamp.sec, msg.header.frame_id = index, str(index)
    raw = serialize_message(msg)
    bag.write(topic, raw, 1_000_000_000 * (index + 1))
    print(index, len(raw), flush=True)  # acknowledged: write() returned
    index += 1
"""


@pytest.mark.parametrize('kind, acked', [('rgb8', 6), ('jpeg', 40)])
def test_a_killed_recording_loses_at_most_one_chunk(tmp_path, kind, acked):
    """SIGKILL after ``acked`` writes: every frame but the last chunk's is read back."""
    bag_path = tmp_path / 'killed'
    child = subprocess.Popen([sys.executable, '-c', KILLED_WRITER, str(bag_path), kind],
                             stdout=subprocess.PIPE, text=True)
    sizes = []
    try:
        for line in child.stdout:
            sizes.append(int(line.split()[1]))
            if len(sizes) == acked:
                child.send_signal(signal.SIGKILL)
                break
    finally:
        child.kill()
        child.wait(timeout=30)
    assert len(sizes) == acked and child.returncode == -signal.SIGKILL
    assert not (bag_path / 'metadata.yaml').exists()  # never closed
    # the unfinished chunk holds less than DEFAULT_CHUNK_BYTES of frames
    bound = 0 if min(sizes) >= DEFAULT_CHUNK_BYTES else DEFAULT_CHUNK_BYTES // min(sizes)
    with open_bag(bag_path) as bag:
        assert bag.recovered
        topic = next(iter(bag.topics))
        frames = [bag.deserialize(raw, bag.topics[topic])
                  for _, _, raw in bag.messages([topic])]
    assert len(frames) >= acked - bound
    print(f'{kind}: {acked} acknowledged, {len(frames)} recovered, bound {bound}')
    assert [int(f.header.frame_id) for f in frames] == list(range(len(frames)))
    if kind == 'rgb8':
        assert bound == 0
        for index, frame in enumerate(frames):
            pixels = image_msg_to_numpy(frame)
            assert tuple(pixels[0, :3, 0]) == (index % 256, index // 256, 7)
    else:
        assert 1 <= bound <= 2  # 640x480 JPEG frames at quality 90: 23-35 KB each
        for frame in frames:
            assert compressed_msg_to_numpy(frame).shape == (480, 640, 3)
    # the dataset command reads what was recovered
    report = dataset_from_bag(bag_path, tmp_path / 'data', topic, label='thumbs_up')
    assert report.recovered and report.frames_written == len(frames)


def test_a_bag_cut_anywhere_reads_up_to_its_last_complete_chunk(tmp_path):
    with BagRecorder(tmp_path / 'whole', chunk_bytes=1) as bag:  # one message per chunk
        bag.add_topic('/image', 'sensor_msgs/msg/Image')
        for i in range(6):
            bag.write('/image', serialize_message(image_msg(i, T0 + i)), T0 + i)
    data = (tmp_path / 'whole' / 'whole.mcap').read_bytes()
    with open(tmp_path / 'whole' / 'whole.mcap', 'rb') as stream:
        chunk_ends = sorted(c.chunk_start_offset + c.chunk_length
                            for c in make_reader(stream).get_summary().chunk_indexes)
    assert len(chunk_ends) == 6
    with open_bag(tmp_path / 'whole') as bag:
        assert not bag.recovered and bag.counts() == {'/image': 6}
    for cut in (100, chunk_ends[0], chunk_ends[2] + 1, chunk_ends[4] - 1, len(data) - 30):
        folder = tmp_path / f'cut{cut}'
        folder.mkdir()
        (folder / 'cut.mcap').write_bytes(data[:cut])
        with open_bag(folder) as bag:
            assert bag.recovered
            got = [bag.deserialize(raw, 'sensor_msgs/msg/Image').header.stamp.nanosec
                   for _, _, raw in bag.messages(['/image'])]
        expected = sum(e <= cut for e in chunk_ends)
        assert got == [(T0 + i) % SECOND for i in range(expected)]


def record_labels(folder, count, chunk_bytes=1):
    """Record ``count`` String messages; return the sent ``(log time, raw)`` and the mcap bytes."""
    sent = []
    with BagRecorder(folder, chunk_bytes=chunk_bytes) as bag:
        bag.add_topic('/label', 'std_msgs/msg/String')
        for i in range(count):
            raw = serialize_message(String(data=f'label {i}'))
            bag.write('/label', raw, T0 + i)
            sent.append((T0 + i, raw))
    return sent, (folder / f'{folder.name}.mcap').read_bytes()


def read_cuts(path, data, cuts):
    """Yield ``(cut, recovered, [(log time, raw)])`` of ``data`` cut short at each of ``cuts``.

    The file ``path`` holds ``data`` and is cut shorter and shorter.
    """
    path.write_bytes(data)
    for cut in sorted(cuts, reverse=True):
        os.truncate(path, cut)
        with open_bag(path) as bag:
            yield cut, bag.recovered, [(t, bytes(raw)) for _, t, raw in bag.messages(['/label'])]


def test_a_recording_cut_at_every_byte_of_its_last_chunks_yields_its_complete_messages(
        tmp_path):
    sent, data = record_labels(tmp_path / 'whole', 6)  # one message per chunk
    chunks = sorted((c.chunk_start_offset, c.chunk_start_offset + c.chunk_length)
                    for c in make_reader(io.BytesIO(data)).get_summary().chunk_indexes)
    assert len(chunks) == 6
    # through the last three chunks, their message indexes, the summary and the footer
    for cut, recovered, got in read_cuts(tmp_path / 'cut.mcap', data,
                                         range(chunks[3][0], len(data) + 1)):
        complete = sum(end <= cut for _, end in chunks)
        assert (recovered, got) == (cut < len(data), sent[:complete]), cut


LABEL_IDL = """================================================================================
IDL: std_msgs/msg/String
module std_msgs {
  module msg {
    struct String {
      string data;
    };
  };
};
"""


def test_a_killed_unchunked_recording_never_yields_a_message_cut_short(tmp_path):
    """Another tool's mcap: messages as top-level records, an IDL schema, never finished."""
    from mcap.writer import Writer as McapWriter
    stream = io.BytesIO()
    writer = McapWriter(stream, use_chunking=False)
    writer.start(profile='ros2')
    schema = writer.register_schema('std_msgs/msg/String', 'ros2idl', LABEL_IDL.encode())
    channel = writer.register_channel('/label', 'cdr', schema)
    sent, ends = [], []
    for i in range(6):
        raw = serialize_message(String(data=f'label {i}' * (i + 1)))
        writer.add_message(channel, T0 + i, raw, T0 + i)
        sent.append((T0 + i, raw))
        ends.append(stream.tell())  # the end of the message's record
    data = stream.getvalue()
    assert ends[-1] == len(data)
    for cut, recovered, got in read_cuts(tmp_path / 'cut.mcap', data,
                                         range(ends[2], len(data) + 1)):
        complete = sum(end <= cut for end in ends)
        assert recovered and got == sent[:complete], cut
    (tmp_path / 'cut.mcap').write_bytes(data)
    with open_bag(tmp_path / 'cut.mcap') as bag:  # the IDL schema decodes
        assert bag.topics == {'/label': 'std_msgs/msg/String'}
        assert [bag.deserialize(raw, 'std_msgs/msg/String').data
                for _, _, raw in bag.messages(['/label'])] == [
            f'label {i}' * (i + 1) for i in range(6)]


def test_chunks_close_at_chunk_bytes_and_flush_writes_out_the_pending_one(tmp_path):
    folder = tmp_path / 'live'
    raw = serialize_message(String(data='x' * 90))
    record = 9 + 22 + len(raw)  # an mcap message record: header, ids and times, the data

    def on_disk():
        with open_bag(folder) as seen:  # no metadata.yaml yet: read as a killed recording
            assert seen.recovered
            return seen.counts().get('/label', 0)

    with BagRecorder(folder, chunk_bytes=1000) as bag:
        bag.add_topic('/label', 'std_msgs/msg/String')
        for i in range(5):
            bag.write('/label', raw, T0 + i)
        assert on_disk() == 0  # the chunk is still being filled
        bag.flush()
        assert on_disk() == 5
        for i in range(5, 60):
            bag.write('/label', raw, T0 + i)
            assert 0 <= (i + 1 - on_disk()) * record < 1000  # the unfinished chunk
    with open(folder / 'live.mcap', 'rb') as stream:
        sizes = [c.uncompressed_size for c in sorted(
            make_reader(stream).get_summary().chunk_indexes,
            key=lambda c: c.chunk_start_offset)]
    assert len(sizes) > 3 and sizes[0] < 1000 and sizes[-1] < 1000 + record
    assert all(1000 <= size < 1000 + record for size in sizes[1:-1])


def test_a_recorded_bag_describes_itself_as_rosbag2_does(tmp_path):
    import yaml
    from rosbags.rosbag2 import Reader
    from nano_vision.bags.typestore import project_typestore
    with BagRecorder(tmp_path / 'run') as bag:
        bag.add_topic('/label', 'std_msgs/msg/String')
        bag.add_topic('/truth', 'nano_vision_msgs/msg/GroundTruth')  # no message
        for i in range(4):
            bag.write('/label', serialize_message(String(data=str(i))), T0 + i * SECOND)
    info = yaml.safe_load((tmp_path / 'run' / 'metadata.yaml').read_text())[
        'rosbag2_bagfile_information']
    assert (info['version'], info['storage_identifier'], info['relative_file_paths'],
            info['message_count']) == (9, 'mcap', ['run.mcap'], 4)
    assert (info['starting_time'], info['duration']) == (
        {'nanoseconds_since_epoch': T0}, {'nanoseconds': 3 * SECOND})
    store = project_typestore()
    assert [(t['topic_metadata']['name'], t['topic_metadata']['type'],
             t['topic_metadata']['type_description_hash'], t['message_count'])
            for t in info['topics_with_message_count']] == [
        ('/label', 'std_msgs/msg/String', store.hash_rihs01('std_msgs/msg/String'), 4),
        ('/truth', 'nano_vision_msgs/msg/GroundTruth',
         store.hash_rihs01('nano_vision_msgs/msg/GroundTruth'), 0)]
    with open(tmp_path / 'run' / 'run.mcap', 'rb') as stream:  # as rosbag2's mcap plugin keeps it
        kept = {m.name: m.metadata for m in make_reader(stream).iter_metadata()}
    assert yaml.safe_load(kept['rosbag2']['serialized_metadata']) == info
    with Reader(tmp_path / 'run') as reader:  # rosbags reads the folder from metadata.yaml
        assert (reader.message_count, reader.start_time) == (4, T0)
        assert {c.topic: (c.msgtype, c.msgcount) for c in reader.connections} == {
            '/label': ('std_msgs/msg/String', 4),
            '/truth': ('nano_vision_msgs/msg/GroundTruth', 0)}
    with BagRecorder(tmp_path / 'empty') as bag:
        bag.add_topic('/label', 'std_msgs/msg/String')
    with open_bag(tmp_path / 'empty') as empty:
        assert not empty.recovered and empty.counts() == {'/label': 0}


def test_a_file_that_is_not_mcap_is_refused_clearly(tmp_path):
    for name, data in (('empty', b''), ('text', b'these are not the bytes of a bag\n' * 4)):
        (tmp_path / name).mkdir()
        (tmp_path / name / f'{name}.mcap').write_bytes(data)
        with pytest.raises(BagError, match=f'{name}.mcap is not .*mcap file'):
            open_bag(tmp_path / name)


# ------------------------------------------------- bags from independent writers

IMAGE_MSGDEF = """std_msgs/Header header
uint32 height
uint32 width
string encoding
uint8 is_bigendian
uint32 step
uint8[] data
================================================================================
MSG: std_msgs/Header
builtin_interfaces/Time stamp
string frame_id
================================================================================
MSG: builtin_interfaces/Time
int32 sec
uint32 nanosec
"""


def write_metadata(folder, storage, files, topics, start_ns, end_ns, count, version=5):
    """Write a rosbag2 metadata.yaml as ros2 bag record does (format version 5)."""
    lines = ['rosbag2_bagfile_information:', f'  version: {version}',
             f'  storage_identifier: {storage}', '  relative_file_paths:']
    lines += [f'    - {f}' for f in files]
    lines += ['  duration:', f'    nanoseconds: {end_ns - start_ns}', '  starting_time:',
              f'    nanoseconds_since_epoch: {start_ns}', f'  message_count: {count}',
              '  topics_with_message_count:']
    for name, msgtype, n in topics:
        lines += ['    - topic_metadata:', f'        name: {name}', f'        type: {msgtype}',
                  '        serialization_format: cdr', '        offered_qos_profiles: ""',
                  f'      message_count: {n}']
    lines += ['  compression_format: ""', '  compression_mode: ""', '  files: []']
    (folder / 'metadata.yaml').write_text('\n'.join(lines) + '\n')


@pytest.fixture(scope='module')
def mcap_bag(tmp_path_factory):
    """Write a bag with mcap_ros2's writer (zstd chunks): rgb8, bgr8, mono8 frames, labels.

    Ten frames per topic every 0.1 s from T0; label 'left_red' at T0 (with
    frame 0), 'right_red' at T0 + 0.45 s, an empty label at T0 + 0.85 s.
    """
    from mcap_ros2.writer import Writer as McapRos2Writer
    folder = tmp_path_factory.mktemp('mcap') / 'recorded'
    folder.mkdir()
    with open(folder / 'recorded_0.mcap', 'wb') as stream:
        writer = McapRos2Writer(stream)
        image_schema = writer.register_msgdef('sensor_msgs/msg/Image', IMAGE_MSGDEF)
        string_schema = writer.register_msgdef('std_msgs/msg/String', 'string data\n')
        for t, text in ((T0, 'left_red'), (T0 + 450_000_000, 'right_red'),
                        (T0 + 850_000_000, '')):
            writer.write_message('/label', string_schema, {'data': text}, log_time=t)
        for i in range(10):
            t = T0 + i * 100_000_000
            for encoding in ('rgb8', 'bgr8', 'mono8'):
                msg = image_msg(i, t, encoding)
                writer.write_message(f'/cam/{encoding}', image_schema, {
                    'header': {'stamp': {'sec': msg.header.stamp.sec,
                                         'nanosec': msg.header.stamp.nanosec},
                               'frame_id': 'camera'},
                    'height': msg.height, 'width': msg.width, 'encoding': encoding,
                    'is_bigendian': 0, 'step': msg.step, 'data': bytes(msg.data)},
                    log_time=t + 5_000_000)
        writer.finish()
    write_metadata(folder, 'mcap', ['recorded_0.mcap'],
                   [('/label', 'std_msgs/msg/String', 3)]
                   + [(f'/cam/{e}', 'sensor_msgs/msg/Image', 10)
                      for e in ('rgb8', 'bgr8', 'mono8')], T0, T0 + 905_000_000, 33)
    return folder


def manifest(folder):
    import json
    with open(folder / 'manifest.jsonl') as stream:
        return sorted((json.loads(line) for line in stream), key=lambda e: e['stamp_ns'])


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'mono8'])
def test_frames_of_an_independent_mcap_bag_keep_their_colours(mcap_bag, tmp_path, encoding):
    import cv2
    out = tmp_path / 'data'
    report = dataset_from_bag(mcap_bag, out, f'/cam/{encoding}', label_topic='/label')
    # frames 0-4 get 'left_red' (frame 0 has the label's own time), 5-8 'right_red',
    # frame 9 comes after the empty label
    assert dict(report.counts) == {'left_red': 5, 'right_red': 4}
    assert (report.frames_on_topic, report.frames_written, report.unlabelled) == (10, 9, 1)
    entries = manifest(out)
    assert [e['stamp_ns'] for e in entries] == [T0 + i * 100_000_000 for i in range(9)]
    assert all(e['source'].endswith(f':/cam/{encoding}') for e in entries)
    for entry in entries:
        bgr = cv2.imread(str(out / entry['file']))
        left, right = bgr[24, 10].astype(int), bgr[24, 54].astype(int)
        if encoding == 'mono8':
            assert left[2] > 200 and right[2] < 40  # the red channel, as grey
        else:
            assert left[2] > 200 and left[0] < 40 and right[0] > 200 and right[2] < 40
    dataset = load_dataset(out)
    assert dataset.task == 'classification' and dataset.counts() == {'left_red': 5,
                                                                     'right_red': 4}


def test_every_nth_frame_of_a_time_window(mcap_bag, tmp_path):
    bag_file = mcap_bag / 'recorded_0.mcap'  # the storage file alone works as well
    report = dataset_from_bag(bag_file, tmp_path / 'a', '/cam/rgb8', every=3, start=0.2,
                              end=0.7, label='red')
    # the bag starts at T0; frames are logged 5 ms after their stamps: 2..6 in the window
    assert (report.frames_in_window, report.frames_selected, report.frames_written) == (5, 2, 2)
    assert [e['stamp_ns'] for e in manifest(tmp_path / 'a')] == [
        T0 + 200_000_000, T0 + 500_000_000]
    absolute = dataset_from_bag(mcap_bag, tmp_path / 'b', '/cam/rgb8', label='red',
                                start=T0 / SECOND + 0.75)
    assert absolute.frames_written == 2  # frames 8 and 9, logged at 0.805 and 0.905 s


def hand_made_sqlite3_bag(folder, rows):
    """Write a rosbag2 sqlite3 bag as Humble's ros2 bag record does (no definitions).

    :param rows: (topic, msgtype, log time, message) tuples
    """
    import sqlite3
    folder.mkdir()
    topics = {}
    for topic, msgtype, _, _ in rows:
        topics.setdefault(topic, (len(topics) + 1, msgtype))
    db = sqlite3.connect(folder / 'bag_0.db3')
    db.executescript("""
        CREATE TABLE schema(schema_version INTEGER PRIMARY KEY, ros_distro TEXT NOT NULL);
        CREATE TABLE metadata(id INTEGER PRIMARY KEY, metadata_version INTEGER NOT NULL,
                              metadata TEXT NOT NULL);
        CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
                            serialization_format TEXT NOT NULL,
                            offered_qos_profiles TEXT NOT NULL);
        CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL,
                              timestamp INTEGER NOT NULL, data BLOB NOT NULL);
        CREATE INDEX timestamp_idx ON messages (timestamp ASC);
        INSERT INTO schema VALUES (3, 'humble');
    """)
    db.executemany('INSERT INTO topics VALUES (?, ?, ?, ?, ?)',
                   [(i, name, msgtype, 'cdr', '') for name, (i, msgtype) in topics.items()])
    db.executemany('INSERT INTO messages (topic_id, timestamp, data) VALUES (?, ?, ?)',
                   [(topics[topic][0], t, serialize_message(msg))
                    for topic, _, t, msg in rows])
    db.commit()
    db.close()
    counts = {topic: sum(r[0] == topic for r in rows) for topic in topics}
    times = [r[2] for r in rows]
    write_metadata(folder, 'sqlite3', ['bag_0.db3'],
                   [(t, topics[t][1], counts[t]) for t in topics], min(times), max(times),
                   len(rows))
    return folder


def test_compressed_frames_of_a_sqlite3_bag_labelled_by_ground_truth(tmp_path, capsys):
    import cv2
    rows, jpegs = [], {}
    for i in range(6):
        stamp = T0 + i * 50_000_000
        msg = CompressedImage(format='jpeg')
        data = cv2.imencode('.jpg', pattern(i)[:, :, ::-1])[1].tobytes()
        msg.data = data[:300] if i == 4 else data  # frame 4 was cut short
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, SECOND)
        jpegs[stamp] = data
        rows.append(('/camera/image/compressed', 'sensor_msgs/msg/CompressedImage',
                     stamp + 3_000_000, msg))
        if i != 4:  # no truth for frame 4; a stray one with no frame below
            label = 'thumbs_up' if i % 2 else 'thumbs_down'
            rows.append(('/truth', 'nano_vision_msgs/msg/GroundTruth', stamp + 4_000_000,
                         truth_msg(stamp, label=label)))
    rows.append(('/truth', 'nano_vision_msgs/msg/GroundTruth', T0 + 7,
                 truth_msg(T0 + 7, label='thumbs_up')))
    bag = hand_made_sqlite3_bag(tmp_path / 'humble', rows)
    out = tmp_path / 'data'
    assert cli(['dataset', 'from-bag', str(bag), '--out', str(out), '--topic',
                '/camera/image/compressed', '--label-topic', '/truth']) == 0
    printed = capsys.readouterr().out
    assert 'wrote 5 frames' in printed and '1 frames that do not decode skipped' in printed
    entries = manifest(out)
    assert [(e['stamp_ns'], e['label']) for e in entries] == [
        (T0 + i * 50_000_000, 'thumbs_up' if i % 2 else 'thumbs_down') for i in (0, 1, 2, 3, 5)]
    for entry in entries:  # the recorded JPEG, byte for byte
        assert (out / entry['file']).read_bytes() == jpegs[entry['stamp_ns']]
        assert (entry['width'], entry['height']) == (64, 48)


def test_points_of_ground_truth_make_an_xy_dataset(tmp_path):
    with BagRecorder(tmp_path / 'face') as bag:
        bag.add_topic('/image_raw', 'sensor_msgs/msg/Image')
        bag.add_topic('/ground_truth', 'nano_vision_msgs/msg/GroundTruth')
        for i in range(4):
            stamp = T0 + i * 33_000_000
            bag.write('/image_raw', serialize_message(image_msg(i, stamp)), stamp + 1)
            # truth given for a 128x96 image: twice the frame's size
            truth = truth_msg(stamp, points=[('nose', 40 + 8 * i, 30), ('left_eye', 61, 23)])
            truth.width, truth.height = 128, 96
            bag.write('/ground_truth', serialize_message(truth), stamp + 2)
    out = tmp_path / 'xy'
    report = dataset_from_bag(tmp_path / 'face', out, '/image_raw',
                              label_topic='/ground_truth')
    assert report.frames_written == 4 and dict(report.counts) == {'nose': 4, 'left_eye': 4}
    dataset = load_dataset(out)
    assert dataset.task == 'xy'
    noses = sorted((s.x, s.y) for s in dataset.samples if s.label == 'nose')
    assert np.allclose(noses, [(2 * (20 + 4 * i) / 64 - 1, 2 * 15 / 48 - 1) for i in range(4)])
    # the points of one frame share its name, so training sees one frame
    assert len({s.group for s in dataset.samples}) == 4
    # (30.5, 11.5) in the frame: whole pixels, halves to even, as every writer names them
    left = [f for f in check_written_dataset(out) if f.startswith('left_eye/')]
    assert len(left) == 4 and all(f.startswith('left_eye/30_12_') for f in left)


def run_cli(capsys, *args):
    status = cli(['dataset', 'from-bag', *map(str, args)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_errors_are_clear_exit_2_and_leave_nothing(mcap_bag, tmp_path, capsys):
    out = tmp_path / 'out'
    status, text = run_cli(capsys, mcap_bag, '--out', out, '--topic', '/camera', '--label',
                           'x')
    assert status == 2 and 'no topic /camera' in text
    assert '/cam/rgb8 (sensor_msgs/msg/Image, 10)' in text and '/label' in text
    status, text = run_cli(capsys, mcap_bag, '--out', out, '--topic', '/cam/rgb8', '--start',
                           '3', '--label', 'x')
    assert status == 2 and 'no frame of /cam/rgb8 in the window' in text
    assert 'spans 0.000 .. 0.905 s' in text
    status, text = run_cli(capsys, mcap_bag, '--out', out, '--topic', '/label', '--label', 'x')
    assert status == 2 and 'not sensor_msgs/msg/Image' in text
    status, text = run_cli(capsys, mcap_bag, '--out', out, '--topic', '/cam/rgb8', '--label',
                           '../x')
    assert status == 2 and 'not allowed' in text
    status, text = run_cli(capsys, mcap_bag, '--out', out, '--topic', '/cam/rgb8',
                           '--label-topic', '/nothing')
    assert status == 2 and 'no label topic /nothing' in text
    status, text = run_cli(capsys, tmp_path / 'missing', '--out', out, '--topic', '/x',
                           '--label', 'x')
    assert status == 2 and 'does not exist' in text
    # a depth camera's frames midway through a bag: the error comes after frames were written
    with BagRecorder(tmp_path / 'depth') as bag:
        bag.add_topic('/image', 'sensor_msgs/msg/Image')
        for i in range(3):
            bag.write('/image', serialize_message(image_msg(i, T0 + i)), T0 + i)
        depth = Image(height=2, width=2, encoding='16UC1', step=4, data=bytes(8))
        bag.write('/image', serialize_message(depth), T0 + 5)
    status, text = run_cli(capsys, tmp_path / 'depth', '--out', out, '--topic', '/image',
                           '--label', 'x')
    assert status == 2 and "unsupported encoding '16UC1'" in text
    assert sorted(os.listdir(tmp_path)) == ['depth']  # no dataset, no temporary folder
    (tmp_path / 'full').mkdir()
    (tmp_path / 'full' / 'a.jpg').write_bytes(b'')
    status, text = run_cli(capsys, mcap_bag, '--out', tmp_path / 'full', '--topic',
                           '/cam/rgb8', '--label', 'x')
    assert status == 2 and 'not an empty folder' in text
    assert os.listdir(tmp_path / 'full') == ['a.jpg']


# ------------------------------------------------- a recorded bag becomes a model

@pytest.fixture(scope='module')
def thumbs_dataset(tmp_path_factory):
    """Record synthetic thumbs frames (64x64) with their truth, then convert the bag.

    Background, light and tilt are fixed so that two short epochs learn the
    task: what the test checks is that every frame keeps its own label
    through the bag (mixed-up labels would leave the model at chance).
    """
    import dataclasses
    from nano_vision.scenes import make_scene
    from nano_vision.scenes.base import Lighting
    root = tmp_path_factory.mktemp('thumbs')
    scene = make_scene('thumbs')
    rng = np.random.default_rng(0)
    truth_counts = {'thumbs_up': 0, 'thumbs_down': 0}
    with BagRecorder(root / 'bag') as bag:
        bag.add_topic('/image_raw', 'sensor_msgs/msg/Image')
        bag.add_topic('/ground_truth', 'nano_vision_msgs/msg/GroundTruth')
        for i in range(160):
            state = dataclasses.replace(scene.random_state(rng), background_seed=7,
                                        tilt_deg=0.0, lighting=Lighting(1, 1, 1, 0, 0, 0))
            pixels, truth = scene.render(state, 64, 64, rng)
            stamp = T0 + i * 33_000_000
            msg = numpy_to_image_msg(pixels, 'rgb8', Image())
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, SECOND)
            label = GroundTruth(scene='thumbs', label=truth.label, width=64, height=64)
            label.header = msg.header
            bag.write('/image_raw', serialize_message(msg), stamp + 2_000_000)
            bag.write('/ground_truth', serialize_message(label), stamp + 3_000_000)
            truth_counts[truth.label] += 1
    report = dataset_from_bag(root / 'bag', root / 'data', '/image_raw',
                              label_topic='/ground_truth')
    return root / 'data', report, truth_counts


def test_a_recorded_classification_bag_becomes_a_dataset(thumbs_dataset):
    data, report, truth_counts = thumbs_dataset
    assert report.frames_written == 160 and dict(report.counts) == truth_counts
    dataset = load_dataset(data)
    assert dataset.task == 'classification'
    assert dataset.counts() == truth_counts
    assert {s.source for s in dataset.samples} == {f'rosbag2:{report.bag}:/image_raw'}
    assert sorted(s.stamp_ns for s in dataset.samples) == [T0 + i * 33_000_000
                                                           for i in range(160)]
    check_written_dataset(data)


@pytest.mark.slow
@pytest.mark.slow
def test_nano_vision_train_learns_from_a_recorded_bag(thumbs_dataset, tmp_path):
    pytest.importorskip('torch')
    from nano_vision.ml.checkpoint import load_checkpoint
    data, _, _ = thumbs_dataset
    model = tmp_path / 'thumbs.pt'
    # small batches: enough steps in two epochs for batch norm's statistics to settle
    assert cli(['train', str(data), '--out', str(model), '--weights', 'none', '--epochs', '2',
                '--image-size', '64', '--batch-size', '4', '--rotation', '0', '--jitter', '0',
                '--scale', '0', '--shift', '0', '--hflip', 'off', '--no-plots',
                '--no-progress']) == 0
    metrics = load_checkpoint(str(model))['metrics']
    assert metrics['split'] == 'validation' and metrics['count'] >= 30  # 20 % of 160
    assert metrics['accuracy'] >= 0.75  # chance is 0.5


def test_unknown_and_unsafe_labels_label_nothing(tmp_path):
    Classification = nano_vision_msgs.Classification
    with BagRecorder(tmp_path / 'live') as bag:
        bag.add_topic('/image', 'sensor_msgs/msg/Image')
        bag.add_topic('/classification', 'nano_vision_msgs/msg/Classification')
        bag.add_topic('/label', 'std_msgs/msg/String')
        for i, (label, class_id, text) in enumerate([('happy', 1, 'ok'), ('unknown', -1, 'ok'),
                                                     ('sad', 2, '../x'), ('sad', 2, 'ok')]):
            stamp = T0 + i * SECOND // 10
            frame = image_msg(i, stamp)
            result = Classification(header=frame.header, label=label, class_id=class_id)
            bag.write('/label', serialize_message(String(data=text)), stamp)
            bag.write('/image', serialize_message(frame), stamp + 1)
            bag.write('/classification', serialize_message(result), stamp + 2)
    report = dataset_from_bag(tmp_path / 'live', tmp_path / 'a', '/image',
                              label_topic='/classification')
    assert dict(report.counts) == {'happy': 1, 'sad': 2} and report.unlabelled == 1
    report = dataset_from_bag(tmp_path / 'live', tmp_path / 'b', '/image', label_topic='/label')
    assert dict(report.counts) == {'ok': 3} and dict(report.bad_labels) == {'../x': 1}
    assert not os.path.exists(tmp_path / 'x') and not os.path.exists(tmp_path / 'b' / '..x')
    assert "1 labels '../x' refused" in '\n'.join(report.lines())
