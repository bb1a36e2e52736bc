"""Dataset folders of the course and of JetBot: scan, check, split, describe (no torch).

Layouts read (and written by :mod:`nano_vision.datasets.writer`):

Classification
    ``<root>/<category>/<name>.jpg`` — torchvision ImageFolder compatible.
XY (course regression)
    ``<root>/<category>/<u>_<v>_<uuid>.jpg`` — ``u``, ``v`` in pixels of that image,
    one point per file for the category of its folder (``nose``, ``left_eye``, ...).
XY (JetBot road following)
    ``<root>/xy_<u>_<v>_<id>.jpg`` — pixels, one point called ``target``.

Points are normalised to [-1, 1] when loaded (see :mod:`nano_vision.image.coords`).

Beside the images a ``manifest.jsonl`` may keep where each sample came from
(one JSON object per line: file, label, x, y, u, v, width, height, stamp_ns,
source). The files are the truth: a file that was deleted is not a sample,
whatever the manifest says, and files without a manifest line are samples
too; the manifest only adds provenance.
"""

from collections import Counter
from dataclasses import dataclass, field
import json
import math
import os
import random
import re

from PIL import Image, UnidentifiedImageError

from nano_vision.image.coords import to_normalised

CLASSIFICATION = 'classification'
XY = 'xy'
TASKS = (CLASSIFICATION, XY)
MANIFEST = 'manifest.jsonl'
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')
#: Category of JetBot's flat ``xy_<u>_<v>_<id>.jpg`` files.
JETBOT_CATEGORY = 'target'

_NUMBER = r'(-?\d+(?:\.\d+)?)'
COURSE_XY = re.compile(rf'^{_NUMBER}_{_NUMBER}_(.+)\.\w+$')
JETBOT_XY = re.compile(rf'^xy_{_NUMBER}_{_NUMBER}_(.+)\.\w+$')
# A category is a folder name: no separators, no dots at the start, no control
# characters; the recorder refuses anything else before it touches the disk.
CATEGORY = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$')
# A sample's file name, as written and as accepted back from a user interface:
# a plain name, no separators, not hidden.
FILE_NAME = re.compile(r'^[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,200}$')


class DatasetError(ValueError):
    """A dataset that cannot be used as it is; the message names the files."""


@dataclass(frozen=True)
class Sample:
    """One labelled image.

    ``x``, ``y`` are normalised ([-1, 1], see image/coords.py) for XY samples and
    None for classification. Samples with the same ``group`` (the same
    captured frame) always fall on the same side of a train/validation split.
    """

    path: str
    label: str
    width: int
    height: int
    x: float = None
    y: float = None
    group: str = ''
    stamp_ns: int = 0
    source: str = ''


@dataclass(frozen=True)
class Dataset:
    """The samples of a folder, with the ordered category names."""

    root: str
    task: str
    names: tuple
    samples: tuple = field(repr=False)

    def counts(self):
        """Return category -> number of samples, in :attr:`names` order."""
        found = Counter(s.label for s in self.samples)
        return {name: found.get(name, 0) for name in self.names}


def check_category(name):
    """Return ``name`` if it is a safe category (folder) name, else raise DatasetError."""
    if not isinstance(name, str) or not CATEGORY.match(name) or name in ('.', '..'):
        raise DatasetError(
            f'category {name!r} is not allowed: use 1-64 letters, digits, "_", "-" or "." '
            '(not first), with no path separators or control characters')
    if name == MANIFEST:
        # a folder of that name would stand where every later capture appends its line
        raise DatasetError(f'category {name!r} is not allowed: it is the name of the '
                           "dataset's manifest file; choose another name")
    return name


def parse_xy_name(filename):
    """Return ``(u, v, uuid)`` pixels of a course or JetBot XY file name, or None."""
    match = JETBOT_XY.match(filename) or COURSE_XY.match(filename)
    if match is None:
        return None
    return float(match.group(1)), float(match.group(2)), match.group(3)


