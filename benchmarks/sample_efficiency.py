"""Sample efficiency on PickCube (state, sparse reward): env steps to reach 80% eval success.

roboloop RLPD with 10 scripted demos (the shipped PickCube preset) vs stable-baselines3 SAC from
scratch on the same task, same seed, same evaluation (20 episodes, deterministic policy, every
`--eval-every` steps). Both get the same step budget; a run that does not get there is reported as
"not reached" with its best eval.

    python benchmarks/sample_efficiency.py [--budget 40000] [--seed 0]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import gymnasium as gym
import numpy as np
import torch

from roboloop.config import build_train_config
from roboloop.envs import make_env
from roboloop.policies.evaluate import evaluate
from roboloop.policies.train_loop import Trainer

TARGET = 0.8


class StateOnly(gym.ObservationWrapper):
    """Dict(state=Box) -> Box, the form SB3's MlpPolicy takes."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.observation_space = env.observation_space["state"]

    def observation(self, obs):
        return obs["state"]


def run_roboloop(budget: int, seed: int, eval_every: int, episodes: int) -> dict:
    overrides = [f"stop_at_success={TARGET}", f"eval_every={eval_every}", f"eval_episodes={episodes}"]
    cfg = build_train_config("PickCube", None, overrides, steps=budget, seed=seed)
    t = time.time()
    with tempfile.TemporaryDirectory() as d:
        result = Trainer(cfg, run_dir=d, progress=True).run()
    reached = next((s for s, r in result.evals if r >= TARGET), None)
    return {"steps": reached, "minutes": (time.time() - t) / 60, "best": max(r for _, r in result.evals),
            "evals": result.evals}


def run_sb3(budget: int, seed: int, eval_every: int, episodes: int) -> dict:
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    eval_env = StateOnly(make_env("PickCube"))
    evals: list[tuple[int, float]] = []

    class EvalAndStop(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every:
                return True
            res = evaluate(lambda o: self.model.predict(o, deterministic=True)[0], eval_env, episodes,
                           seed=seed + 500_000)
            evals.append((self.num_timesteps, res.success_rate))
            print(f"  sb3 step {self.num_timesteps}: eval {res}", flush=True)
            return res.success_rate < TARGET

    model = SAC("MlpPolicy", StateOnly(make_env("PickCube")), policy_kwargs=dict(net_arch=[256, 256]),
                batch_size=256, device="cpu", seed=seed, verbose=0)
    t = time.time()
    model.learn(total_timesteps=budget, callback=EvalAndStop(), progress_bar=False)
    reached = next((s for s, r in evals if r >= TARGET), None)
    return {"steps": reached, "minutes": (time.time() - t) / 60, "best": max((r for _, r in evals), default=0.0),
            "evals": evals}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=int, default=40_000, help="env-step cap for each learner")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=2_000)
    ap.add_argument("--eval-episodes", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    results = {}
    for name, fn in [("roboloop RLPD + 10 demos", run_roboloop), ("stable-baselines3 SAC", run_sb3)]:
        print(f"== {name}", flush=True)
        results[name] = fn(args.budget, args.seed, args.eval_every, args.eval_episodes)

    print(f"\nPickCube (state, sparse), env steps to {TARGET:.0%} eval success, budget {args.budget}, "
          f"seed {args.seed}:")
    for name, r in results.items():
        steps = f"{r['steps']} steps" if r["steps"] else f"not reached (best {r['best']:.0%})"
        print(f"  {name:28s} {steps:28s} {r['minutes']:.1f} min")
    ours, base = (results[k]["steps"] for k in results)
    if ours and base:
        print(f"  ratio (SB3 steps / roboloop steps): {base / ours:.1f}x")
    elif ours:
        print(f"  ratio: > {args.budget / ours:.1f}x (baseline did not reach {TARGET:.0%} within the budget)")


if __name__ == "__main__":
    main()
