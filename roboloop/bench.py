"""Multi-seed benchmarks: run N seeds of a training config, evaluate on held-out seeds, report with CIs.

`roboloop bench run CONFIG --seeds N` trains seed after seed in `<out>/seed-<s>/run` and evaluates the
deterministic policy every `eval_every` env steps (and before training) on the same held-out episode
seeds for every run. Those evaluations never steer training: the run's own early stop
(`stop_at_success`) is switched off and the run's own evaluation (a different seed range) is not used,
so a reported success rate was not selected on. Training goes in chunks of `eval_every` steps through
checkpoints (resume is exact), so an interrupted bench continues where it stopped: finished seeds are
kept, an unfinished one continues from its last checkpoint. Every evaluation goes to
`<out>/seed-<s>/evals.json` and all of them to `<out>/bench.json`.

`roboloop bench report DIR [DIR ...]` reads one or more bench folders (one per algorithm and task) and
writes `report.md`, `report.json`, learning curves with 95% CI bands (`curves_<task>.png`) and
performance profiles (`profiles.png`): IQM, mean, median and optimality gap of the final held-out
success with stratified bootstrap CIs, the probability of improvement between every two algorithms,
and the env steps and training wall minutes each run needed to reach a success bar (each evaluation
records `train_s`, the seconds spent training up to it, held-out evaluations excluded).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from roboloop.config import TrainConfig, build_train_config, from_dict, to_dict
from roboloop.policies.evaluate import HELD_OUT_SEED   # episode seeds no training or run-eval ever used
FORMAT = "roboloop-bench"


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


@dataclass
class BenchSettings:
    seeds: list[int]
    eval_every: int           # env steps between held-out evaluations (the chunk size)
    eval_episodes: int        # held-out episodes per evaluation

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError("bench needs at least one seed (--seeds N with N >= 1)")
        if self.eval_every <= 0:
            raise ValueError(f"bench eval_every must be > 0 env steps, got {self.eval_every}")
        if self.eval_episodes <= 0:
            raise ValueError(f"bench eval_episodes must be > 0, got {self.eval_episodes}")


def _held_out_eval(agent, cfg: TrainConfig, episodes: int, env_cache: dict) -> dict[str, Any]:
    from roboloop.envs import make_env
    from roboloop.policies.evaluate import evaluate
    if "env" not in env_cache:
        env_cache["env"] = make_env(cfg.task, cfg.env, cfg.wrappers, training=False, success=cfg.success)
    r = evaluate(lambda o: agent.act(o, deterministic=True), env_cache["env"], episodes, seed=HELD_OUT_SEED)
    return {"success_rate": r.success_rate, "mean_return": r.mean_return, "mean_length": r.mean_length,
            "successes": [bool(s) for s in r.successes]}


def run_seed(base: TrainConfig, seed: int, folder: Path, settings: BenchSettings,
             log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Train and evaluate one seed in `folder`, continuing what an earlier call left there."""
    from roboloop.checkpoint import load_checkpoint
    from roboloop.policies.train_loop import Trainer, load_agent

    folder.mkdir(parents=True, exist_ok=True)
    evals_path, done_path, ckpt = folder / "evals.json", folder / "done", folder / "run" / "checkpoint"
    records: list[dict] = json.loads(evals_path.read_text()) if evals_path.exists() else []
    if done_path.exists():
        log(f"seed {seed}: finished earlier, kept ({len(records)} evaluations)")
        return records
    cfg = from_dict(TrainConfig, to_dict(base))
    # the run's own evaluation is reduced to one episode on its own seeds and never stops training
    cfg.seed, cfg.stop_at_success, cfg.eval_every, cfg.eval_episodes = seed, 0.0, 0, 1
    cfg.checkpoint_every = 10 * cfg.steps + 1   # each chunk ends with a checkpoint anyway
    quiet = lambda s: None  # noqa: E731
    env_cache: dict = {}

    # wall seconds spent training (building or resuming the trainer included, held-out evaluations not),
    # summed over the chunks; saved after each chunk, so a crash before its evaluation keeps the figure
    clock = folder / "train_s"
    train_s = float(clock.read_text()) if clock.exists() else 0.0

    def add_time(t0: float) -> None:
        nonlocal train_s
        train_s += time.perf_counter() - t0
        clock.write_text(repr(train_s))   # in full: a redone evaluation must round it as the first did

    def record(agent, step: int, target: int) -> None:
        records.append({"step": step, "target_step": target, "train_s": round(train_s, 2),
                        **_held_out_eval(agent, cfg, settings.eval_episodes, env_cache)})
        _write_json(evals_path, records)
        log(f"seed {seed}: step {step}: held-out success {records[-1]['success_rate']:.0%} "
            f"(return {records[-1]['mean_return']:.2f})")

    if ckpt.exists():
        meta = load_checkpoint(ckpt, load_replay=False).meta
        step = int(meta["counters"]["step"])
        records = [r for r in records if r["step"] <= step]     # a crash after the checkpoint: redo the rest
        if not records or records[-1]["step"] != step:          # a crash between checkpoint and evaluation
            agent, _, _ = load_agent(ckpt, _env_for(cfg))
            record(agent, step, records[-1]["target_step"] + settings.eval_every if records else settings.eval_every)
        target = records[-1]["target_step"]
    else:
        t0 = time.perf_counter()
        trainer = Trainer(_chunk(cfg, settings.eval_every), run_dir=folder / "run", progress=False, log=quiet)
        add_time(t0)
        if not records:
            record(trainer.agent, 0, 0)
        t0 = time.perf_counter()
        result = trainer.run()
        add_time(t0)
        target = settings.eval_every
        record(trainer.agent, result.steps, target)
    while records[-1]["step"] < cfg.steps:
        target = min(target + settings.eval_every, cfg.steps)
        t0 = time.perf_counter()
        trainer = Trainer.resume(ckpt, steps=max(target, records[-1]["step"] + 1), progress=False, log=quiet)
        result = trainer.run()
        add_time(t0)
        record(trainer.agent, result.steps, target)
    done_path.write_text(json.dumps({"steps": records[-1]["step"]}))
    if "env" in env_cache:
        env_cache["env"].close()
    return records


