"""Racing practice, FastRLAP-style: lap time after N env steps of practice on roboloop/base-Race-v0, against
the slow demonstration lap the checkpoints came from and against the scripted pure-pursuit expert.

    python benchmarks/race_practice.py --steps 5000 --seeds 1

The task's checkpoints come from one slow demonstration lap (0.25 m/s); collisions respawn the base at the
last checkpoint (the automatic reset), so practice never needs a person. SAC trains for `--steps` env
steps (`--demos` scripted-expert episodes for RLPD; 0 = practice from scratch, as FastRLAP does after its
demo lap), then the deterministic policy drives one 60 s evaluation episode per seed: laps, lap times,
collisions. Steps and wall time of the practice are printed with it. Results go to --out/results.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def drive(act, env, seed: int) -> dict:
    obs, info = env.reset(seed=seed)
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(act(obs))
        done = terminated or truncated
    return {"laps": info["laps"], "lap_times_s": info["lap_times"], "collisions": info["collisions"],
            "best_lap_s": min(info["lap_times"]) if info["lap_times"] else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--demos", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="runs/race_practice")
    args = ap.parse_args()

    import torch

    from roboloop.config import build_train_config
    from roboloop.envs import make_env
    from roboloop.policies.train_loop import Trainer
    from roboloop.sim.race_task import RacePursuit
    torch.set_num_threads(args.threads)
    env = make_env("base-race", training=False)
    report: dict = {"args": vars(args), "demo_lap_s": env.unwrapped.demo_lap_s,
                    "expert": drive(RacePursuit(env.unwrapped.task_spec()).act, env, 10_000), "policy": []}
    print(f"demonstration lap {report['demo_lap_s']:.1f} s; scripted expert {report['expert']}", flush=True)
    for s in range(args.seeds):
        overrides = ["eval_every=0", "checkpoint_every=100000000", f"torch_threads={args.threads}",
                     f"demos={args.demos}", "sac.compile=false", "learning_starts=500", "sac.gamma=0.98"]
        cfg = build_train_config("base-race", None, overrides, steps=args.steps, seed=s)
        trainer = Trainer(cfg, run_dir=Path(args.out) / f"s{s}", progress=False, log=lambda m: None)
        t0, cpu0 = time.perf_counter(), time.process_time()
        result = trainer.run()
        row = {"seed": s, "env_steps": args.steps, "updates": result.updates,
               "practice_wall_s": time.perf_counter() - t0, "practice_cpu_s": time.process_time() - cpu0,
               **drive(lambda o: trainer.agent.act(o, deterministic=True), env, 10_000 + s)}
        report["policy"].append(row)
        print(f"seed {s}: {row}", flush=True)
    best = [r["best_lap_s"] for r in report["policy"] if r["best_lap_s"] is not None]
    print(f"\nlap time: demonstration {report['demo_lap_s']:.1f} s, scripted expert "
          f"{report['expert']['best_lap_s']} s, policy after {args.steps} steps: "
          f"{np.mean(best):.1f} s ({len(best)}/{args.seeds} seeds completed a lap)" if best else
          f"\npolicy after {args.steps} steps completed no lap ({args.seeds} seeds)")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
