"""The graphs of the launch files (nano_vision/nodes/graph.py), without ROS."""

import pytest

from helpers import ros_command
from nano_vision.nodes.graph import (AllOf, AnyOf, camera_parameters, Equals, GRAPHS, IsTrue,
                                     LINE_FOLLOWING, Not, PIPELINES, ros_arguments,
                                     typed_argument)


def test_arguments_take_their_defaults_and_are_checked_as_ros2_launch_checks_them():
    values = LINE_FOLLOWING.argument_values({'source': 'sim'})
    assert values == {'model': '', 'source': 'sim', 'track': 'oval', 'oracle': 'false',
                      'enabled': 'true', 'cmd_vel_topic': 'cmd_vel',
                      'in_process_camera': 'true', 'namespace': ''}
    with pytest.raises(ValueError, match='needs the argument model'):
        GRAPHS['thumbs'].argument_values({'source': 'csi'})
    with pytest.raises(ValueError, match='sauce'):
        GRAPHS['thumbs'].argument_values({'model': 'm.pt', 'sauce': 'csi'})
    with pytest.raises(ValueError, match='oval, peanut'):
        LINE_FOLLOWING.argument_values({'track': 'square'})
    with pytest.raises(ValueError, match='thumbs, emotions, face_xy'):
        GRAPHS['pipeline'].argument_values({'project': 'thumb', 'task': 'xy', 'model': 'm'})


def test_a_boolean_argument_that_is_neither_true_nor_false_is_refused():
    for text, oracle in (('true', True), ('True', True), ('1', True), ('FALSE', False)):
        arguments = LINE_FOLLOWING.argument_values({'source': 'sim', 'oracle': text})
        steering = [n for n in LINE_FOLLOWING.running(arguments) if n.name == 'steering']
        assert (steering[0].remapping_rules(arguments)[-1] ==
                ('point', 'ground_truth/point')) is oracle
    arguments = LINE_FOLLOWING.argument_values({'oracle': 'yes'})
    with pytest.raises(ValueError, match='oracle:=yes must be true or false'):
        LINE_FOLLOWING.running(arguments)


def test_argument_text_takes_the_type_the_node_declares():
    assert typed_argument('camera', 'source', '0') == '0'  # a device index stays a string
    assert typed_argument('steering', 'enabled', 'false') is False
    assert typed_argument('dataset_recorder', 'port', '8080') == 8080
    assert typed_argument('dataset_recorder', 'categories', ' a, b,,') == ('a', 'b')
    with pytest.raises(ValueError, match=r"port:=web is not of the parameter's type \(int\)"):
        typed_argument('dataset_recorder', 'port', 'web')
    with pytest.raises(ValueError, match="camera declares no parameter 'sauce'"):
        typed_argument('camera', 'sauce', 'csi')


def test_an_empty_list_argument_is_left_out():
    record = GRAPHS['record']
    recorder = record.nodes[-1]
    arguments = record.argument_values({'dataset': 'data/face'})
    assert 'categories' not in recorder.parameter_values(arguments)
    arguments = record.argument_values({'dataset': 'data/face', 'categories': 'nose,left_eye'})
    assert recorder.parameter_values(arguments)['categories'] == ('nose', 'left_eye')


def test_command_line_options_are_those_of_the_launch_file():
    arguments = LINE_FOLLOWING.argument_values({'source': 'sim', 'namespace': 'robot1',
                                                'cmd_vel_topic': 'base/cmd_vel'})
    sim = LINE_FOLLOWING.running(arguments)[0]
    command = ros_command(['sim', *ros_arguments(sim, arguments, 'lf.yaml', {'seed': 3})])
    assert command == {'executable': 'sim', 'params_files': ['lf.yaml'],
                       'remappings': {'__ns': '/robot1', 'cmd_vel': 'base/cmd_vel'},
                       'parameters': {'track': 'oval', 'seed': 3}}
    arguments = LINE_FOLLOWING.argument_values({'source': 'sim'})
    assert '__ns' not in ros_command(['sim', *ros_arguments(sim, arguments, 'lf.yaml')])[
        'remappings']  # no namespace: none given


def test_an_in_process_camera_takes_the_camera_sections_settings_unless_its_node_sets_them():
    params = {
        '/**/camera': {'ros__parameters': {'width': 320, 'height': 240, 'fps': 15.0,
                                           'encoding': 'bgr8', 'camera_name': 'front'}},
        '/**/classifier': {'ros__parameters': {'fps': 10.0, 'min_confidence': 0.5}},
        'robot1': {'camera': {'ros__parameters': {'frame_id': 'front'}}},  # nested keys
        '/**/overlay': {'ros__parameters': {'mode': 'classification'}}}
    # fps: the classifier's own; camera_name: no parameter of the classifier's camera
    assert camera_parameters(params, 'classifier') == {
        'width': 320, 'height': 240, 'encoding': 'bgr8', 'frame_id': 'front'}
    # a section for every node counts as the node's own
    params['/**'] = {'ros__parameters': {'width': 64}}
    assert 'width' not in camera_parameters(params, 'regressor')
    assert camera_parameters(None, 'detector') == {}  # an empty file


def test_graph_nodes_that_read_the_camera_take_the_parameter_files_camera_section(tmp_path):
    params_file = tmp_path / 'mine.yaml'
    params_file.write_text('/**/camera:\n  ros__parameters:\n    width: 96\n    fps: 12.0\n')
    arguments = PIPELINES['thumbs'].argument_values({'model': 'm.pt', 'source': 'folder'})
    [classifier, _] = PIPELINES['thumbs'].running(arguments)
    assert classifier.camera
    options = ros_arguments(classifier, arguments, str(params_file))
    assert options[options.index('-p') + 1:] == [
        'width:=96', '-p', 'fps:=12.0', '-p', 'model:="m.pt"', '-p', 'source:="folder"']
    params_file.write_text('/**/camera: [')
    with pytest.raises(ValueError, match='cannot read the parameter file'):
        ros_arguments(classifier, arguments, str(params_file))


def test_conditions_combine_and_read_as_a_user_writes_the_arguments():
    sim, oracle = Equals('source', 'sim'), IsTrue('oracle')
    arguments = {'source': 'sim', 'oracle': 'false'}
    assert AnyOf((sim, oracle)).holds(arguments) and not AllOf((sim, oracle)).holds(arguments)
    assert Not(AllOf((sim, oracle))).holds(arguments)
    assert str(AnyOf((sim, Not(oracle)))) == '(source:=sim or not oracle:=true)'
    assert str(AllOf((sim, oracle))) == '(source:=sim and oracle:=true)'
