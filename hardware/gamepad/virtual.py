"""A virtual gamepad inside SDL (pygame's bundled SDL2, through ctypes): pygame reads it like a real pad.
Tests and the HIL benchmark drive the real gamepad code with it. SDL >= 2.0.14."""
from __future__ import annotations

import ctypes
import glob
import os

from .pygame_pad import init_sdl

SDL_JOYSTICK_TYPE_GAMECONTROLLER = 1


def _sdl() -> ctypes.CDLL:
    import pygame
    here = os.path.dirname(pygame.__file__)
    found = glob.glob(os.path.join(here, "..", "pygame.libs", "libSDL2-2*")) or glob.glob(os.path.join(here, "libSDL2*"))
    lib = ctypes.CDLL(found[0] if found else "libSDL2-2.0.so.0")  # the SDL pygame already loaded
    lib.SDL_JoystickAttachVirtual.argtypes = [ctypes.c_int] * 4
    lib.SDL_JoystickAttachVirtual.restype = ctypes.c_int
    lib.SDL_JoystickOpen.argtypes = [ctypes.c_int]
    lib.SDL_JoystickOpen.restype = ctypes.c_void_p
    lib.SDL_JoystickSetVirtualAxis.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int16]
    lib.SDL_JoystickSetVirtualButton.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint8]
    lib.SDL_JoystickClose.argtypes = [ctypes.c_void_p]
    lib.SDL_JoystickDetachVirtual.argtypes = [ctypes.c_int]
    return lib


class VirtualGamepad:
    """An Xbox-shaped virtual pad: 6 axes (LX, LY, LT, RX, RY, RT as SDL orders them), 12 buttons."""

    def __init__(self, axes: int = 6, buttons: int = 12):
        init_sdl()
        self.lib = _sdl()
        self.device = self.lib.SDL_JoystickAttachVirtual(SDL_JOYSTICK_TYPE_GAMECONTROLLER, axes, buttons, 0)
        if self.device < 0:
            raise RuntimeError("SDL_JoystickAttachVirtual failed")
        self.handle = self.lib.SDL_JoystickOpen(self.device)
        self.attached = True
        # Rest pose of an Xbox pad as Linux/SDL number its axes: sticks centred, triggers (2, 5) at -1.
        for axis in range(axes):
            self.set_axis(axis, -1.0 if axis in (2, 5) else 0.0)

    def set_axis(self, axis: int, value: float) -> None:
        """value in [-1, 1]."""
        self.lib.SDL_JoystickSetVirtualAxis(self.handle, axis, int(max(-32768, min(32767, round(value * 32767)))))
        self.lib.SDL_JoystickUpdate()

    def set_button(self, button: int, pressed: bool) -> None:
        self.lib.SDL_JoystickSetVirtualButton(self.handle, button, int(bool(pressed)))
        self.lib.SDL_JoystickUpdate()

    def unplug(self) -> None:
        if self.attached:
            self.lib.SDL_JoystickClose(self.handle)
            self.lib.SDL_JoystickDetachVirtual(self.device)
            self.attached = False


def press_for(action, pad_map, deadman: bool = True) -> tuple[dict[int, float], dict[int, bool]]:
    """The stick/trigger positions and buttons with which `pad_map` reads back `action` (the inverse of
    PadMap.command): how a scripted person drives through a real pad map. `action` is an arm's [dx, dy, dz,
    (dyaw,) gripper] or a mobile base's [v, w] (the "x" and "y" sticks, no gripper). Returns (axes, buttons)."""
    axes: dict[int, float] = {}
    base = len(action) == 2
    roles = ("x", "y", "z", "yaw") if len(action) == 5 else ("x", "y", "z")
    for role, a in zip(roles, action if base else action[:-1]):
        m = pad_map.axes.get(role)
        if m is None:
            continue
        a = float(max(-1.0, min(1.0, a))) / pad_map.scale
        v = 0.0 if a == 0 else (abs(a) * (1 - pad_map.deadzone) + pad_map.deadzone) * (1 if a > 0 else -1)
        axes[m.index] = -v if m.invert else v
    buttons = {pad_map.buttons["deadman"]: deadman}
    close, open_ = pad_map.axes.get("close"), pad_map.axes.get("open")
    if not base and close is not None and open_ is not None:
        axes[close.index] = 1.0 if action[-1] > 0 else -1.0
        axes[open_.index] = 1.0 if action[-1] <= 0 else -1.0
    return axes, buttons


def drive_pad(pad: VirtualGamepad, action, pad_map, deadman: bool = True) -> None:
    """Put the virtual pad in the state that commands `action` (deadman held unless told otherwise)."""
    axes, buttons = press_for(action, pad_map, deadman)
    for i, v in axes.items():
        pad.set_axis(i, v)
    for i, b in buttons.items():
        pad.set_button(i, b)


class ScriptedPerson:
    """A stand-in for a person at a real pad: the scripted expert, acting through a `VirtualGamepad` and
    read back by the real pygame code (a `Teleop`). It holds the deadman while `wants_control(env, t)`
    says so (t = step in the episode); then the sticks carry the expert's action. For tests and the HIL
    benchmark; `poll()`/`reset()` make it a drop-in for `Teleop`."""

    def __init__(self, env, wants_control, pad: VirtualGamepad | None = None, pad_map: str = "xbox", act_dim: int = 4):
        from .joy import load_map
        from .teleop import make_teleop
        self.wants_control = wants_control
        self.pad = pad or VirtualGamepad()
        self.map = load_map(pad_map)
        self.teleop = make_teleop("gamepad", act_dim, pad_map)
        self.env = self.expert = None
        self.t = 0
        if env is not None:
            self.attach(env)

    def attach(self, env) -> None:
        """The env whose state the person watches (when it only exists after this object, e.g. in a Trainer)."""
        from roboloop.sim import make_expert
        self.env = env.unwrapped
        self.expert = make_expert(env, noise=0.0, seed=0)

    def reset(self) -> None:
        self.expert.reset()
        self.teleop.reset()
        self.t = 0

    def poll(self):
        drive_pad(self.pad, self.expert.act(), self.map, deadman=self.wants_control(self.env, self.t))
        self.t += 1
        return self.teleop.poll()

    def close(self) -> None:
        self.pad.unplug()
