"""What the launch files share: the pipeline's nodes and arguments, the Fast DDS profile.

Imported by launch/*.launch.py only: it needs ``launch`` and ``launch_ros``,
which come with a ROS 2 install.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, GroupAction, OpaqueFunction,
                            SetEnvironmentVariable, Shutdown)
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.parameter_descriptions import ParameterValue

from nano_vision.runtime.dds import profile_environment, profile_file

# The projects with a config/<project>.yaml, and the task of their model.
PROJECTS = {'thumbs': 'classification', 'emotions': 'classification', 'face_xy': 'xy'}
# The node that runs a model of each task (nano_vision.datasets.layout.TASKS).
MODEL_NODES = {'classification': 'classifier', 'xy': 'regressor'}


def fastdds_profile():
    """Return the action giving the nodes nano_vision's Fast DDS profile unless the user chose one.

    Camera frames larger than Fast DDS's default shared-memory segment need it; with
    localhost-only discovery it also keeps the UDP listeners on the loopback interface
    (nano_vision/runtime/dds.py).
    """
    def choose(context):
        share = get_package_share_directory('nano_vision')
        default = os.path.join(share, 'config', profile_file())
        return [SetEnvironmentVariable(name, value)
                for name, value in profile_environment(default).items()]
    return OpaqueFunction(function=choose)


def required(name):
    """Return the on_exit action of a node the others cannot work without: end the launch."""
    return Shutdown(reason=f'{name} stopped, and the launch cannot go on without it '
                           '(its log above says why)')


def pipeline_arguments(params_file_default):
    """Return the arguments a user gives the pipeline: model, source, namespace, params_file."""
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


def pipeline_nodes(task):
    """Return camera -> the model node of ``task`` -> overlay, in the namespace argument.

    The camera and the model node are required: when either stops (a model that does
    not load, a camera that cannot open) the whole launch ends with its message.
    """
    config = LaunchConfiguration('params_file')
    # value_type=str: a device index such as 0 or a model called 1 stays a string
    source = ParameterValue(LaunchConfiguration('source'), value_type=str)
    model = ParameterValue(LaunchConfiguration('model'), value_type=str)
    # the model node reads the camera's image_raw
    to_camera = [('image', 'image_raw'), ('image/compressed', 'image_raw/compressed')]
    model_node = MODEL_NODES[task]
    return GroupAction([
        PushRosNamespace(LaunchConfiguration('namespace')),
        Node(package='nano_vision', executable='camera', name='camera',
             parameters=[config, {'source': source}], on_exit=required('camera'),
             output='screen'),
        Node(package='nano_vision', executable=model_node, name=model_node,
             parameters=[config, {'model': model}], remappings=to_camera,
             on_exit=required(model_node), output='screen'),
        Node(package='nano_vision', executable='overlay', name='overlay',
             parameters=[config], remappings=[('image', 'image_raw')], output='screen'),
    ])


def project_launch_description(project):
    """Return the pipeline of ``project`` with ``config/<project>.yaml``.

    Only what a user gives is declared (pipeline_arguments), so ``--show-args`` lists just
    that.
    """
    share = get_package_share_directory('nano_vision')
    return LaunchDescription([
        *pipeline_arguments(os.path.join(share, 'config', f'{project}.yaml')),
        fastdds_profile(),
        pipeline_nodes(PROJECTS[project]),
    ])
