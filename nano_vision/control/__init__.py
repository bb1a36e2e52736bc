"""Driving from a target point: the steering law, its limits and watchdog (no rclpy)."""
