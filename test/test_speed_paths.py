"""Fast paths give the plain paths' answers: preprocessing, int8 export, cached features.

And the ONNX Runtime providers each device asks for (TensorRT included, without a GPU).
"""

import logging
import os
import platform
import sys

import cv2
import numpy as np
import pytest

torch = pytest.importorskip('torch')

from helpers import make_dots, make_squares  # noqa: E402
from nano_vision.image.conversion import convert_encoding  # noqa: E402
from nano_vision.image.preprocess import Preprocessing  # noqa: E402
from nano_vision.ml.checkpoint import load_checkpoint  # noqa: E402
from nano_vision.ml.data import FeatureDataset, SampleDataset  # noqa: E402
from nano_vision.ml.engine import InputMaker  # noqa: E402
from nano_vision.ml.model import backbone_of, build_model, head_module  # noqa: E402
from nano_vision.ml.predictor import (load_predictor, onnx_backend, onnx_providers,  # noqa: E402
                                      physical_cores, tensorrt_cache_path)
from nano_vision.ml.recipe import TrainOptions  # noqa: E402
from nano_vision.ml.train import train  # noqa: E402
from nano_vision.tools.cli import main as cli  # noqa: E402


def reference_preprocessing(pre, image, encoding):
    """Return the model input the plain way: convert to RGB, resize, then normalise."""
    rgb = pre.resize_rgb(convert_encoding(image, encoding, 'rgb8'), 'rgb8')
    chw = rgb.transpose(2, 0, 1).astype(np.float32) / 255.0
    mean = np.asarray(pre.mean, np.float32)[:, None, None]
    std = np.asarray(pre.std, np.float32)[:, None, None]
    return (chw - mean) / std


@pytest.mark.parametrize('encoding,channels', [('rgb8', 3), ('bgr8', 3), ('mono8', 1),
                                               ('rgba8', 4), ('bgra8', 4)])
@pytest.mark.parametrize('shape', [(480, 640), (100, 120), (32, 32), (40, 20)])
def test_fused_preprocessing_gives_the_model_the_same_input(encoding, channels, shape):
    pre = Preprocessing(input_size=32)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, shape + ((channels,) if channels > 1 else ()), np.uint8)
    expected = reference_preprocessing(pre, image, encoding)
    np.testing.assert_allclose(pre(image, encoding), expected, atol=1e-5)
    buffer = np.full((3, 32, 32), np.nan, np.float32)
    assert pre(image, encoding, out=buffer) is buffer
    np.testing.assert_allclose(buffer, expected, atol=1e-5)


def camera_frame(width, height, seed=0):
    """Return a rendered thumbs scene with sensor noise: what a camera gives the model."""
    from nano_vision.scenes import make_scene
    rng = np.random.default_rng(seed)
    scene = make_scene('thumbs')
    return scene.render(scene.random_state(rng), width, height, rng)[0]


@pytest.mark.parametrize('width,height', [(640, 480), (1280, 720), (320, 240), (1920, 1080)])
def test_shrinking_stays_within_a_third_of_a_level_of_an_area_resize(width, height):
    pre = Preprocessing(input_size=224)
    for seed in range(3):
        frame = camera_frame(width, height, seed)
        area = cv2.resize(frame, (224, 224), interpolation=cv2.INTER_AREA)
        diff = np.abs(pre.resize_rgb(frame).astype(int) - area.astype(int))
        assert diff.mean() < 0.3 and diff.max() <= 16, (diff.mean(), diff.max())


@pytest.mark.parametrize('shape', [(448, 448), (672, 896), (224, 300), (200, 640), (100, 50)])
def test_whole_factors_and_small_shrinks_are_a_plain_resize(shape):
    pre = Preprocessing(input_size=224)
    frame = np.random.default_rng(1).integers(0, 256, shape + (3,), np.uint8)
    shrink = min(shape) > 224
    np.testing.assert_array_equal(pre.resize_rgb(frame), cv2.resize(
        frame, (224, 224), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR))


