"""The safety envelope (roboloop.hardware.safety) as a Gymnasium wrapper: sits between everything
else and the robot, so no action reaches it unfiltered.

It needs from the env (sim task or robot env alike): `commanded_target()` -> (3,) m, `max_delta_pos`
(m per step at action 1.0), `control_hz`, and optionally `set_gripper_force_limit(newtons)`.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from roboloop.hardware.safety import SafetyEnvelope, SafetyLimits


class SafetyWrapper(gym.Wrapper):
    """Normalized action -> requested target -> envelope -> the delta action that reaches the target.

    A non-finite action becomes a stop (hold the target, keep the gripper as it is). Every clip is
    reported in info["safety"] with running counts.
    """

    def __init__(self, env: gym.Env, limits: SafetyLimits | None = None):
        super().__init__(env)
        self.robot = env.unwrapped
        for need in ("commanded_target", "max_delta_pos", "control_hz"):
            if not hasattr(self.robot, need):
                raise ValueError(f"the safety wrapper needs env.{need} (see roboloop/wrappers/safety.py)")
        self.limits = limits or SafetyLimits()
        self.envelope = SafetyEnvelope(self.limits, 1.0 / self.robot.control_hz)
        if self.limits.gripper_force is not None:
            if not hasattr(self.robot, "set_gripper_force_limit"):
                raise ValueError("safety.gripper_force is set but this robot offers no gripper force limit")
            self.robot.set_gripper_force_limit(self.limits.gripper_force)

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.envelope.reset(self.robot.commanded_target())
        return obs, {**info, "safety": self._report_none()}

    def step(self, action):
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        start = self.robot.commanded_target()
        if a.shape != self.action_space.shape:
            raise ValueError(f"action shape {a.shape} != {self.action_space.shape}")
        # Clip to the action space first only where finite: NaN must reach the envelope as NaN.
        requested = start + np.clip(a[:3], -1, 1) * self.robot.max_delta_pos if np.all(np.isfinite(a[:3])) else a[:3]
        gripper = a[-1] if np.isfinite(a[-1]) else np.nan
        self.envelope.anchor(start)  # track where the robot is actually commanded to be
        target, g, report = self.envelope.filter(requested, gripper)
        safe = np.zeros_like(a, dtype=np.float32)
        safe[:3] = (target - start) / self.robot.max_delta_pos
        if a.shape[0] == 5:  # [dx, dy, dz, dyaw, gripper]: a stop holds the yaw too
            safe[3] = 0.0 if report.clipped["non_finite"] else np.clip(a[3], -1, 1)
        safe[-1] = g
        obs, reward, terminated, truncated, info = self.env.step(safe)
        return obs, reward, terminated, truncated, {**info, "safety": report.as_info()}

    def _report_none(self) -> dict:
        return {"clipped": {}, "counts": self.envelope.counts, "stopped": False}
