"""The demo's pictures: annotated frames kept over the run, the montage, the video."""

from collections import deque
import math
import os

import cv2
import numpy as np

from nano_vision.runtime.files import write_file_atomic


# The montage: this many annotated frames, spread over the live run.
MONTAGE_FRAMES = 12


MONTAGE_COLUMNS = 4


# The video: the last this-many seconds of annotated frames.
VIDEO_SECONDS = 8.0


# Frames kept in memory for the video (at most VIDEO_SECONDS of them are written).
VIDEO_BUFFER = 400


class FrameKeeper:
    """Keep annotated frames for the montage (spread over the run) and the video (the end)."""

    def __init__(self, montage_every_sec=1.0, video_buffer=VIDEO_BUFFER):
        """Keep one montage frame per ``montage_every_sec``; the last ``video_buffer`` frames."""
        self.montage_every_sec = montage_every_sec
        self.montage = []
        self.video = deque(maxlen=video_buffer)
        self.count = 0
        self._last_montage = None

    def add(self, seconds, image):
        """Add an RGB frame received ``seconds`` after some fixed start."""
        self.count += 1
        self.video.append((seconds, image))
        if self._last_montage is None or seconds - self._last_montage >= \
                self.montage_every_sec:
            self.montage.append(image)
            self._last_montage = seconds

    def montage_frames(self, count=MONTAGE_FRAMES):
        """Return up to ``count`` montage frames, evenly spread."""
        if len(self.montage) <= count:
            return list(self.montage)
        picks = np.linspace(0, len(self.montage) - 1, count).round().astype(int)
        return [self.montage[i] for i in picks]

    def video_frames(self, seconds=VIDEO_SECONDS):
        """Return ``(frames, fps)``: the last ``seconds`` of frames and their rate."""
        if not self.video:
            return [], 0.0
        end = self.video[-1][0]
        kept = [(t, image) for t, image in self.video if t >= end - seconds]
        span = kept[-1][0] - kept[0][0]
        fps = (len(kept) - 1) / span if span > 0 and len(kept) > 1 else 1.0
        return [image for _, image in kept], min(60.0, max(1.0, fps))


def make_montage(frames, columns=MONTAGE_COLUMNS, tile=224):
    """Return one RGB image with ``frames`` tiled ``columns`` wide, each resized to ``tile``."""
    if not frames:
        raise ValueError('no frames for the montage')
    rows = math.ceil(len(frames) / columns)
    height = tile * frames[0].shape[0] // frames[0].shape[1]
    canvas = np.zeros((rows * height, columns * tile, 3), np.uint8)
    for i, frame in enumerate(frames):
        r, c = divmod(i, columns)
        canvas[r * height:(r + 1) * height, c * tile:(c + 1) * tile] = cv2.resize(
            frame, (tile, height), interpolation=cv2.INTER_AREA)
    return canvas


def write_png(path, rgb):
    """Write an RGB image as PNG, atomically; return ``path``."""
    ok, encoded = cv2.imencode('.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f'could not write {path}: OpenCV cannot encode a {rgb.shape} image as PNG')
    write_file_atomic(path, encoded.tobytes())
    return path


def write_video(stem, frames, fps):
    """Write RGB ``frames`` as ``<stem>.mp4`` (mp4v), or ``<stem>.avi`` (MJPG); return the path.

    The video is written as ``<stem>.part.<suffix>`` and renamed when whole: a run
    stopped half-way leaves no cut video under the final name.

    :raises OSError: neither codec can be written by this OpenCV
    """
    if not frames:
        raise ValueError('no frames for the video')
    height, width = frames[0].shape[:2]
    for suffix, codec in (('.mp4', 'mp4v'), ('.avi', 'MJPG')):
        part = stem + '.part' + suffix  # OpenCV picks the container by the suffix
        writer = cv2.VideoWriter(part, cv2.VideoWriter_fourcc(*codec), fps, (width, height))
        try:
            if not writer.isOpened():
                continue
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            writer.release()
            if os.path.getsize(part) > 0:
                os.replace(part, stem + suffix)
                return stem + suffix
        finally:
            writer.release()
            if os.path.exists(part):
                os.remove(part)
    raise OSError('this OpenCV can write neither mp4v (.mp4) nor MJPG (.avi) video')
