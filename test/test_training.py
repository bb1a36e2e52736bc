"""Models, training, checkpoints, prediction and ONNX export on small synthetic data."""

import json
import os
import pathlib
import pickle
import subprocess
import sys

import cv2
from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np
import pytest

torch = pytest.importorskip('torch')

from helpers import make_dots, make_squares  # noqa: E402
from nano_vision.datasets.layout import load_dataset, XY  # noqa: E402
from nano_vision.image.preprocess import Preprocessing  # noqa: E402
from nano_vision.ml.augment import Augmentation, flip_permutation, mirrored_name  # noqa: E402
from nano_vision.ml.checkpoint import (CheckpointError, load_checkpoint,  # noqa: E402
                                       make_checkpoint, model_from_checkpoint, save_checkpoint)
from nano_vision.ml.data import SampleDataset  # noqa: E402
from nano_vision.ml.model import build_model, head_parameters  # noqa: E402
from nano_vision.ml.predictor import load_predictor  # noqa: E402
from nano_vision.ml.recipe import TrainOptions  # noqa: E402
from nano_vision.ml.train import train  # noqa: E402
from nano_vision.tools.cli import main as cli  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def squares(tmp_path_factory):
    return make_squares(tmp_path_factory.mktemp('squares'))


@pytest.fixture(scope='module')
def trained(squares, tmp_path_factory):
    """Train a classifier briefly on the squares with the defaults (shared by several tests)."""
    out = tmp_path_factory.mktemp('model') / 'squares.pt'
    torch.set_num_threads(2)
    lines = []
    result = train(TrainOptions(data=str(squares), out=str(out), epochs=3, image_size=32,
                                progress=False, plots=True), echo=lines.append)
    result.lines = lines
    return result


@pytest.mark.slow
def test_learning_happens_on_a_separable_set(trained):
    assert trained.metrics['accuracy'] >= 0.9
    assert trained.metrics['split'] == 'validation'
    assert os.path.exists(trained.last_path)
    assert all(os.path.getsize(p) > 1000 for p in trained.plots)


def test_the_default_weights_offline_train_from_scratch_and_say_so(trained):
    # the suite runs offline (conftest): --weights auto falls back, says how to get the
    # weights, and the model file records what was used
    warning = next(line for line in trained.lines if line.startswith('warning: ImageNet'))
    assert 'Training from scratch' in warning and 'resnet18-f37072fd.pth' in warning
    options = load_checkpoint(trained.model_path)['train_options']
    assert options['weights'] == 'auto' and options['weights_used'] == 'none'


@pytest.mark.slow
def test_xy_learning_happens(tmp_path):
    data = make_dots(tmp_path / 'dots')
    result = train(TrainOptions(data=str(data), out=str(tmp_path / 'dots.pt'), epochs=8,
                                image_size=32, batch_size=16, lr=2e-3, rotation_deg=0,
                                jitter=0.1, progress=False, plots=False),
                   echo=lambda _: None)
    # predicting the centre every time scores about 0.6 on these points
    assert result.metrics['rmse'] < 0.3
    assert result.metrics['per_keypoint']['dot']['rmse_px'] == pytest.approx(
        result.metrics['rmse'] * 32, rel=0.01)


def test_checkpoint_describes_itself_and_round_trips(trained, squares):
    checkpoint = load_checkpoint(trained.model_path)
    assert checkpoint['task'] == 'classification' and checkpoint['arch'] == 'resnet18'
    assert checkpoint['names'] == ['blue', 'red']
    assert checkpoint['preprocessing'] == {'input_size': 32, 'mean': [0.485, 0.456, 0.406],
                                           'std': [0.229, 0.224, 0.225], 'color_order': 'rgb'}
    assert checkpoint['train_options']['val_samples'] > 0
    assert checkpoint['metrics']['accuracy'] == trained.metrics['accuracy']
    model = model_from_checkpoint(checkpoint)
    x = torch.randn(2, 3, 32, 32)
    path = pathlib.Path(trained.model_path).with_name('copy.pt')
    save_checkpoint(make_checkpoint(model, task='classification', arch='resnet18',
                                    names=['blue', 'red'],
                                    preprocessing=Preprocessing(input_size=32)), path)
    again = model_from_checkpoint(load_checkpoint(path))
    with torch.no_grad():
        torch.testing.assert_close(model(x), again(x))


