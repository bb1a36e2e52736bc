"""From model outputs to results, with no rclpy and no torch.

predictions (outputs -> labels and points), config (the model nodes' parameters),
live (newest-frame slot, statistics window), stamp_match (pairing results with frames).
"""
