"""Human interventions: while the deadman is held, the person's action replaces the policy's.

Contract (ARCHITECTURE.md): info["intervention"] holds the person's action (normalized) on every
intervened step, and the learner stores that action, in the online and the demo buffers. The success
and failure buttons end the episode and set the reward (1 / 0): the human reward source on a robot;
the reset button truncates it. A pad that goes away ends the intervention and holds the robot still.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np


class InterventionWrapper(gym.Wrapper):
    """teleop: roboloop.hardware.gamepad.Teleop (or anything with poll() -> TeleopCommand, reset())."""

    def __init__(self, env: gym.Env, teleop):
        super().__init__(env)
        self.teleop = teleop
        self.intervened_steps = 0
        self.steps = 0
        self._asked = None

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.teleop.reset()
        self.intervened_steps = self.steps = 0
        self._asked = None
        return obs, info

    def poll(self):
        """Ask the person now, for the coming step (which then uses this answer): an actor can skip its
        policy while the person drives."""
        self._asked = self.teleop.poll()
        return self._asked

    def step(self, action):
        cmd, self._asked = (self._asked or self.teleop.poll()), None
        info_extra: dict = {}
        if cmd.intervening:
            action = cmd.action.copy()
            info_extra["intervention"] = action
            self.intervened_steps += 1
        elif not cmd.connected:
            action = cmd.action.copy()  # hold still: never let a policy run unsupervised past a lost pad
            info_extra["teleop_disconnected"] = True
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        info = {**info, **info_extra, "intervention_rate": self.intervened_steps / self.steps}
        if cmd.success or cmd.failure:
            terminated, reward = True, float(cmd.success)
            info["is_success"] = bool(cmd.success)
            info["human_label"] = "success" if cmd.success else "failure"
        elif cmd.reset:
            truncated = True
        return obs, reward, terminated, truncated, info
