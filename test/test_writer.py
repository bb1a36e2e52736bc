"""The one dataset writer: names from labels, one rounding rule, manifest lines, crash safety."""

import errno
import os

import cv2
import numpy as np
import pytest

from helpers import check_written_dataset
from nano_vision.datasets import writer as writer_module
from nano_vision.datasets.layout import DatasetError, MANIFEST, manifest_line
from nano_vision.datasets.recorder import Recorder
from nano_vision.datasets.synth import write_synthetic_dataset
from nano_vision.datasets.writer import DatasetWriter, frame_samples
from nano_vision.image.coords import to_normalised
from nano_vision.runtime import files as files_module

UID = '1b4e28ba-2fa1-41d2-883f-0016d3cca427'


def jpeg(width=64, height=48, value=90):
    return cv2.imencode('.jpg', np.full((height, width, 3), value, np.uint8))[1].tobytes()


def disk_full(*args):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def names(root, samples):
    return [os.path.relpath(s.path, root) for s in samples]


def visible(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root)
                  for f in fs if not f.startswith('.'))


def test_files_are_named_from_their_labels_with_one_rounding_rule(tmp_path):
    labels = [('thumbs_up', None), ('nose', (10.5, 11.5)), ('left_eye', (0, 48)),
              ('right_eye', (63.7, 0.2))]
    samples = frame_samples(str(tmp_path), labels, 64, 48, UID, 7, 'test')
    # whole pixels, halves to even; the sample's point is the one its name says
    assert names(tmp_path, samples) == [f'thumbs_up/{UID}.jpg', f'nose/10_12_{UID}.jpg',
                                        f'left_eye/0_48_{UID}.jpg', f'right_eye/64_0_{UID}.jpg']
    assert [(s.x, s.y) for s in samples] == [
        (None, None), to_normalised(10, 12, 64, 48), (-1.0, 1.0), (1.0, -1.0)]
    assert {(s.group, s.stamp_ns, s.source, s.width, s.height) for s in samples} == {
        (UID, 7, 'test', 64, 48)}
    twice = frame_samples(str(tmp_path), [('nose', (3.2, 4)), ('nose', (2.8, 4.1))], 64, 48,
                          UID)
    assert names(tmp_path, twice) == [f'nose/3_4_{UID}.jpg']  # one file, one line


@pytest.mark.parametrize('labels, message', [
    ([('nose', (-0.1, 5))], 'outside the image'),
    ([('nose', (64.01, 5))], 'outside the image'),
    ([('nose', (5, float('nan')))], 'outside the image'),
    ([('../up', None)], 'not allowed'),
    ([(MANIFEST, None)], 'not allowed'),
])
def test_bad_labels_are_refused_before_anything_is_written(tmp_path, labels, message):
    with pytest.raises(DatasetError, match=message):
        DatasetWriter(tmp_path).write_frame(jpeg(), labels, 64, 48, UID)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('uid', ['../x', '.hidden', 'a/b', ''])
def test_a_uid_that_cannot_name_a_file_is_refused(tmp_path, uid):
    with pytest.raises(DatasetError, match='cannot name a file'):
        DatasetWriter(tmp_path).write_frame(jpeg(), [('a', None)], 64, 48, uid)
    assert os.listdir(tmp_path) == []


def test_a_frame_is_on_disk_with_its_manifest_lines_when_written(tmp_path):
    writer = DatasetWriter(str(tmp_path))
    data = jpeg()
    samples = writer.write_frame(data, [('nose', (20, 30)), ('left_eye', (10.4, 5))], 64, 48,
                                 UID, 123, 'camera')
    assert visible(tmp_path) == sorted(
        [MANIFEST, f'nose/20_30_{UID}.jpg', f'left_eye/10_5_{UID}.jpg'])
    assert (tmp_path / 'nose' / f'20_30_{UID}.jpg').read_bytes() == data
    assert (tmp_path / MANIFEST).read_text() == ''.join(
        manifest_line(s, str(tmp_path)) for s in samples)
    check_written_dataset(tmp_path)


