"""Self-describing model files, loaded without ever running code from them.

A checkpoint is a plain dictionary saved with ``torch.save``: tensors, numbers,
strings, lists and dicts only, so ``torch.load(..., weights_only=True)`` reads
it and a file that hides code in its pickle is refused. It carries what a
user needs to run the model: the task, the architecture, the class or
keypoint names, the preprocessing (input size, mean/std, colour order), the
validation metrics and the training options.
"""

import pickle
import zipfile

import torch

from nano_vision.datasets.layout import TASKS
from nano_vision.image.preprocess import Preprocessing
from nano_vision.inference.predictions import outputs_problem
from nano_vision.runtime.files import atomic_writer

FORMAT = 'nano_vision.checkpoint'
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a usable nano_vision checkpoint."""


def make_checkpoint(model, *, task, arch, names, preprocessing, metrics=None,
                    train_options=None, history=None, epoch=0, extra=None):
    """Return the checkpoint dictionary of ``model`` and what describes it."""
    if task not in TASKS:
        raise ValueError(f'unknown task {task!r}')
    checkpoint = {
        'format': FORMAT,
        'format_version': FORMAT_VERSION,
        'task': task,
        'arch': arch,
        'names': list(names),
        'num_outputs': len(names) * (2 if task == 'xy' else 1),
        'preprocessing': preprocessing.to_dict(),
        'metrics': metrics or {},
        'train_options': train_options or {},
        'history': history or [],
        'epoch': int(epoch),
        'torch_version': str(torch.__version__),
        'state_dict': {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    checkpoint.update(extra or {})
    return checkpoint


def save_checkpoint(checkpoint, path):
    """Write ``checkpoint`` to ``path`` atomically and durably; return ``path``.

    A crash or a power cut leaves the previous file or the new one, never half
    of one (see :mod:`nano_vision.runtime.files`).
    """
    with atomic_writer(path) as stream:
        torch.save(checkpoint, stream)
    return path


def load_checkpoint(path, map_location='cpu'):
    """Read and check a checkpoint; never executes code stored in the file.

    :raises CheckpointError: missing file, not a checkpoint, a pickle that
        would run code, or a checkpoint this version cannot read
    """
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f'model file {path} does not exist') from None
    except IsADirectoryError:
        raise CheckpointError(f'model path {path} is a folder, not a model file') from None
    except pickle.UnpicklingError as exc:
        blocked = [line for line in str(exc).splitlines() if 'GLOBAL' in line]
        if blocked:
            raise CheckpointError(
                f'refused to load {path}: not a model file this can read safely: it names '
                'Python objects beyond tensors and plain data, and loading them could run code '
                f'({blocked[0].strip()[:200]})') from None
        raise CheckpointError(f'{path} is not a model file (not a torch checkpoint)') from None
    except (RuntimeError, zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        raise CheckpointError(f'{path} is not a model file ({exc})') from None
    except Exception as exc:  # noqa: B902 - a damaged file can fail anywhere in the unpickler
        raise CheckpointError(
            f'{path} is not a model file ({type(exc).__name__}: {exc})') from None
    if not isinstance(checkpoint, dict) or checkpoint.get('format') != FORMAT:
        hint = ''
        if isinstance(checkpoint, dict) and all(torch.is_tensor(v) for v in checkpoint.values()):
            hint = ' (it is a bare state_dict: train with nano-vision train to get a model file)'
        raise CheckpointError(f'{path} is not a nano_vision checkpoint{hint}')
    version = checkpoint.get('format_version')
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f'{path} has checkpoint format {version}; this nano_vision '
                              f'reads up to {FORMAT_VERSION}: update nano_vision')
    for key in ('task', 'arch', 'names', 'preprocessing', 'state_dict'):
        if key not in checkpoint:
            raise CheckpointError(f'{path} lacks {key!r}: the file is damaged')
    if checkpoint['task'] not in TASKS:
        raise CheckpointError(f'{path} has unknown task {checkpoint["task"]!r}')
    problem = outputs_problem(checkpoint['task'], checkpoint['names'],
                              checkpoint.get('num_outputs'))
    if problem:
        raise CheckpointError(f'{path}: {problem}')
    return checkpoint


def checkpoint_preprocessing(checkpoint):
    """Return the :class:`Preprocessing` a checkpoint was trained with."""
    return Preprocessing.from_dict(checkpoint['preprocessing'])


def model_from_checkpoint(checkpoint, device='cpu'):
    """Return the model of ``checkpoint`` with its weights, in eval mode, on ``device``."""
    from nano_vision.ml.model import build_model
    model = build_model(checkpoint['arch'], checkpoint['num_outputs'], weights='none')
    try:
        model.load_state_dict(checkpoint['state_dict'])
    except RuntimeError as exc:
        raise CheckpointError(f'weights do not fit {checkpoint["arch"]}: '
                              f'{str(exc).splitlines()[0]}') from None
    return model.to(device).eval()
