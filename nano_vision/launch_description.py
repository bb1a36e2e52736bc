"""What the launch files share: project launch description, arguments, the Fast DDS profile.

Imported by launch/*.launch.py only: it needs ``launch`` and ``launch_ros``,
which come with a ROS 2 install.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, IncludeLaunchDescription,
                            SetEnvironmentVariable)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import EnvironmentVariable, LaunchConfiguration


# The arguments a user gives the pipeline and the project launch files.
FORWARDED = ('model', 'source', 'namespace', 'params_file')


def fastdds_profile():
    """Return the action selecting config/fastdds.xml unless the user chose a profile.

    Camera frames larger than Fast DDS's default shared-memory segment need it.
    """
    profile = os.path.join(get_package_share_directory('nano_vision'), 'config', 'fastdds.xml')
    return SetEnvironmentVariable('FASTDDS_DEFAULT_PROFILES_FILE', EnvironmentVariable(
        'FASTDDS_DEFAULT_PROFILES_FILE', default_value=profile))


def pipeline_arguments(params_file_default):
    """Return the DeclareLaunchArgument actions of FORWARDED (one definition for both files)."""
    return [
        DeclareLaunchArgument('model', description='Model file (.pt or .onnx)'),
        DeclareLaunchArgument('source', default_value='/dev/video0',
                              description='/dev/videoN, csi, gst:<pipeline>, a video file, '
                                          'an image folder or synthetic:<scene>'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of the nodes and their topics'),
        DeclareLaunchArgument('params_file', default_value=params_file_default,
                              description='Parameter file (default: config/<project>.yaml)'),
    ]


def project_launch_description(project, task):
    """Return camera -> model node -> overlay with ``config/<project>.yaml``.

    The user's arguments (FORWARDED) are declared here and passed on to
    pipeline.launch.py: an included file sees only what its includer gives it.
    """
    share = get_package_share_directory('nano_vision')
    forwarded = {name: LaunchConfiguration(name) for name in FORWARDED}
    return LaunchDescription([
        *pipeline_arguments(os.path.join(share, 'config', f'{project}.yaml')),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'pipeline.launch.py')),
            launch_arguments={'project': project, 'task': task, **forwarded}.items()),
    ])
