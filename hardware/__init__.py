"""roboloop.hardware: what touches a real robot (gamepads, safety envelope and watchdog, robot
driver interface, microcontroller bridge). Filled by the sim-to-real, teleop and ROS 2 issues."""
