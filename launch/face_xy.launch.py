"""Face keypoints: nose, left_eye, right_eye: camera, model node and overlay.

ros2 launch nano_vision face_xy.launch.py model:=face_xy.pt
ros2 launch nano_vision face_xy.launch.py model:=face_xy.onnx source:=csi namespace:=robot1
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration


def generate_launch_description():
    """Include the pipeline with config/face_xy.yaml; the arguments pass through."""
    share = get_package_share_directory('nano_vision')
    return LaunchDescription([
        DeclareLaunchArgument('model', description='Model file (.pt or .onnx)'),
        DeclareLaunchArgument('source', default_value='/dev/video0',
                              description='/dev/videoN, csi, gst:<pipeline>, a video file, '
                                          'an image folder or synthetic:<scene>'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of the nodes and their topics'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(share, 'config', 'face_xy.yaml'),
                              description='Parameter file of the nodes'),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'pipeline.launch.py')),
            launch_arguments={
                'project': 'face_xy', 'task': 'xy',
                'model': LaunchConfiguration('model'),
                'source': LaunchConfiguration('source'),
                'namespace': LaunchConfiguration('namespace'),
                'params_file': LaunchConfiguration('params_file'),
            }.items()),
    ])
