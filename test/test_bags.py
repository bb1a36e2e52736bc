"""rosbag2 in and out: bags the project writes read by mcap's own reader, and back."""

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

from nano_vision.bags import (BagError, BagRecorder, dataset_from_bag,  # noqa: E402
                              DEFAULT_CHUNK_BYTES, open_bag)
from nano_vision.image_conversion import (compressed_msg_to_numpy,  # noqa: E402
                                          image_msg_to_numpy, numpy_to_compressed_msg,
                                          numpy_to_image_msg)

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
from nano_vision.bags import BagRecorder
from nano_vision.image_conversion import numpy_to_compressed_msg, numpy_to_image_msg
from nano_vision.synthetic import make_scene

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
