"""Process-level helpers of nodes, tools, ml and launch files (no rclpy, no torch).

The DDS profile, buffer reuse, and files written atomically and durably.
"""
