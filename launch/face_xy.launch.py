"""Face keypoints: nose, left_eye, right_eye: camera, model node and overlay.

ros2 launch nano_vision face_xy.launch.py model:=face_xy.pt
ros2 launch nano_vision face_xy.launch.py model:=face_xy.onnx source:=csi namespace:=robot1
"""

from nano_vision.nodes.launch_description import project_launch_description


def generate_launch_description():
    """Camera, regressor and overlay with config/face_xy.yaml."""
    return project_launch_description('face_xy')
