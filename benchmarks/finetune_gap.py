"""Fine-tuning a sim-trained policy on the reality-gap robot, with and without a person correcting.

The in-process twin of the demo's ROS 2 fine-tuning (same start, no DDS), to tell what the corrections
add over the robot steps alone. Both runs start from the same checkpoint with its replay as prior data,
as `roboloop learn --init` does (its online transitions in the online buffer, its demos in the demo
buffer), on PickCubeGap (latency by default, as the demo), same seed and step budget, eval on the gap robot every
1k steps. In the corrected run a scripted person takes over through an SDL virtual pad when the policy
has had `--patience` steps without lifting the cube (as in benchmarks/hil_finetune.py).

    python benchmarks/finetune_gap.py [--checkpoint runs/demo/sim/checkpoint] [--steps 4000] [--variant latency]

Without --checkpoint it first trains the demo's sim policy (PickCube, 24k steps, seed 0; ~4 min on an idle
2-core machine).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hil_finetune import trainer_with_person

from roboloop.checkpoint import load_checkpoint
from roboloop.config import build_train_config
from roboloop.policies.train_loop import Trainer, load_prior


def sim_checkpoint(out: Path) -> Path:
    cfg = build_train_config("PickCube", None, ["stop_at_success=0"], steps=24_000, seed=0)
    return Trainer(cfg, run_dir=out, progress=True).run().checkpoint


def run(ckpt: Path, steps: int, variant: str, patience: int | None) -> dict:
    cfg = build_train_config("PickCubeGap", None, [f"env.variant={variant}", "eval_every=1000", "learning_starts=500", "demos=10",
                                                   "stop_at_success=0"], steps=steps, seed=0)
    t = time.time()
    with trainer_with_person(cfg, patience) as trainer:
        # demos=10 only sizes the demo buffer: the prior's demos fill it, so none are collected
        load_prior(load_checkpoint(ckpt), trainer.agent, trainer.online, trainer.demo)
        trainer._evaluate()   # the sim policy on the gap robot: evals[0], at step 0
        result = trainer.run()
    return {"evals": result.evals, "minutes": (time.time() - t) / 60}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint")
    ap.add_argument("--steps", type=int, default=4_000)
    ap.add_argument("--variant", default="latency")
    ap.add_argument("--patience", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        ckpt = Path(args.checkpoint) if args.checkpoint else sim_checkpoint(Path(d) / "sim")
        results = {"scripted person at the pad": run(ckpt, args.steps, args.variant, args.patience),
                   "no corrections": run(ckpt, args.steps, args.variant, None)}
    print(f"\nPickCubeGap {args.variant}, from {args.checkpoint or 'the demo sim policy'}, {args.steps} steps, "
          f"seed 0; eval success (20 episodes) at env step 0 (the sim policy), every 1k steps, and at the end:")
    for name, r in results.items():
        evals = ", ".join(f"{step}: {rate:.0%}" for step, rate in r["evals"])
        print(f"  {name:28s} {evals}  ({r['minutes']:.1f} min)")


if __name__ == "__main__":
    main()
