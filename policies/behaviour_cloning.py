"""Behaviour cloning of a SAC agent's actor: fit its mean action to labelled states.

The student is the agent's own squashed-Gaussian actor, so the result exports, checkpoints and fine-tunes
like any trained actor. Loss: mean squared error between tanh(mu(obs)) and the label. Used to distill a
teacher (policies/distill.py) and to warm-start an actor on demonstrations (`demo_bc_updates`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from roboloop.policies.sac import SAC


@dataclass
class DistillResult:
    samples: int          # labelled observations
    final_mse: float      # on the last minibatches, normalized action units squared


def distill_actor(agent: SAC, states: np.ndarray, labels: np.ndarray, updates: int = 2000,
                  batch_size: int = 256, lr: float = 1e-3, seed: int = 0,
                  progress: Callable[[int, float], None] | None = None, every: int = 250) -> DistillResult:
    """Fit agent.actor's mean action tanh(mu) to `labels` (N, A) on `states` (N, D); state-only agents.
    `progress(update, mse)` is called every `every` updates (long fits on a busy machine stay audible).
    With a grasp critic (sac.grasp_critic) only the continuous dims are fitted: the gripper's command is
    the grasp critic's, which learns from the same demos by its TD loss."""
    if agent.image_keys:
        raise ValueError("distill_actor fits state-only actors")
    if states.ndim != 2 or labels.shape != (states.shape[0], agent.act_dim):
        raise ValueError(f"states must be (N, D) and labels (N, {agent.act_dim}), got {states.shape} and {labels.shape}")
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.as_tensor(states), torch.as_tensor(labels[:, :agent.cont_dim])
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
            if progress is not None and len(losses) % every == 0:
                progress(len(losses), float(np.mean(losses[-50:])))
    finally:
        for p in params:
            p.requires_grad_(False)
            p.grad = None
    return DistillResult(len(x), float(np.mean(losses[-50:])))
