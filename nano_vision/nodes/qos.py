"""The QoS profiles of the nodes, and why each is what it is.

REP-2003 (Sensor Data and Map QoS Settings) asks sensor drivers to publish
reliable (the system default) and their consumers to subscribe with the
sensor-data profile (best effort): a reliable publisher matches reliable and
best-effort subscribers alike, so a recorder that wants every frame gets them,
while a consumer that wants only the newest never makes the driver resend.
Results (classification, keypoints, point, stats) keep the default profile,
reliable with depth 10, given as ``10`` where they are created.
"""

from rclpy.qos import (DurabilityPolicy, HistoryPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)

# Frames of a camera driver (the camera node, the simulator's camera). REP-2003:
# drivers publish reliable. Depth 1: a late subscriber gets the newest frame, never
# a backlog.
CAMERA_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)

# Frames taken by the model nodes and the dataset recorder: best effort (REP-2003's
# consumer side, which matches any publisher) and one kept, as the newest is all we
# want; an inference node must never build a queue.
NEWEST_FRAME_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                              reliability=ReliabilityPolicy.BEST_EFFORT,
                              durability=DurabilityPolicy.VOLATILE)

# The steering node's target (point or keypoints): the newest is all that matters;
# REP-2003's sensor-data profile (best effort, depth 5) accepts any publisher.
TARGET_QOS = qos_profile_sensor_data

# The recorder's current label on ~/label: state rather than a stream, so as
# REP-2003 has it for maps, reliable and transient local: a late subscriber (or a
# bag recorder) still gets the current label.
LABEL_QOS = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