def read_manifest(root):
    """Return relative file -> manifest entry for ``root``; {} without a manifest.

    :raises DatasetError: a line that is not a JSON object with a ``file``
    """
    path = os.path.join(root, MANIFEST)
    entries = {}
    if not os.path.exists(path):
        return entries
    with open(path, encoding='utf-8') as stream:
        lines = stream.read().splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            entries[os.path.normpath(entry['file'])] = entry
        except (ValueError, KeyError, TypeError):
            if number == len(lines):
                break  # a line cut by a crash can only be the last one
            raise DatasetError(f'{path}:{number} is not a manifest entry: {line[:80]!r}')
    return entries


def manifest_line(sample, root):
    """Return the manifest line (JSON, newline-terminated) describing ``sample``."""
    entry = {'file': os.path.relpath(sample.path, root), 'label': sample.label,
             'x': sample.x, 'y': sample.y, 'u': None, 'v': None,
             'width': sample.width, 'height': sample.height,
             'stamp_ns': sample.stamp_ns, 'source': sample.source}
    if sample.x is not None:
        entry['u'] = round((sample.x + 1.0) * 0.5 * sample.width, 2)
        entry['v'] = round((sample.y + 1.0) * 0.5 * sample.height, 2)
    return json.dumps(entry, sort_keys=True) + '\n'


def _image_size(path):
    """Return ``(width, height)`` from the file header, or None when unreadable."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def _list_images(folder):
    return sorted(name for name in os.listdir(folder)
                  if name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith('.'))


def _find_files(root):
    """Return [(category, path)] of the layout under ``root``."""
    if not os.path.isdir(root):
        raise DatasetError(f'dataset folder {root!r} does not exist')
    files = []
    flat = _list_images(root)
    for name in flat:
        if not JETBOT_XY.match(name):
            raise DatasetError(
                f'{os.path.join(root, name)} is not in a category folder: put images in '
                f'<dataset>/<category>/, or name them xy_<x>_<y>_<id>.jpg (JetBot)')
        files.append((JETBOT_CATEGORY, os.path.join(root, name)))
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.is_dir() and not entry.name.startswith('.'):
            for name in _list_images(entry.path):
                files.append((entry.name, os.path.join(entry.path, name)))
    return files


def _detect_task(files):
    with_points = sum(parse_xy_name(os.path.basename(p)) is not None for _, p in files)
    if with_points == 0:
        return CLASSIFICATION
    if with_points == len(files):
        return XY
    example = next(p for _, p in files if parse_xy_name(os.path.basename(p)) is None)
    raise DatasetError(
        f'{with_points} of {len(files)} files carry a point in their name (<x>_<y>_<id>.jpg) '
        f'and the others do not (e.g. {example}); give task classification or xy')


def load_dataset(root, task='auto', names=None, check_images=True):
    """Scan ``root`` and return its :class:`Dataset`.

    :param task: ``classification``, ``xy`` or ``auto`` (from the file names)
    :param names: category names in model order; default: the folders, sorted
    :param check_images: read every image header (sizes, unreadable files)
    :raises DatasetError: empty categories, unreadable images, points outside
        their image, unknown layout (the message names the files)
    """
    root = os.path.abspath(root)
    files = _find_files(root)
    if not files:
        raise DatasetError(f'{root} holds no images (expected <category>/<name>.jpg)')
    if task == 'auto':
        task = _detect_task(files)
    if task not in TASKS:
        raise DatasetError(f'unknown task {task!r}; use classification, xy or auto')
    folders = sorted({category for category, _ in files}
                     | {e.name for e in os.scandir(root)
                        if e.is_dir() and not e.name.startswith('.')})
    names = tuple(names) if names else tuple(folders)
    for name in names:
        check_category(name)
    empty = [n for n in names if not any(c == n for c, _ in files)]
    if empty:
        raise DatasetError(f'categories with no images: {", ".join(empty)} (in {root}); '
                           'add images or leave them out of the names')
    provenance = read_manifest(root)
    samples, unreadable, outside, unnamed = [], [], [], []
    for category, path in files:
        if category not in names:
            continue
        name = os.path.basename(path)
        size = _image_size(path) if check_images else (0, 0)
        if size is None:
            unreadable.append(path)
            continue
        width, height = size
        entry = provenance.get(os.path.relpath(path, root), {})
        x = y = None
        group = os.path.splitext(name)[0]
        if task == XY:
            parsed = parse_xy_name(name)
            if parsed is None:
                unnamed.append(path)
                continue
            u, v, group = parsed
            if check_images and not (0 <= u <= width and 0 <= v <= height):
                outside.append(f'{path} (point {u:g},{v:g} in a {width}x{height} image)')
                continue
            if check_images:
                x, y = to_normalised(u, v, width, height)
        samples.append(Sample(path, category, width, height, x, y, group,
                              int(entry.get('stamp_ns') or 0), str(entry.get('source') or '')))
    problems = []
    if unreadable:
        problems.append(f'{len(unreadable)} unreadable image(s): {", ".join(unreadable[:5])}')
    if outside:
        problems.append(f'{len(outside)} point(s) outside their image: '
                        f'{", ".join(outside[:5])}')
    if unnamed:
        problems.append(f'{len(unnamed)} file(s) without <x>_<y>_ in their name: '
                        f'{", ".join(unnamed[:5])}')
    if problems:
        raise DatasetError(f'dataset {root}: ' + '; '.join(problems))
    return Dataset(root, task, names, tuple(samples))


def split_samples(samples, val_fraction=0.2, seed=0):
    """Return ``(train, val)``: a seeded split, stratified by label, never splitting a group.

    Every category with at least two groups gets at least one validation group.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f'val_fraction must be between 0 and 1, got {val_fraction}')
    groups_by_label = {}
    for sample in samples:
        groups_by_label.setdefault(sample.label, set()).add(sample.group)
    rng = random.Random(seed)
    val_groups, assigned = set(), set()
    for label in sorted(groups_by_label):
        groups = sorted(groups_by_label[label] - assigned)
        rng.shuffle(groups)
        total = len(groups_by_label[label])
        wanted = min(total - 1, max(1, math.ceil(val_fraction * total))) if total > 1 else 0
        already = len(groups_by_label[label] & val_groups)
        chosen = groups[:max(0, wanted - already)]
        val_groups.update(chosen)
        assigned.update(groups_by_label[label])
    train = [s for s in samples if s.group not in val_groups]
    val = [s for s in samples if s.group in val_groups]
    return train, val


