"""Pieces of live inference that need no ROS: newest-frame slot, schedule, statistics."""

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
        self.taken = 0

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
        return self.take_numbered(timeout)[1]

    def take_numbered(self, timeout=None):
        """Return ``(n, item)``: the newest item and how many were taken up to it.

        With several consumers, ``n`` orders the items as they were taken (the later
        one, the newer item), whichever consumer is done first. None for the item on
        timeout or close.
        """
        with self._condition:
            if self._item is None and not self._closed:
                self._condition.wait(timeout)
            item, self._item = self._item, None
            if item is not None:
                self.taken += 1
            return self.taken, item

    def close(self):
        """Wake the consumer for good (it then gets None)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


def prepare_beside_model(device, model_threads, cpus):
    """Return whether frames should be prepared while the model runs, in a thread of their own.

    Only where a CPU is left to do it: the model runs on a GPU, or its threads
    are fewer than the CPUs this process may use. Where the model's threads take
    every CPU, a frame prepared beside it takes a CPU from one of them, and the
    others wait for that one at the end of each layer: on 2 cores the model
    slowed by more than the preparing took (docs/benchmarks.md), so there the
    next frame is prepared after the model, in its thread.

    :param device: where the model runs (``cpu``, ``cuda``, ``tensorrt``)
    :param model_threads: the model's CPU threads
    :param cpus: the CPUs this process may use (hyperthreads count)
    """
    return device != 'cpu' or model_threads < cpus


class PrepareSchedule:
    """When to prepare the next frame: just before the model is free for it.

    A frame prepared while the model is busy waits for it, and a newer frame may
    replace it meanwhile: preparing every frame of a camera faster than the
    model spends cores on frames that are then dropped, and the frame the model
    takes is older than it needs to be. The prepare thread asks :meth:`delay`
    (or waits in :meth:`wait`) before it takes a frame: now when the model is
    idle, else when the model is due to finish its frame less the time a frame
    takes to prepare (both averaged over the last frames, with a margin); never
    while a prepared frame still waits for the model.

    The model thread calls :meth:`model_started` and :meth:`model_finished`; the
    prepare thread :meth:`frame_ready` just before it hands a frame over and
    :meth:`prepared` with the seconds it took.
    """

    #: weight of the newest time in the averages
    SMOOTHING = 0.2
    #: the prepare starts this much earlier than the averages say: a frame a little
    #: early waits for the model, a frame late keeps the model waiting
    LEAD_FACTOR, LEAD_SECONDS = 1.5, 0.0005

    def __init__(self, clock=time.perf_counter):
        """Start with no timings: the first frames are prepared as they come."""
        self._clock = clock
        self._condition = threading.Condition()
        self._started = None   # when the model began its current frame; None: idle
        self._waiting = False  # a prepared frame waits for the model
        self.model_seconds = None
        self.prepare_seconds = None

    def _average(self, old, new):
        return new if old is None else old + self.SMOOTHING * (new - old)

    def model_started(self):
        """Note that the model took the prepared frame and runs it."""
        with self._condition:
            self._started = self._clock()
            self._waiting = False
            self._condition.notify_all()

    def model_finished(self):
        """Note that the model is done with its frame."""
        with self._condition:
            if self._started is not None:
                self.model_seconds = self._average(self.model_seconds,
                                                   self._clock() - self._started)
            self._started = None
            self._condition.notify_all()

    def frame_ready(self):
        """Note that a prepared frame is about to be handed to the model (call before)."""
        with self._condition:
            self._waiting = True

    def prepared(self, seconds):
        """Note that a frame took ``seconds`` to prepare."""
        with self._condition:
            self.prepare_seconds = self._average(self.prepare_seconds, seconds)

    def delay(self):
        """Return the seconds until the next frame should be taken.

        None: not before the model takes the prepared frame that waits for it.
        """
        with self._condition:
            return self._delay()

    def _delay(self):
        if self._waiting:
            return None
        if self._started is None or self.model_seconds is None:
            return 0.0
        lead = self.LEAD_FACTOR * (self.prepare_seconds or 0.0) + self.LEAD_SECONDS
        return max(0.0, self._started + self.model_seconds - lead - self._clock())

    def wait(self, timeout):
        """Wait until the next frame should be taken, up to ``timeout`` s; True when it is."""
        end = time.monotonic() + timeout
        with self._condition:
            while True:
                delay = self._delay()
                if delay == 0.0:
                    return True
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._condition.wait(left if delay is None else min(delay, left))


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
