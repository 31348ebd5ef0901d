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
from typing import Callable

import gymnasium as gym
import numpy as np
import torch

from roboloop.policies.sac import SAC


@dataclass
class DistillResult:
    samples: int          # labelled observations
    final_mse: float      # on the last minibatches, normalized action units squared


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


def distill_actor(agent: SAC, states: np.ndarray, labels: np.ndarray, updates: int = 2000,
                  batch_size: int = 256, lr: float = 1e-3, seed: int = 0) -> DistillResult:
    """Fit agent.actor's mean action tanh(mu) to `labels` (N, A) on `states` (N, D); state-only agents."""
    if agent.image_keys:
        raise ValueError("distill_actor fits state-only actors")
    if states.ndim != 2 or labels.shape != (states.shape[0], agent.act_dim):
        raise ValueError(f"states must be (N, D) and labels (N, {agent.act_dim}), got {states.shape} and {labels.shape}")
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.as_tensor(states), torch.as_tensor(labels)
    params = list(agent.actor.parameters())
    for p in params:
        p.requires_grad_(True)   # SAC trains through explicit gradients; plain autograd here
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    try:
        for _ in range(updates):
            idx = torch.randint(0, len(x), (batch_size,), generator=gen)
            loss = (agent.actor.deterministic(agent.encoder({"state": x[idx]})) - y[idx]).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    finally:
        for p in params:
            p.requires_grad_(False)
            p.grad = None
    return DistillResult(len(x), float(np.mean(losses[-50:])))
