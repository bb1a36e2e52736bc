"""Face keypoints: nose, left_eye, right_eye: camera -> regressor -> overlay.

ros2 launch nano_vision face_xy.launch.py model:=face_xy.pt
ros2 launch nano_vision face_xy.launch.py model:=face_xy.onnx source:=csi namespace:=robot1

Arguments: model (required), source (/dev/video0), namespace, params_file
(config/face_xy.yaml). The nodes: PIPELINES['face_xy'] in nano_vision/nodes/graph.py.
"""

from launch import LaunchDescription

from nano_vision.nodes.launch_description import fastdds_profile, graph_arguments, graph_nodes


def generate_launch_description():
    """Return the arguments, then camera, regressor and overlay with config/face_xy.yaml."""
    return LaunchDescription([
        *graph_arguments('face_xy'),
        fastdds_profile(),
        graph_nodes('face_xy'),
    ])
