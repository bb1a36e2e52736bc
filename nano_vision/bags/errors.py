"""The error every part of :mod:`nano_vision.bags` raises."""


class BagError(ValueError):
    """A bag that cannot be written or read as asked; the message says why."""
