"""Keyboard fallback in a pygame window: space toggles intervention; W/S, A/D, R/F move x, y, z; Q/E yaw;
G closes and H opens the gripper; Enter = success, Backspace = failure, Escape = reset. Produces the
same `Joy` records as a pad (with the map `KEYBOARD_MAP`)."""
from __future__ import annotations

import time

from .joy import Joy, PadMap
from .pygame_pad import init_sdl

# axes: x, y, z, yaw; buttons: deadman (toggled), success, failure, reset, close, open
KEYBOARD_MAP = PadMap({"name": "keyboard", "axes": {"x": 0, "y": 1, "z": 2, "yaw": 3},
                       "buttons": {"deadman": 0, "success": 1, "failure": 2, "reset": 3, "close": 4, "open": 5},
                       "deadzone": 0.0}, "keyboard")


class Keyboard:
    def __init__(self, window: bool = True):
        init_sdl()
        import pygame
        self.pygame = pygame
        if window:
            pygame.display.set_mode((320, 80))
            pygame.display.set_caption("roboloop teleop: space = take over")
        self.intervening = False
        self.pressed: set[int] = set()
        self.connected = True

    def poll(self) -> Joy:
        pg = self.pygame
        taps = set()
        for e in pg.event.get((pg.KEYDOWN, pg.KEYUP)):
            if e.type == pg.KEYDOWN:
                self.pressed.add(e.key)
                taps.add(e.key)
                if e.key == pg.K_SPACE:
                    self.intervening = not self.intervening
            else:
                self.pressed.discard(e.key)
        k = self.pressed

        def axis(plus, minus):
            return float(plus in k) - float(minus in k)

        axes = [axis(pg.K_w, pg.K_s), axis(pg.K_a, pg.K_d), axis(pg.K_r, pg.K_f), axis(pg.K_q, pg.K_e)]
        buttons = [int(self.intervening), int(pg.K_RETURN in taps), int(pg.K_BACKSPACE in taps),
                   int(pg.K_ESCAPE in taps), int(pg.K_g in k), int(pg.K_h in k)]
        return Joy(time.time(), axes, buttons)
