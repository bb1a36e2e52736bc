"""The recorder's bag: frames, ground truth and labels in an mcap bag that becomes a dataset."""

import os

import pytest

rclpy = pytest.importorskip('rclpy')
nano_vision_msgs = pytest.importorskip('nano_vision_msgs.msg')
if getattr(nano_vision_msgs, 'GroundTruth', None) is None:
    pytest.skip('nano_vision_msgs is not built', allow_module_level=True)
GroundTruth = nano_vision_msgs.GroundTruth

from rclpy.parameter import Parameter  # noqa: E402

from nano_vision.bags.read import open_bag  # noqa: E402
from nano_vision.bags.to_dataset import dataset_from_bag  # noqa: E402
from nano_vision.datasets.layout import load_dataset  # noqa: E402
from nano_vision.nodes.camera import CameraNode  # noqa: E402
from nano_vision.nodes.dataset_recorder import DatasetRecorderNode  # noqa: E402


def stop(ros, node):
    """Destroy ``node`` now, as the end of main() does."""
    ros.executor.remove_node(node)
    ros.nodes.remove(node)
    node.destroy_node()


@pytest.mark.slow
def test_a_recorded_bag_converts_into_labelled_datasets(ros, tmp_path):
    bag_path = tmp_path / 'run1'
    ros.make(CameraNode, {'source': 'synthetic:thumbs', 'width': 96, 'height': 72,
                          'fps': 30.0, 'seed': 5})
    node = ros.make(DatasetRecorderNode, {'dataset': str(tmp_path / 'data'),
                                          'bag': str(bag_path)},
                    cli_args=['--ros-args', '-r', 'image:=image_raw'])
    ns = ros.namespace
    truths = set()
    ros.probe().create_subscription(GroundTruth, 'ground_truth',
                                    lambda msg: truths.add(msg.label), 10)
    # the synthetic scene changes every 2 s: record until both classes were shown
    assert ros.spin_until(lambda: len(truths) == 2, 30.0), truths
    node.set_parameters([Parameter('label', value='thumbs_up')])
    # frames are labelled from the label's place in the bag on: count them from there
    assert ros.spin_until(lambda: node.bag.counts[f'{ns}/dataset_recorder/label'] == 2, 10.0)
    seen = node.bag.counts[f'{ns}/image_raw']
    assert ros.spin_until(lambda: node.bag.counts[f'{ns}/image_raw'] >= seen + 10, 20.0)
    stop(ros, node)
    assert (bag_path / 'metadata.yaml').exists()  # closed, not merely cut off

    with open_bag(str(bag_path)) as bag:
        assert not bag.recovered
        assert bag.topics == {f'{ns}/image_raw': 'sensor_msgs/msg/Image',
                              f'{ns}/ground_truth': 'nano_vision_msgs/msg/GroundTruth',
                              f'{ns}/dataset_recorder/label': 'std_msgs/msg/String'}
        counts = bag.counts()
    assert counts[f'{ns}/image_raw'] >= 20 and counts[f'{ns}/ground_truth'] >= 20
    assert counts[f'{ns}/dataset_recorder/label'] == 2  # '' at start, then thumbs_up

    truth = dataset_from_bag(str(bag_path), str(tmp_path / 'by_truth'), f'{ns}/image_raw',
                             label_topic=f'{ns}/ground_truth')
    dataset = load_dataset(tmp_path / 'by_truth')
    assert set(dataset.names) == {'thumbs_up', 'thumbs_down'}
    assert len(dataset.samples) == truth.frames_written >= 0.9 * counts[f'{ns}/image_raw']

    dataset_from_bag(str(bag_path), str(tmp_path / 'by_label'), f'{ns}/image_raw',
                     label_topic=f'{ns}/dataset_recorder/label')
    labelled = load_dataset(tmp_path / 'by_label')
    assert labelled.names == ('thumbs_up',)  # frames before the label was set have none
    assert 10 <= len(labelled.samples) < counts[f'{ns}/image_raw']


def test_an_existing_bag_is_never_overwritten(ros, tmp_path):
    (tmp_path / 'run1').mkdir()
    with pytest.raises(ValueError, match='exists already'):
        ros.make(DatasetRecorderNode, {'dataset': str(tmp_path / 'data'),
                                       'bag': str(tmp_path / 'run1')})
    assert os.listdir(tmp_path / 'run1') == []
