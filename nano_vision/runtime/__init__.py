"""Process setup shared by nodes, tools and launch files: DDS profile, buffer reuse (no rclpy)."""
