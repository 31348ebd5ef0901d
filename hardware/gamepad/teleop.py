"""One object the rest of roboloop asks "what does the person want this step?"."""
from __future__ import annotations

import logging

from .joy import PadMap, TeleopCommand, hold_action, load_map

log = logging.getLogger("roboloop.teleop")


class Teleop:
    """reader: anything with poll() -> Joy | None (None = pad gone); pad_map: its layout.

    A pad that disappears ends any intervention and from then on commands the hold action (zero
    motion, gripper as it was); the run goes on, and the pad is picked up again if it comes back.
    """

    def __init__(self, reader, pad_map: PadMap, act_dim: int):
        self.reader, self.map, self.act_dim = reader, pad_map, act_dim
        self.gripper = -1.0
        self.was_connected = True

    def reset(self, gripper: float = -1.0) -> None:
        self.gripper = gripper

    def poll(self) -> TeleopCommand:
        joy = self.reader.poll()
        if joy is None:
            if self.was_connected:
                log.warning("gamepad disconnected: intervention ended, robot held still")
            self.was_connected = False
            if hasattr(self.reader, "reconnect") and self.reader.reconnect():
                log.warning("gamepad reconnected")
            return TeleopCommand(False, hold_action(self.act_dim, self.gripper), connected=False)
        self.was_connected = True
        cmd = self.map.command(joy, self.act_dim, self.gripper)
        if self.act_dim != 2:   # a base has no gripper
            self.gripper = float(cmd.action[-1])
        return cmd


def make_teleop(kind: str, act_dim: int, pad: str = "xbox", index: int = 0) -> Teleop:
    """kind: 'gamepad' (pygame/SDL), 'evdev' or 'keyboard'."""
    if kind == "gamepad":
        from .pygame_pad import PygameGamepad
        return Teleop(PygameGamepad(index), load_map(pad), act_dim)
    if kind == "evdev":
        from .evdev_pad import EvdevGamepad
        return Teleop(EvdevGamepad(), load_map(pad), act_dim)
    if kind == "keyboard":
        from .keyboard import KEYBOARD_MAP, Keyboard
        return Teleop(Keyboard(), KEYBOARD_MAP, act_dim)
    raise ValueError(f"unknown teleop input {kind!r}; use gamepad, evdev or keyboard")
