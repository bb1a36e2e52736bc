"""Freed frame-sized buffers are reused instead of being faulted in again for every frame."""

import subprocess
import sys

import pytest

# A node's per-frame pattern: a converted image, the message's bytes, the previous
# frame's message still alive; in the main thread and in a capture thread.
FRAMES = """
import resource, sys, threading
import cv2, numpy as np
from nano_vision.runtime.allocator import reuse_large_buffers
from nano_vision.image.conversion import to_byte_array
applied = reuse_large_buffers() if sys.argv[1] == 'tuned' else None
bgr = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
def frames(count):
    previous = None
    for _ in range(count):
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        previous = (to_byte_array(rgb), np.ascontiguousarray(rgb[::2]))
def faults_per_frame(out):
    frames(5)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    frames(40)
    out.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 40)
out = []
faults_per_frame(out)
thread = threading.Thread(target=faults_per_frame, args=(out,))
thread.start()
thread.join()
print(applied, out[0], out[1])
"""


def faults(mode):
    result = subprocess.run([sys.executable, '-c', FRAMES, mode], capture_output=True,
                            text=True, check=True)
    applied, main, thread = result.stdout.split()
    return applied, float(main), float(thread)


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc mallopt')
def test_frame_buffers_are_not_faulted_in_again_for_every_frame():
    applied, main, thread = faults('tuned')
    assert applied == 'True'
    # a 640x480 rgb8 buffer is 225 pages: under 16 faults per frame, none was faulted in
    assert main < 16 and thread < 16, (main, thread)
    _, plain_main, plain_thread = faults('plain')
    assert plain_main + plain_thread > main + thread, (plain_main, plain_thread)
