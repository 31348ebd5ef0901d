"""Sim-to-real gap: does training with domain randomization + latency make PickCube policies hold up on
physics they never saw?

Two runs of the shipped PickCube preset (RLPD, 10 scripted demos, sparse reward), same seed, same
step budget: one on the nominal sim, one with the wrapper stack below (per-episode domain
randomization, 0-2 steps of action latency, 0-1 step of observation latency). Both final policies
are then evaluated (deterministic, 50 episodes, the same seeds) on the nominal task and on every
reality-gap variant of roboloop/PickCubeGap-v0, side by side. shifted_camera is left out: it only
moves the front camera, which a state policy never sees.

    python benchmarks/sim2real_gap.py [--steps 24000] [--episodes 50] [--seed 0]
"""
from __future__ import annotations

import argparse
import tempfile
import time

from roboloop.config import build_train_config
from roboloop.envs import make_env
from roboloop.policies.evaluate import evaluate
from roboloop.policies.train_loop import Trainer
from roboloop.sim import GAP_VARIANTS

RANDOMIZED = [
    {"type": "domain_randomization"},
    {"type": "action_delay", "steps": [0, 2]},
    {"type": "observation_delay", "steps": [0, 1]},
]


def train(wrappers: list, steps: int, seed: int):
    cfg = build_train_config("PickCube", None, ["eval_every=4000"], steps=steps, seed=seed)
    cfg.wrappers = wrappers
    t = time.time()
    with tempfile.TemporaryDirectory() as d:
        trainer = Trainer(cfg, run_dir=d, progress=True)
        result = trainer.run()
    print(f"  trained in {(time.time() - t) / 60:.1f} min; evals during training {result.evals}", flush=True)
    return trainer.agent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=24_000)
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    agents = {}
    for name, stack in (("nominal", []), ("DR + latency", RANDOMIZED)):
        print(f"training PickCube, {name}, {args.steps} steps", flush=True)
        agents[name] = train(stack, args.steps, args.seed)
    targets = [("PickCube (nominal)", "PickCube", {})] + [
        (f"PickCubeGap {v}", "PickCubeGap", {"variant": v}) for v in GAP_VARIANTS if v != "shifted_camera"]
    rows = []
    for label, task, kwargs in targets:
        env = make_env(task, kwargs)
        rates = [evaluate(lambda o, a=a: a.act(o, deterministic=True), env, args.episodes, 900_000).success_rate
                 for a in agents.values()]
        env.close()
        rows.append((label, *rates))
        print(f"  {label:32s} " + "  ".join(f"{r:5.0%}" for r in rates), flush=True)
    print(f"\nPickCube success rate, {args.episodes} episodes, seed {args.seed}, {args.steps} training steps each:")
    print(f"  {'evaluated on':32s} {'trained nominal':>16s} {'trained DR+latency':>19s}")
    for label, a, b in rows:
        print(f"  {label:32s} {a:16.0%} {b:19.0%}")


if __name__ == "__main__":
    main()
