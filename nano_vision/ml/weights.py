"""Pretrained weights: torchvision's ImageNet weights (cache or download), or a file.

``--weights`` takes:

- ``auto`` (the default): ImageNet weights when torchvision has them in its cache or can
  download them now, else training from scratch with a warning that says how to get them;
- ``imagenet``: the same, but no weights is an error (the message says how to copy the file);
- ``none``: from scratch;
- a path: a ``state_dict`` file for the architecture.

The download is torchvision's own (``weights.get_state_dict``, into
``$TORCH_HOME/hub/checkpoints``, hash checked), read with ``weights_only=True``
like every file here. Before it, one small request with a timeout finds out
whether the server answers at all, so an unreachable network costs a command a
few seconds, never a hang; the download itself runs with a socket timeout.
``NANO_VISION_OFFLINE=1`` skips the network altogether (robots without a
network, test suites).
"""

from contextlib import contextmanager
from dataclasses import dataclass
import logging
import os
import socket
import threading
import urllib.error
import urllib.request

import torch
import torchvision

logger = logging.getLogger(__name__)

OFFLINE_ENV = 'NANO_VISION_OFFLINE'
#: Seconds the reachability check may take before the network counts as absent.
PROBE_TIMEOUT_SEC = 3.0
#: Seconds a download may stall (no byte received) before it is given up.
DOWNLOAD_STALL_SEC = 20.0


class WeightsError(RuntimeError):
    """Pretrained weights that cannot be had; the message says how to get them."""


def has_imagenet_weights(arch):
    """Return True when torchvision knows ImageNet weights for ``arch``."""
    try:
        return torchvision.models.get_model_weights(arch).DEFAULT is not None
    except (ValueError, KeyError):
        return False


def imagenet_weights_path(arch):
    """Return where torchvision keeps the ImageNet weights of ``arch``, and their URL."""
    weights = torchvision.models.get_model_weights(arch).DEFAULT
    filename = os.path.basename(weights.url)
    return os.path.join(torch.hub.get_dir(), 'checkpoints', filename), weights.url


def offline():
    """Return True when ``NANO_VISION_OFFLINE`` forbids the network."""
    return os.environ.get(OFFLINE_ENV, '').strip().lower() not in ('', '0', 'false', 'no')


def reachable(url, timeout=None):
    """Return ``(True, '')`` when ``url``'s server answers in time, else ``(False, why)``.

    :param timeout: seconds to wait; None: :data:`PROBE_TIMEOUT_SEC`

    Runs in a daemon thread so that even a name lookup that hangs costs no more
    than ``timeout`` (the thread is left to finish on its own). Proxies from the
    environment are used, as the download would use them.
    """
    timeout = PROBE_TIMEOUT_SEC if timeout is None else timeout
    answer = {}

    def ask():
        request = urllib.request.Request(url, method='HEAD')
        try:
            # a new opener reads the proxy settings of the environment as they are now
            with urllib.request.build_opener().open(request, timeout=timeout):
                answer['ok'] = ''
        except urllib.error.HTTPError as exc:  # the server answered, just not 2xx
            answer['ok'] = f'HTTP {exc.code}'
        except (OSError, ValueError) as exc:
            answer['error'] = str(getattr(exc, 'reason', exc)) or type(exc).__name__

    thread = threading.Thread(target=ask, name='weights-probe', daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    if 'ok' in answer:
        return True, ''
    return False, answer.get('error', f'no answer within {timeout:g} s')


@contextmanager
def _socket_timeout(seconds):
    # torch.hub's download opens its sockets with the process-wide default timeout;
    # without one a stalled server would block the command for good
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _copy_hint(arch):
    path, url = imagenet_weights_path(arch)
    return (f'On a machine with internet run: python -c "import torchvision; '
            f"torchvision.models.{arch}(weights='DEFAULT')\", or download {url}, and copy the "
            f'file to {path} (TORCH_HOME moves it); or pass a weights file with --weights PATH')


def _imagenet_state(arch):
    """Return ``(state_dict, None)`` of the ImageNet weights, or ``(None, why not)``."""
    path, url = imagenet_weights_path(arch)
    weights = torchvision.models.get_model_weights(arch).DEFAULT
    if not os.path.exists(path):
        if offline():
            return None, f'they are not in the cache ({path}) and {OFFLINE_ENV} is set'
        ok, why = reachable(url)
        if not ok:
            return None, f'they are not in the cache ({path}) and {url} is unreachable ({why})'
        logger.warning('downloading ImageNet weights for %s into %s', arch, path)
    try:
        with _socket_timeout(DOWNLOAD_STALL_SEC):
            state = weights.get_state_dict(progress=True, check_hash=True, weights_only=True)
    except (OSError, RuntimeError, ValueError) as exc:
        return None, f'loading {url} failed ({exc})'
    return state, None


def read_state_file(path):
    """Return the state_dict in the file ``path`` (code in the file is never run).

    :raises WeightsError: missing, unreadable or not a state_dict
    """
    if not os.path.isfile(path):
        raise WeightsError(f'weights file {path} does not exist')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: B902 - any failure means: not usable weights
        raise WeightsError(f'cannot load weights from {path}: {exc}') from None
    if isinstance(state, dict) and 'state_dict' in state:
        state = state['state_dict']
    if not isinstance(state, dict):
        raise WeightsError(f'{path} does not hold a state_dict')
    return state


@dataclass(frozen=True)
class Pretrained:
    """The starting weights a ``--weights`` choice gave."""

    state: dict = None     # None: random initialisation (from scratch)
    used: str = 'none'     # imagenet, none, or the weights file's path (for the checkpoint)
    note: str = ''         # why ``auto`` fell back to none, with what to do about it


def pretrained_state(arch, weights):
    """Return the :class:`Pretrained` weights of ``arch`` for the ``--weights`` choice.

    :raises WeightsError: ``imagenet`` weights that cannot be had, or a bad file
    """
    if weights in ('none', '', None):
        return Pretrained()
    if weights not in ('auto', 'imagenet'):
        return Pretrained(read_state_file(weights), os.path.abspath(weights))
    if not has_imagenet_weights(arch):
        if weights == 'imagenet':
            raise WeightsError(f'{arch} has no ImageNet weights: use --weights none')
        return Pretrained(note=f'{arch} has no ImageNet weights: trained from scratch')
    state, why = _imagenet_state(arch)
    if state is not None:
        return Pretrained(state, 'imagenet')
    if weights == 'imagenet':
        raise WeightsError(f'ImageNet weights for {arch} cannot be had: {why}. '
                           f'{_copy_hint(arch)}; or train from scratch with --weights none.')
    note = (f'warning: ImageNet weights for {arch} cannot be had: {why}. Training from scratch, '
            f'which needs more images and epochs for the same score. {_copy_hint(arch)}.')
    return Pretrained(note=note)
