"""Camera -> model node -> overlay, for one project's configuration.

The project launch files (thumbs, emotions, face_xy) start the same nodes with
their project's settings; this file takes the project and the task as arguments:
ros2 launch nano_vision pipeline.launch.py project:=thumbs task:=classification model:=m.pt
(params_file:=my.yaml replaces config/<project>.yaml). A project or task that does
not exist is refused with the valid choices.
"""

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration

from nano_vision.datasets.layout import TASKS
from nano_vision.nodes.launch_description import (fastdds_profile, pipeline_arguments,
                                                  pipeline_nodes, PROJECTS)


def _nodes(context):
    return [pipeline_nodes(LaunchConfiguration('task').perform(context))]


def generate_launch_description():
    """Return the camera, the classifier or regressor, and the overlay."""
    share = get_package_share_directory('nano_vision')
    return LaunchDescription([
        DeclareLaunchArgument('project', choices=list(PROJECTS),
                              description='The config/<project>.yaml to use'),
        DeclareLaunchArgument('task', choices=list(TASKS),
                              description='classification (classifier node) or xy '
                                          '(regressor node)'),
        # a flat list of text and substitutions: the form every distribution accepts
        *pipeline_arguments([share, '/config/', LaunchConfiguration('project'), '.yaml']),
        fastdds_profile(),
        OpaqueFunction(function=_nodes),
    ])
