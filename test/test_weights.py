"""--weights: torchvision's cache, an unreachable network, a silent server, local files.

Nothing here downloads: the network tests point the proxy at a local socket that
refuses or never answers, so torchvision's real loading code meets a dead network.
"""

import os
import socket
import threading
import time

import pytest

torch = pytest.importorskip('torch')

from nano_vision.ml import weights  # noqa: E402
from nano_vision.ml.model import build_model  # noqa: E402
from nano_vision.ml.weights import (imagenet_weights_path, pretrained_state,  # noqa: E402
                                    WeightsError)


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """Point TORCH_HOME at an empty cache; return where ResNet-18's weights would be."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    path, url = imagenet_weights_path('resnet18')
    assert path.startswith(str(tmp_path)) and url.startswith('https://download.pytorch.org/')
    return path


@pytest.fixture
def dead_network(monkeypatch):
    """Lift the suite's offline switch, with every request going to a proxy that refuses."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]  # closed again: connecting is refused
    monkeypatch.delenv(weights.OFFLINE_ENV, raising=False)
    for name in ('https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY'):
        monkeypatch.setenv(name, f'http://127.0.0.1:{port}')
    monkeypatch.setenv('no_proxy', '')
    monkeypatch.setenv('NO_PROXY', '')


@pytest.fixture
def silent_network(dead_network, monkeypatch):
    """Send requests to a proxy that accepts and never says a word (a stalled network)."""
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    for name in ('https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY'):
        monkeypatch.setenv(name, f'http://127.0.0.1:{server.getsockname()[1]}')
    monkeypatch.setattr(weights, 'PROBE_TIMEOUT_SEC', 1.0)
    yield accepted
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def test_offline_imagenet_is_an_error_that_says_how_to_copy_the_file(empty_cache):
    with pytest.raises(WeightsError) as error:
        build_model('resnet18', 2, weights='imagenet')
    message = str(error.value)
    assert 'NANO_VISION_OFFLINE' in message and f'copy the file to {empty_cache}' in message
    assert 'resnet18-f37072fd.pth' in message and '--weights none' in message


def test_offline_auto_trains_from_scratch_with_a_warning(empty_cache):
    pretrained = pretrained_state('resnet18', 'auto')
    assert pretrained.state is None and pretrained.used == 'none'
    assert 'Training from scratch' in pretrained.note and empty_cache in pretrained.note


def test_an_unreachable_network_costs_moments_and_falls_back(empty_cache, dead_network):
    began = time.monotonic()
    pretrained = pretrained_state('resnet18', 'auto')
    assert time.monotonic() - began < 5.0  # a refused connection answers at once
    assert pretrained.used == 'none' and 'unreachable' in pretrained.note
    with pytest.raises(WeightsError, match='unreachable'):
        pretrained_state('resnet18', 'imagenet')
    assert not os.path.exists(empty_cache)


def test_a_silent_network_never_hangs_a_command(empty_cache, silent_network):
    began = time.monotonic()
    pretrained = pretrained_state('resnet18', 'auto')
    waited = time.monotonic() - began
    assert silent_network, 'the request never reached the silent proxy'
    # the probe's timeout (1 s here, 3 s by default) and nothing more, with a wide margin
    assert waited < 10.0
    assert pretrained.used == 'none' and 'unreachable' in pretrained.note


def test_cached_imagenet_weights_are_used_by_imagenet_and_auto(empty_cache):
    reference = build_model('resnet18', 1000)
    os.makedirs(os.path.dirname(empty_cache))
    torch.save(reference.state_dict(), empty_cache)  # as torchvision's download leaves it
    for choice in ('imagenet', 'auto'):
        pretrained = pretrained_state('resnet18', choice)
        assert pretrained.used == 'imagenet' and not pretrained.note
        model = build_model('resnet18', 2, state_dict=pretrained.state)
        torch.testing.assert_close(model.conv1.weight, reference.conv1.weight)
        assert model.fc.out_features == 2


def test_a_local_weights_file_is_loaded_and_a_wrong_one_refused(tmp_path):
    reference = build_model('resnet18', 1000)
    path = tmp_path / 'mine.pth'
    torch.save({'state_dict': reference.state_dict()}, path)
    pretrained = pretrained_state('resnet18', str(path))
    assert pretrained.used == str(path)
    model = build_model('resnet18', 3, weights=str(path))
    torch.testing.assert_close(model.layer1[0].conv1.weight, reference.layer1[0].conv1.weight)
    torch.save({'conv1.weight': torch.zeros(1)}, tmp_path / 'wrong.pth')
    with pytest.raises(WeightsError, match='does not match resnet18'):
        build_model('resnet18', 2, weights=str(tmp_path / 'wrong.pth'))
    with pytest.raises(WeightsError, match='does not exist'):
        build_model('resnet18', 2, weights=str(tmp_path / 'missing.pth'))


def test_a_weights_file_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / 'pwned'

    class RunsCode:
        def __reduce__(self):
            return (os.system, (f'touch {marker}',))

    torch.save({'conv1.weight': RunsCode()}, tmp_path / 'evil.pth')
    with pytest.raises(WeightsError, match='cannot load weights'):
        pretrained_state('resnet18', str(tmp_path / 'evil.pth'))
    assert not marker.exists()


def test_the_small_cnn_has_no_imagenet_weights(empty_cache):
    with pytest.raises(WeightsError, match='small_cnn has no ImageNet weights'):
        pretrained_state('small_cnn', 'imagenet')
    pretrained = pretrained_state('small_cnn', 'auto')
    assert pretrained.state is None and 'from scratch' in pretrained.note
