"""What every roboloop wrapper shares: a per-wrapper random stream tied to the episode seed, and the
`info["randomization"]` record that lets an episode be replayed exactly."""
from __future__ import annotations

import zlib
from typing import Any

import gymnasium as gym
import numpy as np


class RandomWrapper(gym.Wrapper):
    """A wrapper that samples per-episode values.

    `reset(seed=s)` reseeds its own generator from (s, the wrapper's name), so equal seeds give equal
    samples whatever other wrappers are stacked, and the env's own RNG is never consumed.
    `reset(options={"randomization": {name: values}})` replays logged values instead of sampling them.
    Subclasses implement `sample()` -> JSON-serializable values and `apply(values)`.
    """

    name = "random"

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.rng = np.random.default_rng()
        self.values: dict[str, Any] = {}

    def sample(self) -> dict[str, Any]:
        raise NotImplementedError

    def apply(self, values: dict[str, Any]) -> None:
        raise NotImplementedError

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.rng = np.random.default_rng([seed, zlib.crc32(self.name.encode())])
        replay = (options or {}).get("randomization", {}).get(self.name)
        self.values = replay if replay is not None else self.sample()
        self.apply(self.values)
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, self._record(info)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, self._record(info)

    def _record(self, info: dict) -> dict:
        info = dict(info)
        info["randomization"] = {**info.get("randomization", {}), self.name: self.values}
        return info


def check_range(name: str, value: Any, low_bound: float | None = 0.0) -> tuple[float, float] | None:
    """Validate a [low, high] range from a config: two finite numbers, low <= high, both >= low_bound."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{name} must be a [low, high] pair, got {value!r}")
    lo, hi = (float(v) for v in value)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo > hi:
        raise ValueError(f"{name} has low > high: {value!r}")
    if low_bound is not None and lo < low_bound:
        raise ValueError(f"{name} must not go below {low_bound}, got {value!r}")
    return lo, hi


def check_nonneg(name: str, value: float) -> float:
    value = float(value)
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return value
