"""``nano-vision train``'s arguments are made of TrainOptions: each option is defined once."""

import dataclasses
import subprocess
import sys

import pytest

from nano_vision.ml.recipe import TrainOptions
from nano_vision.tools.cli import build_parser

#: what the parsed command holds besides the training options
COMMAND_FIELDS = {'command', 'run', 'verbose'}
OPTIONS = {option.name: option for option in dataclasses.fields(TrainOptions)}


def parse(*words):
    return build_parser().parse_args(['train', *words])


def test_every_option_is_an_argument_with_the_same_default_and_nothing_else():
    arguments = vars(parse('data/face'))
    assert set(arguments) - COMMAND_FIELDS == set(OPTIONS)
    assert arguments['data'] == 'data/face'
    for name, option in OPTIONS.items():
        if name != 'data':
            assert arguments[name] == option.default, name
    assert TrainOptions.from_arguments(parse('data/face')) == TrainOptions(data='data/face')


def test_every_flag_reaches_its_option():
    options = TrainOptions.from_arguments(parse(
        'data/face', '--out', 'f.pt', '--task', 'xy', '--names', 'nose, left_eye,',
        '--arch', 'small_cnn', '--weights', 'none', '--freeze-backbone', '--no-feature-cache',
        '--epochs', '5', '--batch-size', '16', '--lr', '0.01', '--weight-decay', '0.001',
        '--warmup-epochs', '0.5', '--image-size', '96', '--precision', 'fp32',
        '--val-fraction', '0.3', '--seed', '4', '--patience', '3', '--hflip', 'on',
        '--jitter', '0.1', '--rotation', '5', '--scale', '0.2', '--shift', '0.05',
        '--device', 'cpu', '--workers', '2', '--resume', 'f.last.pt', '--save-interval', '30',
        '--no-plots', '--no-progress'))
    unchanged = [name for name, option in OPTIONS.items()
                 if getattr(options, name) == option.default]
    assert unchanged == []
    assert options.names == ('nose', 'left_eye')
    assert (options.epochs, options.lr, options.rotation_deg) == (5, 0.01, 5.0)
    assert options.save_interval_sec == 30.0 and not options.feature_cache and not options.plots


def test_the_model_file_is_named_after_the_dataset_unless_given():
    assert TrainOptions(data='data/face/').out == 'face.pt'
    assert TrainOptions(data='data/face', out='m.pt').out == 'm.pt'
    assert TrainOptions.from_arguments(parse('data/thumbs')).out == 'thumbs.pt'


@pytest.mark.parametrize('field, value', [('arch', 'vgg_giant'), ('hflip', 'sometimes'),
                                          ('precision', 'int4'), ('task', 'detection')])
def test_a_value_outside_the_choices_is_refused(field, value, capsys):
    with pytest.raises(ValueError, match=f'{field} must be one of .*got {value!r}'):
        TrainOptions(data='x', **{field: value}).check()
    with pytest.raises(SystemExit):
        parse('x', f'--{field}', value)
    assert 'invalid choice' in capsys.readouterr().err


def test_the_train_help_needs_no_torch():
    code = ('import sys; sys.modules["torch"] = None; from nano_vision.tools.cli import main; '
            'main(["train", "--help"])')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert '--save-interval SECONDS' in result.stdout and '(default 10)' in result.stdout
