"""Images: ROS message conversion, preprocessing, drawing, coordinates (no rclpy, no torch)."""
