"""Line following: camera (or the simulator) -> regressor -> steering -> cmd_vel, and an overlay.

On a robot (its base listens on cmd_vel, e.g. diff_drive_controller):
ros2 launch nano_vision line_following.launch.py model:=road.pt source:=csi
ros2 launch nano_vision line_following.launch.py model:=road.onnx enabled:=false  # motors off
In the simulator (the sim node replaces the camera and drives on cmd_vel):
ros2 launch nano_vision line_following.launch.py model:=road.pt source:=sim track:=kidney
ros2 launch nano_vision line_following.launch.py source:=sim oracle:=true  # ground truth

Arguments: model, source (/dev/video0, or sim), track (oval), oracle (false), enabled
(true), cmd_vel_topic (cmd_vel), namespace, params_file (config/line_following.yaml).
The nodes: LINE_FOLLOWING in nano_vision/nodes/graph.py:
- camera unless source:=sim; sim with source:=sim (it drives on cmd_vel);
- regressor and overlay when a model is given and not oracle:=true;
- steering on the regressor's point unless oracle:=true; with source:=sim oracle:=true,
  steering on the simulator's ground_truth/point.
"""

from launch import LaunchDescription

from nano_vision.nodes.launch_description import fastdds_profile, graph_arguments, graph_nodes


def generate_launch_description():
    """Return the arguments, then the line-following nodes with config/line_following.yaml."""
    return LaunchDescription([
        *graph_arguments('line_following'),
        fastdds_profile(),
        graph_nodes('line_following'),
    ])
