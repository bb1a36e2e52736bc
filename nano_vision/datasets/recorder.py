"""Write a labelled dataset that survives crashes: checked names, atomic files, trash (no ROS).

A capture is an image file and one manifest line, written frame by frame by
:class:`nano_vision.datasets.writer.DatasetWriter` (the layouts and the line
format are those of :mod:`nano_vision.datasets.layout`):

1. the JPEG is written under a hidden temporary name in its category folder,
   flushed to the disk (fsync), then renamed to its final name (``os.replace``
   is atomic), and the folder is synced;
2. its manifest line is appended, flushed and synced.

Only then is a capture reported as done. A process killed at any point leaves
complete files only: a temporary file (hidden, ignored by every reader) or an
image whose line is missing, both repaired when the dataset is opened again.
A failed write (full disk, read-only folder) removes what it had written and
raises :class:`RecorderError` with the reason.

Deleting moves a sample and its manifest line to ``<dataset>/.trash/`` (a
hidden folder, which no reader treats as a category); restoring moves them
back.
"""

from collections import Counter
import json
import os
import threading
import uuid

import cv2
from PIL import Image as PILImage

from nano_vision.datasets.layout import (check_category, CLASSIFICATION, DatasetError,
                                         FILE_NAME, IMAGE_SUFFIXES, MANIFEST, manifest_line,
                                         parse_xy_name, read_manifest, Sample, TASKS, XY)
from nano_vision.datasets.writer import DatasetWriter
from nano_vision.image.conversion import convert_encoding, ImageConversionError
from nano_vision.image.coords import to_normalised, to_pixels
from nano_vision.runtime.files import (append_line, explain_os_error, is_temporary,
                                       sync_folder, write_file_atomic)

TRASH = '.trash'


class RecorderError(Exception):
    """A capture or change that did not happen; the message says why and what to do."""


def check_label(name):
    """Return ``name`` if it can be a category folder, else raise RecorderError."""
    try:
        return check_category(name)
    except DatasetError as exc:
        raise RecorderError(str(exc)) from None


def _remove_empty_folder(folder):
    # an empty category folder would stop training ("categories with no images")
    try:
        os.rmdir(folder)
    except OSError:
        pass


def _images(folder):
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.lower().endswith(IMAGE_SUFFIXES)
                  and not n.startswith('.'))


def _category_folders(root):
    return sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith('.'))


