"""Sample efficiency, side by side: roboloop vs stable-baselines3 SAC vs SBX SAC, several seeds, held out.

Two comparisons, each learner given the same things:
- PickCube (state, sparse reward: 1 on lift): roboloop RLPD (the shipped preset) vs SB3 SAC and SBX SAC
  with the *same* scripted demos preloaded in their replay buffers (the same expert, noise and episode
  seeds, through roboloop's own `collect_demos`). The demo transitions are counted: the step figures
  below are env steps plus the demo transitions, for every learner alike.
- Reach (dense shaping): plain SAC vs plain SAC (no demos anywhere).

Shared by all learners: 256x256 networks, 2 critics, batch 256, one update per env step (UTD 1), the
same learning_starts (random actions before it), gamma, tau, learning rates, initial temperature 0.1
and target entropy -|A|/2, float32 matmuls, the same torch/XLA thread count, and the same evaluation:
the deterministic policy every `--eval-every` env steps (and before training) on `--eval-episodes`
held-out episode seeds (roboloop.policies.evaluate.HELD_OUT_SEED onwards) that no run trains, collects
demos or stops on; no run stops early. What differs is what each library is: roboloop's RLPD samples
half of each batch from the demos and uses LayerNorm critics, gradient clipping and no entropy term in
the target; SB3 and SBX run their stock SAC (uniform sampling from one buffer holding demos and online
data). roboloop runs its updates eagerly here (`sac.compile=false`: the same function as compiled,
tests/policies/test_compile.py) so that no per-chunk compile time clouds the wall-clock column.

Runs go through `roboloop bench` (roboloop) or the same bench.json format (SB3, SBX), so the report is
`roboloop bench report`'s: IQM and 95% stratified bootstrap CIs (rliable) of the final held-out success,
probability of improvement, env steps to the bar, learning curves and performance profiles. Finished
seeds are kept: rerunning the command continues where it stopped.

    python benchmarks/sample_efficiency.py [--seeds 5] [--tasks pickcube reach] [--out bench/sample_efficiency]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

# one thread each for torch and XLA before either is imported: the learners get the same cores
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from roboloop import bench  # noqa: E402
from roboloop.config import TrainConfig, build_train_config, to_dict  # noqa: E402
from roboloop.envs import make_env, resolve_task  # noqa: E402
from roboloop.policies.evaluate import HELD_OUT_SEED, evaluate  # noqa: E402
from roboloop.policies.training import collect_demos  # noqa: E402

BAR = 0.8
# task -> (roboloop preset name, budget in env steps, eval every, label of the roboloop arm)
TASKS = {
    "pickcube": ("PickCube", 30_000, 2_000, "roboloop RLPD + demos"),
    "reach": ("Reach", 6_000, 1_000, "roboloop SAC"),
}
SHARED = ["sac.compile=false", "sac.matmul_precision=float32", "torch_threads=1"]


class StateOnly(gym.ObservationWrapper):
    """Dict(state=Box) -> Box, the form SB3's and SBX's MlpPolicy take."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.observation_space = env.observation_space["state"]

    def observation(self, obs):
        return obs["state"]


