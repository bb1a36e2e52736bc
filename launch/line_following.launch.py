"""Line following: camera (or the simulator) -> regressor -> steering -> cmd_vel, and an overlay.

On a robot (its base listens on cmd_vel, e.g. diff_drive_controller):
ros2 launch nano_vision line_following.launch.py model:=road.pt source:=csi
ros2 launch nano_vision line_following.launch.py model:=road.onnx enabled:=false  # motors off
In the simulator (the sim node replaces the camera and drives on cmd_vel):
ros2 launch nano_vision line_following.launch.py model:=road.pt source:=sim track:=kidney
ros2 launch nano_vision line_following.launch.py source:=sim oracle:=true  # ground truth
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.parameter_descriptions import ParameterValue

from nano_vision.nodes.launch_description import fastdds_profile, required


def _when(*expression):
    """Return an IfCondition on a Python expression made of text and substitutions."""
    return IfCondition(PythonExpression(list(expression)))


def generate_launch_description():
    """Return the line-following nodes with config/line_following.yaml."""
    share = get_package_share_directory('nano_vision')
    config = LaunchConfiguration('params_file')
    source = LaunchConfiguration('source')
    model = LaunchConfiguration('model')
    oracle = LaunchConfiguration('oracle')
    cmd_vel = [('cmd_vel', LaunchConfiguration('cmd_vel_topic'))]
    in_sim = ["'", source, "' == 'sim'"]
    follow_model = ["'", oracle, "'.lower() != 'true'"]
    return LaunchDescription([
        DeclareLaunchArgument('model', default_value='',
                              description='Regressor model (.pt or .onnx) whose first '
                                          'keypoint is the target; empty with oracle:=true'),
        DeclareLaunchArgument('source', default_value='/dev/video0',
                              description='Camera source (/dev/videoN, csi, gst:<pipeline>, '
                                          'a video file, ...) or sim for the simulator'),
        DeclareLaunchArgument('track', default_value='oval',
                              description='Simulator track (oval, peanut, bean, trefoil, '
                                          'kidney: kidney is held out of datasets)'),
        DeclareLaunchArgument('oracle', default_value='false',
                              description="With source:=sim: steer to the simulator's "
                                          'ground-truth target instead of the model'),
        DeclareLaunchArgument('enabled', default_value='true',
                              description='false: motors off, cmd_vel carries zero and '
                                          'steering/command shows what would be sent'),
        DeclareLaunchArgument('cmd_vel_topic', default_value='cmd_vel',
                              description="Topic of the robot base's velocity commands"),
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of the nodes and their topics'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(share, 'config',
                                                         'line_following.yaml'),
                              description='Parameter file (default: '
                                          'config/line_following.yaml)'),
        fastdds_profile(),
        GroupAction([
            PushRosNamespace(LaunchConfiguration('namespace')),
            Node(package='nano_vision', executable='camera', name='camera',
                 # value_type=str: a device index such as 0 stays a string
                 parameters=[config, {'source': ParameterValue(source, value_type=str)}],
                 condition=_when("'", source, "' != 'sim'"), on_exit=required('camera'),
                 output='screen'),
            Node(package='nano_vision', executable='sim', name='sim',
                 parameters=[config, {'track': ParameterValue(LaunchConfiguration('track'),
                                                              value_type=str)}],
                 remappings=cmd_vel, condition=_when(*in_sim), on_exit=required('sim'),
                 output='screen'),
            Node(package='nano_vision', executable='regressor', name='regressor',
                 parameters=[config, {'model': ParameterValue(model, value_type=str)}],
                 remappings=[('image', 'image_raw')],
                 condition=_when("'", model, "' != '' and ", *follow_model),
                 on_exit=required('regressor'), output='screen'),
            Node(package='nano_vision', executable='steering', name='steering',
                 parameters=[config, {'enabled': ParameterValue(
                     LaunchConfiguration('enabled'), value_type=bool)}],
                 remappings=cmd_vel, condition=_when(*follow_model),
                 on_exit=required('steering'), output='screen'),
            Node(package='nano_vision', executable='steering', name='steering',
                 parameters=[config, {'enabled': ParameterValue(
                     LaunchConfiguration('enabled'), value_type=bool)}],
                 remappings=cmd_vel + [('point', 'ground_truth/point')],
                 condition=_when(*in_sim, ' and not (', *follow_model, ')'),
                 on_exit=required('steering'), output='screen'),
            Node(package='nano_vision', executable='overlay', name='overlay',
                 parameters=[config], remappings=[('image', 'image_raw')],
                 condition=_when("'", model, "' != '' and ", *follow_model),
                 output='screen'),
        ]),
    ])
