"""Composable Gymnasium wrappers that make the sim look like the robot, one concern per module, stacked
from a YAML list (stack.py): timing (latency, jitter, dropped frames), noise, action shaping,
observation shaping, the gripper as a discrete command, the safety envelope (its core is
roboloop.hardware.safety) and domain randomization (sim-only: it changes the MuJoCo model through
roboloop.sim.physics and refuses a robot)."""
from .action import ActionRepeat, LowPass, RateLimit
from .gripper import DiscreteGripper
from .noise import ActionNoise, ObservationNoise
from .observation import ActionHistory, HistoryStack, ImageCropResize, RelativeFrame
from .safety import SafetyWrapper
from .stack import WRAPPERS, build_wrappers, check_stack, interface_wrappers
from .timing import ActionDelay, ControlJitter, FrameDrop, ObservationDelay

__all__ = ["ActionDelay", "ActionHistory", "ActionNoise", "ActionRepeat", "ControlJitter", "DiscreteGripper",
           "FrameDrop", "HistoryStack", "ImageCropResize", "LowPass", "ObservationDelay", "ObservationNoise",
           "RateLimit", "RelativeFrame", "SafetyWrapper", "WRAPPERS", "build_wrappers", "check_stack",
           "interface_wrappers"]