def test_a_bgr_frame_and_its_rgb_twin_give_the_same_prediction(tmp_path):
    out = tmp_path / 'm.pt'
    from nano_vision.ml.checkpoint import make_checkpoint, save_checkpoint
    torch.manual_seed(0)
    save_checkpoint(make_checkpoint(build_model('resnet18', 3), task='classification',
                                    arch='resnet18', names=['a', 'b', 'c'],
                                    preprocessing=Preprocessing(32)), str(out))
    predictor = load_predictor(str(out), device='cpu')
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (48, 64, 3), np.uint8) for _ in range(3)]
    first = [predictor.predict(f).probabilities for f in frames]
    # the reused input buffer never leaks one frame into the next
    again = [predictor.predict(f[:, :, ::-1].copy(), 'bgr8').probabilities for f in frames]
    for a, b in zip(first, again):
        np.testing.assert_allclose(a, b, atol=1e-6)
    batch = predictor.predict_batch(frames)
    for a, b in zip(first, batch):
        np.testing.assert_allclose(a, b.probabilities, atol=1e-5)
    assert len({tuple(np.round(p, 6)) for p in first}) == 3


def test_physical_cores_is_at_least_one_and_at_most_the_cpus():
    assert 1 <= physical_cores() <= os.cpu_count()


CPU, CUDA, TRT = 'CPUExecutionProvider', 'CUDAExecutionProvider', 'TensorrtExecutionProvider'


@pytest.mark.parametrize('device, available, expected', [
    ('cpu', [TRT, CUDA, CPU], [CPU]),
    ('auto', [CPU], [CPU]),
    ('auto', [CUDA, CPU], [CUDA, CPU]),
    ('auto', [TRT, CUDA, CPU], [CUDA, CPU]),  # TensorRT builds for minutes: only when asked
    ('cuda', [TRT, CUDA, CPU], [CUDA, CPU]),
    ('tensorrt', [TRT, CUDA, CPU], [TRT, CUDA, CPU]),
    ('tensorrt', [TRT, CPU], [TRT, CPU]),
])
def test_each_device_asks_onnx_runtime_for_its_providers(device, available, expected):
    providers = onnx_providers(device, available, 'models/face.onnx')
    assert [p[0] if isinstance(p, tuple) else p for p in providers] == expected


def test_tensorrt_runs_in_fp16_and_caches_its_engines_beside_the_model(tmp_path):
    model = tmp_path / 'robot' / 'face.onnx'
    (name, options), *_ = onnx_providers('tensorrt', [TRT, CUDA, CPU], str(model))
    assert name == TRT
    # ONNX Runtime's Python binding reads these as True/False (it refuses 1)
    assert options['trt_fp16_enable'] is True and options['trt_engine_cache_enable'] is True
    assert options['trt_engine_cache_path'] == str(tmp_path / 'robot' / 'face.trt_cache')
    assert tensorrt_cache_path('face.int8.onnx') == os.path.abspath('face.int8.trt_cache')


@pytest.mark.parametrize('device, available, message', [
    ('tensorrt', [CUDA, CPU], 'no TensorrtExecutionProvider .*onnxruntime-gpu.*Jetson Zoo'),
    ('cuda', [CPU], 'no CUDAExecutionProvider .*pip install onnxruntime-gpu'),
    ('cuda:1', [CUDA, CPU], 'unknown device'),
    ('gpu', [CUDA, CPU], 'unknown device'),
])
def test_devices_that_cannot_run_say_so(device, available, message):
    with pytest.raises(ValueError, match=message):
        onnx_providers(device, available, 'face.onnx')


def test_a_gpu_device_without_its_provider_stops_at_load_with_what_to_install(tmp_path):
    pytest.importorskip('onnxruntime')
    from nano_vision.ml.checkpoint import make_checkpoint, save_checkpoint
    from nano_vision.ml.export import export_onnx
    model = tmp_path / 'm.pt'
    save_checkpoint(make_checkpoint(build_model('resnet18', 2), task='classification',
                                    arch='resnet18', names=['a', 'b'],
                                    preprocessing=Preprocessing(32)), str(model))
    onnx_path, _ = export_onnx(str(model))
    import onnxruntime
    if TRT in onnxruntime.get_available_providers():
        pytest.skip('this ONNX Runtime has TensorRT')
    with pytest.raises(ValueError, match='onnxruntime-gpu built with TensorRT'):
        load_predictor(onnx_path, device='tensorrt')
    if CUDA not in onnxruntime.get_available_providers():  # asked for: no quiet CPU instead
        with pytest.raises(ValueError, match='no CUDAExecutionProvider'):
            load_predictor(onnx_path, device='cuda')
    assert not (tmp_path / 'm.trt_cache').exists()  # nothing written for a failed start
    with pytest.raises(ValueError, match='device tensorrt runs ONNX models'):
        load_predictor(str(model), device='tensorrt')
    assert load_predictor(onnx_path, device='cpu').device == 'cpu'


