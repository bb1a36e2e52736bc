"""The launch description shared by the project launch files (thumbs, emotions, face_xy).

Imported by launch/*.launch.py only: it needs ``launch`` and ``launch_ros``,
which come with a ROS 2 install.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration


def project_launch_description(project, task):
    """Return camera -> model node -> overlay with ``config/<project>.yaml``.

    The user's arguments (model, source, namespace, params_file) are declared
    here and forwarded to pipeline.launch.py: an included file sees only what
    its includer passes on.
    """
    share = get_package_share_directory('nano_vision')
    return LaunchDescription([
        DeclareLaunchArgument('model', description='Model file (.pt or .onnx)'),
        DeclareLaunchArgument('source', default_value='/dev/video0',
                              description='/dev/videoN, csi, gst:<pipeline>, a video file, '
                                          'an image folder or synthetic:<scene>'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of the nodes and their topics'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(share, 'config', f'{project}.yaml'),
                              description='Parameter file of the nodes'),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'pipeline.launch.py')),
            launch_arguments={
                'project': project, 'task': task,
                'model': LaunchConfiguration('model'),
                'source': LaunchConfiguration('source'),
                'namespace': LaunchConfiguration('namespace'),
                'params_file': LaunchConfiguration('params_file'),
            }.items()),
    ])
