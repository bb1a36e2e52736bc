"""Thumbs up / thumbs down (the course's first project): camera -> classifier -> overlay.

ros2 launch nano_vision thumbs.launch.py model:=thumbs.pt
ros2 launch nano_vision thumbs.launch.py model:=thumbs.onnx source:=csi namespace:=robot1

Arguments: model (required), source (/dev/video0), namespace, params_file
(config/thumbs.yaml). The nodes: PIPELINES['thumbs'] in nano_vision/nodes/graph.py.
"""

from launch import LaunchDescription

from nano_vision.nodes.launch_description import fastdds_profile, graph_arguments, graph_nodes


def generate_launch_description():
    """Return the arguments, then camera, classifier and overlay with config/thumbs.yaml."""
    return LaunchDescription([
        *graph_arguments('thumbs'),
        fastdds_profile(),
        graph_nodes('thumbs'),
    ])
