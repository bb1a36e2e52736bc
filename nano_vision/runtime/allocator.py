"""Keep freed frame-sized buffers for reuse instead of giving them back to the kernel.

Every 640x480 rgb8 frame passes through several fresh 900 KiB buffers in a
node (the converted image, the message's data, rclpy's C copy, the received
message). glibc serves such sizes with ``mmap`` or trims them off its heap as
soon as they are freed, so each new frame faults its pages in again: about
0.5 ms per buffer on a small CPU. Raising glibc's mmap and trim thresholds
keeps those buffers in the heap, where the next frame reuses them.
"""

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest: frames up to 1920x1080x4 stay in the heap
TRIM_THRESHOLD = 128 * 1024 * 1024  # freed memory kept before the heap is trimmed


def reuse_large_buffers(mmap_threshold=MMAP_THRESHOLD, trim_threshold=TRIM_THRESHOLD):
    """Ask the C allocator to keep freed buffers up to ``mmap_threshold`` bytes for reuse.

    :return: True where it was applied (glibc), False where the C library has no
        ``mallopt`` (musl, macOS, Windows): nothing changes there
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and \
        bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))
