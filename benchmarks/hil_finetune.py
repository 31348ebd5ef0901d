"""Human in the loop: PickCube learning with a scripted "person" who corrects the policy through a
virtual gamepad, against the same run with nobody at the pad.

The corrected run: the PickCube preset with 2 scripted demos instead of 10 (a weak start worth
correcting). A person watches each episode; when the policy stalls (no grasp after `--patience` steps)
they hold the deadman and drive the rest of the episode with the scripted expert's actions, through an
SDL virtual pad read by roboloop's real pygame code. Their transitions go to both buffers (RLPD).

The run without corrections gets the same number of expert transitions, up front: as many scripted
demos (the same expert) as it takes to hold at least the corrected run's 2 demos plus every step the
person drove. Both: the same seed and step budget, eval every 2k steps on 20 episodes (which may stop
the run at 80%), then the saved checkpoint on 20 held-out episodes. Reported: env steps to 80% eval
success, the held-out success, the expert transitions each run had, and the intervention rate (share
of steps the person drove) per 2k-step window.

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
from roboloop.policies.held_out import evaluate_held_out
from roboloop.policies.train_loop import Trainer
from roboloop.policies.training import collect_demos

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


class _EpisodeCounter:
    """The replay-buffer surface `collect_demos` writes to; counts transitions and where episodes end."""

    def __init__(self):
        self.num_added, self.ends = 0, []

    def add(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        self.num_added += 1
        if terminated or truncated:
            self.ends.append(self.num_added)


def demos_holding(cfg, transitions: int) -> int:
    """The fewest scripted demo episodes (cfg's expert, noise and seeds) holding >= `transitions` steps."""
    counter = _EpisodeCounter()
    collect_demos(cfg, counter, transitions // 5 + 2, log=lambda s: None, progress=False)
    n = next((i + 1 for i, total in enumerate(counter.ends) if total >= transitions), None)
    if n is None:
        raise RuntimeError(f"{len(counter.ends)} demo episodes hold only {counter.num_added} < {transitions} transitions")
    return n


def run(steps: int, seed: int, person_patience: int | None, demos: int = 2) -> dict:
    cfg = build_train_config("PickCube", None, [f"demos={demos}", f"stop_at_success={TARGET}", "eval_every=2000"],
                             steps=steps, seed=seed)
    t = time.time()
    with trainer_with_person(cfg, person_patience) as trainer:
        result = trainer.run()
        held_out = evaluate_held_out(result.checkpoint, episodes=20)
        expert = trainer.loop.demo.num_added   # scripted demos + every step the person drove
    reached = next((s for s, r in result.evals if r >= TARGET), None)
    windows: dict[int, list[float]] = {}
    for step, rate in trainer.intervention_rates:
        windows.setdefault(step // 2000, []).append(rate)
    return {"reached": reached, "minutes": (time.time() - t) / 60, "evals": result.evals, "demos": demos,
            "expert": expert, "held_out": held_out.success_rate, "cfg": cfg,
            "intervention": {(k + 1) * 2000: float(np.mean(v)) for k, v in sorted(windows.items())}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--patience", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    corrected = run(args.steps, args.seed, args.patience)
    demos = demos_holding(corrected["cfg"], corrected["expert"])
    results = {"scripted person at the pad": corrected,
               "no corrections, demos up front": run(args.steps, args.seed, None, demos=demos)}
    print(f"\nPickCube, seed {args.seed}, budget {args.steps} steps, eval 20 episodes every 2k steps, then 20 "
          f"held-out episodes:")
    for name, r in results.items():
        reached = f"{r['reached']} steps" if r["reached"] else f"not reached (best {max(x for _, x in r['evals']):.0%})"
        print(f"  {name:32s} {r['demos']:3d} demos, {r['expert']:5d} expert transitions   80% at {reached:28s} "
              f"held-out {r['held_out']:.0%}   {r['minutes']:.1f} min; evals {r['evals']}")
    rates = results["scripted person at the pad"]["intervention"]
    print("  intervention rate by 2k-step window: " + ", ".join(f"<={k}: {v:.0%}" for k, v in rates.items()))


if __name__ == "__main__":
    main()
