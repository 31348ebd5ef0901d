"""Latency and timing: the robot sees the world late, acts late, at an uneven period, and its cameras
drop frames. Delays are in control steps, fixed ([k, k]) or sampled per episode ([lo, hi])."""
from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np

from .base import RandomWrapper, check_nonneg, check_range


def _delay_range(name: str, steps: Any, max_delay: int) -> tuple[int, int]:
    lo, hi = check_range(name, steps if isinstance(steps, (list, tuple)) else [steps, steps])
    if lo != int(lo) or hi != int(hi):
        raise ValueError(f"{name} must be whole control steps, got {steps!r}")
    if hi > max_delay:
        raise ValueError(f"{name} {steps!r} is longer than the buffer (max_delay={max_delay}); raise max_delay")
    return int(lo), int(hi)


class ObservationDelay(RandomWrapper):
    """The policy gets the observation from `delay` control steps ago (the first one repeated at start)."""

    name = "observation_delay"

    def __init__(self, env: gym.Env, steps: Any = 1, max_delay: int = 4):
        super().__init__(env)
        self.range = _delay_range("observation_delay.steps", steps, int(max_delay))
        self.buffer: deque = deque(maxlen=int(max_delay) + 1)

    def sample(self):
        return {"steps": int(self.rng.integers(self.range[0], self.range[1] + 1))}

    def apply(self, values):
        self.buffer.clear()

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        self.buffer.extend([obs] * self.buffer.maxlen)
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        self.buffer.append(obs)
        return self.buffer[-1 - self.values["steps"]], reward, terminated, truncated, info


class ActionDelay(RandomWrapper):
    """The env applies the action from `delay` steps ago. Until the pipe fills, the first action of the
    episode is what the robot holds (the safe choice for an absolute gripper command)."""

    name = "action_delay"

    def __init__(self, env: gym.Env, steps: Any = 1, max_delay: int = 4):
        super().__init__(env)
        self.range = _delay_range("action_delay.steps", steps, int(max_delay))
        self.pipe: deque = deque()

    def sample(self):
        return {"steps": int(self.rng.integers(self.range[0], self.range[1] + 1))}

    def apply(self, values):
        self.pipe.clear()

    def step(self, action):
        if not self.pipe:
            self.pipe.extend([np.array(action, copy=True)] * self.values["steps"])
        self.pipe.append(np.array(action, copy=True))
        return super().step(self.pipe.popleft())


class ControlJitter(RandomWrapper):
    """Uneven control period: each step runs n_substeps * (1 + u), u ~ U(-jitter, jitter), physics
    substeps (sim only; a real robot has its own jitter)."""

    name = "control_jitter"

    def __init__(self, env: gym.Env, jitter: float = 0.2):
        super().__init__(env)
        self.jitter = check_nonneg("control_jitter.jitter", jitter)
        if self.jitter >= 1.0:
            raise ValueError(f"control_jitter.jitter must be below 1 (a fraction of the period), got {jitter}")
        self.sim = getattr(env.unwrapped, "sim", None)
        if self.sim is None:
            raise ValueError("control_jitter needs a MuJoCo arm task (env.unwrapped.sim)")
        self.nominal = self.sim.n_substeps

    def sample(self):
        return {}

    def apply(self, values):
        self.sim.n_substeps = self.nominal

    def step(self, action):
        u = self.rng.uniform(-self.jitter, self.jitter)
        self.sim.n_substeps = max(1, int(round(self.nominal * (1.0 + u))))
        try:
            return super().step(action)
        finally:
            self.sim.n_substeps = self.nominal


class FrameDrop(RandomWrapper):
    """Each camera frame is lost with probability p; the last delivered frame is repeated instead."""

    name = "frame_drop"

    def __init__(self, env: gym.Env, p: float = 0.1):
        super().__init__(env)
        self.p = check_nonneg("frame_drop.p", p)
        if self.p > 1:
            raise ValueError(f"frame_drop.p is a probability, got {p}")
        self.last: dict[str, np.ndarray] = {}
        self.dropped = 0

    def sample(self):
        return {}

    def apply(self, values):
        self.last, self.dropped = {}, 0

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        self.last = {k: v for k, v in obs.items() if k != "state"}
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        obs = dict(obs)
        for k in self.last:
            if self.rng.random() < self.p:
                obs[k] = self.last[k]
                self.dropped += 1
            self.last[k] = obs[k]
        info["frames_dropped"] = self.dropped
        return obs, reward, terminated, truncated, info
