"""Start the camera node alone.

ros2 launch nano_vision camera.launch.py source:=/dev/video0
ros2 launch nano_vision camera.launch.py source:=synthetic:face namespace:=robot1
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from nano_vision.nodes.launch_description import required


def generate_launch_description():
    """Return the camera node with its YAML file and the launch arguments on top."""
    config = os.path.join(get_package_share_directory('nano_vision'), 'config', 'camera.yaml')
    return LaunchDescription([
        DeclareLaunchArgument('source', default_value='/dev/video0',
                              description='/dev/videoN, csi, gst:<pipeline>, a video file, '
                                          'an image folder or synthetic:<scene>'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of the node and its topics'),
        DeclareLaunchArgument('params_file', default_value=config,
                              description='YAML file with the camera parameters'),
        Node(
            package='nano_vision', executable='camera', name='camera',
            namespace=LaunchConfiguration('namespace'),
            parameters=[LaunchConfiguration('params_file'),
                        # value_type=str: a device index such as 0 stays a string
                        {'source': ParameterValue(LaunchConfiguration('source'),
                                                  value_type=str)}],
            on_exit=required('camera'), output='screen', emulate_tty=True),
    ])
