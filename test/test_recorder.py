"""The recorder's files: names checked, captures atomic, counts kept, trash and undo."""

import errno
import json
import os

import cv2
import numpy as np
import pytest

from nano_vision.datasets.layout import load_dataset, MANIFEST, read_manifest
from nano_vision.datasets.recorder import check_label, Recorder, RecorderError, TRASH
from nano_vision.runtime import files as files_module


def frame(width=64, height=48, rgb=(255, 0, 0)):
    return np.full((height, width, 3), rgb, np.uint8)


def manifest_lines(root):
    path = os.path.join(root, MANIFEST)
    if not os.path.exists(path):
        return []
    with open(path, encoding='utf-8') as stream:
        return [json.loads(line) for line in stream.read().splitlines()]


def all_files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, files in os.walk(root) for f in files)


BAD_NAMES = ['../x', '/etc', '..', '.', '', 'a/b', 'a\\b', 'a\x00b', 'a\nb', 'a\tb',
             'a\x7fb', '.hidden', 'x' * 65, ' ', 'nose/../..', 'manifest.jsonl']


@pytest.mark.parametrize('name', BAD_NAMES, ids=repr)
def test_unsafe_category_is_refused_and_nothing_is_written(tmp_path, name):
    root = tmp_path / 'data'
    recorder = Recorder(root)
    with pytest.raises(RecorderError, match='not allowed'):
        recorder.capture(frame(), 'rgb8', name)
    with pytest.raises(RecorderError):
        recorder.add_category(name)
    assert all_files(tmp_path) == []


def test_a_category_named_like_the_manifest_leaves_the_dataset_usable(tmp_path):
    root = tmp_path / 'data'
    recorder = Recorder(root)
    recorder.capture(frame(), 'rgb8', 'thumbs_up')
    with pytest.raises(RecorderError, match="dataset's manifest file"):
        recorder.capture(frame(), 'rgb8', 'manifest.jsonl')
    recorder.capture(frame(), 'rgb8', 'thumbs_up')
    assert os.path.isfile(root / MANIFEST) and len(manifest_lines(root)) == 2
    again = Recorder(root)  # the folder still opens
    again.capture(frame(), 'rgb8', 'thumbs_down')
    assert len(manifest_lines(root)) == 3


@pytest.mark.parametrize('name', ['thumbs_up', 'left-eye', '1', 'a.b', 'x' * 64])
def test_plain_category_names_are_accepted(name):
    assert check_label(name) == name


@pytest.mark.parametrize('relative', ['../manifest.jsonl', '/etc/passwd', 'a/../../x.jpg',
                                      '.trash/a/x.jpg', 'a/.x.jpg.tmp', 'a\\b/x.jpg',
                                      'manifest.jsonl', 'a/b/c.jpg', '../../etc/x.jpg'],
                         ids=repr)
def test_delete_and_restore_refuse_paths_outside_the_samples(tmp_path, relative):
    recorder = Recorder(tmp_path)
    for action in (recorder.delete, recorder.restore):
        with pytest.raises(RecorderError):
            action(relative)


def test_classification_capture_is_a_course_file_with_a_manifest_line(tmp_path):
    recorder = Recorder(tmp_path, categories=['thumbs_up', 'thumbs_down'])
    sample = recorder.capture(frame(rgb=(255, 0, 0)), 'rgb8', 'thumbs_up', stamp_ns=123,
                              source='camera')
    assert os.path.dirname(sample.path) == str(tmp_path / 'thumbs_up')
    name = os.path.basename(sample.path)
    assert len(name) == len('00000000-0000-0000-0000-000000000000.jpg')
    saved = cv2.imread(sample.path)  # BGR on disk, as the course writes it
    assert saved.shape == (48, 64, 3)
    assert tuple(saved[24, 32]) == pytest.approx((0, 0, 255), abs=3)
    [line] = manifest_lines(tmp_path)
    assert line['file'] == f'thumbs_up/{name}' and line['label'] == 'thumbs_up'
    assert line['stamp_ns'] == 123 and line['source'] == 'camera'
    assert recorder.counts() == {'thumbs_up': 1, 'thumbs_down': 0}
    dataset = load_dataset(tmp_path)
    assert dataset.task == 'classification' and dataset.counts() == {'thumbs_up': 1}


