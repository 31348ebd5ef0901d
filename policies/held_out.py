"""Held-out evaluation: the success rate a test asserts or a benchmark reports.

The saved checkpoint's deterministic actor (loaded from disk, as a robot would load it) on episode seeds
that no training episode, demo, periodic evaluation or early stop ever used, so the figure was not
selected on: a run that stopped on its own evaluation is judged on other episodes.
"""
from __future__ import annotations

from pathlib import Path

import gymnasium as gym

from roboloop.checkpoint import load_checkpoint
from roboloop.envs import env_spec, make_env
from roboloop.policies.config import TrainConfig, from_dict
from roboloop.policies.evaluate import HELD_OUT_SEED, EvalResult, evaluate
from roboloop.policies.train_loop import load_actor


def evaluate_held_out(checkpoint: str | Path, episodes: int = 20, seed: int = HELD_OUT_SEED,
                      env: gym.Env | None = None) -> EvalResult:
    """The deterministic actor saved in `checkpoint` (a checkpoint folder) on `episodes` fresh episodes
    with seeds seed, seed+1, ... on its own task and wrappers (training-only perturbations left out), or
    on `env` (which must have the checkpoint's spec). The default seeds are held out from training,
    demos, periodic evaluation and early stopping."""
    if episodes <= 0:
        raise ValueError(f"held-out evaluation needs at least one episode, got {episodes}")
    ckpt = load_checkpoint(checkpoint, load_replay=False)
    actor = load_actor(ckpt, None if env is None else env_spec(env))
    own = env is None
    if own:
        cfg = from_dict(TrainConfig, ckpt.meta["config"])
        env = make_env(cfg.task, cfg.env, cfg.wrappers, training=False, success=cfg.success)
    try:
        return evaluate(lambda o: actor.act(o, deterministic=True), env, episodes, seed)
    finally:
        if own:
            env.close()
