"""Learning on real arms: Reach and PickCube on the SO-101 and Panda sims, evaluated on held-out seeds.

Each arm task trains with its task's shipped preset (Reach: dense reward; PickCube: RLPD from 30 scripted
demos, sparse reward) through `roboloop.bench`, which evaluates the deterministic policy on held-out
episode seeds every `--eval-every` steps and never stops a run on those evaluations. Prints, per arm
task, the final held-out success, the best one and the first step at which it reached the bar
(Reach 0.9, PickCube 0.8), with the wall minutes and the machine's load average.

    python benchmarks/arms_learning.py [--arms so101 panda] [--tasks Reach PickCube] [--seeds 1]
        [--reach-steps 6000] [--pick-steps 40000] [--eval-every N] [--out bench/arms] [--set KEY=VALUE]

A bench folder left by an interrupted run is continued (finished seeds are kept).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from roboloop.bench import run_bench

BAR = {"Reach": 0.9, "PickCube": 0.8}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arms", nargs="+", default=["so101", "panda"])
    p.add_argument("--tasks", nargs="+", default=["Reach", "PickCube"], choices=sorted(BAR))
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--reach-steps", type=int, default=6000)
    p.add_argument("--pick-steps", type=int, default=40000)
    p.add_argument("--eval-every", type=int, default=0, help="env steps between evaluations (0: a quarter of the run)")
    p.add_argument("--eval-episodes", type=int, default=20)
    p.add_argument("--out", default="bench/arms")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    a = p.parse_args()

    rows = []
    for arm in a.arms:
        for task in a.tasks:
            steps = a.reach_steps if task == "Reach" else a.pick_steps
            t0, load0 = time.time(), os.getloadavg()[0]
            folder = run_bench(None, a.seeds, out=Path(a.out) / f"{arm}-{task}", task=f"{arm}-{task}",
                               overrides=[f"steps={steps}", "sac.compile=false", *a.set],
                               eval_every=a.eval_every or max(1000, steps // 4), eval_episodes=a.eval_episodes)
            minutes, load = (time.time() - t0) / 60, (load0 + os.getloadavg()[0]) / 2
            runs = json.loads((folder / "bench.json").read_text())["runs"]
            for seed, evals in sorted(runs.items()):
                reached = next((e["step"] for e in evals if e["success_rate"] >= BAR[task]), None)
                rows.append((f"{arm}-{task}", seed, steps, evals[-1]["success_rate"],
                             max(e["success_rate"] for e in evals), reached, minutes / len(runs), load))
                print(f"{arm}-{task} seed {seed}: held-out success " +
                      ", ".join(f"{e['step']}:{e['success_rate']:.2f}" for e in evals), flush=True)

    print(f"\n{'task':18s} {'seed':>4s} {'steps':>6s} {'final':>6s} {'best':>5s} {'bar at':>7s} {'min':>6s} {'load':>5s}")
    for task, seed, steps, final, best, reached, minutes, load in rows:
        print(f"{task:18s} {seed:>4s} {steps:>6d} {final:>6.2f} {best:>5.2f} {str(reached or '-'):>7s} "
              f"{minutes:>6.1f} {load:>5.1f}")


if __name__ == "__main__":
    main()
