"""Camera -> model node -> overlay, for one project's configuration.

The project launch files (thumbs, emotions, face_xy, fingers) start the same nodes with
their project's settings; this file takes the project and the task as arguments:
ros2 launch nano_vision pipeline.launch.py project:=thumbs task:=classification model:=m.pt
A project of your own categories needs no project (custom, config/custom.yaml: a model of
any categories), or a copy of config/custom.yaml that names them:
ros2 launch nano_vision pipeline.launch.py task:=classification model:=m.pt params_file:=m.yaml
(params_file:= replaces config/<project>.yaml). A project or task that does not exist is
refused with the valid choices.

Arguments: project (custom, or a course project), task (required, with its choices),
model (required), source (/dev/video0), namespace, params_file. The nodes: PIPELINE in
nano_vision/nodes/graph.py: the camera, the classifier when task:=classification or the
regressor when task:=xy, the overlay.
"""

from launch import LaunchDescription

from nano_vision.nodes.launch_description import fastdds_profile, graph_arguments, graph_nodes


def generate_launch_description():
    """Return the arguments, then the camera, the model node of the task and the overlay."""
    return LaunchDescription([
        *graph_arguments('pipeline'),
        fastdds_profile(),
        graph_nodes('pipeline'),
    ])
