"""roboloop_ros: thin ROS 2 nodes that translate standard messages and call `roboloop.*`."""
