"""PyTorch side of nano_vision: models, data, training, checkpoints, prediction, export.

Knows torch, not ROS. Import the submodules you need; importing this package
alone loads nothing heavy.
"""
