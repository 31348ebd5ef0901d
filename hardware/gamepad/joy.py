"""From raw pad readings to normalized robot actions.

`Joy` has the shape of sensor_msgs/Joy (stamp, axes, buttons), so the pygame reader, the evdev reader,
the keyboard and a ROS 2 `joy` node all feed the same `PadMap.command`. Maps are YAML files
(hardware/gamepad/maps/; `load_map("xbox")` or a path to your own).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

MAP_AXES = ("x", "y", "z", "yaw", "close", "open")
MAP_BUTTONS = ("deadman", "success", "failure", "reset", "close", "open")


@dataclass
class Joy:
    """sensor_msgs/Joy: stamp (s), axes in [-1, 1], buttons 0/1."""

    stamp: float
    axes: list[float] = field(default_factory=list)
    buttons: list[int] = field(default_factory=list)


@dataclass
class TeleopCommand:
    """What the person asks for this control step.

    intervening: the deadman is held; action: (A,) in the normalized action space, [dx, dy, dz,
    (dyaw,) gripper] for an arm, [v, w] (linear, angular velocity) for a mobile base; success/failure/reset: the buttons (pressed this step); connected: False once
    the pad is gone (then intervening is False and the action holds the robot still).
    """

    intervening: bool
    action: np.ndarray
    success: bool = False
    failure: bool = False
    reset: bool = False
    connected: bool = True


@dataclass
class AxisMap:
    index: int
    invert: bool = False
    trigger: bool = False  # rests at -1, fully pressed at +1 (SDL's trigger convention)


class PadMap:
    """A pad layout: which axis/button does what, deadzone and scale (see maps/*.yaml)."""

    def __init__(self, data: dict, source: str = "<dict>"):
        unknown = set(data) - {"name", "axes", "buttons", "deadzone", "scale"}
        if unknown:
            raise ValueError(f"pad map {source}: unknown key(s) {', '.join(sorted(unknown))}")
        self.name = str(data.get("name", source))
        self.axes: dict[str, AxisMap] = {}
        for k, v in (data.get("axes") or {}).items():
            if k not in MAP_AXES:
                raise ValueError(f"pad map {source}: unknown axis role {k!r}; roles: {', '.join(MAP_AXES)}")
            self.axes[k] = AxisMap(**v) if isinstance(v, dict) else AxisMap(int(v))
        self.buttons: dict[str, int] = {}
        for k, v in (data.get("buttons") or {}).items():
            if k not in MAP_BUTTONS:
                raise ValueError(f"pad map {source}: unknown button role {k!r}; roles: {', '.join(MAP_BUTTONS)}")
            self.buttons[k] = int(v)
        if "deadman" not in self.buttons:
            raise ValueError(f"pad map {source}: a 'deadman' button is required")
        self.deadzone = float(data.get("deadzone", 0.1))
        self.scale = float(data.get("scale", 1.0))
        if not 0 <= self.deadzone < 1 or not 0 < self.scale <= 1:
            raise ValueError(f"pad map {source}: deadzone must be in [0, 1) and scale in (0, 1]")
        self._held = {k: False for k in ("success", "failure", "reset")}

    def _axis(self, joy: Joy, role: str) -> float:
        m = self.axes.get(role)
        if m is None or m.index >= len(joy.axes):
            return 0.0
        v = float(joy.axes[m.index])
        if not np.isfinite(v):
            return 0.0
        if m.trigger:
            return float(np.clip((v + 1.0) / 2.0, 0.0, 1.0))
        v = -v if m.invert else v
        # deadzone, then rescale so the output still spans [-1, 1]
        return 0.0 if abs(v) < self.deadzone else float(np.sign(v) * (abs(v) - self.deadzone) / (1 - self.deadzone))

    def _button(self, joy: Joy, role: str) -> bool:
        i = self.buttons.get(role)
        return i is not None and i < len(joy.buttons) and bool(joy.buttons[i])

    def command(self, joy: Joy, act_dim: int, gripper: float) -> TeleopCommand:
        """Map one reading to a command. gripper: the current gripper command, kept unless a trigger or
        gripper button moves it. Success/failure/reset fire once per press (on the press).
        act_dim 2 is a mobile base, as teleop_twist_joy drives one: the "x" stick (left stick up/down)
        is the linear velocity, the "y" stick (left stick left/right) the angular velocity (left = +)."""
        if act_dim not in (2, 4, 5):
            raise ValueError(f"pads drive 4- or 5-dim arm actions or 2-dim base actions [v, w], not {act_dim}")
        pressed = {}
        if act_dim == 2:
            for k in self._held:
                now = self._button(joy, k)
                pressed[k] = now and not self._held[k]
                self._held[k] = now
            vw = np.array([self._axis(joy, "x"), self._axis(joy, "y")], np.float32) * self.scale
            return TeleopCommand(self._button(joy, "deadman"), vw, **pressed)
        pos = [self._axis(joy, r) * self.scale for r in ("x", "y", "z")]
        yaw = [self._axis(joy, "yaw") * self.scale] if act_dim == 5 else []
        close = max(self._axis(joy, "close"), float(self._button(joy, "close")))
        open_ = max(self._axis(joy, "open"), float(self._button(joy, "open")))
        if close > 0.5:
            gripper = 1.0
        elif open_ > 0.5:
            gripper = -1.0
        for k in self._held:
            now = self._button(joy, k)
            pressed[k] = now and not self._held[k]
            self._held[k] = now
        return TeleopCommand(self._button(joy, "deadman"), np.array(pos + yaw + [gripper], np.float32), **pressed)


def load_map(name_or_path: str) -> PadMap:
    """A shipped map by name (xbox, playstation, logitech_f310, logitech_f710) or a YAML file path."""
    path = Path(name_or_path)
    if not path.suffix:
        shipped = resources.files("roboloop.hardware.gamepad").joinpath("maps", f"{name_or_path}.yaml")
        if not shipped.is_file():
            raise ValueError(f"unknown pad map {name_or_path!r}; shipped: {', '.join(shipped_maps())}, or pass a YAML path")
        return PadMap(yaml.safe_load(shipped.read_text()), name_or_path)
    if not path.is_file():
        raise ValueError(f"pad map file {path} not found")
    return PadMap(yaml.safe_load(path.read_text()) or {}, str(path))


def shipped_maps() -> list[str]:
    folder = resources.files("roboloop.hardware.gamepad").joinpath("maps")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def hold_action(act_dim: int, gripper: float) -> np.ndarray:
    """Zero motion with the gripper where it is (a base's 2-dim [v, w] has none): what a lost pad or a stop
    commands."""
    a = np.zeros(act_dim, np.float32)
    if act_dim != 2:
        a[-1] = gripper
    return a
