"""Your own categories, as docs/projects.md walks them, without a camera.

A dataset in the folders of made-up categories (synthetic frames copied into them, as a
user's own recordings would be), ``nano-vision train`` on it, a copy of config/custom.yaml
naming the categories, then pipeline.launch.py's camera and classifier, wired by its graph
with that params_file, in this process: the classifier publishes the user's names.
"""

import pathlib
import shutil

import pytest
import yaml

from nano_vision.datasets.synth import write_synthetic_dataset
from nano_vision.nodes.graph import GRAPHS, ros_arguments

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('torch')
nano_vision_msgs = pytest.importorskip('nano_vision_msgs.msg')

from nano_vision.nodes.classifier import ClassifierNode  # noqa: E402, I100
from nano_vision.tools.cli import main as cli  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
NAMES = ('left_sock', 'right_sock', 'no_sock')


def test_a_pipeline_of_your_own_categories_runs_without_editing_the_package(ros, tmp_path):
    # 1. your recordings: one folder per category (here synthetic frames copied into them)
    frames = tmp_path / 'frames'
    write_synthetic_dataset('thumbs', str(frames), 24, size=64, seed=3)
    data = tmp_path / 'data' / 'socks'
    for index, image in enumerate(sorted(frames.rglob('*.jpg'))):
        category = data / NAMES[index % len(NAMES)]
        category.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, category / image.name)

    # 2. nano-vision train, briefly
    model = tmp_path / 'socks.pt'
    assert cli(['train', str(data), '--out', str(model), '--arch', 'small_cnn', '--epochs', '1',
                '--image-size', '32', '--no-progress', '--no-plots']) == 0

    # 3. your params file: a copy of config/custom.yaml that names your categories
    params = yaml.safe_load((ROOT / 'config' / 'custom.yaml').read_text())
    params['/**/classifier']['ros__parameters'].update(
        expected_names=','.join(NAMES), min_confidence=0.0)  # a 1-epoch model is unsure
    params['/**/camera']['ros__parameters'].update(width=64, height=64, fps=12.0)
    params_file = tmp_path / 'socks.yaml'
    params_file.write_text(yaml.safe_dump(params))

    # 4. pipeline.launch.py task:=classification model:=socks.pt source:=<a folder>
    #    params_file:=socks.yaml: no course project needed
    pipeline = GRAPHS['pipeline']
    arguments = pipeline.argument_values({'task': 'classification', 'model': str(model),
                                          'source': str(data / NAMES[0])})
    assert arguments['project'] == 'custom'
    assert pipeline.config_file(arguments) == 'custom.yaml'
    nodes = {node.name: node for node in pipeline.running(arguments)}
    # the classifier reads the source itself, with the camera section's settings
    assert list(nodes) == ['classifier', 'overlay']
    options = ros_arguments(nodes['classifier'], arguments, str(params_file))
    classifier = ros.make(ClassifierNode, cli_args=options)
    assert classifier.config.camera.source.target == str(data / NAMES[0])
    assert (classifier.config.width, classifier.config.height, classifier.config.fps) == \
        (64, 64, 12.0)
    assert classifier.config.expected_names == ','.join(NAMES)

    results = []
    probe = ros.probe()
    probe.create_subscription(nano_vision_msgs.Classification, 'classification',
                              results.append, 10)
    assert ros.spin_until(lambda: results, timeout_sec=30.0)
    assert sorted(results[0].class_names) == sorted(NAMES)
    assert results[0].label in NAMES


def test_a_model_of_other_categories_is_refused_by_your_params_file(ros, tmp_path,
                                                                    small_models):
    params_file = tmp_path / 'socks.yaml'
    params_file.write_text(yaml.safe_dump(
        {'/**/classifier': {'ros__parameters': {'expected_names': ','.join(NAMES)}}}))
    pipeline = GRAPHS['pipeline']
    arguments = pipeline.argument_values({'task': 'classification',
                                          'model': small_models['thumbs']})
    [classifier] = [node for node in pipeline.running(arguments) if node.name == 'classifier']
    with pytest.raises(ValueError, match='left_sock'):
        ros.make(ClassifierNode, cli_args=ros_arguments(classifier, arguments, str(params_file)))
