"""Face keypoints: nose, left_eye, right_eye: camera, model node and overlay.

ros2 launch nano_vision face_xy.launch.py model:=face_xy.pt
ros2 launch nano_vision face_xy.launch.py model:=face_xy.onnx source:=csi namespace:=robot1
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource


def generate_launch_description():
    """Include the pipeline with config/face_xy.yaml (model, source, namespace pass through)."""
    pipeline = os.path.join(get_package_share_directory('nano_vision'), 'launch',
                            'pipeline.launch.py')
    return LaunchDescription([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(pipeline),
        launch_arguments={'project': 'face_xy', 'task': 'xy'}.items())])
