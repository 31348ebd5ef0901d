"""Sim-to-real gap over seeds: does a robust training configuration make PickCube policies hold up on
reality-gap physics they never saw better than the nominal policy at the same budget?

Per seed, the shipped PickCube preset (RLPD, 10 scripted demos, sparse reward, compiled SAC updates,
one torch thread) is trained for --steps env steps under each configuration:

    nominal   no wrappers
    robust    the stack of roboloop/configs/sim2real.yaml (read from the file)
    dr_delay  per-episode domain randomization, 0-2 steps of action latency, 0-1 of observation latency,
              no action history (the memoryless configuration this benchmark first measured)
    vision    the shipped PickCubeVision preset instead (front + wrist cameras and proprioception through
              the frozen pretrained encoder, no cube estimate in its state), for --vision-steps env steps
              (fewer than --steps by default: a smaller budget than the nominal policy's)
    vision_delay02  vision under 0-2 steps of action latency, sampled per episode
    vision_slow     the stack of roboloop/configs/sim2real_vision.yaml on vision: the end effector's
                    commanded speed capped at 0.2 m/s (2 cm per step; the safety wrapper, kept at
                    evaluation), so a late command overshoots less

Each final checkpoint is then loaded as `roboloop eval` loads it (its wrapper stack applied with
training=False, as on the robot) and run deterministically on held-out episode seeds (from
HELD_OUT_SEED, never used for training, demos or periodic evaluations) on the nominal task and on every
reality-gap variant of roboloop/PickCubeGap-v0, where the gap is the env's own hidden physics.
A camera policy meets the same targets through PickCubeVision and roboloop/PickCubeVisionGap-v0.
shifted_camera only moves the front camera, which a state policy never sees (for it, it is the nominal
scene); miscalibrated only shifts the cube estimate in the state, which a camera policy never reads.

The table gives, per configuration and target, the IQM success rate over seeds with its 95% stratified
bootstrap CI (rliable), the per-seed rates, and P(config > nominal) with its CI for every other
configuration.

Each (configuration, seed) keeps its run folder and a result.json in --out and is skipped when done, so
an interrupted run resumes, and workers can split the seeds (--only-seed) and the configurations
(--configs); the table is printed once every asked-for result is there.

    python benchmarks/sim2real_gap.py --seeds 5 [--configs nominal vision_slow] [--steps 24000]
                                      [--vision-steps 8000] [--episodes 50] [--out runs/sim2real_gap]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import yaml

from roboloop.config import build_train_config
from roboloop.envs import env_spec, make_env
from roboloop.policies.evaluate import HELD_OUT_SEED, evaluate
from roboloop.sim import GAP_VARIANTS

SIM2REAL_YAML = Path(__file__).resolve().parents[1] / "roboloop" / "configs" / "sim2real.yaml"
SIM2REAL_VISION_YAML = SIM2REAL_YAML.with_name("sim2real_vision.yaml")
CONFIGS = {
    "nominal": lambda: [],
    "robust": lambda: yaml.safe_load(SIM2REAL_YAML.read_text())["wrappers"],
    "dr_delay": lambda: [{"type": "domain_randomization"}, {"type": "action_delay", "steps": [0, 2]},
                         {"type": "observation_delay", "steps": [0, 1]}],
    # the candidates tried for `robust` (docs/guides/sim-to-real.md gives their figures)
    "delay02_hist": lambda: [{"type": "action_delay", "steps": [0, 2]}, {"type": "action_history", "length": 2}],
    "delay01_hist": lambda: [{"type": "action_delay", "steps": [0, 1]}, {"type": "action_history", "length": 2}],
    "delay1_hist": lambda: [{"type": "action_delay", "steps": 1}, {"type": "action_history", "length": 2}],
    # each ingredient alone (delay01 is what sim2real.yaml holds)
    "delay01": lambda: [{"type": "action_delay", "steps": [0, 1]}],
    "hist": lambda: [{"type": "action_history", "length": 2}],
    "vision": lambda: [],
    "vision_delay02": lambda: [{"type": "action_delay", "steps": [0, 2]}],
    "vision_slow": lambda: yaml.safe_load(SIM2REAL_VISION_YAML.read_text())["wrappers"],
}
CAMERA_CONFIGS = {"vision", "vision_delay02", "vision_slow"}   # trained on PickCubeVision; the others on PickCube
# (label, task, env kwargs, extra wrappers under the policy's own stack)
TARGETS = [("PickCube", "PickCube", {}, [])] + [
    (f"Gap {v}", "PickCubeGap", {"variant": v}, []) for v in GAP_VARIANTS] + [
    # one step more lag than any configuration trained with (outside the robust config's range)
    ("Gap latency+1", "PickCubeGap", {"variant": "latency"}, [{"type": "action_delay", "steps": 1, "eval": True}])]


def target_task(name: str, task: str) -> str:
    """The task a configuration's policy meets for target task `task` (its camera twin for a camera policy)."""
    if name not in CAMERA_CONFIGS:
        return task
    return {"PickCube": "PickCubeVision", "PickCubeGap": "PickCubeVisionGap"}[task]


