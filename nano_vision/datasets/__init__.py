"""Dataset folders: layouts, the one writer, the recorder, synthetic sets (no rclpy, no torch)."""
