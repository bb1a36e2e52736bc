"""Model builders: torchvision backbones and a small CNN, with nano_vision's output layer."""

import logging

import torch
from torch import nn
import torchvision

from nano_vision.ml.recipe import ARCHITECTURES
from nano_vision.ml.weights import pretrained_state, WeightsError

logger = logging.getLogger(__name__)

SMALL_CNN = 'small_cnn'


class SmallCNN(nn.Module):
    """A small convolutional network for small images, the Fundamentals course's kind.

    Three stages of a 3x3 convolution (batch norm, ReLU) and a 2x2 max pool,
    32, 64 and 128 channels wide; global average pooling, dropout and one linear
    layer (``fc``, swapped like a ResNet's). 0.09 M parameters and 10 M
    multiply-adds at 32x32 (a ResNet-18: 11.7 M and 37 M): it trains from
    scratch in seconds on digits-sized images. It has no pretrained weights.
    """

    def __init__(self, num_outputs, widths=(32, 64, 128), dropout=0.3):
        """Build the layers for ``num_outputs`` outputs."""
        super().__init__()
        layers, channels = [], 3
        for width in widths:
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_outputs)

    def forward(self, x):
        """Return the outputs of a (B, 3, H, W) batch."""
        x = self.pool(self.features(x)).flatten(1)
        return self.fc(self.dropout(x))


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


def _load_backbone_state(model, state, arch, origin):
    """Load every tensor of ``state`` but the final layer's into ``model``."""
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    head = head_module(model)
    head_name = next(n for n, m in model.named_modules() if m is head)
    missing = sorted(k for k in own if k not in usable and not k.startswith(head_name + '.'))
    if missing:
        raise WeightsError(f'{origin} does not match {arch}: {len(missing)} tensors missing '
                           f'(e.g. {missing[:3]})')
    model.load_state_dict(usable, strict=False)


def build_model(arch='resnet18', num_outputs=2, weights='none', freeze_backbone=False, *,
                state_dict=None):
    """Return an ``arch`` network whose last layer has ``num_outputs`` outputs.

    :param weights: a ``--weights`` choice (see :mod:`nano_vision.ml.weights`): ``none``,
        ``auto``, ``imagenet`` or the path of a state_dict file
    :param freeze_backbone: train the new last layer only
    :param state_dict: starting weights already at hand (instead of ``weights``)
    :raises WeightsError: ImageNet weights that cannot be had, or a file that does not fit
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f'unknown architecture {arch!r}; available: {", ".join(ARCHITECTURES)}')
    if num_outputs < 1:
        raise ValueError(f'num_outputs must be >= 1, got {num_outputs}')
    origin = 'the given state_dict'
    if state_dict is None:
        pretrained = pretrained_state(arch, weights)
        if pretrained.note:
            logger.warning(pretrained.note)
        state_dict, origin = pretrained.state, pretrained.used
    if arch == SMALL_CNN:
        model = SmallCNN(num_outputs)
    else:
        model = torchvision.models.get_model(arch, weights=None)
    if state_dict is not None:
        _load_backbone_state(model, state_dict, arch, origin)
        logger.info('backbone weights from %s', origin)
    if arch != SMALL_CNN:
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
