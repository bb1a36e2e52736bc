"""Frame sources for the camera node: devices, GStreamer, files, folders, synthetic scenes.

One string selects the source (the camera node's ``source`` parameter):

=============================  ==================================================
``/dev/video0`` or ``0``       V4L2 device (USB webcams)
``csi`` or ``csi:1``           Jetson CSI camera (nvarguscamerasrc preset, sensor id)
``gst:<pipeline>``             any GStreamer pipeline ending in an appsink
``path/to/video.mp4``          video file (``loop`` restarts it)
``path/to/folder``             images of a folder, in name order (``loop`` restarts)
``synthetic:face``             synthetic scene with ground truth (see scenes/)
=============================  ==================================================

A source yields :class:`Frame` objects: pixels in the encoding the source
produces (OpenCV devices give ``bgr8``, synthetic scenes ``rgb8``) so the node
converts once, straight to the encoding it publishes.
"""

from dataclasses import dataclass
import logging
import os
import re
import time

import cv2

from nano_vision.scenes import make_scene
from nano_vision.scenes.base import SceneAnimator, SceneTruth

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


class SourceError(RuntimeError):
    """A source that cannot be opened or that stopped delivering frames."""


class EndOfStream(Exception):
    """A file or folder source reached its end and does not loop."""


@dataclass(frozen=True)
class Frame:
    """One captured image, with the truth when the source knows it."""

    image: object
    encoding: str
    truth: SceneTruth = None


@dataclass(frozen=True)
class SourceSpec:
    """A parsed ``source`` string."""

    kind: str       # v4l2 | csi | gstreamer | video | folder | synthetic
    target: str     # device path, pipeline, file, folder or scene name
    index: int = -1  # V4L2 index or CSI sensor id


def parse_source(text):
    """Return the :class:`SourceSpec` of a ``source`` string.

    Files and folders must exist; devices are checked when opened.

    :raises ValueError: the string names nothing this node can open
    """
    text = text.strip()
    if not text:
        raise ValueError('source is empty; give a device (/dev/video0), csi, gst:<pipeline>, '
                         'a video file, an image folder or synthetic:<scene>')
    if text.startswith('synthetic:'):
        name = text.split(':', 1)[1]
        make_scene(name)  # raises with the list of scenes
        return SourceSpec('synthetic', name)
    if text.startswith('gst:'):
        pipeline = text[4:].strip()
        if 'appsink' not in pipeline:
            raise ValueError(f'GStreamer pipeline must end in an appsink: {pipeline!r}')
        return SourceSpec('gstreamer', pipeline)
    match = re.fullmatch(r'csi(?::(\d+))?', text)
    if match:
        return SourceSpec('csi', 'nvarguscamerasrc', int(match.group(1) or 0))
    if text.isdigit():
        return SourceSpec('v4l2', f'/dev/video{text}', int(text))
    match = re.fullmatch(r'/dev/video(\d+)', text)
    if match or text.startswith('/dev/'):
        return SourceSpec('v4l2', text, int(match.group(1)) if match else -1)
    if os.path.isdir(text):
        return SourceSpec('folder', text)
    if os.path.isfile(text):
        return SourceSpec('video', text)
    raise ValueError(
        f'source {text!r} is not a device, csi, gst:<pipeline>, synthetic:<scene>, '
        'nor an existing file or folder')


def csi_pipeline(sensor_id, width, height, fps, flip_method=0):
    """Return the Jetson CSI (nvarguscamerasrc) pipeline that ends in a BGR appsink.

    ``drop=true max-buffers=1`` on the appsink keeps only the newest frame, so
    frames never arrive late from a queue.
    """
    return (
        f'nvarguscamerasrc sensor-id={sensor_id} ! '
        f'video/x-raw(memory:NVMM), width={width}, height={height}, '
        f'framerate={max(1, round(fps))}/1, format=NV12 ! '
        f'nvvidconv flip-method={flip_method} ! video/x-raw, format=BGRx ! '
        'videoconvert ! video/x-raw, format=BGR ! '
        'appsink drop=true max-buffers=1 sync=false')


