"""Thin rclpy nodes: one Node subclass and one main() per module."""