@pytest.fixture(scope='module')
def squares_model(tmp_path_factory):
    root = tmp_path_factory.mktemp('int8')
    data = make_squares(root / 'squares', per_class=30)
    result = train(TrainOptions(data=str(data), out=str(root / 'squares.pt'), epochs=3,
                                image_size=32, batch_size=8, progress=False, plots=False),
                   echo=lambda _: None)
    return result, data


@pytest.mark.slow
def test_int8_export_keeps_names_preprocessing_and_answers(squares_model, tmp_path, capsys):
    pytest.importorskip('onnxruntime')
    result, data = squares_model
    out = tmp_path / 'squares.int8.onnx'
    assert cli(['export', result.model_path, '--int8', str(out),
                '--calibration-count', '24']) == 0
    printed = capsys.readouterr().out
    assert 'calibrated on 24 images' in printed and 'top-1 agreement' in printed
    int8 = load_predictor(str(out), backend='onnxruntime')
    fp32 = load_predictor(result.model_path, device='cpu')
    assert int8.backend == 'onnxruntime'
    assert (int8.task, int8.names, int8.preprocessing) == (fp32.task, fp32.names,
                                                           fp32.preprocessing)
    assert int8.metadata['names'] == ['blue', 'red'] and 'metrics' in int8.metadata
    images = [cv2.imread(str(p)) for p in sorted((data / 'red').glob('*.png'))[:10] +
              sorted((data / 'blue').glob('*.png'))[:10]]
    same = sum(a.label == b.label for a, b in zip(int8.predict_batch(images, 'bgr8'),
                                                  fp32.predict_batch(images, 'bgr8')))
    assert same >= 18
    # the graph holds int8 weights: a quarter of the fp32 size, give or take
    assert os.path.getsize(out) < 0.4 * os.path.getsize(result.model_path)


def test_int8_export_without_calibration_images_says_what_to_give(squares_model, tmp_path,
                                                                  capsys):
    pytest.importorskip('onnxruntime')
    result, data = squares_model
    checkpoint = load_checkpoint(result.model_path)
    checkpoint['train_options'].update(data='gone', data_path=str(tmp_path / 'gone'))
    moved = tmp_path / 'moved.pt'
    torch.save(checkpoint, moved)
    assert cli(['export', str(moved), '--int8']) == 1
    assert '--calibration DATASET' in capsys.readouterr().err
    assert not (tmp_path / 'moved.int8.onnx').exists()
    assert cli(['export', str(moved), '--int8', '--calibration', str(data),
                '--calibration-count', '8']) == 0
    assert (tmp_path / 'moved.int8.onnx').exists()


def test_int8_export_formats_give_the_same_answers_and_unknown_ones_are_refused(
        squares_model, tmp_path, caplog):
    onnx = pytest.importorskip('onnx')
    from nano_vision.ml.export import quantize_int8
    result, data = squares_model
    paths = {}
    for quant_format, weight_type in [('qdq', 'int8'), ('qoperator', 'int8'), ('qdq', 'uint8')]:
        out = str(tmp_path / f'{quant_format}_{weight_type}.onnx')
        paths[quant_format, weight_type], _ = quantize_int8(
            result.model_path, out, count=8, quant_format=quant_format, weight_type=weight_type)
    ops = {key: {node.op_type for node in onnx.load(path).graph.node}
           for key, path in paths.items()}
    assert 'QLinearConv' in ops['qoperator', 'int8'] and 'Conv' not in ops['qoperator', 'int8']
    assert 'Conv' in ops['qdq', 'int8'] and 'QLinearConv' not in ops['qdq', 'int8']
    weights = {key: {init.data_type for init in onnx.load(path).graph.initializer
                     if len(init.dims) == 4} for key, path in paths.items()}
    assert weights['qdq', 'int8'] == {onnx.TensorProto.INT8}
    assert weights['qdq', 'uint8'] == {onnx.TensorProto.UINT8}
    images = [cv2.imread(str(p)) for p in sorted((data / 'red').glob('*.png'))[:5] +
              sorted((data / 'blue').glob('*.png'))[:5]]
    with caplog.at_level(logging.WARNING):
        predictors = {key: load_predictor(path) for key, path in paths.items()}
    # OpenVINO cannot read ONNX Runtime's own operators: auto runs those with ONNX Runtime
    assert predictors['qoperator', 'int8'].backend == 'onnxruntime'
    if predictors['qdq', 'int8'].backend == 'openvino':
        assert 'OpenVINO can read' in caplog.text and 'running it with ONNX Runtime' in caplog.text
    labels = {key: [p.label for p in predictor.predict_batch(images, 'bgr8')]
              for key, predictor in predictors.items()}
    assert labels['qoperator', 'int8'] == labels['qdq', 'int8'] == labels['qdq', 'uint8']
    for bad in ({'quant_format': 'qlinear'}, {'weight_type': 'int4'}):
        with pytest.raises(ValueError, match='quant_format must be one of'):
            quantize_int8(result.model_path, str(tmp_path / 'bad.onnx'), count=8, **bad)
    assert not (tmp_path / 'bad.onnx').exists()


