"""Human in the loop: fine-tuning a sim-trained PickCube policy on the "robot" with a scripted person who
corrects it through a virtual gamepad, against the same fine-tuning with nobody at the pad and the same
expert transitions given up front.

The sim policy: `--init CHECKPOINT`, or trained here as `make demo` trains it (`roboloop train --task
PickCube --seed 0 --steps 24000 --set stop_at_success=0`) into <out>/sim. The robot: PickCubeGap
`--variant` (default `miscalibrated`: the cube position the robot reports is 3.6 cm off, a camera-to-base
calibration error; a memoryless policy can learn to correct for it, unlike pure latency).

For each seed, two fine-tuning runs of `--steps` robot steps from the sim policy, which bring its networks
and its replay (online and demo buffers) as prior data, as `roboloop learn --init` does; no early stop:
  corrected  a person watches each episode; when the policy has gone `--patience` steps without lifting
             the cube they hold the deadman and drive the rest of the episode with the scripted expert's
             actions (it sees the true cube), through an SDL virtual pad read by roboloop's real pygame
             code. Their transitions go to both buffers (RLPD);
  up front   nobody at the pad; as many scripted expert demos on the robot as it takes to hold at least
             every step the person drove in the corrected run of the same seed, in the demo buffer
             before the first update.
Both end with the checkpoint on `--held-out` fresh robot episodes (seeds from HELD_OUT_SEED, used by no
training, stopping or selection), as does the sim policy itself ("before"). Reported over seeds: the IQM
of held-out success per arm with 95% stratified bootstrap CIs and the probability that the corrected run
beats the one without (rliable, roboloop.stats), the expert transitions each run had, and the
intervention rate (share of steps the person drove) per 1k-step window. Finished seeds are kept in
<out>/seed<N>.json: rerunning continues where it stopped, and `--only-seed` lets several processes
share one --out.

    python benchmarks/hil_finetune.py [--seeds 3] [--steps 6000] [--variant miscalibrated] [--init CKPT]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from roboloop import stats
from roboloop.checkpoint import Checkpoint, load_checkpoint
from roboloop.config import build_train_config
from roboloop.hardware.gamepad.virtual import ScriptedPerson
from roboloop.policies.evaluate import HELD_OUT_SEED
from roboloop.policies.held_out import evaluate_held_out
from roboloop.policies.train_loop import Trainer
from roboloop.policies.training import collect_demos

SIM_TRAINING = ["stop_at_success=0"]   # with the task, seed 0 and --sim-steps: `make demo`'s sim stage
FINE_TUNING = ["eval_every=0", "stop_at_success=0", "torch_threads=1",
               # from empty buffers the first updates on a few hundred robot steps wreck the sim policy;
               # with its replay as prior data, learning can start early
               "learning_starts=500"]
CORRECTED, UP_FRONT = "person at the pad", "no person, demos up front"


def stalled(patience: int):
    """The person takes over once the policy has had `patience` steps without lifting the cube, and keeps
    control to the end of that episode."""
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
    """The fewest scripted demo episodes (cfg's task, expert, noise and seeds) holding >= `transitions` steps."""
    counter = _EpisodeCounter()
    collect_demos(cfg, counter, transitions // 5 + 2, log=lambda s: None, progress=False)
    n = next((i + 1 for i, total in enumerate(counter.ends) if total >= transitions), None)
    if n is None:
        raise RuntimeError(f"{len(counter.ends)} demo episodes hold only {counter.num_added} < {transitions} transitions")
    return n


def sim_policy(init: str | None, out: Path, sim_steps: int) -> Path:
    """The sim-trained checkpoint: `init`, or the one trained into <out>/sim (trained now if missing)."""
    if init:
        return Path(init)
    ckpt = out / "sim" / "checkpoint"
    if not ckpt.exists():
        cfg = build_train_config("PickCube", None, SIM_TRAINING, steps=sim_steps, seed=0)
        Trainer(cfg, run_dir=out / "sim").run()
    return ckpt


def fine_tune(sim: Checkpoint, variant: str, steps: int, seed: int, held_out: int, patience: int | None,
              up_front: int = 0) -> dict:
    """One fine-tuning run on PickCubeGap `variant` from the sim checkpoint (loaded with its replay); `up_front`
    scripted robot demos join the sim run's demos before the first update."""
    cfg = gap_config(sim, variant, steps, seed)
    t = time.time()
    with trainer_with_person(cfg, patience) as trainer:
        prior = trainer.loop.init_from(sim)
        if up_front:
            collect_demos(cfg, trainer.loop.demo, up_front, log=print, progress=False)
        result = trainer.run()
        score = evaluate_held_out(result.checkpoint, episodes=held_out)
        windows: dict[int, list[float]] = {}
        for step, rate in trainer.intervention_rates:
            windows.setdefault(min(step, steps - 1) // 1000, []).append(rate)   # the last episode may run over
        expert = trainer.loop.demo.num_added - prior.get("demo", 0)   # robot demos + every step the person drove
    return {"held_out": score.success_rate, "expert": expert, "demos": up_front, "minutes": (time.time() - t) / 60,
            "intervention": {str((k + 1) * 1000): float(np.mean(v)) for k, v in sorted(windows.items())}}


def gap_config(sim: Checkpoint, variant: str, steps: int, seed: int):
    """The fine-tuning config: the sim run's, on PickCubeGap `variant` (its demos are the up-front arm's too)."""
    return build_train_config("PickCubeGap", None, [f"env.variant={variant}", *FINE_TUNING],
                              base=sim.meta["config"], steps=steps, seed=seed)


def run_seed(sim: Checkpoint, variant: str, steps: int, seed: int, patience: int, held_out: int) -> dict:
    corrected = fine_tune(sim, variant, steps, seed, held_out, patience)
    demos = demos_holding(gap_config(sim, variant, steps, seed), corrected["expert"])
    return {CORRECTED: corrected, UP_FRONT: fine_tune(sim, variant, steps, seed, held_out, None, up_front=demos)}


def report(results: dict, before: float, args) -> None:
    seeds = sorted(results, key=int)
    print(f"\nPickCubeGap {args.variant}: the sim policy, then {args.steps} robot steps of fine-tuning per run, seeds "
          f"{', '.join(seeds)}; a person who takes over after {args.patience} steps without a lift, vs the same "
          f"expert transitions up front; each checkpoint on {args.held_out} held-out robot episodes (seeds "
          f"{HELD_OUT_SEED}...); float32, 1 torch thread per run")
    print(f"  before fine-tuning (the sim policy): {before:.0%}")
    for seed in seeds:
        for name, r in results[seed].items():
            print(f"  seed {seed}  {name:26s} {r['expert']:5d} expert robot transitions ({r['demos']} demos up front), "
                  f"held-out {r['held_out']:.0%}, {r['minutes']:.1f} min")
    held = {name: np.array([results[s][name]["held_out"] for s in seeds]) for name in (CORRECTED, UP_FRONT)}
    for name, v in stats.aggregate(held, reps=args.reps).items():
        print(f"  {name:26s} held-out success IQM {v['IQM']}")
    p = stats.probability_of_improvement(held[CORRECTED], held[UP_FRONT], reps=args.reps)
    print(f"  P(person at the pad > demos up front, held-out success) = {p}")
    windows = sorted({int(k) for s in seeds for k in results[s][CORRECTED]["intervention"]
                      if int(k) - 1000 < args.steps})
    rates = [np.nanmean([results[s][CORRECTED]["intervention"].get(str(k), np.nan) for s in seeds]) for k in windows]
    print("  intervention rate by 1k-step window, mean over seeds: "
          + ", ".join(f"<={k}: {r:.0%}" for k, r in zip(windows, rates)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 of the fine-tuning runs")
    ap.add_argument("--steps", type=int, default=6_000, help="robot steps of fine-tuning per run")
    ap.add_argument("--variant", default="miscalibrated", help="the robot's reality gap (PickCubeGap variant)")
    ap.add_argument("--patience", type=int, default=15,
                    help="steps of an episode without a lift before the person takes over")
    ap.add_argument("--held-out", type=int, default=50, help="held-out robot episodes for each checkpoint")
    ap.add_argument("--init", help="the sim-trained checkpoint (default: train one into <out>/sim)")
    ap.add_argument("--sim-steps", type=int, default=24_000, help="env steps of sim training without --init")
    ap.add_argument("--out", default="bench/hil_finetune")
    ap.add_argument("--only-seed", type=int, help="run this one seed (several processes can share --out)")
    ap.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sim_path = sim_policy(args.init, out, args.sim_steps)
    sim = load_checkpoint(sim_path)   # networks and replay, once for every run
    settings = {"sim": str(sim_path.resolve()), "variant": args.variant, "steps": args.steps,
                "patience": args.patience, "held_out": args.held_out}
    for seed in [args.only_seed] if args.only_seed is not None else range(args.seeds):
        path = out / f"seed{seed}.json"
        if path.exists() and json.loads(path.read_text())["settings"] == settings:
            print(f"seed {seed}: finished earlier, kept ({path})", flush=True)
            continue
        result = run_seed(sim, args.variant, args.steps, seed, args.patience, args.held_out)
        path.write_text(json.dumps({"settings": settings, "runs": result}, indent=1))
    results = {}
    for path in sorted(out.glob("seed*.json")):
        data = json.loads(path.read_text())
        if data["settings"] == settings:
            results[path.stem[4:]] = data["runs"]
    if len(results) < 2:
        print(f"{len(results)} seed(s) finished in {out}; the report needs at least 2")
        return
    from roboloop.envs import make_env
    env = make_env("PickCubeGap", {"variant": args.variant}, training=False)
    before = evaluate_held_out(sim_path, episodes=args.held_out, env=env).success_rate
    report(results, before, args)


if __name__ == "__main__":
    main()
