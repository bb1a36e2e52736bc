"""Camera sources, calibration files and the camera node's parameters (no rclpy)."""
