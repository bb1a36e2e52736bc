"""Camera -> model node -> overlay, for one project's configuration.

The project launch files (thumbs, emotions, face_xy) include this one; it can
also run alone:
ros2 launch nano_vision pipeline.launch.py project:=thumbs task:=classification model:=m.pt
(params_file:=my.yaml replaces config/<project>.yaml).
"""

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.parameter_descriptions import ParameterValue

from nano_vision.launch_description import fastdds_profile, pipeline_arguments


def generate_launch_description():
    """Return the camera, the classifier or regressor, and the overlay."""
    share = get_package_share_directory('nano_vision')
    project = LaunchConfiguration('project')
    task = LaunchConfiguration('task')
    config = LaunchConfiguration('params_file')
    # value_type=str: a device index such as 0 or a model called 1 stays a string
    source = ParameterValue(LaunchConfiguration('source'), value_type=str)
    model = ParameterValue(LaunchConfiguration('model'), value_type=str)
    is_task = {name: IfCondition(PythonExpression(["'", task, "' == '", name, "'"]))
               for name in ('classification', 'xy')}
    # the model nodes read the camera's image_raw
    to_camera = [('image', 'image_raw'), ('image/compressed', 'image_raw/compressed')]
    return LaunchDescription([
        DeclareLaunchArgument('project', description='thumbs, emotions or face_xy: the '
                              'config/<project>.yaml to use'),
        DeclareLaunchArgument('task', description='classification or xy'),
        # a flat list of text and substitutions: the form every distribution accepts
        *pipeline_arguments([share, '/config/', project, '.yaml']),
        fastdds_profile(),
        GroupAction([
            PushRosNamespace(LaunchConfiguration('namespace')),
            Node(package='nano_vision', executable='camera', name='camera',
                 parameters=[config, {'source': source}], output='screen'),
            Node(package='nano_vision', executable='classifier', name='classifier',
                 parameters=[config, {'model': model}], remappings=to_camera,
                 condition=is_task['classification'], output='screen'),
            Node(package='nano_vision', executable='regressor', name='regressor',
                 parameters=[config, {'model': model}], remappings=to_camera,
                 condition=is_task['xy'], output='screen'),
            Node(package='nano_vision', executable='overlay', name='overlay',
                 parameters=[config], remappings=[('image', 'image_raw')], output='screen'),
        ]),
    ])
