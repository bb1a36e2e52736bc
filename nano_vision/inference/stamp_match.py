"""Pair frames with predictions by header stamp, with bounded memory (no message_filters)."""

from collections import OrderedDict


def stamp_ns(header):
    """Return the stamp of a ``std_msgs/Header`` (a message's or a bag's) in nanoseconds."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


class StampMatcher:
    """Keep recent frames and predictions; hand out the pairs whose stamps are equal.

    Predictions usually arrive after their frame (the model takes time), and
    either side may be dropped: anything older than the last ``capacity``
    items of its kind is forgotten.
    """

    def __init__(self, capacity=30):
        """Remember up to ``capacity`` unpaired frames and as many predictions."""
        self.capacity = capacity
        self._frames = OrderedDict()
        self._predictions = OrderedDict()
        self.paired = 0

    def _store(self, table, stamp, item):
        table[stamp] = item
        table.move_to_end(stamp)
        while len(table) > self.capacity:
            table.popitem(last=False)

    def add_frame(self, stamp, frame):
        """Add a frame; return ``(frame, prediction)`` when its prediction is known, else None."""
        prediction = self._predictions.pop(stamp, None)
        if prediction is not None:
            self.paired += 1
            return frame, prediction
        self._store(self._frames, stamp, frame)
        return None

    def add_prediction(self, stamp, prediction):
        """Add a prediction; return ``(frame, prediction)`` when its frame is known, else None."""
        frame = self._frames.pop(stamp, None)
        if frame is not None:
            self.paired += 1
            return frame, prediction
        self._store(self._predictions, stamp, prediction)
        return None
