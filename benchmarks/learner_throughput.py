"""Learner throughput: roboloop SAC gradient updates/s vs stable-baselines3 SAC, side by side.

Same problem for both: PickCube (state) sizes (13-dim observation, 4-dim action), 256x256 networks,
batch 256, 2 critics, replay sampling included in the timing, torch threads = CPU cores. Rounds
alternate between the two so machine load affects both alike; the medians are compared.

    python benchmarks/learner_throughput.py [--rounds 5] [--updates 300]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

from roboloop.policies.replay import ReplayBuffer, to_torch
from roboloop.policies.sac import SAC, SACConfig

OBS_DIM, ACT_DIM, BATCH, FILL = 13, 4, 256, 20_000


class _SizedEnv(gym.Env):
    """Only carries the spaces SB3 needs to build its networks; never stepped."""
    observation_space = gym.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (ACT_DIM,), np.float32)

    def reset(self, *, seed=None, options=None):
        return np.zeros(OBS_DIM, np.float32), {}

    def step(self, action):
        return np.zeros(OBS_DIM, np.float32), 0.0, False, False, {}


def random_transitions(rng: np.random.Generator):
    obs = rng.normal(size=(FILL + 1, OBS_DIM)).astype(np.float32)
    act = rng.uniform(-1, 1, size=(FILL, ACT_DIM)).astype(np.float32)
    rew = rng.normal(size=FILL).astype(np.float32)
    done = rng.random(FILL) < 0.02
    return obs, act, rew, done


def make_sb3(data):
    from stable_baselines3 import SAC as SB3SAC
    model = SB3SAC("MlpPolicy", _SizedEnv(), batch_size=BATCH, buffer_size=FILL + 10, learning_starts=0,
                   policy_kwargs=dict(net_arch=[256, 256], n_critics=2), device="cpu", verbose=0, seed=0)
    model._setup_learn(total_timesteps=1)  # builds the logger that train() writes to
    obs, act, rew, done = data
    for i in range(FILL):
        model.replay_buffer.add(obs[i:i + 1], obs[i + 1:i + 2], act[i:i + 1], rew[i:i + 1], done[i:i + 1], [{}])
    return lambda n: model.train(gradient_steps=n, batch_size=BATCH)


def make_roboloop(data, layer_norm: bool):
    cfg = SACConfig(hidden_dims=(256, 256), num_critics=2, batch_size=BATCH, critic_layer_norm=layer_norm)
    agent = SAC({"state": (OBS_DIM,)}, ACT_DIM, cfg)
    buf = ReplayBuffer({"state": (OBS_DIM,)}, {"state": np.float32}, ACT_DIM, FILL + 10)
    obs, act, rew, done = data
    for i in range(FILL):
        buf.add({"state": obs[i]}, act[i], rew[i], {"state": obs[i + 1]}, bool(done[i]), False)
    rng = np.random.default_rng(0)

    def train(n: int) -> None:
        for _ in range(n):
            agent.update([to_torch(buf.sample(BATCH, rng))])
    return train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--updates", type=int, default=300, help="gradient updates per timed round")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    data = random_transitions(np.random.default_rng(0))
    runners = {
        "stable-baselines3 SAC": make_sb3(data),
        "roboloop SAC (LayerNorm critics, default)": make_roboloop(data, layer_norm=True),
        "roboloop SAC (no LayerNorm, same nets as SB3)": make_roboloop(data, layer_norm=False),
    }
    for run in runners.values():
        run(20)  # warm-up: allocator, first-call overheads
    rates: dict[str, list[float]] = {k: [] for k in runners}
    for r in range(args.rounds):
        for name, run in runners.items():
            t = time.perf_counter()
            run(args.updates)
            rates[name].append(args.updates / (time.perf_counter() - t))
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k.split(' (')[0] + (' ' + k.split(' (')[1][:6] if '(' in k else '')}"
                                                      f" {v[-1]:.0f}/s" for k, v in rates.items()), flush=True)
    base = statistics.median(rates["stable-baselines3 SAC"])
    print(f"\nlearner throughput, {torch.get_num_threads()} threads, batch {BATCH}, 256x256, 2 critics "
          f"(median of {args.rounds} rounds x {args.updates} updates):")
    for name, v in rates.items():
        m = statistics.median(v)
        print(f"  {name:48s} {m:7.1f} updates/s   ratio vs SB3 {m / base:.2f}x")


if __name__ == "__main__":
    main()
