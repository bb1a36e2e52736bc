"""``nano-vision demo``: the course workflow end to end on a synthetic camera.

plan (what it does per project), run (dataset, training, the live node processes) with
monitor (its rclpy listener), score (live score and summary), media (montage and video).
"""