def opencv_has_gstreamer():
    """Return True when this OpenCV build can open GStreamer pipelines."""
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith('GStreamer:'):
            return 'YES' in line
    return False


class FrameSource:
    """Base class: ``open()``, then ``read()`` until it raises, then ``close()``.

    ``read()`` is ``grab()`` then ``retrieve()``: a reader that keeps only some
    frames (a model node that reads its own camera) grabs every frame, which
    takes it from the device at its time, and decodes only the ones it uses.
    Sources where the two cannot be told apart (scenes, rendered in order) do
    all the work in ``grab()``.
    """

    #: True when ``grab()`` blocks until the device has a frame (it sets the
    #: pace); False when the caller must pace reads to the wanted rate.
    paced = False
    _grabbed = None

    def open(self):
        """Open the source; raise :class:`SourceError` saying what to check."""

    def grab(self):
        """Take the next frame without decoding it; return False when none could be had.

        :raises EndOfStream: a file or folder ended and does not loop
        """
        self._grabbed = self.read_whole()
        return self._grabbed is not None

    def retrieve(self):
        """Return the :class:`Frame` of the last grab (decoded now), or None if it cannot be."""
        return self._grabbed

    def read(self):
        """Return the next :class:`Frame`, or None when none could be read.

        :raises EndOfStream: a file or folder ended and does not loop
        """
        return self.retrieve() if self.grab() else None

    def read_whole(self):
        """Return the next :class:`Frame` (sources whose grab is a whole read)."""
        raise NotImplementedError

    def close(self):
        """Release the source."""


class SyntheticSource(FrameSource):
    """Frames of an animated synthetic scene, with their truth."""

    def __init__(self, scene_name, width, height, fps, seed=0):
        """Animate ``scene_name`` at ``width`` x ``height``; one state every 2 s."""
        self.width, self.height = width or 640, height or 480
        self._animator = SceneAnimator(make_scene(scene_name), seed=seed,
                                       segment_frames=max(1, round(2.0 * fps)))

    def read_whole(self):
        """Render the next frame (in order: each frame's noise follows the one before)."""
        image, truth = self._animator.next_frame(self.width, self.height)
        return Frame(image, 'rgb8', truth)


