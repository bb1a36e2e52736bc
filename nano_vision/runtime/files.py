"""Files that are complete or absent: atomic, synced writes and appends (no torch, no rclpy).

A file is written under a hidden temporary name beside its final one
(``.<name>.tmp``, see :func:`temporary_path`), flushed to the disk (fsync),
renamed to its final name (``os.replace`` is atomic) and its folder synced.
Readers see the old file or the complete new one, never a part; a process
killed at any point leaves at most a hidden temporary file, which readers
skip (their names start with a dot) and the dataset recorder removes when it
opens a folder (:func:`is_temporary`). One writer per final path at a time:
two writers of the same path share its temporary name.

:class:`AtomicBatch` makes many files appear together with one flush of the
disk instead of one per file (a bulk writer's thousands of small files).
"""

import contextlib
import errno
import os

TEMP_SUFFIX = '.tmp'


def temporary_path(path):
    """Return the hidden temporary path beside ``path`` that its writes go through."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f'.{name}{TEMP_SUFFIX}')


def is_temporary(name):
    """Return True for a file name that :func:`temporary_path` gives (left by a killed write)."""
    return name.startswith('.') and name.endswith(TEMP_SUFFIX)


def explain_os_error(exc, path):
    """Return a message for an OSError met while writing ``path``, with what to do."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f'disk full while writing {path}: free some space or write elsewhere'
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f'cannot write {path}: the folder is not writable ({exc.strerror}); '
                'choose another folder or fix its permissions')
    if exc.errno in (errno.ENOTDIR, errno.ENOENT):
        return f'cannot write {path}: {exc.strerror}; check the path'
    return f'cannot write {path}: {exc.strerror or exc}'


def remove_quietly(path):
    """Remove the file ``path`` if it is there; ignore errors (clean-up after an error)."""
    try:
        os.remove(path)
    except OSError:
        pass


def sync_folder(folder):
    """Flush ``folder``'s entries (names created, renamed or removed) to the disk."""
    fd = os.open(folder or os.curdir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _temporary_file(temp, sync):
    """Yield a binary stream writing ``temp``; flush (and fsync); remove it on any error."""
    try:
        with open(temp, 'wb') as stream:
            yield stream
            stream.flush()
            if sync:
                os.fsync(stream.fileno())
    except BaseException:
        remove_quietly(temp)
        raise


def _publish(pairs):
    """Rename each ``(temp, path)``, then sync their folders.

    :raises OSError: a rename or a sync failed; the temporary files not yet
        renamed are removed, the files renamed stay
    """
    renamed = 0
    try:
        for temp, path in pairs:
            os.replace(temp, path)
            renamed += 1
        for folder in dict.fromkeys(os.path.dirname(path) for _, path in pairs):
            sync_folder(folder)
    except BaseException:
        for temp, _ in pairs[renamed:]:
            remove_quietly(temp)
        raise


@contextlib.contextmanager
def atomic_writer(path):
    """Yield a binary stream whose bytes become ``path`` when the block ends without error.

    For writers that want a stream (``torch.save``, ``onnx.save``, matplotlib's
    ``savefig``). An exception in the block, or an OSError before the rename,
    removes the temporary file and leaves ``path`` as it was (an error in the
    last step, the folder's sync, is raised with the new file in place).
    """
    temp = temporary_path(path)
    with _temporary_file(temp, sync=True) as stream:
        yield stream
    _publish([(temp, path)])


def write_file_atomic(path, data):
    """Write the bytes ``data`` to ``path`` through a synced temporary file and a rename.

    :raises OSError: the write failed; ``path`` is unchanged and no temporary
        file is left
    """
    with atomic_writer(path) as stream:
        stream.write(data)


def append_line(path, text):
    """Append ``text`` (whole lines) to ``path`` and sync it; on an error cut the part written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(text.encode('utf-8'))
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


class AtomicBatch:
    """Files that appear under their names together, complete and on the disk.

    :meth:`write` puts each file under its temporary name; :meth:`commit` makes
    the data durable, renames them all and syncs their folders; :meth:`discard`
    removes what was not committed. Until the commit readers see none of them.

    :param sync_each: fsync every file as it is written, the right choice for a
        few files; otherwise :meth:`commit` flushes them all with one ``os.sync``
        (on Linux it returns when the data is on the disk), which costs one disk
        flush per batch instead of one per file
    """

    def __init__(self, sync_each=True):
        """Start an empty batch."""
        self.sync_each = sync_each
        self._pending = {}  # path -> its temporary path, in the order written

    def __len__(self):
        """Return the number of files written and not yet committed."""
        return len(self._pending)

    def write(self, path, data):
        """Write the bytes ``data`` as the future ``path`` (again: the last bytes count).

        :raises OSError: this file could not be written (nothing of it is left)
        """
        temp = temporary_path(path)
        self._pending.pop(path, None)
        with _temporary_file(temp, self.sync_each) as stream:
            stream.write(data)
        self._pending[path] = temp

    def commit(self):
        """Make the batch's files durable and visible under their names; return their paths.

        :raises OSError: the batch could not be committed; none of its files is
            left, under its temporary name or its final one
        """
        pairs, self._pending = [(t, p) for p, t in self._pending.items()], {}
        try:
            if pairs and not self.sync_each:
                os.sync()
            _publish(pairs)
        except BaseException:
            for temp, path in pairs:
                remove_quietly(temp)
                remove_quietly(path)
            raise
        return [path for _, path in pairs]

    def discard(self):
        """Remove the files written since the last commit."""
        temps, self._pending = list(self._pending.values()), {}
        for temp in temps:
            remove_quietly(temp)
