"""Pieces of live inference that need no ROS: newest-frame slot, statistics, smoothing."""

from collections import deque
import threading
import time

import numpy as np


class LatestSlot:
    """Hold only the newest item; an item replaced before it was taken counts as dropped.

    A producer (the subscription callback) calls :meth:`put`; a consumer (the
    inference thread) calls :meth:`take`, which waits for an item. However
    fast frames arrive, at most one waits: a slow model never builds a queue.
    """

    def __init__(self):
        """Create an empty slot."""
        self._item = None
        self._condition = threading.Condition()
        self._closed = False
        self.received = 0
        self.dropped = 0

    def put(self, item):
        """Store ``item``; return the one it replaced (counted as dropped), or None."""
        with self._condition:
            replaced, self._item = self._item, item
            if replaced is not None:
                self.dropped += 1
            self.received += 1
            self._condition.notify()
            return replaced

    def take(self, timeout=None):
        """Return the newest item, waiting up to ``timeout`` s; None on timeout or close."""
        with self._condition:
            if self._item is None and not self._closed:
                self._condition.wait(timeout)
            item, self._item = self._item, None
            return item

    def close(self):
        """Wake the consumer for good (it then gets None)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


class InferenceStats:
    """Frame rate and latencies over a sliding window of recent frames.

    A frame whose end-to-end latency cannot be known (its stamp is unset, in the
    future or from a clock far from this one) still counts for the rate and the
    model time; it is counted in ``unusable_stamps`` instead of entering the
    latency percentiles, which stay those of the frames with usable stamps.
    """

    def __init__(self, window=300, clock=time.monotonic):
        """Keep the last ``window`` frames."""
        self._clock = clock
        self._times = deque(maxlen=window)
        self._model_ms = deque(maxlen=window)
        self._e2e_ms = deque(maxlen=window)
        self.processed = 0
        self.unusable_stamps = 0
        self.errors = 0

    def record(self, model_ms, end_to_end_ms):
        """Record one processed frame; ``end_to_end_ms`` None: its stamp was unusable."""
        self._times.append(self._clock())
        self._model_ms.append(model_ms)
        if end_to_end_ms is None:
            self.unusable_stamps += 1
        else:
            self._e2e_ms.append(end_to_end_ms)
        self.processed += 1

    def snapshot(self):
        """Return fps and latency percentiles (ms) of the window (zeros when empty)."""
        result = {'fps': 0.0, 'model_ms_p50': 0.0, 'model_ms_p99': 0.0,
                  'latency_ms_p50': 0.0, 'latency_ms_p99': 0.0}
        if len(self._times) >= 2:
            span = self._times[-1] - self._times[0]
            result['fps'] = (len(self._times) - 1) / span if span > 0 else 0.0
        if self._model_ms:
            model = np.asarray(self._model_ms)
            result.update(model_ms_p50=float(np.percentile(model, 50)),
                          model_ms_p99=float(np.percentile(model, 99)))
        if self._e2e_ms:
            e2e = np.asarray(self._e2e_ms)
            result.update(latency_ms_p50=float(np.percentile(e2e, 50)),
                          latency_ms_p99=float(np.percentile(e2e, 99)))
        return result


class ProbabilitySmoother:
    """Average class probabilities over the last ``frames`` predictions (1: no smoothing)."""

    def __init__(self, frames=1):
        """Average over ``frames`` frames."""
        if frames < 1:
            raise ValueError(f'smoothing frames must be >= 1, got {frames}')
        self._recent = deque(maxlen=frames)

    def __call__(self, probabilities):
        """Add one frame's probabilities; return the average of the window."""
        self._recent.append(np.asarray(probabilities, dtype=np.float32))
        return np.mean(self._recent, axis=0)
