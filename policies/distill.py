"""Distill a teacher (a scripted controller or a bigger policy) into a SAC agent's actor by behaviour cloning.

The student is the agent's own squashed-Gaussian actor, so the result exports, checkpoints and fine-tunes
like any trained actor. Data: the teacher drives with Gaussian exploration noise on its actions (so the
student sees how to recover from its own small mistakes) and every visited observation is labelled with
the teacher's clean action; with `driver` (DAgger rounds), the student drives and the teacher, still
called every step so a stateful controller keeps its state, only labels. Loss: mean squared error
between tanh(mu(obs)) and the label.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import gymnasium as gym
import numpy as np
import torch

from roboloop.policies.behaviour_cloning import DistillResult, distill_actor  # noqa: F401  (public here too)


def collect_labels(env: gym.Env, teacher: Callable[[dict], np.ndarray], episodes: int, seed: int,
                   noise: float = 0.05, driver: Callable[[dict], np.ndarray] | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(obs["state"] (N, D), teacher actions (N, A)) from `episodes` episodes (seeds seed, seed+1, ...)
    driven by `driver` (default: the teacher) with Gaussian noise of std `noise` on its actions."""
    rng = np.random.default_rng(seed)
    states, labels = [], []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        if hasattr(teacher, "reset"):
            teacher.reset()
        done = False
        while not done:
            a = np.asarray(teacher(obs), np.float32)
            states.append(obs["state"])
            labels.append(a)
            drive = a if driver is None else np.asarray(driver(obs), np.float32)
            noisy = np.clip(drive + rng.normal(0.0, noise, a.shape), -1.0, 1.0).astype(np.float32)
            obs, _, terminated, truncated, _ = env.step(noisy)
            done = terminated or truncated
    return np.stack(states).astype(np.float32), np.stack(labels).astype(np.float32)


@dataclass
class StudentReport:
    """A distilled student checkpoint and how it compares with its teacher in closed loop."""
    checkpoint: Path
    hidden_dims: tuple[int, ...]
    samples: int                  # labelled observations over all rounds
    final_mse: float              # normalized action units squared, last round
    teacher_success: float        # on the same held-out episodes (seeds eval_seed, eval_seed+1, ...)
    student_success: float
    episodes: int
    eval_seed: int


def parse_hidden(text: str) -> tuple[int, ...]:
    """'64x64' -> (64, 64); widths are positive integers."""
    try:
        dims = tuple(int(t) for t in str(text).lower().split("x"))
    except ValueError:
        dims = ()
    if not dims or any(d < 1 for d in dims):
        raise ValueError(f"hidden layer widths must look like 64x64 (positive integers joined by x), got {text!r}")
    return dims


def distill_checkpoint(teacher: str | Path, out_dir: str | Path, hidden_dims: tuple[int, ...] = (64, 64),
                       rounds: int = 3, episodes: int = 10, updates: int = 1500, eval_episodes: int = 20,
                       eval_seed: int = 700_000, seed: int = 0, task: str | None = None,
                       env: dict | None = None, log: Callable[[str], None] = print) -> StudentReport:
    """Distil the actor saved at `teacher` (a checkpoint folder) into a smaller actor, DAgger-style.

    Round 0: the teacher drives (with small action noise) for `episodes` episodes; rounds 1..rounds-1:
    the student drives and the teacher labels what the student visits. After each round the student's
    actor is fitted (`updates` minibatches) on every label so far. The student keeps the teacher's
    config, encoder and critics (so it can be fine-tuned like any checkpoint); only the actor's hidden
    widths change. Both are then run deterministically on `eval_episodes` held-out episodes (seeds
    eval_seed, eval_seed+1, ..., never used for labels) of the teacher's task, or of `task` with the
    teacher's env options updated by `env` (e.g. the robot's reality-gap variant; the spec must match the
    teacher's). Writes <out_dir>/checkpoint.
    """
    from roboloop.checkpoint import load_checkpoint
    from roboloop.policies.config import TrainConfig, from_dict
    from roboloop.policies.evaluate import evaluate
    from roboloop.policies.train_loop import Trainer, load_agent

    if min(rounds, episodes, eval_episodes, updates) < 1:
        raise ValueError(f"rounds, episodes, eval_episodes and updates must be >= 1 "
                         f"(got {rounds}, {episodes}, {eval_episodes}, {updates})")
    ckpt = load_checkpoint(teacher, load_replay=False)
    if ckpt.meta["config"].get("sac", {}).get("grasp_critic", False):
        raise ValueError(f"{teacher} acts with a grasp critic (sac.grasp_critic): its gripper is a discrete "
                         f"command that a student MLP does not reproduce, so it cannot be distilled")
    base = dict(ckpt.meta["config"])
    base["sac"] = {**base["sac"], "actor_hidden_dims": list(hidden_dims)}
    if task is not None:
        base["task"] = task
    base["env"] = {**base.get("env", {}), **(env or {})}
    cfg = from_dict(TrainConfig, {**base, "seed": seed})
    torch.manual_seed(seed)
    student_run = Trainer(cfg, run_dir=out_dir, progress=False, log=lambda s: None)
    sim = student_run.eval_env
    t_agent, _, _ = load_agent(ckpt, sim)
    student = student_run.agent
    # everything but the actor comes from the teacher: encoder (with its normalizer), critics, temperature
    own = student.state_dict()
    student.load_state_dict({k: v for k, v in t_agent.state_dict().items()
                             if not k.startswith("actor.") and k in own and own[k].shape == v.shape}, strict=False)

    def teacher_act(o):
        return t_agent.act(o, deterministic=True)

    def student_act(o):
        return student.act(o, deterministic=True)

    states, labels = np.zeros((0, sim.observation_space["state"].shape[0]), np.float32), None
    fit = DistillResult(0, float("nan"))
    for r in range(rounds):
        s, a = collect_labels(sim, teacher_act, episodes, seed=seed * 10_000 + r * episodes,
                              driver=None if r == 0 else student_act)
        states = np.concatenate([states, s])
        labels = a if labels is None else np.concatenate([labels, a])
        fit = distill_actor(student, states, labels, updates=updates, seed=seed + r,
                            progress=lambda u, mse: log(f"  round {r + 1}: update {u}/{updates}, mse {mse:.4f}"))
        log(f"distill round {r + 1}/{rounds} ({'teacher' if r == 0 else 'student'} drives): "
            f"{fit.samples} labelled observations, mse {fit.final_mse:.4f}")
    t_res = evaluate(teacher_act, sim, eval_episodes, eval_seed)
    s_res = evaluate(student_act, sim, eval_episodes, eval_seed)
    path = student_run.save()
    student_run.env.close()
    if student_run.eval_env is not student_run.env:
        student_run.eval_env.close()
    return StudentReport(path, tuple(hidden_dims), fit.samples, fit.final_mse, t_res.success_rate,
                         s_res.success_rate, eval_episodes, eval_seed)
