"""IK on arms built from their descriptions: share of random reachable targets reached, and iterations.

For each shipped arm (SO-101, Franka Panda, UR5 from example-robot-data), targets are the forward
kinematics of joint values drawn uniformly inside the joint limits (5 deg away from them), so every target
is reachable. `RobotModel.ik` (damped least squares, joints clipped to their limits) starts from the middle
of the joint ranges; "+restarts" retries from up to 4 random joint values when the first solve misses.
A target counts as reached within 2 mm (and 0.01 rad for the pose).

    .venv/bin/python benchmarks/ik_arms.py               # 1,000 targets per arm, about a minute
    .venv/bin/python benchmarks/ik_arms.py --targets 200
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from roboloop.sim.arms import load_arm, shipped_arms
from roboloop.sim.kinematics import RobotModel


def solve(rm: RobotModel, pos, rot, rng, restarts: int, max_iters: int):
    res = rm.ik(pos, rot, None, max_iters=max_iters)
    total = res.iterations
    for _ in range(restarts):
        if res.success:
            break
        res = rm.ik(pos, rot, rm.random_q(rng), max_iters=max_iters)
        total += res.iterations
    return res, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--max-iters", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"{'arm':7s} {'dof':>3s} {'target':8s} {'restarts':>8s} {'reached':>8s} {'mean iters':>10s} "
          f"{'mean err mm':>11s} {'ms/solve':>8s}")
    for name in shipped_arms():
        rm = RobotModel(load_arm(name).robot)
        rng = np.random.default_rng(args.seed)
        targets = [rm.fk(rm.random_q(rng, margin=np.deg2rad(5))) for _ in range(args.targets)]
        for mode in ("position", "pose"):
            for restarts in (0, 4):
                ok, iters, errs = 0, [], []
                t0 = time.perf_counter()
                for p, r in targets:
                    res, n = solve(rm, p, r if mode == "pose" else None, rng, restarts, args.max_iters)
                    ok += res.success
                    iters.append(n)
                    errs.append(res.pos_error)
                dt = (time.perf_counter() - t0) / len(targets)
                print(f"{name:7s} {rm.n:3d} {mode:8s} {restarts:8d} {ok / len(targets):8.1%} {np.mean(iters):10.1f} "
                      f"{1000 * np.mean(errs):11.3f} {1000 * dt:8.2f}")


if __name__ == "__main__":
    main()
