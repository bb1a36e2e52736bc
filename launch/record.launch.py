"""Record a dataset: camera -> dataset_recorder, with the labelling page.

ros2 launch nano_vision record.launch.py dataset:=data/thumbs categories:=thumbs_up,thumbs_down
ros2 launch nano_vision record.launch.py dataset:=data/face task:=xy \
    categories:=nose,left_eye,right_eye source:=synthetic:face port:=8080 namespace:=robot1
ros2 launch nano_vision record.launch.py dataset:=data/thumbs bag:=runs/thumbs_1

Then open http://127.0.0.1:8080/ (port:=0 serves no page; the ~/capture
service works either way).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.parameter_descriptions import ParameterValue

from nano_vision.datasets.layout import TASKS
from nano_vision.nodes.launch_description import fastdds_profile, required


def _recorder(context):
    """Return the dataset_recorder with the arguments read as their parameter types."""
    categories = LaunchConfiguration('categories').perform(context)
    arguments = {
        'dataset': LaunchConfiguration('dataset').perform(context),
        'task': LaunchConfiguration('task').perform(context),
        'port': int(LaunchConfiguration('port').perform(context)),
        'bag': LaunchConfiguration('bag').perform(context),
    }
    names = [name.strip() for name in categories.split(',') if name.strip()]
    if names:  # an empty list has no type a parameter file can carry: leave it out
        arguments['categories'] = names
    return [Node(package='nano_vision', executable='dataset_recorder', name='dataset_recorder',
                 parameters=[LaunchConfiguration('params_file'), arguments],
                 remappings=[('image', 'image_raw')], on_exit=required('dataset_recorder'),
                 output='screen')]


def generate_launch_description():
    """Return the camera and the dataset_recorder in one namespace."""
    share = get_package_share_directory('nano_vision')
    return LaunchDescription([
        DeclareLaunchArgument('dataset', description='Dataset folder to record into'),
        DeclareLaunchArgument('task', default_value='classification', choices=list(TASKS),
                              description='classification or xy'),
        DeclareLaunchArgument('categories', default_value='',
                              description='Comma-separated categories shown from the start, '
                                          'e.g. thumbs_up,thumbs_down'),
        DeclareLaunchArgument('port', default_value='8080',
                              description='Port of the labelling page; 0 serves none'),
        DeclareLaunchArgument('bag', default_value='',
                              description='Also record an mcap bag into this new folder; '
                                          'empty: no bag'),
        DeclareLaunchArgument('source', default_value='/dev/video0',
                              description='/dev/videoN, csi, gst:<pipeline>, a video file, '
                                          'an image folder or synthetic:<scene>'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of the nodes and their topics'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(share, 'config', 'record.yaml'),
                              description='Parameter file (default: config/record.yaml)'),
        fastdds_profile(),
        GroupAction([
            PushRosNamespace(LaunchConfiguration('namespace')),
            Node(package='nano_vision', executable='camera', name='camera',
                 parameters=[LaunchConfiguration('params_file'),
                             # value_type=str: a device index such as 0 stays a string
                             {'source': ParameterValue(LaunchConfiguration('source'),
                                                       value_type=str)}],
                 on_exit=required('camera'), output='screen'),
            OpaqueFunction(function=_recorder),
        ]),
    ])
