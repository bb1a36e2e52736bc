"""The base of every nano_vision node: the contract with ``run_node``, runtime parameters."""

import threading

from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node

from nano_vision.nodes.parameters import declare_parameters


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

    Parameters: :meth:`declare_config` declares a config class's table and holds the
    frozen config in :attr:`config`. A runtime change (``ros2 param set``) of a
    parameter that is not read-only builds ``config.changed(...)``, checked as at
    start: refused with the ValueError's text, the config unchanged; or swapped in,
    then :meth:`reconfigure` is called. rclpy itself refuses read-only parameters and
    values of the wrong type or out of range.
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
        self.config = None  # the frozen config, from declare_config()
        self._config_names = set()

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

    def declare_config(self, config_class):
        """Declare ``config_class.PARAMETERS``; return the config of their values (``config``).

        :param config_class: a :class:`~nano_vision.parameters.NodeConfig` dataclass
        :raises ValueError: values that cannot work (the message says what to fix)
        """
        specs = config_class.PARAMETERS
        self.config = config_class.from_values(declare_parameters(self, specs))
        self._config_names = {spec.name for spec in specs}
        self.add_on_set_parameters_callback(self._on_set_parameters)
        return self.config

    def _on_set_parameters(self, parameters):
        # other parameters (use_sim_time) are rclpy's
        changes = {p.name: p.value for p in parameters if p.name in self._config_names}
        if not changes:
            return SetParametersResult(successful=True)
        try:
            config = self.config.changed(**changes)
        except ValueError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        previous, self.config = self.config, config
        self.reconfigure(previous)
        return SetParametersResult(successful=True)

    def reconfigure(self, previous):
        """Apply a config changed at runtime from ``previous`` to what was built from it.

        Code that reads ``self.config`` when it runs needs nothing here; subclasses
        update what they derived from the config at start (a timer's rate).
        """

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
