"""The one dataset writer: files named from their labels, written atomically, with the manifest.

Every dataset file nano_vision makes is written here: the recorder's captures,
the synthetic sets and the frames imported from a bag. A frame is JPEG bytes
with one or more labels (the layouts are those of
:mod:`nano_vision.datasets.layout`):

- a class label gives ``<root>/<label>/<uid>.jpg``;
- a point label ``(u, v)``, pixels of the frame, gives the course's
  ``<root>/<label>/<u>_<v>_<uid>.jpg``, with ``u`` and ``v`` rounded to whole
  pixels (Python's ``round``, halves to even). The sample's ``x``, ``y`` are
  those of the rounded point: what the file name says, and what training reads.

All the files of a frame carry its ``uid``, so training keeps them on the same
side of its split.

A batch of frames is committed in this order: its files, written under hidden
temporary names, are made durable and renamed to their names together (see
:class:`nano_vision.runtime.files.AtomicBatch`), their folders synced; then
their manifest lines are appended and synced. The manifest never lists a file
that is not complete on the disk; a process killed in between leaves complete
files without their lines (readers take the files as the truth, and the
recorder rebuilds the lines). A failed write raises
:class:`~nano_vision.datasets.layout.DatasetError` with the reason and leaves
nothing of the batch, not even a category folder it created.

Two paces:

- frame by frame (the recorder): every file is fsynced and the frame is
  committed before :meth:`DatasetWriter.write_frame` returns;
- bulk (synthetic sets, bag import): frames are committed by
  :data:`BULK_FRAMES` and when the writer closes, with one flush of the disk
  per batch. A flush per file made ``nano-vision dataset synth`` of 1200 small
  frames up to twice as slow (see docs/training.md); a batch is as durable.
"""

import os

from nano_vision.datasets.layout import (check_category, DatasetError, FILE_NAME, MANIFEST,
                                         manifest_line, Sample)
from nano_vision.image.coords import to_normalised
from nano_vision.runtime.files import (append_line, AtomicBatch, explain_os_error,
                                       remove_quietly, sync_folder)

#: Frames a bulk writer commits at once.
BULK_FRAMES = 256


def file_name(uid, pixel=None):
    """Return a sample's file name: ``<uid>.jpg``, or ``<u>_<v>_<uid>.jpg`` for whole pixels."""
    if pixel is None:
        return f'{uid}.jpg'
    return f'{pixel[0]}_{pixel[1]}_{uid}.jpg'


def frame_samples(root, labels, width, height, uid, stamp_ns=0, source=''):
    """Return the samples of one frame, each with the path it is written to.

    :param labels: ``(category, (u, v))`` pairs, pixels of this frame, or
        ``(category, None)`` for a class label
    :raises DatasetError: a category that cannot be a folder, a point outside
        the frame, or a ``uid`` that cannot be part of a file name
    """
    samples = []
    for label, point in labels:
        check_category(label)
        x = y = pixel = None
        if point is not None:
            u, v = (float(c) for c in point)
            if not (0.0 <= u <= width and 0.0 <= v <= height):  # also refuses NaN
                x, y = to_normalised(u, v, width, height)
                raise DatasetError(
                    f'point ({x:g}, {y:g}) is outside the image: x and y are normalised to '
                    f'[-1, 1] (pixel {u:g}, {v:g} of a {width}x{height} frame)')
            pixel = round(u), round(v)
            x, y = to_normalised(*pixel, width, height)
        name = file_name(uid, pixel)
        if not FILE_NAME.match(name):
            raise DatasetError(f'{uid!r} cannot name a file: use letters, digits, "_", "-" '
                               'or "." (not first), with no path separators')
        samples.append(Sample(os.path.join(root, label, name), label, int(width),
                              int(height), x, y, str(uid), int(stamp_ns), str(source)))
    return list(dict.fromkeys(samples))  # a file named twice is written once


class DatasetWriter:
    """Frames written into a dataset folder (created if missing); not thread-safe.

    Use it as a context manager, or call :meth:`close`: a bulk writer commits
    its last frames then (and discards them when the block raised).

    :param root: the dataset folder
    :param bulk: commit by :data:`BULK_FRAMES` frames with one disk flush
        each, instead of every frame with a flush per file
    """

    def __init__(self, root, bulk=False):
        """Create ``root`` if needed.

        :raises DatasetError: the folder cannot be created
        """
        self.root = root
        self.bulk = bool(bulk)
        self.manifest = os.path.join(root, MANIFEST)
        self._files = AtomicBatch(sync_each=not self.bulk)
        self._samples, self._folders, self._frames = [], [], 0
        try:
            os.makedirs(root, exist_ok=True)
        except OSError as exc:
            raise DatasetError(explain_os_error(exc, root)) from None

    def __enter__(self):
        """Return the writer."""
        return self

    def __exit__(self, kind, error, traceback):
        """Commit what is pending, or discard it after an exception."""
        if kind is None:
            self.close()
        else:
            self.discard()

    def write_frame(self, encoded, labels, width, height, uid, stamp_ns=0, source=''):
        """Write the JPEG bytes ``encoded`` under each of the frame's labels; return its samples.

        Frame by frame the files are on the disk and in the manifest when this
        returns; in bulk, after the next commit.

        :param labels: see :func:`frame_samples`
        :param uid: the frame's id, part of every file name and the samples' group
        :raises DatasetError: bad labels (nothing written), or a failed write
            (nothing of the frames not yet committed is left)
        """
        samples = frame_samples(self.root, labels, width, height, uid, stamp_ns, source)
        path = self.root
        try:
            for sample in samples:
                path = sample.path
                self._make_folder(os.path.dirname(path))
                self._files.write(path, encoded)
        except BaseException as exc:
            self.discard()
            if isinstance(exc, OSError):
                raise DatasetError(explain_os_error(exc, path)) from None
            raise
        self._samples.extend(samples)
        self._frames += 1
        if not self.bulk or self._frames >= BULK_FRAMES:
            self.commit()
        return samples

    def commit(self):
        """Put the frames written since the last commit on the disk, then their manifest lines.

        :raises DatasetError: the commit failed; none of its files is left
        """
        if not self._samples:
            return
        samples, folders = self._samples, self._folders
        self._samples, self._folders, self._frames = [], [], 0
        path, paths = samples[0].path, []
        try:
            paths = self._files.commit()
            for folder in folders:  # the entry of a new category folder
                sync_folder(os.path.dirname(folder))
            path = self.manifest
            append_line(self.manifest, ''.join(manifest_line(s, self.root) for s in samples))
        except BaseException as exc:
            for written in paths:  # a file without its line would be half a frame
                remove_quietly(written)
            self._folders = folders
            self.discard()
            if isinstance(exc, OSError):
                raise DatasetError(explain_os_error(exc, path)) from None
            raise

    def discard(self):
        """Remove the frames not committed yet, and the category folders they created."""
        self._files.discard()
        for folder in reversed(self._folders):
            try:
                os.rmdir(folder)  # only when empty: an empty category stops training
            except OSError:
                pass
        self._samples, self._folders, self._frames = [], [], 0

    def close(self):
        """Commit the frames still pending (bulk)."""
        self.commit()

    def _make_folder(self, folder):
        if not os.path.isdir(folder):
            os.makedirs(folder)
            self._folders.append(folder)