def describe(dataset, imbalance_ratio=1.5):
    """Return the report of ``nano-vision dataset stats`` as a list of lines."""
    counts = dataset.counts()
    total = len(dataset.samples)
    lines = [f'{dataset.root}: {dataset.task}, {total} samples, {len(counts)} categories']
    width = max(len(n) for n in counts)
    for name, count in counts.items():
        share = 100.0 * count / total if total else 0.0
        line = f'  {name:<{width}}  {count:>6}  {share:5.1f}%'
        if dataset.task == XY and count:
            xs = [s.x for s in dataset.samples if s.label == name]
            ys = [s.y for s in dataset.samples if s.label == name]
            line += (f'   x {sum(xs) / len(xs):+.2f} [{min(xs):+.2f}, {max(xs):+.2f}]'
                     f'   y {sum(ys) / len(ys):+.2f} [{min(ys):+.2f}, {max(ys):+.2f}]')
        lines.append(line)
    sizes = Counter((s.width, s.height) for s in dataset.samples)
    lines.append('image sizes: ' + ', '.join(f'{w}x{h} ({n})' for (w, h), n in
                                             sizes.most_common(5)))
    if len(sizes) > 5:
        lines[-1] += f', and {len(sizes) - 5} more'
    nonzero = [c for c in counts.values() if c]
    if nonzero and max(nonzero) > imbalance_ratio * min(nonzero):
        big = max(counts, key=counts.get)
        small = min(counts, key=counts.get)
        lines.append(f'WARNING: classes are imbalanced: {big} has {counts[big]} samples, '
                     f'{small} {counts[small]} (more than {imbalance_ratio:g}x); collect more '
                     f'{small} or expect the model to favour {big}')
    with_stamp = sum(1 for s in dataset.samples if s.stamp_ns)
    if with_stamp:
        lines.append(f'provenance: {with_stamp} samples carry a source stamp (manifest)')
    return lines