@pytest.mark.parametrize('backend, device, machine, cuda, expected', [
    ('auto', 'auto', 'x86_64', False, 'openvino'),
    ('auto', 'cpu', 'AMD64', True, 'openvino'),
    ('auto', 'auto', 'x86_64', True, 'onnxruntime'),  # a GPU first
    ('auto', 'cuda', 'x86_64', True, 'onnxruntime'),
    ('auto', 'tensorrt', 'x86_64', True, 'onnxruntime'),
    ('auto', 'auto', 'aarch64', False, 'onnxruntime'),  # Jetson and other ARM boards
    ('auto', 'cpu', 'aarch64', False, 'onnxruntime'),
    ('onnxruntime', 'cpu', 'x86_64', False, 'onnxruntime'),
    ('openvino', 'auto', 'x86_64', True, 'openvino'),
])
def test_each_machine_and_device_gets_its_onnx_engine(backend, device, machine, cuda, expected):
    assert onnx_backend(backend, device, machine, openvino_found=True,
                        cuda_found=cuda) == expected


def test_without_openvino_auto_runs_onnx_runtime_and_says_so_on_x86_only(caplog):
    with caplog.at_level(logging.WARNING):
        assert onnx_backend('auto', 'cpu', 'aarch64', openvino_found=False) == 'onnxruntime'
    assert caplog.text == ''  # nothing to say where ONNX Runtime is the engine anyway
    with caplog.at_level(logging.WARNING):
        assert onnx_backend('auto', 'cpu', 'x86_64', openvino_found=False) == 'onnxruntime'
    assert 'openvino is not installed' in caplog.text and 'pip install openvino' in caplog.text


@pytest.mark.parametrize('backend, device, found, message', [
    ('openvino', 'cpu', False, 'openvino is not installed: pip install openvino'),
    ('openvino', 'cuda', True, 'backend openvino runs on the CPU'),
    ('openvino', 'tensorrt', True, 'backend openvino runs on the CPU'),
    ('tvm', 'cpu', True, 'unknown backend'),
])
def test_backends_that_cannot_run_say_so(backend, device, found, message):
    with pytest.raises(ValueError, match=message):
        onnx_backend(backend, device, 'x86_64', openvino_found=found, cuda_found=False)


def test_openvino_gives_onnx_runtimes_answers_and_is_x86s_default(squares_model, tmp_path,
                                                                  monkeypatch, caplog):
    pytest.importorskip('onnxruntime')
    pytest.importorskip('openvino')
    from nano_vision.ml.export import export_onnx, quantize_int8
    result, data = squares_model
    fp32, _ = export_onnx(result.model_path, str(tmp_path / 'squares.onnx'))
    int8, _ = quantize_int8(result.model_path, str(tmp_path / 'squares.int8.onnx'), count=16)
    images = [cv2.imread(str(p)) for p in sorted((data / 'red').glob('*.png'))[:6] +
              sorted((data / 'blue').glob('*.png'))[:6]]
    boxes = np.array([[0, 0, 32, 32], [16, 16, 48, 48], [8, 0, 56, 40]])
    # int8: two engines, two sets of integer kernels; fp32: the same arithmetic
    for path, atol in ((fp32, 1e-4), (int8, 0.03)):
        ort = load_predictor(path, 'cpu', backend='onnxruntime')
        ov = load_predictor(path, 'cpu', backend='openvino')
        assert (ort.backend, ov.backend, ov.device) == ('onnxruntime', 'openvino', 'cpu')
        assert (ov.task, ov.names, ov.preprocessing, ov.metadata) == (
            ort.task, ort.names, ort.preprocessing, ort.metadata)
        for a, b in zip(ort.predict_batch(images, 'bgr8'), ov.predict_batch(images, 'bgr8')):
            assert a.label == b.label
            np.testing.assert_allclose(a.probabilities, b.probabilities, atol=atol)
        for image in images[:2]:  # a batch of windows, one frame at a time
            np.testing.assert_allclose(ov.predict_windows(image, boxes, 'bgr8'),
                                       ort.predict_windows(image, boxes, 'bgr8'), atol=atol)
    monkeypatch.setattr(platform, 'machine', lambda: 'x86_64')
    assert load_predictor(int8, 'cpu').backend == 'openvino'
    assert load_predictor(int8, 'cpu', backend='onnxruntime').backend == 'onnxruntime'
    monkeypatch.setitem(sys.modules, 'openvino', None)  # as if not installed
    with caplog.at_level(logging.WARNING):
        fallback = load_predictor(int8, 'cpu')
    assert fallback.backend == 'onnxruntime' and 'openvino is not installed' in caplog.text
    with pytest.raises(ValueError, match='openvino is not installed'):
        load_predictor(int8, 'cpu', backend='openvino')


