"""torchvision backbones with their classifier swapped for nano_vision's outputs."""

import logging
import os

import torch
from torch import nn
import torchvision

logger = logging.getLogger(__name__)

ARCHITECTURES = ('resnet18', 'resnet34', 'resnet50', 'mobilenet_v3_small',
                 'mobilenet_v3_large')


class WeightsError(RuntimeError):
    """Pretrained weights that cannot be had; the message says how to get them."""


def _head(model):
    """Return (parent module, attribute name) of the final linear layer."""
    if hasattr(model, 'fc'):
        return model, 'fc'
    return model.classifier, str(len(model.classifier) - 1)


def head_module(model):
    """Return the swapped final layer (``fc`` of a ResNet)."""
    parent, name = _head(model)
    return getattr(parent, name)


def backbone_of(model):
    """Return a module computing what ``model`` feeds its final layer (shares its weights)."""
    import copy
    backbone = copy.copy(model)
    parent, name = _head(model)
    if parent is model:
        backbone._modules = dict(model._modules)
        backbone._modules[name] = nn.Identity()
    else:
        layers = list(parent.children())
        layers[-1] = nn.Identity()
        backbone._modules = dict(model._modules)
        backbone._modules['classifier'] = nn.Sequential(*layers)
    return backbone


def head_parameters(model):
    """Return the parameters of the swapped final layer."""
    parent, name = _head(model)
    return list(getattr(parent, name).parameters())


def imagenet_weights_path(arch):
    """Return where torchvision keeps the ImageNet weights of ``arch``, and their URL."""
    weights = torchvision.models.get_model_weights(arch).DEFAULT
    filename = os.path.basename(weights.url)
    return os.path.join(torch.hub.get_dir(), 'checkpoints', filename), weights.url


def _load_backbone_state(model, path, arch):
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: B902 - any failure means: not usable weights
        raise WeightsError(f'cannot load weights from {path}: {exc}') from None
    if isinstance(state, dict) and 'state_dict' in state:
        state = state['state_dict']
    if not isinstance(state, dict):
        raise WeightsError(f'{path} does not hold a state_dict for {arch}')
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    parent, name = _head(model)
    head = getattr(parent, name)
    head_name = next(n for n, m in model.named_modules() if m is head)
    missing = sorted(k for k in own if k not in usable and not k.startswith(head_name + '.'))
    if missing:
        raise WeightsError(f'{path} does not match {arch}: {len(missing)} tensors missing '
                           f'(e.g. {missing[:3]})')
    model.load_state_dict(usable, strict=False)


def build_model(arch='resnet18', num_outputs=2, weights='none', freeze_backbone=False):
    """Return a torchvision ``arch`` whose last layer has ``num_outputs`` outputs.

    :param weights: ``none`` (random), ``imagenet`` (torchvision's cache, never
        downloaded) or the path of a state_dict file for ``arch``
    :param freeze_backbone: train the new last layer only
    :raises WeightsError: ImageNet weights not in the cache, or a file that does not fit
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f'unknown architecture {arch!r}; available: {", ".join(ARCHITECTURES)}')
    if num_outputs < 1:
        raise ValueError(f'num_outputs must be >= 1, got {num_outputs}')
    model = torchvision.models.get_model(arch, weights=None)
    path = None
    if weights == 'imagenet':
        path, url = imagenet_weights_path(arch)
        if not os.path.exists(path):
            raise WeightsError(
                f"ImageNet weights for {arch} are not in torchvision's cache ({path}). "
                f'On a machine with internet run: python -c "import torchvision; '
                f'torchvision.models.{arch}(weights=\'DEFAULT\')", or download {url}, and '
                f'copy the file to {path}; or pass the file with --weights PATH, or train '
                'from scratch with --weights none.')
    elif weights not in ('none', None, ''):
        path = weights
        if not os.path.isfile(path):
            raise WeightsError(f'weights file {path} does not exist')
    if path is not None:
        _load_backbone_state(model, path, arch)
        logger.info('backbone weights from %s', path)
    parent, name = _head(model)
    old = getattr(parent, name)
    setattr(parent, name, nn.Linear(old.in_features, num_outputs))
    if freeze_backbone:
        set_backbone_frozen(model, True)
    return model


def set_backbone_frozen(model, frozen):
    """Freeze (or unfreeze) every parameter but the last layer's."""
    head = {id(p) for p in head_parameters(model)}
    for parameter in model.parameters():
        parameter.requires_grad = not frozen or id(parameter) in head


def select_device(device='auto'):
    """Return the torch.device for ``auto`` (CUDA when available), ``cpu`` or ``cuda``."""
    if device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise ValueError('device cuda asked for, but torch sees no CUDA GPU; use cpu or auto')
    return torch.device(device)