def _env_for(cfg: TrainConfig):
    from roboloop.envs import make_env
    return make_env(cfg.task, cfg.env, cfg.wrappers, training=False, success=cfg.success)


def _chunk(cfg: TrainConfig, steps: int) -> TrainConfig:
    out = from_dict(TrainConfig, to_dict(cfg))
    out.steps = min(steps, cfg.steps)
    return out


def run_bench(config_file: str | None, seeds: int, out: str | Path | None = None, first_seed: int = 0,
              overrides: list[str] | None = None, task: str | None = None, eval_every: int | None = None,
              eval_episodes: int = 20, name: str | None = None, log: Callable[[str], None] = print) -> Path:
    """Run (or continue) `seeds` seeds of a training config; returns the bench folder."""
    cfg = build_train_config(task, config_file, overrides)
    name = name or (Path(config_file).stem if config_file else cfg.task.replace("/", "_").replace(":", "_"))
    folder = Path(out) if out else Path("bench") / name
    settings = BenchSettings(list(range(first_seed, first_seed + seeds)),
                             eval_every or max(1, cfg.eval_every or cfg.steps // 10), eval_episodes)
    folder.mkdir(parents=True, exist_ok=True)
    config = to_dict(cfg)
    config.pop("seed")
    from roboloop.envs import resolve_task
    header = {"format": FORMAT, "name": name, "task": resolve_task(cfg.task), "config": config,
              "eval": {"every": settings.eval_every, "episodes": settings.eval_episodes,
                       "episode_seeds": [HELD_OUT_SEED, HELD_OUT_SEED + settings.eval_episodes - 1]}}
    bench_json = folder / "bench.json"
    runs: dict[str, list] = {}
    if bench_json.exists():
        old = json.loads(bench_json.read_text())
        if {k: old.get(k) for k in header} != header:
            raise ValueError(f"{folder} holds a bench of another config or evaluation; use another --out "
                             "(or delete it) to start a new one")
        runs = old.get("runs", {})
    log(f"bench {name}: {cfg.task}, seeds {settings.seeds}, {cfg.steps} steps, held-out eval every "
        f"{settings.eval_every} steps x {settings.eval_episodes} episodes -> {folder}")
    for seed in settings.seeds:
        runs[str(seed)] = run_seed(cfg, seed, folder / f"seed-{seed}", settings, log)
        _write_json(bench_json, {**header, "runs": runs})
    return folder


# ---------------------------------------------------------------------------------------- report
@dataclass
class Bench:
    name: str
    task: str
    steps: int
    runs: dict[int, list[dict]]      # seed -> evaluations in step order


def load_bench(folder: str | Path) -> Bench:
    path = Path(folder) / "bench.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{folder} is not a bench folder (no bench.json; run `roboloop bench run` first)") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None
    if data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a roboloop bench file (format={data.get('format')!r})")
    steps = int(data["config"]["steps"])
    runs = {int(s): r for s, r in data.get("runs", {}).items() if r and r[-1]["step"] >= steps}  # finished seeds
    if not runs:
        raise ValueError(f"{path} holds no finished seed yet")
    return Bench(data["name"], data["task"], steps, runs)


def _curve_grid(bench: Bench) -> tuple[np.ndarray, np.ndarray]:
    """(nominal steps (P,), success (runs, P)): every run's evaluations at the evaluation points all
    runs reached (evaluations happen at the first episode end after each point, so align on the point)."""
    targets = sorted(set.intersection(*[{r["target_step"] for r in recs} for recs in bench.runs.values()]))
    grid = np.array(targets, dtype=np.int64)
    values = np.array([[next(r["success_rate"] for r in recs if r["target_step"] == t) for t in targets]
                       for _, recs in sorted(bench.runs.items())])
    return grid, values


def steps_to(recs: list[dict], bar: float) -> int | None:
    """Env steps of the first held-out evaluation at or above `bar`, or None if none reached it."""
    return next((int(r["step"]) for r in recs if r["success_rate"] >= bar), None)


def minutes_to(recs: list[dict], bar: float) -> float | None:
    """Wall minutes of training before the first held-out evaluation at or above `bar`, or None."""
    return next((r["train_s"] / 60 for r in recs if r["success_rate"] >= bar and r.get("train_s") is not None),
                None)


def report(folders: list[str | Path], out: str | Path, bar: float = 0.8, reps: int = 2000,
           log: Callable[[str], None] = print) -> Path:
    """Statistics, plots and a markdown summary over the bench folders; returns report.md's path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from roboloop import stats

    benches = [load_bench(f) for f in folders]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    algs = sorted({b.name for b in benches})
    tasks = sorted({b.task for b in benches})
    by = {(b.name, b.task): b for b in benches}
    if len(by) != len(benches):
        raise ValueError("two bench folders have the same name and task; give them different --name")
    # final held-out success: (runs, tasks) per algorithm, over the tasks every algorithm ran
    common = [t for t in tasks if all((a, t) in by for a in algs)]
    if not common:
        raise ValueError(f"no task is shared by every algorithm ({', '.join(algs)}); report them separately")
    scores = {}
    for a in algs:
        n = min(len(by[(a, t)].runs) for t in common)
        scores[a] = np.array([[recs[-1]["success_rate"] for _, recs in sorted(by[(a, t)].runs.items())[:n]]
                              for t in common]).T
    agg = stats.aggregate(scores, reps=reps)
    pairs = {f"{x} > {y}": stats.probability_of_improvement(scores[x], scores[y], reps=reps)
             for x in algs for y in algs if x != y}
    taus = np.linspace(0.0, 1.0, 21)
    profiles = stats.performance_profiles(scores, taus, reps=reps)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for a in algs:
        p, lo, hi = profiles[a]
        ax.plot(taus, p, label=a)
        ax.fill_between(taus, lo, hi, alpha=0.2)
    ax.set_xlabel("held-out success rate τ")
    ax.set_ylabel("fraction of runs with success > τ")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "profiles.png", dpi=120)
    plt.close(fig)

    reach: dict[str, dict] = {}
    curves_png = []
    for t in tasks:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for a in algs:
            if (a, t) not in by:
                continue
            b = by[(a, t)]
            grid, values = _curve_grid(b)
            iqm, lo, hi = stats.iqm_curve(values, reps=reps)
            ax.plot(grid, iqm, label=f"{a} ({len(values)} seeds)")
            ax.fill_between(grid, lo, hi, alpha=0.2)
            hits = [steps_to(recs, bar) for _, recs in sorted(b.runs.items())]
            reached = [h for h in hits if h is not None]
            # a run that never reached the bar counts at its budget: the IQM is then a lower bound
            censored = np.array([h if h is not None else b.steps for h in hits], dtype=np.float64)
            reach[f"{a} / {t}"] = {"reached": len(reached), "runs": len(hits), "steps": hits,
                                   "iqm": stats.iqm_interval(censored, reps=reps).as_dict(),
                                   "lower_bound": len(reached) < len(hits)}
            minutes = [minutes_to(recs, bar) for _, recs in sorted(b.runs.items())]
            if all(r.get("train_s") is not None for _, recs in b.runs.items() for r in recs):
                # as for steps: a run that never reached the bar counts with all its training time
                spent = np.array([m if m is not None else recs[-1]["train_s"] / 60
                                  for m, (_, recs) in zip(minutes, sorted(b.runs.items()))], dtype=np.float64)
                reach[f"{a} / {t}"]["minutes"] = minutes
                reach[f"{a} / {t}"]["iqm_minutes"] = stats.iqm_interval(spent, reps=reps).as_dict()
        ax.set_xlabel("env steps")
        ax.set_ylabel("held-out success (IQM, 95% CI)")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(t)
        ax.legend()
        fig.tight_layout()
        png = out / f"curves_{t.replace('/', '_').replace(':', '_')}.png"
        fig.savefig(png, dpi=120)
        plt.close(fig)
        curves_png.append(png.name)

    lines = [f"# Benchmark report: {', '.join(algs)} on {', '.join(tasks)}", "",
             f"Final held-out success per run (the policy after the last training step, on episode seeds "
             f"never used for training, stopping or selection), aggregated over runs x tasks "
             f"({', '.join(common)}); 95% stratified bootstrap CIs ({reps} resamples, rliable).", "",
             "| algorithm | runs x tasks | " + " | ".join(stats.METRICS) + " |",
             "|---|---|" + "---|" * len(stats.METRICS)]
    for a in algs:
        lines.append(f"| {a} | {scores[a].shape[0]} x {scores[a].shape[1]} | "
                     + " | ".join(str(agg[a][m]) for m in stats.METRICS) + " |")
    lines += ["", "Optimality gap: mean shortfall below 100% success (lower is better)."]
    if pairs:
        lines += ["", "| probability of improvement | P(X > Y) [95% CI] |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in pairs.items()]
    lines += ["", f"Env steps to {bar:.0%} held-out success (first evaluation at or above it):", "",
              "| algorithm / task | reached | IQM steps [95% CI] | IQM training minutes [95% CI] |",
              "|---|---|---|---|"]
    for k, v in reach.items():
        iqm = stats.Interval(**v["iqm"])
        note = " (lower bound: runs that never reached it count at their budget)" if v["lower_bound"] else ""
        wall = "-"
        if "iqm_minutes" in v:
            m = stats.Interval(**v["iqm_minutes"])
            wall = f"{m.point:.1f} [{m.low:.1f}, {m.high:.1f}]"
        lines.append(f"| {k} | {v['reached']}/{v['runs']} | {iqm.point:.0f} [{iqm.low:.0f}, {iqm.high:.0f}]{note} "
                     f"| {wall} |")
    lines += ["", "Training minutes: wall-clock time in training up to that evaluation (held-out evaluations "
              "excluded), so they depend on the machine and its load."]
    lines += [""] + [f"![learning curves]({p})" for p in curves_png] + ["", "![performance profiles](profiles.png)", ""]
    md = out / "report.md"
    md.write_text("\n".join(lines))
    _write_json(out / "report.json", {
        "bar": bar, "reps": reps, "tasks": common,
        "scores": {a: scores[a].tolist() for a in algs},
        "aggregate": {a: {m: agg[a][m].as_dict() for m in stats.METRICS} for a in algs},
        "probability_of_improvement": {k: v.as_dict() for k, v in pairs.items()},
        "steps_to_bar": reach})
    log(f"wrote {md}, report.json, {', '.join(curves_png)} and profiles.png in {out}")
    return md
