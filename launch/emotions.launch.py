"""Emotions: none, happy, sad, angry: camera, model node and overlay.

ros2 launch nano_vision emotions.launch.py model:=emotions.pt
ros2 launch nano_vision emotions.launch.py model:=emotions.onnx source:=csi namespace:=robot1
"""

from nano_vision.nodes.launch_description import project_launch_description


def generate_launch_description():
    """Camera, classifier and overlay with config/emotions.yaml."""
    return project_launch_description('emotions')
