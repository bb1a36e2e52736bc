"""Fingers (the course's 1 to 5 fingers classification): camera -> classifier -> overlay.

ros2 launch nano_vision fingers.launch.py model:=fingers.pt
ros2 launch nano_vision fingers.launch.py model:=fingers.onnx source:=csi namespace:=robot1

Arguments: model (required), source (/dev/video0), namespace, params_file
(config/fingers.yaml). The nodes: PIPELINES['fingers'] in nano_vision/nodes/graph.py.
"""

from launch import LaunchDescription

from nano_vision.nodes.launch_description import fastdds_profile, graph_arguments, graph_nodes


def generate_launch_description():
    """Return the arguments, then camera, classifier and overlay with config/fingers.yaml."""
    return LaunchDescription([
        *graph_arguments('fingers'),
        fastdds_profile(),
        graph_nodes('fingers'),
    ])