def test_xy_capture_names_the_pixel_of_the_point(tmp_path):
    recorder = Recorder(tmp_path, task='xy')
    sample = recorder.capture(frame(200, 100), 'rgb8', 'nose', point=(0.5, -0.5))
    assert os.path.basename(sample.path).startswith('150_25_')
    [line] = manifest_lines(tmp_path)
    assert (line['u'], line['v'], line['x'], line['y']) == (150, 25, 0.5, -0.5)
    [loaded] = load_dataset(tmp_path).samples
    assert (loaded.x, loaded.y) == pytest.approx((0.5, -0.5))
    with pytest.raises(RecorderError, match='give a point'):
        recorder.capture(frame(), 'rgb8', 'nose')
    with pytest.raises(RecorderError, match='outside the image'):
        recorder.capture(frame(), 'rgb8', 'nose', point=(1.5, 0.0))
    with pytest.raises(RecorderError, match='no point'):
        Recorder(tmp_path / 'c').capture(frame(), 'rgb8', 'a', point=(0.0, 0.0))


@pytest.mark.parametrize('encoding', ['bgr8', 'mono8', 'rgba8'])
def test_frames_of_any_supported_encoding_are_saved(tmp_path, encoding):
    image = np.full((10, 12) if encoding == 'mono8' else (10, 12, len(encoding) - 1), 90,
                    np.uint8)
    sample = Recorder(tmp_path).capture(image, encoding, 'a')
    assert cv2.imread(sample.path).shape == (10, 12, 3)


def test_restart_keeps_counts_and_clears_a_killed_run(tmp_path):
    recorder = Recorder(tmp_path, categories=['a', 'b'])
    for label in 'aab':
        recorder.capture(frame(), 'rgb8', label)
    # what a kill can leave: a temporary file, an image whose line was not
    # written yet, and a line cut half-way
    (tmp_path / 'a' / '.half.jpg.tmp').write_bytes(b'\xff\xd8 cut')
    cv2.imwrite(str(tmp_path / 'b' / 'late.jpg'), frame())
    with open(tmp_path / MANIFEST, 'a') as stream:
        stream.write('{"file": "b/late.jpg", "lab')
    again = Recorder(tmp_path)
    assert again.counts() == {'a': 2, 'b': 2}
    assert again.removed_temporary == 1
    assert not (tmp_path / 'a' / '.half.jpg.tmp').exists()
    lines = manifest_lines(tmp_path)
    assert sorted(e['file'] for e in lines) == sorted(
        f'{c}/{n}' for c in 'ab' for n in os.listdir(tmp_path / c))
    assert [e['source'] for e in lines if e['file'] == 'b/late.jpg'] == ['recovered']


def test_a_full_disk_leaves_nothing_half_written(tmp_path, monkeypatch):
    recorder = Recorder(tmp_path)
    recorder.capture(frame(), 'rgb8', 'a')
    before = all_files(tmp_path)

    def full(fd):
        # the image is in the file already: a full disk shows when it is flushed
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(files_module.os, 'fsync', full)
    with pytest.raises(RecorderError, match='disk full while writing .*/a/'):
        recorder.capture(frame(), 'rgb8', 'a')
    with pytest.raises(RecorderError, match='disk full'):
        recorder.capture(frame(), 'rgb8', 'new_label')
    monkeypatch.undo()
    assert all_files(tmp_path) == before
    assert not (tmp_path / 'new_label').exists()  # an empty category would stop training
    assert recorder.counts() == {'a': 1}
    assert len(manifest_lines(tmp_path)) == 1