class CaptureSource(FrameSource):
    """A ``cv2.VideoCapture``: V4L2 device, GStreamer pipeline or video file."""

    def __init__(self, spec, width, height, fps, loop=True, flip_method=0):
        """Prepare the capture described by ``spec`` (nothing opens yet)."""
        self.spec = spec
        self.width, self.height, self.fps = width, height, fps
        self.loop = loop
        self.flip_method = flip_method
        self.paced = spec.kind != 'video'
        self._capture = None

    def describe(self):
        """Return what is being opened, for messages."""
        if self.spec.kind == 'csi':
            return f'CSI camera {self.spec.index} (nvarguscamerasrc)'
        if self.spec.kind == 'gstreamer':
            return f'GStreamer pipeline {self.spec.target!r}'
        return f'{self.spec.kind} {self.spec.target!r}'

    def open(self):
        """Open the capture; raise :class:`SourceError` with what to check."""
        kind = self.spec.kind
        if kind in ('csi', 'gstreamer'):
            if not opencv_has_gstreamer():
                raise SourceError(
                    f'cannot open {self.describe()}: this OpenCV ({cv2.__version__}) was built '
                    'without GStreamer. On a Jetson use the OpenCV of JetPack '
                    '(python3-opencv from NVIDIA) instead of opencv-python from pip.')
            pipeline = self.spec.target
            if kind == 'csi':
                pipeline = csi_pipeline(self.spec.index, self.width or 1280,
                                        self.height or 720, self.fps, self.flip_method)
            capture = cv2.VideoCapture(pipeline, cv2.CAP_GSTREAMER)
        elif kind == 'v4l2':
            target = self.spec.index if self.spec.index >= 0 else self.spec.target
            capture = cv2.VideoCapture(target, cv2.CAP_V4L2)
            if capture.isOpened():
                capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a queue
                if self.width and self.height:
                    capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
                    capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
                capture.set(cv2.CAP_PROP_FPS, self.fps)
        else:
            capture = cv2.VideoCapture(self.spec.target)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f'cannot open {self.describe()}: {self._hint()}')
        self._capture = capture

    def _hint(self):
        kind = self.spec.kind
        if kind == 'v4l2':
            return (f'check that {self.spec.target} exists (ls /dev/video*), that no other '
                    'program holds it, and that this user may read it (group "video")')
        if kind == 'csi':
            return ('check the ribbon cable, that nvargus-daemon runs '
                    '(sudo systemctl restart nvargus-daemon) and the sensor id')
        if kind == 'gstreamer':
            return 'run the pipeline with gst-launch-1.0 to see what fails'
        return 'check that the file is a video OpenCV can decode (ffprobe shows its codec)'

    def grab(self):
        """Take the next frame from the device or file (not decoded); False when it failed.

        A device's frame is dequeued at once, so a reader that decodes only some
        frames still gets each at its time.
        """
        if self._capture.grab():
            return True
        if self.spec.kind == 'video':
            if not self.loop:
                raise EndOfStream(self.spec.target)
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            return self._capture.grab()
        return False

    def retrieve(self):
        """Decode the last grabbed frame; None when that failed (the device may be gone)."""
        ok, image = self._capture.retrieve()
        return Frame(image, 'bgr8') if ok and image is not None else None

    def close(self):
        """Release the capture."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class FolderSource(FrameSource):
    """The images of a folder, in name order."""

    def __init__(self, folder, loop=True):
        """Prepare to read ``folder`` (listed when opened)."""
        self.folder = folder
        self.loop = loop
        self._files = []
        self._next = 0
        self._path = None

    def open(self):
        """List the folder's images; raise :class:`SourceError` if there are none."""
        self._files = sorted(
            os.path.join(self.folder, name) for name in os.listdir(self.folder)
            if name.lower().endswith(IMAGE_SUFFIXES))
        if not self._files:
            raise SourceError(f'folder {self.folder!r} holds no images '
                              f'({", ".join(IMAGE_SUFFIXES)})')

    def read(self):
        """Return the next readable image; unreadable files are logged and skipped."""
        for _ in range(len(self._files)):
            self.grab()
            frame = self.retrieve()
            if frame is not None:
                return frame
        raise SourceError(f'no image in {self.folder!r} could be read')

    def grab(self):
        """Move to the next image (nothing is read yet)."""
        if self._next >= len(self._files):
            if not self.loop:
                raise EndOfStream(self.folder)
            self._next = 0
        self._path = self._files[self._next]
        self._next += 1
        return True

    def retrieve(self):
        """Read the image of the last grab; None (logged) when it is not an image."""
        image = cv2.imread(self._path, cv2.IMREAD_COLOR)
        if image is not None:
            return Frame(image, 'bgr8')
        logger.warning('skipping %s: not an image OpenCV can read', self._path)
        return None


def open_source(spec, width, height, fps, loop=True, seed=0, flip_method=0):
    """Create and open the source of ``spec``.

    :raises SourceError: it cannot be opened (the message says what to check)
    """
    if spec.kind == 'synthetic':
        source = SyntheticSource(spec.target, width, height, fps, seed)
    elif spec.kind == 'folder':
        source = FolderSource(spec.target, loop)
    else:
        source = CaptureSource(spec, width, height, fps, loop, flip_method)
    source.open()
    return source


class Pacer:
    """Sleep so that calls to :meth:`wait` happen at ``rate_hz`` without bursts.

    A late call does not make the next ones early: the schedule restarts from
    now, so a slow frame never causes a catch-up burst.
    """

    def __init__(self, rate_hz, clock=time.monotonic, sleep=time.sleep):
        """Pace at ``rate_hz`` calls per second."""
        self.period = 1.0 / rate_hz
        self._clock, self._sleep = clock, sleep
        self._next = None

    def wait(self, stop_event=None):
        """Sleep until the next slot; return False if ``stop_event`` was set meanwhile."""
        now = self._clock()
        if self._next is None or now > self._next + self.period:
            self._next = now
        delay = self._next - now
        self._next += self.period
        if delay > 0:
            if stop_event is not None:
                return not stop_event.wait(delay)
            self._sleep(delay)
        return stop_event is None or not stop_event.is_set()
