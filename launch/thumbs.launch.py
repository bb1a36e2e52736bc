"""Thumbs up / thumbs down (the course's first project): camera, model node and overlay.

ros2 launch nano_vision thumbs.launch.py model:=thumbs.pt
ros2 launch nano_vision thumbs.launch.py model:=thumbs.onnx source:=csi namespace:=robot1
"""

from nano_vision.nodes.launch_description import project_launch_description


def generate_launch_description():
    """Camera, classifier and overlay with config/thumbs.yaml."""
    return project_launch_description('thumbs')
