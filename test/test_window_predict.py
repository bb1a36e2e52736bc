"""Windows predicted in one batch, by the predictors and by nano-vision predict --windows."""

import json

import cv2
import numpy as np
import pytest

torch = pytest.importorskip('torch')

from nano_vision.image.preprocess import Preprocessing  # noqa: E402
from nano_vision.inference.windows import crops, WindowGrid  # noqa: E402
from nano_vision.ml.checkpoint import make_checkpoint, save_checkpoint  # noqa: E402
from nano_vision.ml.model import build_model  # noqa: E402
from nano_vision.ml.predictor import load_predictor  # noqa: E402
from nano_vision.tools.cli import main as cli  # noqa: E402

NAMES = ['background', 'thumbs_up', 'thumbs_down']


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp('windows') / 'm.pt'
    torch.manual_seed(0)
    save_checkpoint(make_checkpoint(build_model('resnet18', 3), task='classification',
                                    arch='resnet18', names=NAMES,
                                    preprocessing=Preprocessing(32)), str(path))
    return str(path)


def frame(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (72, 96, 3), np.uint8)


def test_a_frame_s_windows_are_one_batch_with_each_window_s_prediction(model):
    predictor = load_predictor(model, device='cpu')
    image = frame()
    boxes = WindowGrid(size=0.5, stride=0.5, scales=(1.0, 1.5)).boxes(96, 72)
    batches = []
    run = predictor.run
    predictor.run = lambda batch: batches.append(len(batch)) or run(batch)
    probabilities = predictor.predict_windows(image, boxes, 'bgr8')
    assert batches == [len(boxes)]
    assert probabilities.shape == (len(boxes), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    one_by_one = [predictor.predict(c, 'bgr8').probabilities for c in crops(image, boxes)]
    np.testing.assert_allclose(probabilities, one_by_one, atol=1e-5)
    # windows differ from one another: each got its own pixels
    assert len({tuple(np.round(p, 5)) for p in probabilities}) == len(boxes)


def test_the_onnx_export_gives_the_same_windows(model, tmp_path):
    pytest.importorskip('onnxruntime')
    onnx_path = str(tmp_path / 'm.onnx')
    assert cli(['export', model, '--onnx', onnx_path]) == 0
    image = frame(1)
    boxes = WindowGrid(size=30, stride=1.0).boxes(96, 72)
    np.testing.assert_allclose(
        load_predictor(onnx_path, device='cpu').predict_windows(image, boxes),
        load_predictor(model, device='cpu').predict_windows(image, boxes), atol=1e-4)


def test_predict_windows_prints_the_detections(model, tmp_path, capsys):
    path = str(tmp_path / 'f.png')
    cv2.imwrite(path, frame())
    predictor = load_predictor(model, device='cpu')
    boxes = WindowGrid(size=0.5, stride=0.5).boxes(96, 72)
    probabilities = predictor.predict_windows(cv2.imread(path), boxes, 'bgr8')
    assert cli(['predict', model, path, '--windows', '--json', '--score-threshold', '0',
                '--iou-threshold', '1']) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result['windows'] == len(boxes)
    objects = probabilities[:, 1:].max(axis=1) > probabilities[:, 0]
    # with no threshold and no suppression every window whose best class is an object stays
    assert len(result['detections']) == int(objects.sum())
    for d in result['detections']:
        k = [tuple(b) for b in boxes].index((d['x'], d['y'], d['width'], d['height']))
        assert d['label'] == NAMES[int(probabilities[k].argmax())]
        assert d['score'] == pytest.approx(float(probabilities[k].max()), abs=1e-5)
    assert cli(['predict', model, path, '--windows', '--score-threshold', '1.01']) == 0
    assert capsys.readouterr().out.endswith(f'nothing ({len(boxes)} windows)\n')


def test_predict_windows_refuses_bad_settings(model, tmp_path, capsys):
    path = str(tmp_path / 'f.png')
    cv2.imwrite(path, frame())
    assert cli(['predict', model, path, '--windows', '--background', 'sky']) == 2
    assert 'sky is not among' in capsys.readouterr().err
    assert cli(['predict', model, path, '--windows', '--window-stride', '0']) == 2
    assert 'stride' in capsys.readouterr().err
    assert cli(['predict', model, path, '--windows', '--window-size', '500']) == 1
    assert 'no window' in capsys.readouterr().err