def test_a_backend_for_a_checkpoint_says_to_export_first(squares_model):
    result, _ = squares_model
    with pytest.raises(ValueError, match='backend openvino runs ONNX models: export'):
        load_predictor(result.model_path, 'cpu', backend='openvino')
    with pytest.raises(ValueError, match='unknown backend'):
        load_predictor(result.model_path, 'cpu', backend='tvm')


def test_backbone_features_feed_the_head_as_the_model_does():
    torch.manual_seed(0)
    model = build_model('resnet18', 4).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        np.testing.assert_allclose(head_module(model)(backbone_of(model)(x)).numpy(),
                                   model(x).numpy(), atol=1e-5)
        assert isinstance(model.fc, torch.nn.Linear)  # the model itself keeps its head
    small = build_model('mobilenet_v3_small', 3).eval()
    with torch.no_grad():
        np.testing.assert_allclose(head_module(small)(backbone_of(small)(x)).numpy(),
                                   small(x).numpy(), atol=1e-5)


def test_cached_features_keep_the_targets(tmp_path):
    data = make_dots(tmp_path / 'dots', count=12)
    from nano_vision.datasets.layout import load_dataset
    dataset = load_dataset(str(data))
    items = SampleDataset(dataset.samples, dataset.names, dataset.task, Preprocessing(32))
    model = build_model('resnet18', 2)
    make_input = InputMaker(Preprocessing(32), torch.device('cpu'))
    features = FeatureDataset.compute(backbone_of(model), items, make_input, batch_size=5)
    assert len(features) == len(items) == 12
    feature, (points, mask, size) = features[3]
    assert feature.shape == (512,)
    np.testing.assert_allclose(points.numpy(), items[3][1][0].numpy())
    assert mask.tolist() == [1.0] and size.tolist() == [64.0, 64.0]


def test_frozen_backbone_with_cached_features_learns_and_saves_a_full_model(tmp_path):
    data = make_squares(tmp_path / 'squares', per_class=30)
    lines = []
    result = train(TrainOptions(data=str(data), out=str(tmp_path / 'frozen.pt'), epochs=15,
                                image_size=32, batch_size=8, lr=1e-2, freeze_backbone=True,
                                progress=False, plots=False), echo=lines.append)
    assert any('computed once' in line for line in lines)
    # a random backbone is a fixed random feature map: the last layer alone separates colours
    assert result.metrics['accuracy'] >= 0.9
    checkpoint = load_checkpoint(result.model_path)
    assert checkpoint['train_options']['freeze_backbone'] is True
    predictor = load_predictor(result.model_path, device='cpu')
    red = [cv2.imread(str(p)) for p in sorted((data / 'red').glob('*.png'))[:6]]
    assert sum(p.label == 'red' for p in predictor.predict_batch(red, 'bgr8')) >= 5
    # only the last layer changed: the backbone is the one it started from
    torch.manual_seed(0)
    fresh = build_model('resnet18', 2)
    state = checkpoint['state_dict']
    assert torch.equal(state['conv1.weight'], fresh.state_dict()['conv1.weight'])


def test_frozen_backbone_xy_training_with_cached_features(tmp_path):
    data = make_dots(tmp_path / 'dots', count=80)
    result = train(TrainOptions(data=str(data), out=str(tmp_path / 'xy.pt'), epochs=30,
                                image_size=32, batch_size=16, lr=1e-2, freeze_backbone=True,
                                progress=False, plots=False), echo=lambda _: None)
    # predicting the centre every time scores about 0.6 on these points
    assert result.metrics['rmse'] < 0.55
    assert load_predictor(result.model_path, device='cpu').task == 'xy'