def train_and_evaluate(name: str, seed: int, steps: int, episodes: int, out: Path) -> dict:
    """Train `name` at `seed` for `steps` env steps into out/<name>-seed<seed>/ (once) and evaluate its
    checkpoint on every target not evaluated yet; the record is kept in result.json there."""
    import torch
    from roboloop.checkpoint import load_checkpoint
    from roboloop.policies.train_loop import Trainer, load_actor

    run_dir = out / f"{name}-seed{seed}"
    done = run_dir / "result.json"
    record = json.loads(done.read_text()) if done.exists() else None
    if record is None:
        cfg = build_train_config(target_task(name, "PickCube"), None,
                                 ["eval_every=4000", "torch_threads=1", "sac.compile=true"],
                                 steps=steps, seed=seed)
        cfg.wrappers = CONFIGS[name]()
        t = time.time()
        result = Trainer(cfg, run_dir=run_dir, progress=False).run()
        record = {"config": name, "seed": seed, "steps": steps, "episodes": episodes, "wrappers": cfg.wrappers,
                  "train_minutes": (time.time() - t) / 60, "evals": result.evals, "success": {}}
        print(f"[{name} seed {seed}] trained in {record['train_minutes']:.1f} min; evals during training "
              f"{result.evals}", flush=True)
        done.write_text(json.dumps(record, indent=1))
    if record["wrappers"] != CONFIGS[name]():
        raise SystemExit(f"{run_dir} was trained with {record['wrappers']}, not {name}'s {CONFIGS[name]()}; "
                         "use another --out")
    if record["steps"] != steps or record["episodes"] != episodes:
        raise SystemExit(f"{run_dir} was run with {record['steps']} steps / {record['episodes']} episodes; "
                         f"use another --out for {steps} / {episodes}")
    missing = [t for t in TARGETS if t[0] not in record["success"]]
    if missing:
        ckpt = load_checkpoint(run_dir / "checkpoint", load_replay=False)
        wrappers = ckpt.meta["config"].get("wrappers", [])
        torch.set_num_threads(1)
        for label, task, kwargs, extra in missing:
            # as `roboloop eval --task ... --env ...`: the checkpoint's own stack, training=False
            env = make_env(target_task(name, task), kwargs, extra + wrappers, training=False)
            actor = load_actor(ckpt, env_spec(env))
            record["success"][label] = evaluate(lambda o: actor.act(o, deterministic=True), env, episodes,
                                                HELD_OUT_SEED).success_rate
            env.close()
            print(f"[{name} seed {seed}] {label:18s} {record['success'][label]:.0%}", flush=True)
            done.write_text(json.dumps(record, indent=1))
    return record


def table(results: dict[str, list[dict]], reps: int = 2000) -> None:
    """Per target: each configuration's IQM [95% CI] (per-seed rates), then P(config > nominal) [95% CI]."""
    from roboloop.stats import iqm_interval, probability_of_improvement
    names = list(results)
    rivals = [n for n in names if n != "nominal"] if "nominal" in names else []
    print(f"\n{'target':18s} " + " ".join(f"{n + ' IQM [95% CI] (seeds)':>40s}" for n in names)
          + "".join(f"   {'P(' + n + ' > nominal)':>24s}" for n in rivals))
    for label, *_ in TARGETS:
        rates = {n: np.array([r["success"][label] for r in results[n]]) for n in names}
        cells = []
        for n in names:
            iv = iqm_interval(rates[n], reps)
            cells.append(f"{iv.point:4.0%} [{iv.low:4.0%}, {iv.high:4.0%}] ({' '.join(f'{x:.0%}' for x in rates[n])})")
        line = f"{label:18s} " + " ".join(f"{c:>40s}" for c in cells)
        for n in rivals:
            p = probability_of_improvement(rates[n], rates["nominal"], reps)
            line += f"   {f'{p.point:.2f} [{p.low:.2f}, {p.high:.2f}]':>24s}"
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="training seeds 0 .. seeds-1")
    ap.add_argument("--only-seed", type=int, default=None, help="train/evaluate this seed only (a worker)")
    ap.add_argument("--configs", nargs="+", default=["nominal", "vision_slow"], choices=list(CONFIGS))
    ap.add_argument("--steps", type=int, default=24_000, help="env steps per state-policy run")
    ap.add_argument("--vision-steps", type=int, default=8_000, help="env steps per camera-policy run")
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--out", type=Path, default=Path("runs/sim2real_gap"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"settings: PickCube preset, {args.steps} env steps per run (camera policies: PickCubeVision preset, "
          f"{args.vision_steps}), seeds 0-{args.seeds - 1}, "
          f"{args.episodes} held-out episodes (seeds from {HELD_OUT_SEED}) per target, float32, torch_threads=1, "
          f"sac.compile, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, load {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores; robust = {SIM2REAL_YAML.name}: {CONFIGS['robust']()}", flush=True)
    seeds = [args.only_seed] if args.only_seed is not None else range(args.seeds)
    t = time.time()
    results = {n: [train_and_evaluate(n, s, args.vision_steps if n in CAMERA_CONFIGS else args.steps,
                                      args.episodes, args.out) for s in seeds]
               for n in args.configs}
    print(f"\nPickCube success rate on {args.episodes} held-out episodes per target, "
          + ", ".join(f"{n} {rs[0]['steps']}" for n, rs in results.items())
          + f" training steps per run, {len(seeds)} seed(s); wall {(time.time() - t) / 60:.1f} min here, "
          f"load {os.getloadavg()[0]:.1f}; training minutes per run: "
          + ", ".join(f"{n} {np.mean([r['train_minutes'] for r in rs]):.1f}" for n, rs in results.items()))
    table(results)


if __name__ == "__main__":
    main()
