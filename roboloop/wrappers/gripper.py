"""The gripper as a discrete command: the last action dim reads as close / stay / open.

    action[-1] >  0.5  -> +1 (close)
    action[-1] < -0.5  -> -1 (open)
    otherwise          -> the previous command (stay); open after reset

The wrapped task's gripper is absolute (-1 open, +1 closed), so without this wrapper there is no way
to say "keep it as it is". With it, a discrete grasp critic (sac.grasp_critic, which adds this wrapper
to the stack) acts with -1 / 0 / +1, and scripted experts and gamepads, which send absolute -1 / +1,
drive the gripper exactly as before. Same thresholds as the learner's (policies/networks.gripper_class).
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

THRESHOLD = 0.5   # |gripper action| above this is a close / open command; below, stay


class DiscreteGripper(gym.Wrapper):
    """Holds the gripper on "stay" (see the module docstring). Needs a task whose last action is named
    "gripper" in its spec; a non-finite action is passed on untouched (the safety envelope stops on it)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        try:
            names = env.get_wrapper_attr("task_spec")()["action"].get("names")
        except AttributeError:
            names = None   # an env without a task spec: trust the config
        if names is not None and (not names or names[-1] != "gripper"):
            raise ValueError(f"discrete_gripper needs a task whose last action is 'gripper', got actions {names}")
        self.command = -1.0

    def reset(self, *, seed=None, options=None):
        self.command = -1.0
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        a = np.array(action, dtype=np.float32)   # a copy: the caller's action is left as sent
        if np.all(np.isfinite(a)):
            if a[-1] > THRESHOLD:
                self.command = 1.0
            elif a[-1] < -THRESHOLD:
                self.command = -1.0
            a[-1] = self.command
        return self.env.step(a)
