"""Learner throughput: roboloop SAC gradient updates/s vs stable-baselines3 SAC and SBX SAC, side by side.

Same problem for all: PickCube (state) sizes (13-dim observation, 4-dim action), 256x256 networks,
batch 256, 2 critics, replay sampling included in the timing, float32 matmuls on every side (roboloop
with `sac.matmul_precision=float32`, not its bf16 default), and the same thread count for torch and
XLA (`--threads`, default: the CPU cores). Both are printed. roboloop's default compiles each update
step (SACConfig.compile); its one-off compile time is printed at warm-up and left out of the rates, and
the eager variant is measured too. SBX (SB3's JAX version) runs "unfused", one jitted update per call
as its SAC does at one update per env step, and "fused", all of a round's updates in one jitted loop
(its `train(gradient_steps=n)`, what `train_freq=n, gradient_steps=n` does). Rounds alternate between
the learners so machine load affects all alike; each round's rate is divided by the same round's SB3
rate and the median of those ratios is reported.

    python benchmarks/learner_throughput.py [--rounds 5] [--updates 300] [--threads N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def _threads_from_argv() -> int:
    """--threads, read before torch and jax are imported (XLA reads its flags once, at import)."""
    if "--threads" in sys.argv:
        return int(sys.argv[sys.argv.index("--threads") + 1])
    return os.cpu_count() or 1


THREADS = _threads_from_argv()
if THREADS == 1:   # XLA's CPU backend uses every core unless told otherwise
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from roboloop.policies.replay import ReplayBuffer, to_torch  # noqa: E402
from roboloop.policies.sac import SAC, SACConfig  # noqa: E402

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


def _filled(model, data):
    model._setup_learn(total_timesteps=1)  # builds the logger that train() writes to
    obs, act, rew, done = data
    for i in range(FILL):
        model.replay_buffer.add(obs[i:i + 1], obs[i + 1:i + 2], act[i:i + 1], rew[i:i + 1], done[i:i + 1], [{}])
    return model


def make_sb3(data):
    from stable_baselines3 import SAC as SB3SAC
    model = _filled(SB3SAC("MlpPolicy", _SizedEnv(), batch_size=BATCH, buffer_size=FILL + 10, learning_starts=0,
                           policy_kwargs=dict(net_arch=[256, 256], n_critics=2), device="cpu", verbose=0, seed=0),
                    data)
    return lambda n: model.train(gradient_steps=n, batch_size=BATCH)


def make_sbx(data, fused: bool):
    from sbx import SAC as SBXSAC
    model = _filled(SBXSAC("MlpPolicy", _SizedEnv(), batch_size=BATCH, buffer_size=FILL + 10, learning_starts=0,
                           policy_kwargs=dict(net_arch=[256, 256], n_critics=2), verbose=0, seed=0), data)

    def train(n: int) -> None:
        if fused:
            model.train(gradient_steps=n, batch_size=BATCH)
        else:
            for _ in range(n):
                model.train(gradient_steps=1, batch_size=BATCH)
    return train


def make_roboloop(data, layer_norm: bool = True, compile: bool = True):
    cfg = SACConfig(hidden_dims=(256, 256), num_critics=2, batch_size=BATCH, critic_layer_norm=layer_norm,
                    compile=compile, matmul_precision="float32")
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
    ap.add_argument("--threads", type=int, default=THREADS, help="torch and XLA threads (default: CPU cores)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import jax
    print(f"precision: float32 matmuls everywhere (torch default fp32 matmul precision "
          f"{torch.get_float32_matmul_precision()!r}, roboloop sac.matmul_precision='float32', jax default "
          f"{jax.config.jax_default_matmul_precision or 'float32 on CPU'}); threads: torch "
          f"{torch.get_num_threads()}, XLA {'1 (single-threaded Eigen)' if args.threads == 1 else f'{os.cpu_count()} (all cores)'}"
          f"; {os.cpu_count()} CPU cores", flush=True)
    data = random_transitions(np.random.default_rng(0))
    runners = {
        "stable-baselines3 SAC": make_sb3(data),
        "SBX SAC (one jitted update per call)": make_sbx(data, fused=False),
        "SBX SAC (fused: a round's updates in one jitted loop)": make_sbx(data, fused=True),
        "roboloop SAC (default: LayerNorm critics, compiled)": make_roboloop(data),
        "roboloop SAC (no LayerNorm, same nets as SB3)": make_roboloop(data, layer_norm=False),
        "roboloop SAC (eager, sac.compile=false)": make_roboloop(data, compile=False),
    }
    for name, run in runners.items():
        t = time.perf_counter()
        run(args.updates if "fused" in name else 20)  # warm-up: first calls, torch.compile, jit (per loop length)
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
    print(f"\nlearner throughput, float32, {torch.get_num_threads()} threads, batch {BATCH}, 256x256, 2 critics "
          f"({args.rounds} rounds x {args.updates} updates; ratio = median over rounds of the per-round ratio):")
    for name, v in rates.items():
        ratio = statistics.median(x / b for x, b in zip(v, base))
        print(f"  {name:54s} {statistics.median(v):7.1f} updates/s   ratio vs SB3 {ratio:.2f}x")


if __name__ == "__main__":
    main()
