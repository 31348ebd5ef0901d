"""Gamepads and keyboard for human interventions: readers produce sensor_msgs/Joy-shaped `Joy` records,
a `PadMap` (YAML, maps/) turns them into normalized arm actions and intervention/episode commands,
`Teleop` tracks the deadman, the gripper and a pad that goes away."""
from .joy import Joy, PadMap, TeleopCommand, hold_action, load_map, shipped_maps
from .teleop import Teleop, make_teleop

__all__ = ["Joy", "PadMap", "TeleopCommand", "Teleop", "hold_action", "load_map", "make_teleop", "shipped_maps"]
