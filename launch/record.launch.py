"""Record a dataset: camera -> dataset_recorder, with the labelling page.

ros2 launch nano_vision record.launch.py dataset:=data/thumbs categories:=thumbs_up,thumbs_down
ros2 launch nano_vision record.launch.py dataset:=data/face task:=xy \
    categories:=nose,left_eye,right_eye source:=synthetic:face port:=8080 namespace:=robot1
ros2 launch nano_vision record.launch.py dataset:=data/thumbs bag:=runs/thumbs_1

Then open http://127.0.0.1:8080/ (port:=0 serves no page; the ~/capture
service works either way).

Arguments: dataset (required), task (classification or xy), categories (comma-separated),
port (8080), bag (none), source (/dev/video0), namespace, params_file (config/record.yaml).
The nodes: RECORD in nano_vision/nodes/graph.py.
"""

from launch import LaunchDescription

from nano_vision.nodes.launch_description import fastdds_profile, graph_arguments, graph_nodes


def generate_launch_description():
    """Return the arguments, then the camera and the dataset_recorder with config/record.yaml."""
    return LaunchDescription([
        *graph_arguments('record'),
        fastdds_profile(),
        graph_nodes('record'),
    ])
