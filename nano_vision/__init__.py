"""nano_vision: collect images, train a ResNet-18 and run it live on a ROS 2 robot.

Importing this package pulls in neither torch nor rclpy: the pure modules
(image conversion, configs, synthetic scenes, dataset formats) sit at the top
level, ``nano_vision.ml`` holds the PyTorch code and ``nano_vision.nodes`` the
thin rclpy nodes.
"""

__version__ = '0.1.0'