class DemoSink:
    """The replay-buffer surface `collect_demos` writes to, forwarding into an SB3/SBX buffer."""

    def __init__(self, buffer):
        self.buffer, self.num_added = buffer, 0

    def add(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        # done = terminated: a demo cut by the time limit still bootstraps, as in roboloop's buffer
        self.buffer.add(obs["state"][None], next_obs["state"][None], np.asarray(action, np.float32)[None],
                        np.array([reward], np.float32), np.array([terminated]), [{}])
        self.num_added += 1


def make_baseline(kind: str, cfg: TrainConfig, env: gym.Env, seed: int):
    """SB3 ('sb3') or SBX ('sbx') SAC with roboloop's sizes and hyperparameters."""
    if kind == "sb3":
        from stable_baselines3 import SAC
        extra = {"device": "cpu"}
    else:
        from sbx import SAC
        extra = {}
    s = cfg.sac
    act_dim = env.action_space.shape[0]
    return SAC("MlpPolicy", env, learning_rate=s.actor_lr, buffer_size=cfg.replay_capacity + 20_000,
               learning_starts=cfg.learning_starts, batch_size=s.batch_size, tau=s.tau, gamma=s.gamma,
               train_freq=1, gradient_steps=s.utd_ratio, ent_coef=f"auto_{s.init_temperature}",
               target_entropy=s.target_entropy if s.target_entropy is not None else -act_dim / 2,
               policy_kwargs=dict(net_arch=list(s.hidden_dims), n_critics=s.num_critics),
               seed=seed, verbose=0, **extra)


def run_baseline(kind: str, name: str, cfg: TrainConfig, seeds: list[int], folder: Path, eval_every: int,
                 episodes: int) -> Path:
    """Train `kind` for cfg.steps env steps per seed, evaluating like `roboloop bench`; writes bench.json."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {**to_dict(cfg), "learner": kind}
    config.pop("seed")
    header = {"format": bench.FORMAT, "name": name, "task": resolve_task(cfg.task), "config": config,
              "eval": {"every": eval_every, "episodes": episodes,
                       "episode_seeds": [HELD_OUT_SEED, HELD_OUT_SEED + episodes - 1]}}
    path = folder / "bench.json"
    runs = json.loads(path.read_text())["runs"] if path.exists() else {}
    for seed in seeds:
        if str(seed) in runs and runs[str(seed)][-1]["step"] >= cfg.steps:
            print(f"  {name} seed {seed}: finished earlier, kept", flush=True)
            continue
        runs[str(seed)] = _train_baseline(kind, name, cfg, seed, eval_every, episodes)
        bench._write_json(path, {**header, "runs": runs})
    return folder


def _train_baseline(kind: str, name: str, cfg: TrainConfig, seed: int, eval_every: int, episodes: int) -> list:
    torch.manual_seed(seed)
    env = StateOnly(make_env(cfg.task, cfg.env, cfg.wrappers, success=cfg.success))
    eval_env = StateOnly(make_env(cfg.task, cfg.env, cfg.wrappers, training=False, success=cfg.success))
    # training wall time as roboloop.bench counts it: model and demos included, held-out evaluations not
    t0 = time.perf_counter()
    model = make_baseline(kind, cfg, env, seed)
    if cfg.demos:
        demo_cfg = dataclasses.replace(cfg, seed=seed)
        collect_demos(demo_cfg, DemoSink(model.replay_buffer), cfg.demos, log=lambda s: print("  " + s),
                      progress=False)
    records, train_s = [], time.perf_counter() - t0

    def record(target: int) -> None:
        r = evaluate(lambda o: model.predict(o, deterministic=True)[0], eval_env, episodes, HELD_OUT_SEED)
        records.append({"step": int(model.num_timesteps), "target_step": target, "success_rate": r.success_rate,
                        "mean_return": r.mean_return, "mean_length": r.mean_length,
                        "successes": [bool(s) for s in r.successes], "train_s": round(train_s, 2)})
        print(f"  {name} seed {seed}: step {model.num_timesteps}: held-out success {r.success_rate:.0%} "
              f"({train_s:.0f} s of training)", flush=True)

    record(0)
    target = 0
    while target < cfg.steps:
        chunk = min(eval_every, cfg.steps - target)
        t0 = time.perf_counter()
        model.learn(total_timesteps=chunk, reset_num_timesteps=target == 0, progress_bar=False)
        train_s += time.perf_counter() - t0
        target += chunk
        record(target)
    env.close()
    eval_env.close()
    return records


def demo_transitions(cfg: TrainConfig, seed: int) -> int:
    """How many transitions the preset's scripted demos hold (0 without demos)."""
    if not cfg.demos:
        return 0
    sink = type("Count", (), {"num_added": 0, "add": lambda self, *a: setattr(self, "num_added", self.num_added + 1)})()
    collect_demos(dataclasses.replace(cfg, seed=seed), sink, cfg.demos, log=lambda s: None, progress=False)
    return sink.num_added


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    ap.add_argument("--learners", nargs="+", choices=["roboloop", "sb3", "sbx"], default=["roboloop", "sb3", "sbx"])
    ap.add_argument("--budget", type=int, help="env steps per run (default: per task, PickCube 30k, Reach 6k)")
    ap.add_argument("--eval-every", type=int, help="env steps between held-out evaluations (default: per task)")
    ap.add_argument("--eval-episodes", type=int, default=20)
    ap.add_argument("--out", default="bench/sample_efficiency")
    ap.add_argument("--reps", type=int, default=2000, help="bootstrap resamples of the report")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    seeds = list(range(args.seeds))
    summary = []
    for task in args.tasks:
        preset, budget, every, label = TASKS[task]
        budget, every = args.budget or budget, args.eval_every or every
        overrides = SHARED + [f"steps={budget}"]
        cfg = build_train_config(preset, None, overrides)
        demos = f" + the same {cfg.demos} scripted demos" if cfg.demos else " (no demos)"
        print(f"== {preset}: {budget} env steps, {len(seeds)} seeds, held-out eval every {every} steps x "
              f"{args.eval_episodes} episodes; SB3/SBX SAC{demos}; float32, 1 thread each", flush=True)
        folders = []
        for learner in args.learners:
            t = time.time()
            if learner == "roboloop":
                folders.append(bench.run_bench(None, args.seeds, out / task / learner, overrides=overrides, task=preset,
                                               eval_every=every, eval_episodes=args.eval_episodes, name=label))
            else:
                name = {"sb3": "SB3 SAC", "sbx": "SBX SAC"}[learner] + (" + demos" if cfg.demos else "")
                folders.append(run_baseline(learner, name, cfg, seeds, out / task / learner, every, args.eval_episodes))
            print(f"  {learner}: {time.time() - t:.0f} s this call", flush=True)
        md = bench.report(folders, out / task / "report", bar=BAR, reps=args.reps)
        data = json.loads((md.parent / "report.json").read_text())
        summary.append((preset, cfg, data, md))

    for preset, cfg, data, md in summary:
        n_demo = demo_transitions(cfg, 0)
        print(f"\n{preset}: final held-out success (IQM [95% CI]) and env steps to {BAR:.0%} held-out success"
              + (f" (+ {n_demo} demo transitions, counted, same for every learner)" if n_demo else "") + f"; {md}")
        for alg, agg in data["aggregate"].items():
            reach = next(v for k, v in data["steps_to_bar"].items() if k.startswith(alg + " / "))
            iqm = reach["iqm"]
            steps = (f"{iqm['point'] + n_demo:,.0f} [{iqm['low'] + n_demo:,.0f}, {iqm['high'] + n_demo:,.0f}]"
                     + (" (lower bound)" if reach["lower_bound"] else ""))
            i = agg["IQM"]
            print(f"  {alg:24s} success {i['point']:.2f} [{i['low']:.2f}, {i['high']:.2f}]   "
                  f"reached {reach['reached']}/{reach['runs']}   steps {steps}")
        for k, v in data["probability_of_improvement"].items():
            if k.startswith("roboloop"):
                print(f"  P({k}) = {v['point']:.2f} [{v['low']:.2f}, {v['high']:.2f}]")


if __name__ == "__main__":
    main()
