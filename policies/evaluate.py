"""Evaluation of the deterministic policy: success rate, return, episode length, optional video.

A reported or asserted success rate comes from a held-out evaluation (policies/held_out.py) on the
episode seeds from `HELD_OUT_SEED` on, which no training episode, demo, periodic evaluation or early
stop ever uses, so the figure was not selected on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import gymnasium as gym
import numpy as np


# First episode seed of held-out evaluations. Training resets from `seed`, demos from seed + 1_000_000,
# periodic evaluations (which may stop a run) from seed + 500_000 and `roboloop eval` from 10_000.
HELD_OUT_SEED = 2_000_000


@dataclass
class EvalResult:
    success_rate: float
    mean_return: float
    mean_length: float
    successes: list[bool] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"success {self.success_rate:.0%} over {len(self.successes)} episodes, "
                f"return {self.mean_return:.2f}, length {self.mean_length:.1f}")


def evaluate(policy: Callable[[dict], np.ndarray], env: gym.Env, episodes: int, seed: int,
             frames: list[np.ndarray] | None = None) -> EvalResult:
    """Run `episodes` episodes with seeds seed, seed+1, ...; a success is info['is_success'] at the end.

    With `frames`, the env must have render_mode='rgb_array' and each step's frame is appended.
    """
    successes, returns, lengths = [], [], []
    for ep in range(episodes):
        obs, info = env.reset(seed=seed + ep)
        done, ret, n = False, 0.0, 0
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            ret += float(reward)
            n += 1
            done = terminated or truncated
            if frames is not None:
                frames.append(env.render())
        successes.append(bool(info.get("is_success", False)))
        returns.append(ret)
        lengths.append(n)
    return EvalResult(float(np.mean(successes)), float(np.mean(returns)), float(np.mean(lengths)), successes)

