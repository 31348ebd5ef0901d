"""Learner throughput: roboloop SAC gradient updates/s vs stable-baselines3 SAC, side by side.

Same problem for both: PickCube (state) sizes (13-dim observation, 4-dim action), 256x256 networks,
batch 256, 2 critics, replay sampling included in the timing, torch threads = CPU cores. roboloop's
default compiles each update step (SACConfig.compile); its one-off compile time is printed at warm-up
and left out of the rates, and the eager variant is measured too. Rounds alternate between the
learners so machine load affects all alike; each round's rate is divided by the same round's SB3 rate
and the median of those ratios is reported.

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


def make_roboloop(data, layer_norm: bool = True, compile: bool = True):
    cfg = SACConfig(hidden_dims=(256, 256), num_critics=2, batch_size=BATCH, critic_layer_norm=layer_norm,
                    compile=compile)
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
        "roboloop SAC (default: LayerNorm critics, compiled)": make_roboloop(data),
        "roboloop SAC (no LayerNorm, same nets as SB3)": make_roboloop(data, layer_norm=False),
        "roboloop SAC (eager, sac.compile=false)": make_roboloop(data, compile=False),
    }
    for name, run in runners.items():
        t = time.perf_counter()
        run(20)  # warm-up: allocator, first-call overheads, and the one-off torch.compile
        print(f"warm-up {name}: {time.perf_counter() - t:.1f} s", flush=True)
    rates: dict[str, list[float]] = {k: [] for k in runners}
    for r in range(args.rounds):
        for name, run in runners.items():
            t = time.perf_counter()
            run(args.updates)
            rates[name].append(args.updates / (time.perf_counter() - t))
        print(f"round {r + 1}/{args.rounds} (updates/s, in the order below): "
              + ", ".join(f"{v[-1]:.0f}" for v in rates.values()), flush=True)
    base = rates["stable-baselines3 SAC"]
    print(f"\nlearner throughput, {torch.get_num_threads()} threads, batch {BATCH}, 256x256, 2 critics "
          f"({args.rounds} rounds x {args.updates} updates; ratio = median over rounds of the per-round ratio):")
    for name, v in rates.items():
        ratio = statistics.median(x / b for x, b in zip(v, base))
        print(f"  {name:52s} {statistics.median(v):7.1f} updates/s   ratio vs SB3 {ratio:.2f}x")


if __name__ == "__main__":
    main()
