"""Action shaping: what the robot can physically follow. All in normalized action units per step."""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from .base import check_nonneg


class _Stateful(gym.Wrapper):
    """Keeps the last action sent to the env; a non-finite action is passed on untouched (the safety
    envelope turns it into a stop) and does not become the filter's state."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.last: np.ndarray | None = None

    def reset(self, *, seed=None, options=None):
        self.last = None
        return self.env.reset(seed=seed, options=options)

    def shape(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def step(self, action):
        a = np.asarray(action, dtype=np.float32)
        if np.all(np.isfinite(a)):
            a = a if self.last is None else self.shape(a).astype(np.float32)
            self.last = a
        return self.env.step(a)


class RateLimit(_Stateful):
    """|a_t - a_{t-1}| <= max_change per dimension."""

    def __init__(self, env: gym.Env, max_change: float = 0.5):
        super().__init__(env)
        self.max_change = check_nonneg("rate_limit.max_change", max_change)

    def shape(self, a):
        return self.last + np.clip(a - self.last, -self.max_change, self.max_change)


class LowPass(_Stateful):
    """First-order low-pass: a_t = alpha * a + (1 - alpha) * a_{t-1}; alpha in (0, 1]."""

    def __init__(self, env: gym.Env, alpha: float = 0.5):
        super().__init__(env)
        if not (0.0 < float(alpha) <= 1.0):
            raise ValueError(f"low_pass.alpha must be in (0, 1], got {alpha}")
        self.alpha = float(alpha)

    def shape(self, a):
        return self.alpha * a + (1.0 - self.alpha) * self.last


class ActionRepeat(gym.Wrapper):
    """Each policy action runs `repeat` env steps (rewards summed; stops early at an episode end)."""

    def __init__(self, env: gym.Env, repeat: int = 2):
        super().__init__(env)
        if int(repeat) != repeat or repeat < 1:
            raise ValueError(f"action_repeat.repeat must be a whole number >= 1, got {repeat}")
        self.repeat = int(repeat)

    def step(self, action):
        total = 0.0
        for _ in range(self.repeat):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, info
