"""Start the camera node alone.

ros2 launch nano_vision camera.launch.py source:=/dev/video0
ros2 launch nano_vision camera.launch.py source:=synthetic:face namespace:=robot1

Arguments: source (/dev/video0), namespace, params_file (config/camera.yaml).
The node: CAMERA_ALONE in nano_vision/nodes/graph.py.
"""

from launch import LaunchDescription

from nano_vision.nodes.launch_description import fastdds_profile, graph_arguments, graph_nodes


def generate_launch_description():
    """Return the arguments, then the camera node with config/camera.yaml."""
    return LaunchDescription([
        *graph_arguments('camera'),
        fastdds_profile(),
        graph_nodes('camera'),
    ])
