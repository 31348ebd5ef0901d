"""Navigation: a SAC/RLPD policy trained on roboloop/base-Nav-v0 against the DWA local planner, side by side
on the same held-out maps.

    python benchmarks/nav_vs_dwa.py --seeds 3 --steps 3000 --episodes 20

For each seed s: roboloop trains a policy (the base-nav preset, `--steps` env steps, RLPD with `--demos`
DWA demonstrations, smaller networks to fit the budget), then the policy (deterministic) and DWA each drive
`--episodes` held-out maps, map seeds 100000 + 1000 s + i (training resets come from the run's own
random stream, never from these seeds). Per method and seed: success rate, collision rate, time to goal
(s) and path length (m) over the successful episodes. Across seeds: the mean with a 95% stratified
bootstrap CI (roboloop.stats, rliable), and P(policy > DWA) on success. DWA sees exactly the policy's
observation (lidar + odometry goal); Nav2 (whose DWB controller is the production version of DWA) is
not installable from PyPI, so it is not in the comparison.

Budget: the whole run is meant to stay under 20 minutes of compute on the shared 2-core machine; the
defaults (2 seeds x 3000 steps) are sized for it. Results go to --out/results.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def run_episodes(act, env, map_seeds) -> list[dict]:
    """Drive one episode per map seed with act(obs) -> action; per-episode outcome dicts."""
    out = []
    for seed in map_seeds:
        obs, info = env.reset(seed=int(seed))
        reset_policy = getattr(act, "reset", None)
        if reset_policy:
            reset_policy()
        steps, done = 0, False
        while not done:
            obs, _, terminated, truncated, info = env.step(act(obs))
            steps += 1
            done = terminated or truncated
        out.append({"success": bool(info["is_success"]), "collision": bool(info["is_failure"]),
                    "time_s": steps / env.unwrapped.control_hz, "path_m": float(info["path_length"]),
                    "goal_dist_true_m": float(info["goal_dist_true"])})
    return out


def summarize(episodes: list[dict]) -> dict:
    ok = [e for e in episodes if e["success"]]
    return {"success": float(np.mean([e["success"] for e in episodes])),
            "collision": float(np.mean([e["collision"] for e in episodes])),
            "time_to_goal_s": float(np.mean([e["time_s"] for e in ok])) if ok else float("nan"),
            "path_length_m": float(np.mean([e["path_m"] for e in ok])) if ok else float("nan"),
            "episodes": len(episodes)}


def train_policy(seed: int, args):
    from roboloop.config import build_train_config
    from roboloop.policies.train_loop import Trainer
    overrides = ["eval_every=0", "checkpoint_every=100000000", f"torch_threads={args.threads}",
                 f"demos={args.demos}", "sac.compile=false", "sac.hidden_dims=[128,128]",
                 "sac.actor_hidden_dims=[128,128]", "sac.batch_size=128"]
    cfg = build_train_config("base-nav", None, overrides, steps=args.steps, seed=seed)
    trainer = Trainer(cfg, run_dir=Path(args.out) / f"policy-s{seed}", progress=False, log=lambda s: None)
    t0 = time.perf_counter()
    result = trainer.run()
    return trainer.agent, time.perf_counter() - t0, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3000, help="env steps of training per seed")
    ap.add_argument("--demos", type=int, default=20, help="DWA demonstration episodes (RLPD)")
    ap.add_argument("--episodes", type=int, default=20, help="held-out maps per seed")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="runs/nav_vs_dwa")
    args = ap.parse_args()

    import torch

    from roboloop import stats
    from roboloop.envs import make_env
    from roboloop.sim.dwa import DWAPolicy
    torch.set_num_threads(args.threads)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    env = make_env("base-nav", training=False)
    dwa = DWAPolicy(env.unwrapped.task_spec())
    t_start = time.perf_counter()
    rows: dict[str, list[dict]] = {"policy": [], "dwa": []}
    for s in range(args.seeds):
        maps = 100_000 + 1_000 * s + np.arange(args.episodes)
        agent, train_s, result = train_policy(s, args)
        t0 = time.perf_counter()
        pol = summarize(run_episodes(lambda o: agent.act(o, deterministic=True), env, maps))
        ref = summarize(run_episodes(lambda o: dwa.act(o), env, maps))
        pol.update(train_s=train_s, env_steps=args.steps, updates=result.updates)
        rows["policy"].append(pol)
        rows["dwa"].append(ref)
        print(f"seed {s}: trained {args.steps} steps in {train_s:.0f} s; eval {time.perf_counter() - t0:.0f} s\n"
              f"  policy {pol}\n  dwa    {ref}", flush=True)

    report: dict = {"args": vars(args), "per_seed": rows, "wall_s": time.perf_counter() - t_start}
    print(f"\n{args.seeds} seeds x {args.episodes} held-out maps, policy trained {args.steps} env steps "
          f"({args.demos} DWA demos); mean [95% CI] over seeds:")
    for metric in ("success", "collision", "time_to_goal_s", "path_length_m"):
        line = f"  {metric:15s}"
        for name in ("policy", "dwa"):
            vals = np.array([r[metric] for r in rows[name]], float)
            vals = vals[np.isfinite(vals)]
            if len(vals) == 0:
                line += f"  {name}: n/a"
                continue
            if metric in ("success", "collision"):
                ci = stats.aggregate({name: vals.reshape(-1, 1)})[name]["mean"]
                report.setdefault(metric, {})[name] = ci.as_dict()
                line += f"  {name}: {ci}"
            else:
                report.setdefault(metric, {})[name] = float(vals.mean())
                line += f"  {name}: {vals.mean():.2f}"
        print(line)
    if args.seeds > 1:
        p = stats.probability_of_improvement(np.array([[r["success"]] for r in rows["policy"]]),
                                             np.array([[r["success"]] for r in rows["dwa"]]))
        report["p_policy_beats_dwa"] = p.as_dict()
        print(f"  P(policy success > DWA success) = {p}")
    report["cpu_s"] = time.process_time()
    print(f"total wall time {report['wall_s']:.0f} s, CPU time {report['cpu_s']:.0f} s (the rest is other jobs' load)")
    (Path(args.out) / "results.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
