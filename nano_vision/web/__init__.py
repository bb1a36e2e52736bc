"""The recorder's browser page: HTTP server and its static files (no rclpy)."""
