"""Image SAC update throughput, side by side in one run: end-to-end DrQ (conv encoder trained on stored
images), the frozen pretrained encoder with bfloat16 hidden matmuls (what `sac.matmul_precision=auto`
chose on a CPU that only emulates bf16: the before), and the frozen encoder in float32 (the after, what
`auto` chooses there now).

Same problem for all: PickCubeVision sizes (two 128x128 RGB cameras, 5-dim proprioception, 4-dim
action), 256x256 networks, 2 critics, batch 256, replay sampling included in the timing, `--threads`
torch threads (2 by default), compiled updates as in training (`--eager` for eager ones). The frozen
agents' replay buffers are filled through their normal add path, so the one-off cost of encoding each
arriving frame is measured too (ms per camera frame). Rounds alternate between the agents so machine
load affects all alike; the median of the rounds is printed, with the load average before and after.

    python benchmarks/vision_throughput.py [--threads 2] [--rounds 3] [--updates 200] [--eager] [--profile]

--profile prints where one update's time goes for each agent (torch.profiler, eager, one thread),
grouped into matmuls, convolutions, image handling, layer norms and the rest (elementwise ops, Adam,
Polyak). Profile of the frozen update (eager, 1 thread; 10 updates on the 2-core VM):

    matmuls (critic ensemble bmm/baddbmm, actor and projection mm/addmm)   ~40%
    elementwise, Adam and Polyak (mul, sub, lerp, addcmul, casts)           ~40%
    layer norms (critics' and projections', forward and backward)           ~10%
    convolutions, image shifts, uint8 conversion                             0%
    replay sampling (features, 2 x 64 float32 per camera frame)             < 1%

so the frozen update is an MLP update: its cost is that of a state-based SAC update on a 133-dim
input, and the slow figures measured before came from elsewhere: bfloat16 matmuls on a CPU without
native bf16 (AVX-512 without AVX512-BF16/AMX: oneDNN converts to float32 and back, 2-3.4x slower than
float32), and two threads on an oversubscribed machine (busy-waiting thread pools; roboloop now sets
OMP_WAIT_POLICY=PASSIVE).

Measured (--threads 2 --rounds 5 --updates 200; compiled, the 2-core VM otherwise idle, load average
0.7 -> 1.9), updates/s, median of 5 rounds:

    end-to-end DrQ (conv, float32)                0.61
    frozen pretrained, bf16 matmuls (before)     31.9
    frozen pretrained, float32 (after)           69.4   (rounds 62.3, 69.4, 65.6, 70.0, 79.7)
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import roboloop  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)
import numpy as np
import torch

from roboloop.policies.encoders import replay_storage
from roboloop.policies.networks import native_bf16
from roboloop.policies.replay import ReplayBuffer, to_torch
from roboloop.policies.sac import SAC, SACConfig

SHAPES = {"state": (5,), "front": (128, 128, 3), "wrist": (128, 128, 3)}
DTYPES = {"state": np.float32, "front": np.uint8, "wrist": np.uint8}
ACT_DIM, BATCH = 4, 256
E2E = "end-to-end DrQ (conv, float32)"
# name -> SACConfig keywords
AGENTS = {
    E2E: dict(image_encoder="conv", matmul_precision="float32"),
    "frozen pretrained, bf16 matmuls (before)": dict(image_encoder="pretrained", matmul_precision="bfloat16"),
    "frozen pretrained, float32 (after)": dict(image_encoder="pretrained", matmul_precision="float32"),
}
GROUPS = {  # profiler operator -> group, by substring (first match)
    "convolution": "convolutions", "conv": "convolutions",
    "pad": "image handling", "index": "image handling", "gather": "image handling",
    "mm": "matmuls", "linear": "matmuls",
    "layer_norm": "layer norms",
}


def filled_buffer(agent: SAC, frames: int, rng: np.random.Generator) -> tuple[ReplayBuffer, float]:
    """A replay buffer of `frames` transitions of random frames, filled the way training fills it;
    returns it and the seconds spent per camera frame in add() beyond copying."""
    shapes, dtypes, encode = replay_storage(agent.encoder, SHAPES, DTYPES)
    buf = ReplayBuffer(shapes, dtypes, ACT_DIM, frames + 2, encode)

    def obs():
        return {"state": rng.normal(size=5).astype(np.float32),
                "front": rng.integers(0, 256, SHAPES["front"], dtype=np.uint8),
                "wrist": rng.integers(0, 256, SHAPES["wrist"], dtype=np.uint8)}
    o = obs()
    t0 = time.perf_counter()
    for _ in range(frames):
        nxt = obs()
        buf.add(o, rng.uniform(-1, 1, ACT_DIM).astype(np.float32), 0.0, nxt, False, False)
        o = nxt
    return buf, (time.perf_counter() - t0) / (2 * frames)


def rate(agent: SAC, buf: ReplayBuffer, n: int, rng: np.random.Generator) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        agent.update([to_torch(buf.sample(BATCH, rng))])
    return n / (time.perf_counter() - t0)


def profile_groups(agent: SAC, buf: ReplayBuffer, rng: np.random.Generator, n: int) -> dict[str, float]:
    """Share of self CPU time per operator group over `n` eager updates (see GROUPS)."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(n):
            agent.update([to_torch(buf.sample(BATCH, rng))])
    shares: dict[str, float] = {}
    for ev in prof.key_averages():
        group = next((g for key, g in GROUPS.items() if key in ev.key), "elementwise, Adam, Polyak")
        shares[group] = shares.get(group, 0.0) + ev.self_cpu_time_total
    total = sum(shares.values()) or 1.0
    return {g: t / total for g, t in sorted(shares.items(), key=lambda kv: -kv[1])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--updates", type=int, default=200, help="frozen-encoder updates per round")
    p.add_argument("--e2e-updates", type=int, default=3, help="end-to-end DrQ updates per round")
    p.add_argument("--frames", type=int, default=600, help="transitions in each replay buffer")
    p.add_argument("--eager", action="store_true", help="eager updates (default: torch.compile'd, as in training)")
    p.add_argument("--profile", action="store_true", help="profile each agent's update (eager, one thread)")
    p.add_argument("--skip-e2e", action="store_true", help="leave end-to-end DrQ out (its compile takes minutes)")
    args = p.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    names = [n for n in AGENTS if not (args.skip_e2e and n == E2E)]
    load0 = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {args.threads} threads, batch {BATCH}, two 128x128 cameras, "
          f"{'eager' if args.eager else 'compiled'}; CPU bf16 {'native' if native_bf16() else 'emulated'} "
          f"(sac.matmul_precision=auto -> {'bfloat16' if native_bf16() else 'float32'}); "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; load average {load0:.1f} on {os.cpu_count()} cores")
    if args.profile:
        torch.set_num_threads(1)
        for name in names:
            agent = SAC(SHAPES, ACT_DIM, SACConfig(compile=False, batch_size=BATCH, **AGENTS[name]))
            buf, _ = filled_buffer(agent, 300, rng)
            agent.update([to_torch(buf.sample(BATCH, rng))])
            shares = profile_groups(agent, buf, rng, 1 if name == E2E else 10)
            print(f"profile {name}: " + ", ".join(f"{g} {s:.0%}" for g, s in shares.items()), flush=True)
    torch.set_num_threads(args.threads)
    agents = {n: SAC(SHAPES, ACT_DIM, SACConfig(compile=not args.eager, batch_size=BATCH, **AGENTS[n])) for n in names}
    buffers = {}
    for name, agent in agents.items():
        buf, per_frame = filled_buffer(agent, args.frames, rng)
        buffers[name] = buf
        stored = {k: f"{v.shape[1:]} {v.dtype}" for k, v in buf.obs.items()}
        print(f"{name}: replay stores {stored}; add() {per_frame * 1e3:.1f} ms per camera frame")
        t0 = time.perf_counter()
        agent.update([to_torch(buf.sample(BATCH, rng))])  # warm-up (and compile)
        print(f"{name}: first update {time.perf_counter() - t0:.1f} s", flush=True)
    rates: dict[str, list[float]] = {n: [] for n in agents}
    for r in range(args.rounds):
        for name, agent in agents.items():
            n = args.e2e_updates if name == E2E else args.updates
            rates[name].append(rate(agent, buffers[name], n, rng))
        print(f"round {r + 1}: " + ", ".join(f"{n} {v[-1]:.2f}/s" for n, v in rates.items()), flush=True)
    print(f"\nupdates/s, median of {args.rounds} rounds ({args.threads} threads, "
          f"{'eager' if args.eager else 'compiled'}, load average {load0:.1f} -> {os.getloadavg()[0]:.1f}):")
    medians = {n: statistics.median(v) for n, v in rates.items()}
    base = medians.get(E2E)
    for n, m in medians.items():
        print(f"  {n:45s} {m:8.2f}" + (f"  ({m / base:.0f}x end-to-end DrQ)" if base and n != E2E else ""))


if __name__ == "__main__":
    main()
