"""Emotions: none, happy, sad, angry: camera -> classifier -> overlay.

ros2 launch nano_vision emotions.launch.py model:=emotions.pt
ros2 launch nano_vision emotions.launch.py model:=emotions.onnx source:=csi namespace:=robot1

Arguments: model (required), source (/dev/video0), namespace, params_file
(config/emotions.yaml). The nodes: PIPELINES['emotions'] in nano_vision/nodes/graph.py.
"""

from launch import LaunchDescription

from nano_vision.nodes.launch_description import fastdds_profile, graph_arguments, graph_nodes


def generate_launch_description():
    """Return the arguments, then camera, classifier and overlay with config/emotions.yaml."""
    return LaunchDescription([
        *graph_arguments('emotions'),
        fastdds_profile(),
        graph_nodes('emotions'),
    ])
