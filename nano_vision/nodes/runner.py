"""The ``main()`` shared by every node: init, spin, clean shutdown, exit status.

What it relies on from a node is :class:`~nano_vision.nodes.base.NanoVisionNode`'s
contract: ``done`` and ``failure`` (set through ``end()``), and ``destroy_node()``.
"""

import signal
import threading

import cv2
import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

from nano_vision.nodes.base import NanoVisionNode
from nano_vision.runtime.allocator import reuse_large_buffers
from nano_vision.runtime.dds import on_loopback

# What a constructor raises for a configuration or a source that cannot work;
# anything else is a bug and keeps its traceback.
STARTUP_ERRORS = (ValueError, OSError, RuntimeError, ParameterException)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Set once a stop signal has come.
_STOP = threading.Event()
# Set while run_node's loop spins the node (set up and torn down around it).
_SPINNING = threading.Event()


def _interrupt(signum, frame):
    """Stop the node on the first SIGINT or SIGTERM and ignore the ones after it.

    A terminal's Ctrl-C reaches every process of its group, and ros2 launch sends each
    node one more: a second KeyboardInterrupt would break the clean-up with a traceback.
    While the node starts (a model loading, a camera opening) the signal breaks out of
    it with a KeyboardInterrupt. Once it spins, nothing is raised: the exception would
    land in whatever callback the main thread runs, where the executor logs it and
    carries on, and a callback cut anywhere can leave the node unable to stop; the spin
    loop sees the stop instead, within one turn.
    """
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    _STOP.set()
    if not _SPINNING.is_set():
        raise KeyboardInterrupt(f'signal {signum}')


def make_executor(events, context=None):
    """Return rclpy's C++ EventsExecutor where asked and available, else SingleThreadedExecutor.

    The EventsExecutor (rclpy.experimental, Kilted and newer) hands a message to its
    callback about 0.35 ms sooner per 640x480 frame on a small CPU (bench: camera to a
    subscriber, p50 2.7 against 3.1 ms); older distributions have only the Python one.
    """
    if events:
        try:
            from rclpy.experimental import EventsExecutor
        except ImportError:
            pass
        else:
            return EventsExecutor(context=context)
    return SingleThreadedExecutor(context=context)


def run_node(node_class, name, args=None, stop_in_python=False, events_executor=False):
    """Create ``node_class``, spin it until shutdown or its end; return the exit status.

    Status: 0 after a stop signal or ``node.end()``, 1 after ``node.end(failure)``
    (logged as fatal), 2 when the constructor raised one of :data:`STARTUP_ERRORS`
    (the log says what to fix). A node that was made is destroyed in every case.

    :param node_class: a :class:`~nano_vision.nodes.base.NanoVisionNode` subclass whose
        constructor takes no arguments
    :param stop_in_python: SIGINT and SIGTERM end the spin loop from Python
        instead of rclpy's signal handler, which shuts the context down at once;
        the context then still works in the node's ``release()``, so a node can
        publish a last message there (the steering node's zero command)
    :param events_executor: spin with rclpy's EventsExecutor where the distribution has
        it (the model nodes: less time between a frame's arrival and its callback)
    """
    if not (isinstance(node_class, type) and issubclass(node_class, NanoVisionNode)):
        raise TypeError(f'run_node runs NanoVisionNode subclasses, not {node_class!r}')
    reuse_large_buffers()  # frame-sized buffers without page faults (runtime/allocator.py)
    # One OpenCV thread: a 640x480 resize is faster on one thread than split over two on
    # a small machine, and leaves the other cores to the model and the other nodes
    # (bench/speed.py).
    cv2.setNumThreads(1)
    # Before rclpy.init: rclpy's own handler (when installed) shuts the context down
    # and then calls this one.
    _STOP.clear()
    _SPINNING.clear()
    saved = {number: signal.signal(number, _interrupt) for number in STOP_SIGNALS}
    with on_loopback():  # localhost-only discovery: every DDS socket on 127.0.0.1
        if stop_in_python:
            from rclpy.signals import SignalHandlerOptions
            rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        else:
            rclpy.init(args=args)
    logger = rclpy.logging.get_logger(name)
    node = None
    status = 0
    try:
        node = node_class()
        executor = make_executor(events_executor)
        executor.add_node(node)
        _SPINNING.set()
        while rclpy.ok() and not node.done.is_set() and not _STOP.is_set():
            try:
                executor.spin_once(timeout_sec=0.2)
            except (RuntimeError, SystemError) as exc:
                # SIGINT/SIGTERM while a message was being taken: rclpy raises a
                # bare RuntimeError (context shut down), or, when the interrupt
                # lands inside its C++ code, a SystemError caused by the
                # KeyboardInterrupt or a RuntimeError from pybind11 that lost it
                # ("Unable to convert call argument"); stop cleanly.
                if rclpy.ok() and not _STOP.is_set() and not isinstance(
                        exc.__cause__ or exc.__context__, KeyboardInterrupt):
                    raise
                break
        if node.failure:
            logger.fatal(node.failure)
            status = 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except STARTUP_ERRORS as exc:
        if node is not None:
            raise
        logger.fatal(f'cannot start: {exc}')
        status = 2
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        _SPINNING.clear()  # a stop signal during the clean-up above cut nothing short
        if not _STOP.is_set():
            # no stop signal came (the node ended or could not start): give the caller
            # its handlers back; after one, the process is ending and keeps ignoring them
            for number, handler in saved.items():
                signal.signal(number, handler)
    return status
