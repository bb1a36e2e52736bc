"""What the launch files share: arguments and nodes from the graphs, the Fast DDS profile.

A launch file declares the arguments of its graph (nano_vision/nodes/graph.py), gives
the nodes nano_vision's Fast DDS profile, then starts the graph's nodes, each with its
condition. Imported by launch/*.launch.py only: it needs ``launch`` and ``launch_ros``,
which come with a ROS 2 install.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import Condition
from launch.actions import (DeclareLaunchArgument, GroupAction, OpaqueFunction,
                            SetEnvironmentVariable, Shutdown)
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.parameter_descriptions import ParameterValue

from nano_vision.nodes.graph import (Arg, GRAPHS, NAMESPACE, parameter_type,
                                     read_camera_parameters)
from nano_vision.runtime.dds import profile_environment, profile_file


def fastdds_profile():
    """Return the action giving the nodes nano_vision's Fast DDS profile unless the user chose one.

    Camera frames larger than Fast DDS's default shared-memory segment need it; with
    localhost-only discovery it also keeps the UDP listeners on the loopback interface
    (nano_vision/runtime/dds.py).
    """
    def choose(context):
        default = os.path.join(_share(), 'config', profile_file())
        return [SetEnvironmentVariable(name, value)
                for name, value in profile_environment(default).items()]
    return OpaqueFunction(function=choose)


def required(name):
    """Return the on_exit action of a node the others cannot work without: end the launch."""
    return Shutdown(reason=f'{name} stopped, and the launch cannot go on without it '
                           '(its log above says why)')


def graph_arguments(graph_name):
    """Return the declarations of a graph's arguments, then namespace and params_file."""
    graph = GRAPHS[graph_name]
    declared = [DeclareLaunchArgument(argument.name, default_value=argument.default,
                                      description=argument.description,
                                      choices=list(argument.choices) or None)
                for argument in (*graph.arguments, NAMESPACE)]
    if isinstance(graph.config, Arg):
        # a flat list of text and substitutions: the form every distribution accepts
        config = [os.path.join(_share(), 'config', ''), LaunchConfiguration(graph.config.name),
                  '.yaml']
    else:
        config = os.path.join(_share(), 'config', graph.config)
    declared.append(DeclareLaunchArgument(
        'params_file', default_value=config,
        description=f'Parameter file (default: {graph.config_text})'))
    return declared


def graph_nodes(graph_name):
    """Return a graph's nodes in the namespace argument, each with its condition."""
    return GroupAction([PushRosNamespace(LaunchConfiguration('namespace')),
                        *(launch_node(node) for node in GRAPHS[graph_name].nodes)])


def launch_node(node):
    """Return the Node action of a :class:`~nano_vision.nodes.graph.GraphNode`.

    Its parameters come from the params_file argument, then the node's own; a node with
    an in-process camera also takes the camera section's settings of that file
    (:func:`~nano_vision.nodes.graph.camera_parameters`). A required node ends the
    launch when it stops (a model that does not load, a camera that cannot open), with
    its message.
    """
    condition = GraphCondition(node) if node.when else None
    if node.camera or any(isinstance(value, Arg) and parameter_type(node.executable, name)
                          is tuple for name, value in node.parameters.items()):
        # known at launch time: the parameter file's camera section; a list from a
        # comma-separated argument, left out when empty
        return OpaqueFunction(condition=condition, function=lambda context: [_node(
            node, _launch_time_parameters(node, context))])
    return _node(node, {name: _launch_value(node, name, value)
                        for name, value in node.parameters.items()}, condition)


def _launch_time_parameters(node, context):
    arguments = context.launch_configurations
    camera = read_camera_parameters(LaunchConfiguration('params_file').perform(context),
                                    node.executable) if node.camera else {}
    return {**camera, **node.parameter_values(arguments)}


def _node(node, parameters, condition=None):
    return Node(package='nano_vision', executable=node.executable, name=node.name,
                parameters=[LaunchConfiguration('params_file'),
                            *([parameters] if parameters else [])],
                remappings=[(source, _launch_value(node, None, target))
                            for source, target in node.remappings],
                condition=condition, on_exit=required(node.name) if node.required else None,
                output='screen')


class GraphCondition(Condition):
    """Start a graph node's action when its conditions hold for the launch arguments."""

    def __init__(self, node):
        """Hold the :class:`~nano_vision.nodes.graph.GraphNode` whose conditions decide."""
        super().__init__(predicate=lambda context: node.runs(context.launch_configurations))
        self.node = node

    def describe(self):
        """Return the conditions as a user writes the arguments."""
        return ' and '.join(map(str, self.node.when))


def _launch_value(node, parameter, value):
    """Return a graph value for launch: an argument's as a substitution typed for ``parameter``.

    ``parameter`` None: the value is a remapping's target.
    """
    if not isinstance(value, Arg):
        return value
    if parameter is None:
        return LaunchConfiguration(value.name)
    # typed as the node declares the parameter: a device index such as 0 or a model
    # called 1 stays a string, enabled:=false is a bool
    return ParameterValue(LaunchConfiguration(value.name),
                          value_type=parameter_type(node.executable, parameter))


def _share():
    return get_package_share_directory('nano_vision')