class Recorder:
    """A dataset folder being recorded: captures, counts, undo, delete and restore.

    Thread-safe: the service, the continuous timer and the web page may call it
    at once.

    :param root: dataset folder (created if missing)
    :param task: ``classification`` (``<category>/<uuid>.jpg``) or ``xy``
        (``<category>/<u>_<v>_<uuid>.jpg``)
    :param categories: categories to show even before their first sample
    :param jpeg_quality: JPEG quality of the images (1-100)
    :raises RecorderError: the folder cannot be created or its manifest is damaged
    """

    def __init__(self, root, task=CLASSIFICATION, categories=(), jpeg_quality=95):
        """Open ``root``, remove temporary files of a killed run and count the samples."""
        if task not in TASKS:
            raise RecorderError(f'unknown task {task!r}; use {" or ".join(TASKS)}')
        self.root = os.path.abspath(root)
        self.task = task
        self.jpeg_quality = int(jpeg_quality)
        self._lock = threading.RLock()
        self._undo = []
        self.categories = []
        self.revision = 0  # goes up with every change of the counts or the categories
        try:
            os.makedirs(self.root, exist_ok=True)
            self.removed_temporary = self._remove_temporary_files()
            self.repaired = self._repair_manifest()
        except OSError as exc:
            raise RecorderError(explain_os_error(exc, self.root)) from None
        except DatasetError as exc:
            raise RecorderError(f'{exc}; fix or remove that line') from None
        self._writer = DatasetWriter(self.root)
        self._counts = Counter({c: len(_images(os.path.join(self.root, c)))
                                for c in _category_folders(self.root)})
        self._check_layout()
        for name in categories:
            self.add_category(name)

    # -- reading ---------------------------------------------------------

    def counts(self):
        """Return category -> samples: the configured categories first, then the others."""
        return self.tally()[1]

    def tally(self):
        """Return ``(revision, counts())`` read together.

        Answers to requests served side by side can reach a client in any order; the
        revision tells it which counts are the newest.
        """
        with self._lock:
            names = self.categories + sorted(set(self._counts) - set(self.categories))
            return self.revision, {name: self._counts.get(name, 0) for name in names}

    def samples(self, label=None, trash=False):
        """Return the relative paths (``<category>/<file>``) of the samples, newest first.

        :param label: only this category
        :param trash: the deleted samples instead
        """
        base = os.path.join(self.root, TRASH) if trash else self.root
        with self._lock:
            if not os.path.isdir(base):
                return []
            labels = [check_label(label)] if label else _category_folders(base)
            found = []
            for name in labels:
                folder = os.path.join(base, name)
                for image in _images(folder):
                    found.append((os.path.getmtime(os.path.join(folder, image)),
                                  f'{name}/{image}'))
            return [path for _, path in sorted(found, reverse=True)]

    def path_of(self, relative, trash=False):
        """Return the absolute path of sample ``<category>/<file>``; refuse anything else.

        :raises RecorderError: not a plain ``category/file`` name (no ``..``,
            absolute paths, hidden files or separators)
        """
        parts = relative.split('/') if isinstance(relative, str) else []
        if len(parts) != 2 or not FILE_NAME.match(parts[1]) or '\\' in relative:
            raise RecorderError(f'{relative!r} is not a sample of the dataset '
                                '(expected <category>/<file>.jpg)')
        check_label(parts[0])
        base = os.path.join(self.root, TRASH) if trash else self.root
        return os.path.join(base, parts[0], parts[1])

    # -- changing --------------------------------------------------------

    def add_category(self, name):
        """Add a category (shown with 0 samples until its first capture); return it."""
        check_label(name)
        with self._lock:
            if name not in self.categories:
                self.categories.append(name)
                self.revision += 1
        return name

    def capture(self, image, encoding, label, point=None, stamp_ns=0, source='', group=None):
        """Save one frame with a label (and a point for XY datasets); return its Sample.

        :param image: pixels as an array in ``encoding`` (rgb8, bgr8, mono8, ...)
        :param point: ``(x, y)`` normalised to [-1, 1] (see image/coords.py), XY only
        :param group: uuid of the file name; give the same one to the points of
            one frame (training keeps them on the same side of its split)
        :raises RecorderError: bad label or point, or the files could not be
            written (nothing of the capture is left on disk then)
        """
        check_label(label)
        if self.task == XY and point is None:
            raise RecorderError(f'{self.root} is an XY dataset: give a point with the label')
        if self.task == CLASSIFICATION and point is not None:
            raise RecorderError(f'{self.root} is a classification dataset: a capture has '
                                'a label and no point (record XY datasets with task xy)')
        try:
            bgr = convert_encoding(image, encoding, 'bgr8')
        except (ImageConversionError, KeyError, cv2.error) as exc:
            raise RecorderError(f'cannot save a {encoding} frame: {exc}') from None
        height, width = bgr.shape[:2]
        pixel = None
        if point is not None:
            x, y = (float(v) for v in point)
            pixel = to_pixels(x, y, width, height)  # the writer refuses it outside the image
        ok, encoded = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise RecorderError(f'OpenCV could not encode a {width}x{height} frame as JPEG')
        with self._lock:
            try:
                sample, = self._writer.write_frame(encoded.tobytes(), [(label, pixel)], width,
                                                   height, str(group or uuid.uuid4()),
                                                   stamp_ns, source)
            except DatasetError as exc:
                raise RecorderError(str(exc)) from None
            self._counts[label] += 1
            self.revision += 1
            self.add_category(label)
            self._undo.append(os.path.relpath(sample.path, self.root))
        return sample

    def undo(self):
        """Move the last capture of this run that is still there to the trash; return its path.

        :raises RecorderError: nothing left to undo
        """
        with self._lock:
            while self._undo:
                relative = self._undo.pop()
                if os.path.exists(os.path.join(self.root, relative)):
                    self.delete(relative)
                    return relative
        raise RecorderError('nothing to undo: no capture of this run is left')

    def delete(self, relative):
        """Move sample ``<category>/<file>`` and its manifest line to the trash (restorable)."""
        self._move(relative, to_trash=True)
        return relative

    def restore(self, relative):
        """Move sample ``<category>/<file>`` back from the trash into the dataset."""
        self._move(relative, to_trash=False)
        return relative

    # -- internals -------------------------------------------------------

    def _move(self, relative, to_trash):
        source = self.path_of(relative, trash=not to_trash)
        target = self.path_of(relative, trash=to_trash)
        trash_root = os.path.join(self.root, TRASH)
        from_root, to_root = (self.root, trash_root) if to_trash else (trash_root, self.root)
        label = relative.split('/')[0]
        with self._lock:
            if not os.path.isfile(source):
                where = 'dataset' if to_trash else 'trash'
                raise RecorderError(f'{relative} is not in the {where}')
            if os.path.exists(target):
                raise RecorderError(f'{target} already exists; not overwriting it')
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                entry = self._take_manifest_entry(from_root, relative)
                os.replace(source, target)
                sync_folder(os.path.dirname(target))
                _remove_empty_folder(os.path.dirname(source))
                if entry is None:
                    entry = self._entry_for_file(to_root, relative, 'recovered')
                append_line(os.path.join(to_root, MANIFEST),
                            json.dumps(entry, sort_keys=True) + '\n')
            except OSError as exc:
                raise RecorderError(explain_os_error(exc, target)) from None
            self._counts[label] += -1 if to_trash else 1
            self.revision += 1
            if not to_trash:
                self.add_category(label)

    def _take_manifest_entry(self, root, relative):
        """Remove the line of ``relative`` from ``root``'s manifest; return its entry."""
        path = os.path.join(root, MANIFEST)
        if not os.path.exists(path):
            return None
        entries = read_manifest(root)
        entry = entries.pop(os.path.normpath(relative), None)
        if entry is not None:
            self._write_manifest(root, entries.values())
        return entry

    @staticmethod
    def _write_manifest(root, entries):
        text = ''.join(json.dumps(e, sort_keys=True) + '\n' for e in entries)
        write_file_atomic(os.path.join(root, MANIFEST), text.encode('utf-8'))

    def _entry_for_file(self, root, relative, source):
        """Return a manifest entry rebuilt from an image file and its name."""
        path = os.path.join(root, relative)
        label, name = relative.split('/')
        try:
            with PILImage.open(path) as image:  # the header only: fast on big folders
                width, height = image.size
        except (OSError, ValueError):
            width = height = 0
        x = y = None
        parsed = parse_xy_name(name) if self.task == XY else None
        if parsed and width and height:
            x, y = to_normalised(parsed[0], parsed[1], width, height)
        group = parsed[2] if parsed else os.path.splitext(name)[0]
        sample = Sample(os.path.join(self.root, relative), label, width, height, x, y, group,
                        0, source)
        return json.loads(manifest_line(sample, self.root))

    def _check_layout(self):
        """Refuse to add one task's files to a dataset of the other task."""
        names = [f'{c}/{n}' for c in self._counts for n in _images(os.path.join(self.root, c))]
        with_point = [n for n in names if parse_xy_name(n.split('/')[1])]
        if self.task == XY and len(with_point) < len(names):
            example = next(n for n in names if n not in with_point)
            raise RecorderError(f'{self.root} holds files without a point in their name '
                                f'(e.g. {example}): record it with task classification, '
                                'or choose another folder')
        if self.task == CLASSIFICATION and names and len(with_point) == len(names):
            raise RecorderError(f'{self.root} is an XY dataset (e.g. {names[0]}): record it '
                                'with task xy, or choose another folder')

    def _remove_temporary_files(self):
        """Delete the temporary files a killed run left; return how many."""
        removed = 0
        for folder, _, files in os.walk(self.root):
            for name in files:
                if is_temporary(name):
                    os.remove(os.path.join(folder, name))
                    removed += 1
        return removed

    def _repair_manifest(self):
        """Make the manifest list exactly the images on disk; return the lines changed.

        A run killed between an image's rename and its manifest line leaves an
        image without a line (a line is rebuilt from the file); a line cut by
        a crash, or the line of a file deleted by hand, is dropped.
        """
        changed = 0
        for root in (self.root, os.path.join(self.root, TRASH)):
            if not os.path.isdir(root):
                continue
            path = os.path.join(root, MANIFEST)
            with_text = os.path.exists(path) and os.path.getsize(path) > 0
            entries = read_manifest(root)
            files = [f'{c}/{n}' for c in _category_folders(root)
                     for n in _images(os.path.join(root, c))]
            on_disk = set(files)
            kept = {k: e for k, e in entries.items() if k in on_disk}
            missing = [f for f in files if os.path.normpath(f) not in kept]
            for relative in missing:
                kept[os.path.normpath(relative)] = self._entry_for_file(root, relative,
                                                                        'recovered')
            text = b''
            if with_text:
                with open(path, 'rb') as stream:
                    text = stream.read()
            lines = text.count(b'\n')
            if missing or len(kept) != len(entries) or lines != len(kept) or (
                    text and not text.endswith(b'\n')):
                if kept or with_text:
                    self._write_manifest(root, kept.values())
                changed += abs(lines - len(kept)) + len(missing)
        return changed
