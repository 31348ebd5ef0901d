"""Image SAC update throughput: end-to-end DrQ (conv encoder trained on stored images) vs the frozen
pretrained encoder (features computed once per frame and stored in the replay buffer), side by side.

Same problem for both: PickCubeVision sizes (two 128x128 RGB cameras, 5-dim proprioception, 4-dim
action), 256x256 networks, 2 critics, batch 256, replay sampling included in the timing, `--threads`
torch threads (2 by default). The frozen agent's replay buffer is filled through its normal add path,
so the one-off cost of encoding each arriving frame is measured too (ms per camera frame). Rounds
alternate between the agents so machine load affects both alike; the median of the rounds is printed.

    python benchmarks/vision_throughput.py [--rounds 3] [--updates 200] [--e2e-updates 3] [--profile]

--profile prints where one end-to-end update's time goes (torch.profiler, top operators).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from roboloop.policies.encoders import replay_storage
from roboloop.policies.networks import resolve_low_precision
from roboloop.policies.replay import ReplayBuffer, to_torch
from roboloop.policies.sac import SAC, SACConfig

SHAPES = {"state": (5,), "front": (128, 128, 3), "wrist": (128, 128, 3)}
DTYPES = {"state": np.float32, "front": np.uint8, "wrist": np.uint8}
ACT_DIM, BATCH = 4, 256


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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--updates", type=int, default=200, help="frozen-encoder updates per round")
    p.add_argument("--e2e-updates", type=int, default=3, help="end-to-end DrQ updates per round")
    p.add_argument("--frames", type=int, default=600, help="transitions in each replay buffer")
    p.add_argument("--compile", action="store_true", help="torch.compile both agents' updates (default: eager)")
    p.add_argument("--profile", action="store_true", help="profile one end-to-end update")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    base = dict(compile=args.compile, batch_size=BATCH)
    agents = {"end-to-end DrQ (conv)": SAC(SHAPES, ACT_DIM, SACConfig(**base)),
              "frozen pretrained": SAC(SHAPES, ACT_DIM, SACConfig(image_encoder="pretrained", **base))}
    low = resolve_low_precision(SACConfig().matmul_precision)
    print(f"torch {torch.__version__}, {args.threads} threads, batch {BATCH}, two 128x128 cameras, "
          f"precision: {'bfloat16 hidden matmuls (fp32 heads, weights, optimizer)' if low else 'float32'}, "
          f"{'compiled' if args.compile else 'eager'}")
    buffers = {}
    for name, agent in agents.items():
        buf, per_frame = filled_buffer(agent, args.frames, rng)
        buffers[name] = buf
        stored = {k: f"{v.shape[1:]} {v.dtype}" for k, v in buf.obs.items()}
        print(f"{name}: replay stores {stored}; add() {per_frame * 1e3:.1f} ms per camera frame")
        t0 = time.perf_counter()
        agent.update([to_torch(buf.sample(BATCH, rng))])  # warm-up (and compile)
        print(f"{name}: first update {time.perf_counter() - t0:.1f} s")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        name = "end-to-end DrQ (conv)"
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            agents[name].update([to_torch(buffers[name].sample(BATCH, rng))])
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
    rates: dict[str, list[float]] = {n: [] for n in agents}
    for r in range(args.rounds):
        for name, agent in agents.items():
            n = args.e2e_updates if name.startswith("end") else args.updates
            rates[name].append(rate(agent, buffers[name], n, rng))
        print(f"round {r + 1}: " + ", ".join(f"{n} {v[-1]:.2f}/s" for n, v in rates.items()), flush=True)
    e2e, frozen = (statistics.median(v) for v in rates.values())
    print(f"\nupdates/s (median of {args.rounds} rounds): end-to-end DrQ {e2e:.2f}, frozen pretrained {frozen:.1f}, "
          f"ratio {frozen / e2e:.0f}x")


if __name__ == "__main__":
    main()
