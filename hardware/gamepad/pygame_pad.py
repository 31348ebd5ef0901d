"""Gamepads through pygame / SDL2 (Xbox, PlayStation, Logitech and anything SDL knows)."""
from __future__ import annotations

import os
import time

from .joy import Joy


class GamepadError(RuntimeError):
    """No pad, or a pad that cannot be opened: the message says what to do."""


def init_sdl() -> None:
    """Joystick + event subsystems only (no window, no audio); works headless."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("SDL_JOYSTICK_ALLOW_BACKGROUND_EVENTS", "1")  # read pads without window focus
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame
    if not pygame.display.get_init():
        pygame.display.init()
    if not pygame.joystick.get_init():
        pygame.joystick.init()


class PygameGamepad:
    """Reads one pad as `Joy` records. index: which pad (0 = first); poll() returns None once the pad
    is unplugged (and keeps returning None until `reconnect()` finds one)."""

    def __init__(self, index: int = 0):
        init_sdl()
        import pygame
        self.pygame = pygame
        self.index = index
        self.pad = None
        self.connected = False
        self.reconnect()
        if not self.connected:
            raise GamepadError(f"no gamepad found (SDL sees {pygame.joystick.get_count()}); plug one in, check "
                               f"permissions on /dev/input, or use --input keyboard")

    @property
    def name(self) -> str:
        return self.pad.get_name() if self.pad is not None else "(none)"

    def reconnect(self) -> bool:
        self.pygame.event.pump()
        if self.pygame.joystick.get_count() > self.index:
            self.pad = self.pygame.joystick.Joystick(self.index)
            self.instance_id = self.pad.get_instance_id()
            self.connected = True
        return self.connected

    def poll(self) -> Joy | None:
        for event in self.pygame.event.get((self.pygame.JOYDEVICEREMOVED, self.pygame.JOYDEVICEADDED)):
            if event.type == self.pygame.JOYDEVICEREMOVED and self.connected and event.instance_id == self.instance_id:
                self.connected, self.pad = False, None
        self.pygame.event.pump()
        if not self.connected:
            return None
        p = self.pad
        return Joy(time.time(), [p.get_axis(i) for i in range(p.get_numaxes())],
                   [p.get_button(i) for i in range(p.get_numbuttons())])