def test_a_checkpoint_that_cannot_be_saved_leaves_the_previous_one(tmp_path):
    path = tmp_path / 'model.pt'
    save_checkpoint({'format': 'first'}, path)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        save_checkpoint({'format': 'second', 'bad': lambda: None}, path)  # torch.save refuses
    assert torch.load(path, weights_only=True) == {'format': 'first'}
    assert os.listdir(tmp_path) == ['model.pt']


class RunsCode:
    """An object whose unpickling runs a command (what a hostile model file does)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pt'
    torch.save({'format': 'nano_vision.checkpoint', 'payload': RunsCode(marker)}, path)
    with pytest.raises(CheckpointError, match='refused to load .*could run code'):
        load_checkpoint(path)
    assert not marker.exists()
    plain = tmp_path / 'evil.pkl'
    plain.write_bytes(pickle.dumps(RunsCode(marker), protocol=2))
    with pytest.raises(CheckpointError, match='could run code'):
        load_checkpoint(plain)
    assert not marker.exists()


def test_a_model_whose_names_do_not_fit_its_outputs_is_refused(trained, tmp_path, capsys):
    pytest.importorskip('onnxruntime')
    checkpoint = load_checkpoint(trained.model_path)
    for names, message in ((['blue'], '2 outputs but 1 names'), (['blue', 'blue'], 'repeat'),
                           ([], 'non-empty list')):
        torch.save(dict(checkpoint, names=names), tmp_path / 'edited.pt')
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(tmp_path / 'edited.pt')
    torch.save(dict(checkpoint, names=['blue']), tmp_path / 'edited.pt')
    image = str(next((ROOT / 'docs' / 'images').glob('*.jpg')))
    assert cli(['predict', str(tmp_path / 'edited.pt'), image]) == 1
    assert '2 outputs but 1 names' in capsys.readouterr().err  # one line, no traceback
    import onnx
    assert cli(['export', trained.model_path, '--onnx', str(tmp_path / 'm.onnx')]) == 0
    proto = onnx.load(tmp_path / 'm.onnx')
    for entry in proto.metadata_props:
        if entry.key == 'nano_vision':
            info = json.loads(entry.value)
            entry.value = json.dumps(dict(info, names=['blue', 'red', 'green']))
    onnx.save(proto, tmp_path / 'edited.onnx')
    with pytest.raises(ValueError, match='2 outputs but 3 names'):
        load_predictor(str(tmp_path / 'edited.onnx'))


def test_files_that_are_not_checkpoints_are_refused(tmp_path):
    (tmp_path / 'noise.pt').write_bytes(os.urandom(1000))
    torch.save(build_model('resnet18', 2).state_dict(), tmp_path / 'bare.pt')
    torch.save({'format': 'nano_vision.checkpoint', 'format_version': 99}, tmp_path / 'new.pt')
    cases = [('noise.pt', 'not a model file'), ('bare.pt', 'bare state_dict'),
             ('new.pt', 'format 99'), ('missing.pt', 'does not exist'), ('.', 'is a folder')]
    for name, message in cases:
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(tmp_path / name)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=200), prefix=st.sampled_from([b'', b'\x80\x02', b'PK\x03\x04']))
def test_damaged_files_always_give_a_checkpoint_error(tmp_path, body, prefix):
    path = tmp_path / 'damaged.pt'
    path.write_bytes(prefix + body)
    with pytest.raises(CheckpointError, match='not a'):
        load_checkpoint(path)


def test_a_truncated_checkpoint_is_refused(tmp_path):
    whole = tmp_path / 'whole.pt'
    torch.save({'format': 'nano_vision.checkpoint', 'state_dict': {'w': torch.ones(64)}}, whole)
    data = whole.read_bytes()
    for cut in (1, len(data) // 3, len(data) // 2, len(data) - 1):
        (tmp_path / 'cut.pt').write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match='not a model file'):
            load_checkpoint(tmp_path / 'cut.pt')


def test_flip_swaps_left_and_right_and_negates_x(tmp_path):
    assert mirrored_name('left_eye') == 'right_eye' and mirrored_name('Right') == 'Left'
    assert flip_permutation(['nose', 'left_eye', 'right_eye']) == [0, 2, 1]
    from nano_vision.ml.recipe import flips_for
    assert flips_for('auto', XY) and not flips_for('auto', 'classification')
    assert flips_for('on', 'classification') and not flips_for('off', XY)
    image = np.zeros((32, 32, 3), np.uint8)
    image[4:8, 24:28] = 255  # a white patch at u = 26, v = 6: the subject's left eye
    os.makedirs(tmp_path / 'left_eye')
    os.makedirs(tmp_path / 'right_eye')
    os.makedirs(tmp_path / 'nose')
    cv2.imwrite(str(tmp_path / 'left_eye' / '26_6_a.png'), image)
    cv2.imwrite(str(tmp_path / 'right_eye' / '6_6_b.png'), image[:, ::-1])
    cv2.imwrite(str(tmp_path / 'nose' / '16_16_c.png'), image)
    dataset = load_dataset(tmp_path, names=['nose', 'left_eye', 'right_eye'])
    sample = next(s for s in dataset.samples if s.label == 'left_eye')
    flip_only = Augmentation(jitter=0, rotation_deg=0, scale=0, shift=0, hflip=True)
    data = SampleDataset([sample], dataset.names, XY, Preprocessing(input_size=32), flip_only)
    outcomes = set()
    torch.manual_seed(0)
    for _ in range(20):
        tensor, (points, mask, _) = data[0]
        assert tensor.dtype == torch.uint8 and tensor.shape == (3, 32, 32)
        bright = tensor[0].numpy() > 128
        u = np.nonzero(bright.any(axis=0))[0].mean() + 0.5
        labelled = int(mask.argmax())
        x = float(points[labelled, 0])
        assert (x + 1) * 16 == pytest.approx(u, abs=1.0)  # the point follows the pixels
        outcomes.add(dataset.names[labelled])
    assert outcomes == {'left_eye', 'right_eye'}  # flipped half the time, name swapped


def test_model_heads_and_freezing():
    model = build_model('resnet18', 6, freeze_backbone=True)
    assert model.fc.out_features == 6
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(trainable) == 2 and all(any(p is h for h in head_parameters(model))
                                       for p in trainable)
    small = build_model('mobilenet_v3_small', 3)
    assert small(torch.zeros(1, 3, 64, 64)).shape == (1, 3)
    with pytest.raises(ValueError, match='unknown architecture'):
        build_model('vgg_giant', 2)


def test_onnx_export_matches_pytorch_and_carries_the_names(trained, squares, tmp_path):
    pytest.importorskip('onnxruntime')
    out = tmp_path / 'squares.onnx'
    assert cli(['export', trained.model_path, '--onnx', str(out)]) == 0
    assert os.listdir(tmp_path) == ['squares.onnx']  # written once, no temporary left
    torch_predictor = load_predictor(trained.model_path, device='cpu')
    onnx_predictor = load_predictor(str(out))
    assert onnx_predictor.names == ('blue', 'red') and onnx_predictor.task == 'classification'
    assert onnx_predictor.preprocessing == torch_predictor.preprocessing
    images = [cv2.imread(str(p)) for p in sorted((squares / 'red').glob('*.png'))[:4]]
    for a, b in zip(torch_predictor.predict_batch(images, 'bgr8'),
                    onnx_predictor.predict_batch(images, 'bgr8')):
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-4)
        assert a.label == b.label


def test_commands_end_to_end(trained, squares, tmp_path, capsys):
    assert cli(['dataset', 'stats', str(squares)]) == 0
    assert 'blue' in capsys.readouterr().out
    assert cli(['eval', trained.model_path, str(squares), '--json',
                str(tmp_path / 'm.json')]) == 0
    out = capsys.readouterr().out
    assert 'accuracy' in out and 'confusion matrix' in out
    red = sorted(str(p) for p in (squares / 'red').glob('*.png'))[:3]
    assert cli(['predict', trained.model_path, *red]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and sum(line.split(': ')[1].startswith('red') for line in lines) >= 2
    assert cli(['predict', trained.model_path, str(tmp_path / 'missing.jpg')]) == 1
    assert cli(['eval', str(tmp_path / 'missing.pt'), str(squares)]) == 1
    assert 'does not exist' in capsys.readouterr().err


@pytest.mark.slow
def test_resume_continues_where_training_stopped(squares, tmp_path):
    out = str(tmp_path / 'r.pt')
    quiet = {'progress': False, 'plots': False, 'image_size': 32}
    first = train(TrainOptions(data=str(squares), out=out, epochs=1, **quiet),
                  echo=lambda _: None)
    lines = []
    # another seed and fraction on the command line: the resumed run keeps its split
    second = train(TrainOptions(data=str(squares), out=out, epochs=2, resume=first.last_path,
                                seed=5, val_fraction=0.5, **quiet), echo=lines.append)
    assert [row['epoch'] for row in second.history] == [1, 2]
    assert load_checkpoint(second.last_path)['epoch'] == 1
    kept = load_checkpoint(first.last_path)['train_options']
    options = load_checkpoint(second.last_path)['train_options']
    assert (options['seed'], options['val_fraction']) == (kept['seed'], kept['val_fraction'])
    assert options['val_samples'] == kept['val_samples']
    assert any('as the resume file' in line for line in lines)


@pytest.mark.slow
def test_the_installed_command_trains_and_predicts(tmp_path):
    # the workspace activate.sh chose (install/, or install-jazzy/ for Jazzy)
    command = (pathlib.Path(os.environ.get('NANO_VISION_INSTALL', ROOT / 'install')) /
               'nano_vision' / 'lib' / 'nano_vision' / 'nano-vision')
    if not command.exists():
        pytest.skip('workspace not built')
    data = tmp_path / 'faces'
    run = [str(command), 'dataset', 'synth', '--scene', 'face', '--count', '24', '--size', '48',
           '--out', str(data)]
    subprocess.run(run, check=True)
    result = subprocess.run(
        [str(command), 'train', str(data), '--out', str(tmp_path / 'f.pt'), '--epochs', '1',
         '--image-size', '32', '--no-progress'], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert 'val_rmse' in result.stdout and 'best epoch 1' in result.stdout
    assert (tmp_path / 'f.curves.png').exists()
    image = next(data.glob('nose/*.jpg'))
    result = subprocess.run([str(command), 'predict', str(tmp_path / 'f.pt'), str(image),
                             '--json'], capture_output=True, text=True, check=True)
    assert '"left_eye"' in result.stdout
    bad = subprocess.run([str(command), 'train', str(tmp_path / 'nothing')],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and 'does not exist' in bad.stderr


def test_cli_is_importable_without_torch_for_dataset_commands():
    code = ('import sys; sys.modules["torch"] = None; from nano_vision.tools.cli import main; '
            'import nano_vision.datasets.layout')
    subprocess.run([sys.executable, '-c', code], check=True)


def test_defaults_follow_the_data():
    from nano_vision.ml import recipe
    assert recipe.image_size_for([(8, 8)] * 5) == 64          # digits: scaled up to 64
    assert recipe.image_size_for([(8, 8)], 'small_cnn') == 32  # the small CNN needs less
    assert recipe.image_size_for([(100, 80), (120, 90), (640, 480)]) == 96
    assert recipe.image_size_for([(1280, 720)] * 3) == 224     # camera frames: the course's
    assert recipe.epochs_for(200, 16) == 42                     # 12 steps per epoch
    assert recipe.epochs_for(40, 8) == recipe.MAX_EPOCHS
    assert recipe.epochs_for(100_000, 32) == recipe.MIN_EPOCHS
    assert recipe.lr_for(8) == pytest.approx(1e-3)
    assert recipe.lr_for(32) == pytest.approx(2e-3)
    assert recipe.batch_size_for(200, 32) == 16 and recipe.batch_size_for(1000, 32) == 32
    assert recipe.batch_size_for(40, 32) == 8


def test_data_loading_processes_follow_the_device(trained):
    from nano_vision.ml import recipe
    assert recipe.workers_for(-1, 'cpu', 16) == 0          # the model needs every core
    assert recipe.workers_for(-1, 'cuda', 16) == recipe.MAX_CUDA_WORKERS
    assert recipe.workers_for(-1, 'cuda', 4) == 3          # a Jetson Nano: one core kept
    assert recipe.workers_for(-1, 'cuda', 1) == 0
    assert recipe.workers_for(2, 'cpu', 16) == 2           # asked for: as asked
    assert recipe.workers_for(0, 'cuda', 16) == 0
    # the fixture trained with the default on this CPU: no processes, recorded
    options = load_checkpoint(trained.model_path)['train_options']
    assert options['workers'] == -1 and options['workers_used'] == 0
    with pytest.raises(ValueError, match='workers must be >= 0'):
        TrainOptions(data='d', workers=-2).check()


def test_precision_follows_the_cpu_and_refuses_what_it_cannot_run():
    from nano_vision.ml import engine
    # torch has no public bf16 query; if its private checks move, fp32 is used (slower):
    # this test is the alarm
    assert callable(torch.cpu._is_avx512_bf16_supported)
    assert callable(torch.cpu._is_amx_tile_supported)
    cpu = torch.device('cpu')
    assert engine.resolve_precision('auto', cpu) == ('bf16' if engine.cpu_has_bf16() else 'fp32')
    assert engine.resolve_precision('fp32', cpu) == 'fp32'
    with pytest.raises(ValueError, match='fp16 needs a CUDA GPU'):
        engine.resolve_precision('fp16', cpu)
    with pytest.raises(ValueError, match='precision must be one of'):
        engine.resolve_precision('int4', cpu)


@pytest.mark.slow
def test_fp32_and_bf16_training_both_learn_and_are_recorded(squares, tmp_path):
    for precision in ('fp32', 'bf16'):
        result = train(TrainOptions(data=str(squares), out=str(tmp_path / f'{precision}.pt'),
                                    epochs=3, image_size=32, precision=precision,
                                    progress=False, plots=False), echo=lambda _: None)
        assert result.metrics['accuracy'] >= 0.9
        assert load_checkpoint(result.model_path)['train_options']['precision'] == precision


def test_the_small_cnn_trains_exports_and_predicts(squares, tmp_path):
    pytest.importorskip('onnxruntime')
    result = train(TrainOptions(data=str(squares), out=str(tmp_path / 'small.pt'),
                                arch='small_cnn', epochs=8, progress=False, plots=False),
                   echo=lambda _: None)
    checkpoint = load_checkpoint(result.model_path)
    assert checkpoint['arch'] == 'small_cnn' and result.metrics['accuracy'] >= 0.9
    assert checkpoint['preprocessing']['input_size'] == 64  # the squares' own size
    assert cli(['export', result.model_path, '--onnx', '--int8',
                '--calibration-count', '16']) == 0
    images = [cv2.imread(str(p)) for p in sorted((squares / 'red').glob('*.png'))[:6]]
    for model in ('small.pt', 'small.onnx', 'small.int8.onnx'):
        predictor = load_predictor(str(tmp_path / model), device='cpu')
        assert sum(p.label == 'red' for p in predictor.predict_batch(images, 'bgr8')) >= 5


@pytest.mark.slow
def test_an_interrupted_run_keeps_its_best_model_and_resume_file(squares, tmp_path):
    out = tmp_path / 'cut.pt'

    def interrupt_after_epoch_2(line):
        if line.lstrip().startswith('2 '):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(TrainOptions(data=str(squares), out=str(out), epochs=5, image_size=32,
                           save_interval_sec=3600, progress=False, plots=False),
              echo=interrupt_after_epoch_2)
    last = load_checkpoint(tmp_path / 'cut.last.pt')
    assert last['epoch'] == 1 and len(last['history']) == 2
    assert load_checkpoint(out)['epoch'] in (0, 1)
    resumed = train(TrainOptions(data=str(squares), out=str(out), epochs=3, image_size=32,
                                 resume=str(tmp_path / 'cut.last.pt'), progress=False,
                                 plots=False), echo=lambda _: None)
    assert [row['epoch'] for row in resumed.history] == [1, 2, 3]


def test_the_learning_benchmark_writes_the_real_sets_as_datasets(tmp_path):
    pytest.importorskip('sklearn')
    pytest.importorskip('skimage')
    import importlib.util
    from nano_vision.ml import recipe
    spec = importlib.util.spec_from_file_location('bench_training',
                                                  ROOT / 'bench' / 'training.py')
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    (train_dir, test_dir), = bench.write_digits(str(tmp_path / 'digits'))
    train_set, test_set = load_dataset(train_dir), load_dataset(test_dir)
    assert train_set.names == tuple('0123456789') == test_set.names
    assert len(train_set.samples) + len(test_set.samples) == 1797  # all of scikit-learn's
    assert len(test_set.samples) == pytest.approx(0.2 * 1797, abs=10)
    assert {(s.width, s.height) for s in train_set.samples} == {(8, 8)}
    assert recipe.image_size_for([(8, 8)]) == 64
    folds = bench.write_lfw(str(tmp_path / 'lfw'))
    assert len(folds) == 5
    tested = [s.path.rsplit('/', 1)[1] for _, test in folds for s in load_dataset(test).samples]
    assert len(tested) == len(set(tested)) == 200  # every image tested once