def test_a_manifest_that_cannot_grow_takes_the_image_back(tmp_path, monkeypatch):
    recorder = Recorder(tmp_path)
    recorder.capture(frame(), 'rgb8', 'a')
    real_write = os.write

    def full_manifest(fd, data):
        if os.readlink(f'/proc/self/fd/{fd}').endswith(MANIFEST):
            real_write(fd, bytes(data[:7]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)
    monkeypatch.setattr(files_module.os, 'write', full_manifest)
    with pytest.raises(RecorderError, match=f'disk full while writing .*{MANIFEST}'):
        recorder.capture(frame(), 'rgb8', 'a')
    monkeypatch.undo()
    assert len(os.listdir(tmp_path / 'a')) == 1
    assert len(manifest_lines(tmp_path)) == 1  # the partial line was cut off again
    assert Recorder(tmp_path).counts() == {'a': 1}


def test_an_unwritable_dataset_folder_is_a_clear_error(tmp_path):
    (tmp_path / 'file').write_text('not a folder')
    with pytest.raises(RecorderError, match='check the dataset path|cannot write'):
        Recorder(tmp_path / 'file' / 'data')
    recorder = Recorder(tmp_path / 'data')
    (tmp_path / 'data' / 'blocked').write_text('a file where a category folder would go')
    with pytest.raises(RecorderError, match='cannot write'):
        recorder.capture(frame(), 'rgb8', 'blocked')
    assert recorder.counts() == {}


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes into read-only folders')
def test_a_read_only_dataset_folder_is_a_clear_error(tmp_path):
    recorder = Recorder(tmp_path)
    os.chmod(tmp_path, 0o500)
    try:
        with pytest.raises(RecorderError, match='not writable'):
            recorder.capture(frame(), 'rgb8', 'a')
    finally:
        os.chmod(tmp_path, 0o700)


def test_undo_delete_and_restore_move_files_and_manifest_lines(tmp_path):
    recorder = Recorder(tmp_path, task='xy')
    first = recorder.capture(frame(), 'rgb8', 'nose', point=(0.0, 0.0))
    second = recorder.capture(frame(), 'rgb8', 'left_eye', point=(0.5, 0.0))
    undone = recorder.undo()
    assert undone == f'left_eye/{os.path.basename(second.path)}'
    assert not os.path.exists(second.path)
    assert (tmp_path / TRASH / undone).exists()
    assert recorder.counts() == {'nose': 1, 'left_eye': 0}
    assert [e['file'] for e in manifest_lines(tmp_path)] == [
        f'nose/{os.path.basename(first.path)}']
    assert list(read_manifest(tmp_path / TRASH)) == [undone]
    assert recorder.samples(trash=True) == [undone]
    assert [s.label for s in load_dataset(tmp_path).samples] == ['nose']  # trash is hidden

    recorder.restore(undone)
    assert os.path.exists(second.path)
    assert recorder.counts() == {'nose': 1, 'left_eye': 1}
    assert read_manifest(tmp_path / TRASH) == {}
    restored = read_manifest(tmp_path)[undone]
    assert (restored['x'], restored['y']) == (0.5, 0.0)

    recorder.delete(f'nose/{os.path.basename(first.path)}')
    assert recorder.counts() == {'nose': 0, 'left_eye': 1}
    assert Recorder(tmp_path, task='xy').counts() == {'left_eye': 1}  # no empty folder
    with pytest.raises(RecorderError, match='nothing to undo'):
        recorder.undo()
    with pytest.raises(RecorderError, match='not in the dataset'):
        recorder.delete(f'nose/{os.path.basename(first.path)}')
    with pytest.raises(RecorderError, match='not in the trash'):
        recorder.restore(undone)


def test_samples_are_listed_newest_first_by_category(tmp_path):
    recorder = Recorder(tmp_path)
    paths = [recorder.capture(frame(), 'rgb8', label).path for label in 'aba']
    for i, path in enumerate(paths):
        os.utime(path, (1000 + i, 1000 + i))
    names = [os.path.relpath(p, tmp_path) for p in paths]
    assert recorder.samples() == names[::-1]
    assert recorder.samples('a') == [names[2], names[0]]
    assert recorder.path_of(names[0]) == paths[0]


def test_a_dataset_of_the_other_task_is_refused(tmp_path):
    Recorder(tmp_path / 'xy', task='xy').capture(frame(), 'rgb8', 'nose', point=(0.0, 0.0))
    Recorder(tmp_path / 'cls').capture(frame(), 'rgb8', 'up')
    with pytest.raises(RecorderError, match='is an XY dataset'):
        Recorder(tmp_path / 'xy')
    with pytest.raises(RecorderError, match='without a point'):
        Recorder(tmp_path / 'cls', task='xy')


def test_categories_are_a_checked_string_array():
    from nano_vision.datasets.recorder_config import RecorderConfig
    config = RecorderConfig.from_values({'dataset': 'd', 'categories': ['a', 'b']})
    assert config.categories == ('a', 'b')
    assert RecorderConfig.from_values({'dataset': 'd'}).categories == ()
    with pytest.raises(ValueError, match='list of strings'):
        RecorderConfig.from_values({'dataset': 'd', 'categories': 'a,b'})
    with pytest.raises(ValueError, match='not allowed'):
        RecorderConfig.from_values({'dataset': 'd', 'categories': ['a', '../b']})
    with pytest.raises(ValueError, match='dataset is empty'):
        RecorderConfig.from_values({})
    assert config.changed(label='a', rate_hz=5.0).label == 'a' and config.label == ''
    with pytest.raises(ValueError, match='not allowed'):
        config.changed(label='../a')
