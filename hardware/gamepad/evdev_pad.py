"""Linux evdev reader (python-evdev): an alternative to SDL for pads on a robot computer without SDL.
Produces the same `Joy` records; use the same YAML maps (axis indices follow `codes` order below).
Not exercised by the tests here: creating /dev/input devices needs uinput, which this sandbox lacks."""
from __future__ import annotations

import time

from .joy import Joy

# ABS_X, ABS_Y, ABS_Z (LT), ABS_RX, ABS_RY, ABS_RZ (RT): the SDL order for Xbox pads
AXIS_CODES = (0x00, 0x01, 0x02, 0x03, 0x04, 0x05)
# BTN_SOUTH, EAST, C, NORTH, WEST, Z, TL, TR, TL2, TR2, SELECT, START, MODE: as SDL numbers them
BUTTON_CODES = (0x130, 0x131, 0x133, 0x134, 0x136, 0x137, 0x13a, 0x13b, 0x13c, 0x13d, 0x13e)


class EvdevGamepad:
    def __init__(self, path: str | None = None):
        try:
            import evdev
        except ImportError as e:
            raise RuntimeError("the evdev reader needs `pip install evdev` (Linux only)") from e
        self.evdev = evdev
        devices = [evdev.InputDevice(p) for p in ([path] if path else evdev.list_devices())]
        pads = [d for d in devices if evdev.ecodes.EV_ABS in d.capabilities()]
        if not pads:
            raise RuntimeError(f"no evdev gamepad found{' at ' + path if path else ''}")
        self.dev = pads[0]
        self.ranges = {c: self.dev.absinfo(c) for c in AXIS_CODES if c in dict(self.dev.capabilities()[evdev.ecodes.EV_ABS])}
        self.connected = True

    def poll(self) -> Joy | None:
        if not self.connected:
            return None
        try:
            active = set(self.dev.active_keys())
            axes = []
            for c in AXIS_CODES:
                info = self.ranges.get(c)
                if info is None:
                    axes.append(0.0)
                    continue
                v = self.dev.absinfo(c).value
                axes.append(2.0 * (v - info.min) / max(1, info.max - info.min) - 1.0)
        except OSError:  # unplugged
            self.connected = False
            return None
        return Joy(time.time(), axes, [int(c in active) for c in BUTTON_CODES])
