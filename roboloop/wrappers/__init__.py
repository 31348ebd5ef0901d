"""Composable Gymnasium wrappers that make the sim look like the robot, one concern per module, stacked
from a YAML list (stack.py): timing (latency, jitter, dropped frames), noise, action shaping,
observation shaping and the safety envelope. Domain randomization needs MuJoCo and lives in
roboloop.sim.randomization; the envelope's core is roboloop.hardware.safety."""
from .action import ActionRepeat, LowPass, RateLimit
from .noise import ActionNoise, ObservationNoise
from .observation import HistoryStack, ImageCropResize, RelativeFrame
from .safety import SafetyWrapper
from .stack import WRAPPERS, build_wrappers, check_stack, interface_wrappers
from .timing import ActionDelay, ControlJitter, FrameDrop, ObservationDelay

__all__ = ["ActionDelay", "ActionNoise", "ActionRepeat", "ControlJitter", "FrameDrop", "HistoryStack",
           "ImageCropResize", "LowPass", "ObservationDelay", "ObservationNoise", "RateLimit", "RelativeFrame",
           "SafetyWrapper", "WRAPPERS", "build_wrappers", "check_stack", "interface_wrappers"]
