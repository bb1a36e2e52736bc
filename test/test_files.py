"""Atomic, durable files: the new bytes or the old ones, never a part, no temporary left."""

import errno
import os

import pytest

from nano_vision.runtime import files
from nano_vision.runtime.files import (append_line, atomic_writer, AtomicBatch, is_temporary,
                                       temporary_path, write_file_atomic)


def listing(folder):
    return sorted(os.listdir(folder))


def disk_full(*args):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / 'model.pt'
    write_file_atomic(path, b'first')
    write_file_atomic(path, b'second, longer')
    assert path.read_bytes() == b'second, longer'
    assert listing(tmp_path) == ['model.pt']


def test_the_stream_form_writes_what_the_block_wrote(tmp_path):
    path = tmp_path / 'summary.json'
    with atomic_writer(path) as stream:
        stream.write(b'{"a": ')
        assert not path.exists()  # readers see nothing until the block ends
        stream.write(b'1}')
    assert path.read_bytes() == b'{"a": 1}'
    assert listing(tmp_path) == ['summary.json']


class Refused(Exception):
    pass


def test_an_error_in_the_block_keeps_the_old_file(tmp_path):
    path = tmp_path / 'model.pt'
    path.write_bytes(b'old')
    with pytest.raises(Refused):
        with atomic_writer(path) as stream:
            stream.write(b'half of the new')
            raise Refused()
    assert path.read_bytes() == b'old'
    assert listing(tmp_path) == ['model.pt']
    with pytest.raises(Refused):
        with atomic_writer(tmp_path / 'new.pt') as stream:
            stream.write(b'half')
            raise Refused()
    assert listing(tmp_path) == ['model.pt']


def test_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / 'model.pt'
    path.write_bytes(b'old')
    monkeypatch.setattr(files.os, 'fsync', disk_full)
    with pytest.raises(OSError) as caught:
        write_file_atomic(path, b'new')
    assert caught.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert path.read_bytes() == b'old'
    assert listing(tmp_path) == ['model.pt']


def test_a_missing_folder_is_an_os_error_with_a_clear_explanation(tmp_path):
    path = tmp_path / 'missing' / 'model.pt'
    with pytest.raises(OSError) as caught:
        write_file_atomic(path, b'x')
    assert files.explain_os_error(caught.value, path) == (
        f'cannot write {path}: No such file or directory; check the path')
    assert not (tmp_path / 'missing').exists()


def test_temporary_names_are_hidden_and_recognised():
    temp = temporary_path(os.path.join('data', 'nose', '12_40_ab.jpg'))
    assert os.path.dirname(temp) == os.path.join('data', 'nose')
    name = os.path.basename(temp)
    assert name.startswith('.') and is_temporary(name)
    assert not is_temporary('12_40_ab.jpg') and not is_temporary('.trash')


def test_appended_lines_accumulate_and_a_failed_append_is_cut_back(tmp_path, monkeypatch):
    path = tmp_path / 'manifest.jsonl'
    append_line(path, 'one\n')
    append_line(path, 'two\nthree\n')
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, bytes(data[:3]))
        disk_full()
    monkeypatch.setattr(files.os, 'write', half_then_full)
    with pytest.raises(OSError):
        append_line(path, 'four\n')
    monkeypatch.undo()
    assert path.read_text() == 'one\ntwo\nthree\n'


@pytest.mark.parametrize('sync_each', [True, False], ids=['sync each', 'one flush'])
def test_a_batch_appears_at_its_commit(tmp_path, sync_each):
    (tmp_path / 'a').mkdir()
    batch = AtomicBatch(sync_each=sync_each)
    batch.write(str(tmp_path / 'a' / '1.jpg'), b'one')
    batch.write(str(tmp_path / '2.jpg'), b'two')
    batch.write(str(tmp_path / 'a' / '1.jpg'), b'one again')
    assert len(batch) == 2
    assert [n for n in listing(tmp_path / 'a') if not is_temporary(n)] == []
    assert sorted(batch.commit()) == [str(tmp_path / '2.jpg'), str(tmp_path / 'a' / '1.jpg')]
    assert (tmp_path / 'a' / '1.jpg').read_bytes() == b'one again'
    assert listing(tmp_path) == ['2.jpg', 'a'] and listing(tmp_path / 'a') == ['1.jpg']
    assert batch.commit() == []


def test_a_discarded_batch_leaves_nothing(tmp_path):
    batch = AtomicBatch(sync_each=False)
    batch.write(str(tmp_path / '1.jpg'), b'one')
    batch.discard()
    assert listing(tmp_path) == [] and batch.commit() == []


def test_a_batch_that_cannot_be_committed_leaves_none_of_its_files(tmp_path):
    (tmp_path / 'taken').mkdir()
    (tmp_path / 'taken' / 'inside').write_bytes(b'a folder stands where a file would go')
    batch = AtomicBatch(sync_each=False)
    batch.write(str(tmp_path / 'first.jpg'), b'one')
    batch.write(str(tmp_path / 'taken'), b'two')
    with pytest.raises(OSError):
        batch.commit()
    assert listing(tmp_path) == ['taken'] and listing(tmp_path / 'taken') == ['inside']
