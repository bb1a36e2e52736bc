"""Emotions: none, happy, sad, angry: camera, model node and overlay.

ros2 launch nano_vision emotions.launch.py model:=emotions.pt
ros2 launch nano_vision emotions.launch.py model:=emotions.onnx source:=csi namespace:=robot1
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource


def generate_launch_description():
    """Include the pipeline with config/emotions.yaml (model, source, namespace pass through)."""
    pipeline = os.path.join(get_package_share_directory('nano_vision'), 'launch',
                            'pipeline.launch.py')
    return LaunchDescription([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(pipeline),
        launch_arguments={'project': 'emotions', 'task': 'classification'}.items())])
