"""Human in the loop: PickCube learning with a scripted "person" who corrects the policy through a
virtual gamepad, against the same run with nobody at the pad.

Both runs: the PickCube preset with 2 scripted demos instead of 10 (a weak start worth correcting),
the same seed and step budget, eval every 2k steps on 20 episodes. In the corrected run a person
watches each episode; when the policy stalls (no grasp after `--patience` steps) they hold the deadman
and drive the rest of the episode with the scripted expert's actions, through an SDL virtual pad read
by roboloop's real pygame code. Their transitions go to both buffers (RLPD). Reported: env steps to
80% eval success, and the intervention rate (share of steps the person drove) per 2k-step window.

    python benchmarks/hil_finetune.py [--steps 20000] [--patience 20] [--seed 0]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import contextmanager

import numpy as np

from roboloop.config import build_train_config
from roboloop.hardware.gamepad.virtual import ScriptedPerson
from roboloop.policies.train_loop import Trainer

TARGET = 0.8


def stalled(patience: int):
    """The person takes over once the policy has had `patience` steps without grasping the cube, and
    keeps control to the end of that episode."""
    def wants_control(env, t: int) -> bool:
        return t >= patience and env.lift() < 0.04
    return wants_control


@contextmanager
def trainer_with_person(cfg, patience: int | None):
    """A Trainer in a temporary run folder; with `patience`, a scripted person at a virtual pad who takes
    over when the policy stalls (`stalled`). The pad is unplugged on exit."""
    person = ScriptedPerson(None, stalled(patience)) if patience is not None else None
    try:
        with tempfile.TemporaryDirectory() as d:
            trainer = Trainer(cfg, run_dir=d, progress=True, teleop=person)
            if person is not None:
                person.attach(trainer.env)
            yield trainer
    finally:
        if person is not None:
            person.close()


def run(steps: int, seed: int, person_patience: int | None) -> dict:
    cfg = build_train_config("PickCube", None, ["demos=2", f"stop_at_success={TARGET}", "eval_every=2000"],
                             steps=steps, seed=seed)
    t = time.time()
    with trainer_with_person(cfg, person_patience) as trainer:
        result = trainer.run()
    reached = next((s for s, r in result.evals if r >= TARGET), None)
    windows: dict[int, list[float]] = {}
    for step, rate in trainer.intervention_rates:
        windows.setdefault(step // 2000, []).append(rate)
    return {"reached": reached, "minutes": (time.time() - t) / 60, "evals": result.evals,
            "intervention": {(k + 1) * 2000: float(np.mean(v)) for k, v in sorted(windows.items())}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--patience", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    results = {"no corrections": run(args.steps, args.seed, None),
               "scripted person at the pad": run(args.steps, args.seed, args.patience)}
    print(f"\nPickCube, 2 demos, seed {args.seed}, budget {args.steps} steps, eval 20 episodes every 2k steps:")
    for name, r in results.items():
        reached = f"{r['reached']} steps" if r["reached"] else f"not reached (best {max(x for _, x in r['evals']):.0%})"
        print(f"  {name:28s} 80% at {reached:28s} {r['minutes']:.1f} min; evals {r['evals']}")
    rates = results["scripted person at the pad"]["intervention"]
    print("  intervention rate by 2k-step window: " + ", ".join(f"<={k}: {v:.0%}" for k, v in rates.items()))


if __name__ == "__main__":
    main()
