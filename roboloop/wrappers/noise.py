"""Sensor and actuator noise: white noise each step plus a bias drawn once per episode."""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from .base import RandomWrapper, check_nonneg

KINDS = ("gaussian", "uniform")


class ObservationNoise(RandomWrapper):
    """state += bias + noise; bias ~ N(0, bias_std) per episode, noise ~ kind(std) per step.
    std and bias_std are in the state's own units (m, rad, ...), the same for every entry."""

    name = "observation_noise"

    def __init__(self, env: gym.Env, std: float = 0.002, bias_std: float = 0.002, kind: str = "gaussian"):
        super().__init__(env)
        if kind not in KINDS:
            raise ValueError(f"observation_noise.kind must be one of {KINDS}, got {kind!r}")
        self.std = check_nonneg("observation_noise.std", std)
        self.bias_std = check_nonneg("observation_noise.bias_std", bias_std)
        self.kind = kind
        self.dim = env.observation_space["state"].shape[0]

    def sample(self):
        return {"bias": self.rng.normal(0.0, self.bias_std, self.dim).tolist()}

    def apply(self, values):
        pass

    def _noisy(self, obs: dict) -> dict:
        if self.kind == "gaussian":
            noise = self.rng.normal(0.0, self.std, self.dim)
        else:  # uniform with the same standard deviation
            noise = self.rng.uniform(-np.sqrt(3) * self.std, np.sqrt(3) * self.std, self.dim)
        space = self.observation_space["state"]
        state = obs["state"] + np.asarray(self.values["bias"]) + noise
        return {**obs, "state": np.clip(state, space.low, space.high).astype(np.float32)}

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        return self._noisy(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return self._noisy(obs), reward, terminated, truncated, info


class ActionNoise(RandomWrapper):
    """action += N(0, std) (normalized units), clipped back to [-1, 1]. Non-finite actions pass through
    untouched so the safety envelope still sees (and stops on) them."""

    name = "action_noise"

    def __init__(self, env: gym.Env, std: float = 0.05):
        super().__init__(env)
        self.std = check_nonneg("action_noise.std", std)

    def sample(self):
        return {}

    def apply(self, values):
        pass

    def step(self, action):
        a = np.asarray(action, dtype=np.float32)
        if np.all(np.isfinite(a)):
            a = np.clip(a + self.rng.normal(0.0, self.std, a.shape), -1.0, 1.0).astype(np.float32)
        return super().step(a)
