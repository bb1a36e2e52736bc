"""rosbag2 bags in and out without rclpy: record, read, recover, make datasets.

- :mod:`~nano_vision.bags.record`: :class:`~nano_vision.bags.record.BagRecorder`
  writes mcap through the ``mcap`` library in small chunks (kill-safe) or sqlite3
  through ``rosbags``;
- :mod:`~nano_vision.bags.read`: :func:`~nano_vision.bags.read.open_bag` reads any
  rosbag2 bag through ``rosbags``' ``AnyReader``;
- :mod:`~nano_vision.bags.recover`: killed recordings (an mcap file never closed)
  read through ``mcap``'s stream reader up to the last complete record;
- :mod:`~nano_vision.bags.to_dataset`: :func:`~nano_vision.bags.to_dataset.dataset_from_bag`
  turns an image topic into a labelled dataset folder;
- :mod:`~nano_vision.bags.typestore`: the message types (ROS 2 Kilted and
  ``nano_vision_msgs``) bags are written and decoded with;
- :mod:`~nano_vision.bags.errors`: :class:`~nano_vision.bags.errors.BagError`.

Own code for rosbag2's and mcap's formats is limited to what neither library
does: ``metadata.yaml`` for an mcap file written by ``mcap`` (``record``),
finding the last complete record of a file cut short and splitting rosbag2's
``ros2idl`` schemas (``recover``); each module's docstring says why.
"""
