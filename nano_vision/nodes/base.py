"""The base of every nano_vision node: the contract between a node and ``run_node``."""

import threading

from rclpy.node import Node


class NanoVisionNode(Node):
    """A node that :func:`~nano_vision.nodes.runner.run_node` runs.

    What run_node relies on, and how a node keeps its side:

    - **It cannot start**: the constructor raises ValueError (OSError, RuntimeError)
      with the bad value and the fix; run_node logs it and exits with status 2.
    - **It has finished** (a video played once, the laps driven): the node calls
      :meth:`end`; run_node stops spinning and exits with status 0.
    - **It cannot go on** (a camera unplugged for good): the node calls ``end(why)``;
      run_node logs ``why`` as fatal and exits with status 1.
    - **It is destroyed**: run_node calls :meth:`destroy_node` once, whatever
      happened. The base sets :attr:`stopping` (worker threads watch it), calls
      :meth:`release` while the context may still work (a last message can go
      out), then destroys the rclpy node; a second call does nothing. rclpy also
      destroys the nodes of a context it shuts down, one whose constructor raised
      part-way included: :meth:`release` frees only what was made.

    :meth:`end` may be called from any thread; the first call decides the outcome.
    """

    def __init__(self, name, **kwargs):
        """Create the rclpy node ``name``; ``kwargs`` go to rclpy (context, namespace...)."""
        super().__init__(name, **kwargs)
        # set by end(): run_node stops spinning
        self.done = threading.Event()
        # set by destroy_node(): the node's own threads stop
        self.stopping = threading.Event()
        self._failure = None
        self._end_lock = threading.Lock()
        self._destroyed = False

    @property
    def failure(self):
        """Return why the node could not go on, or None (not ended, or ended normally)."""
        return self._failure

    def end(self, failure=None):
        """Ask run_node to stop: the work is over, or with ``failure``, why it cannot go on."""
        with self._end_lock:
            if self.done.is_set():
                return
            self._failure = failure or None
            self.done.set()

    def release(self):
        """Release what the node holds (threads, files, devices); subclasses extend this."""

    def destroy_node(self):
        """Stop the node's threads, :meth:`release` what it holds, destroy it (once)."""
        if self._destroyed:
            return None
        self._destroyed = True
        self.stopping.set()
        try:
            self.release()
        finally:
            result = super().destroy_node()
        return result