def test_bulk_frames_appear_by_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_module, 'BULK_FRAMES', 3)
    with DatasetWriter(str(tmp_path), bulk=True) as writer:
        for i in range(4):
            writer.write_frame(jpeg(value=i), [('a', None)], 64, 48, f'frame{i}')
            shown = visible(tmp_path)
            assert len(shown) == (0 if i < 2 else 4)  # 3 images and the manifest
    assert len(visible(tmp_path)) == 5
    assert len(check_written_dataset(tmp_path)) == 4


def test_an_error_in_a_bulk_block_leaves_only_the_committed_frames(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_module, 'BULK_FRAMES', 2)
    with pytest.raises(KeyboardInterrupt):
        with DatasetWriter(str(tmp_path), bulk=True) as writer:
            for i in range(3):
                writer.write_frame(jpeg(), [('a', (i, i)), ('b', (i, i))], 64, 48, f'f{i}')
            raise KeyboardInterrupt
    assert len(check_written_dataset(tmp_path)) == 4  # frames 0 and 1, two files each


def test_a_full_disk_removes_the_batch_and_its_new_folders(tmp_path, monkeypatch):
    writer = DatasetWriter(str(tmp_path))
    writer.write_frame(jpeg(), [('a', None)], 64, 48, 'first')
    before = visible(tmp_path)
    monkeypatch.setattr(files_module.os, 'fsync', disk_full)
    with pytest.raises(DatasetError, match=r'disk full while writing .*/a/second\.jpg'):
        writer.write_frame(jpeg(), [('a', None)], 64, 48, 'second')
    with pytest.raises(DatasetError, match='disk full'):
        writer.write_frame(jpeg(), [('new', None), ('a', None)], 64, 48, 'third')
    monkeypatch.undo()
    assert visible(tmp_path) == before and sorted(os.listdir(tmp_path)) == ['a', MANIFEST]
    check_written_dataset(tmp_path)


def test_a_manifest_that_cannot_grow_takes_the_files_back(tmp_path, monkeypatch):
    with DatasetWriter(str(tmp_path), bulk=True) as writer:
        writer.write_frame(jpeg(), [('a', None)], 64, 48, 'first')
    before = visible(tmp_path)
    monkeypatch.setattr(writer_module, 'append_line', disk_full)
    with pytest.raises(DatasetError, match=f'disk full while writing .*{MANIFEST}'):
        with DatasetWriter(str(tmp_path), bulk=True) as writer:
            for i in range(3):
                writer.write_frame(jpeg(), [('a', None), ('b', None)], 64, 48, f'f{i}')
    monkeypatch.undo()
    assert visible(tmp_path) == before and sorted(os.listdir(tmp_path)) == ['a', MANIFEST]


def test_the_recorder_and_the_writer_name_a_frame_alike(tmp_path):
    recorder = Recorder(tmp_path / 'recorded', task='xy')
    pixels = np.full((48, 64, 3), 80, np.uint8)
    # x = -0.671875 is pixel 10.5 of 64: rounded to 10 as by the bulk writers
    sample = recorder.capture(pixels, 'rgb8', 'nose', point=(-0.671875, 0.0), group=UID)
    expected, = frame_samples(str(tmp_path / 'recorded'), [('nose', (10.5, 24))], 64, 48, UID)
    assert sample == expected
    check_written_dataset(tmp_path / 'recorded')


@pytest.mark.parametrize('scene', ['face', 'thumbs'])
def test_synthetic_sets_have_the_writers_layout(tmp_path, scene):
    samples = write_synthetic_dataset(scene, str(tmp_path), 6, size=(64, 48), seed=3)
    entries = check_written_dataset(tmp_path)
    assert sorted(names(tmp_path, samples)) == sorted(entries)
    assert {e['source'] for e in entries.values()} == {f'synthetic:{scene}'}
    if scene == 'face':
        assert len(entries) == 18 and len({s.group for s in samples}) == 6


def test_a_recorded_set_has_the_writers_layout(tmp_path):
    recorder = Recorder(tmp_path, task='xy')
    for point in ((0.0, 0.0), (-1.0, 1.0), (0.33, -0.71)):
        recorder.capture(np.zeros((48, 64, 3), np.uint8), 'rgb8', 'nose', point=point)
    assert len(check_written_dataset(tmp_path)) == 3
