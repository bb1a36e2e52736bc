"""Objects (sliding-window detection): camera -> detector -> overlay with boxes and heat map.

ros2 launch nano_vision objects.launch.py model:=objects.pt source:=synthetic:objects
ros2 launch nano_vision objects.launch.py model:=my_windows.onnx params_file:=my_objects.yaml

Arguments: model (required: a classifier of window crops with a background class,
docs/detection.md), source (/dev/video0), namespace, params_file (config/objects.yaml).
The nodes: OBJECTS in nano_vision/nodes/graph.py.
"""

from launch import LaunchDescription

from nano_vision.nodes.launch_description import fastdds_profile, graph_arguments, graph_nodes


def generate_launch_description():
    """Return the arguments, then camera, detector and overlay with config/objects.yaml."""
    return LaunchDescription([
        *graph_arguments('objects'),
        fastdds_profile(),
        graph_nodes('objects'),
    ])
