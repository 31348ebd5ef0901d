"""Behaviour cloning into the SAC actor: it fits a teacher, and refuses data of the wrong shape."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from roboloop.policies.distill import collect_labels, distill_actor
from roboloop.policies.sac import SAC, SACConfig


def make_agent():
    torch.manual_seed(0)
    return SAC({"state": (6,)}, 2, SACConfig(hidden_dims=(32, 32), compile=False, matmul_precision="float32"))


def test_actor_learns_a_teacher_it_did_not_start_as():
    rng = np.random.default_rng(0)
    states = rng.normal(size=(2_000, 6)).astype(np.float32)
    w = rng.normal(size=(6, 2)) * 0.3
    labels = np.tanh(states @ w).astype(np.float32)
    agent = make_agent()

    def mse():
        with torch.no_grad():
            a = agent.actor.deterministic(agent.encoder({"state": torch.as_tensor(states)})).numpy()
        return float(np.mean((a - labels) ** 2))
    before = mse()
    result = distill_actor(agent, states, labels, updates=400)
    assert result.samples == 2_000 and mse() < 0.1 * before and mse() < 0.01
    # the agent is back to SAC's explicit-gradient mode: nothing requires grad, no stale .grad
    assert all(not p.requires_grad and p.grad is None for p in agent.actor.parameters())


def test_wrong_shapes_are_refused():
    agent = make_agent()
    with pytest.raises(ValueError, match="labels"):
        distill_actor(agent, np.zeros((10, 6), np.float32), np.zeros((10, 3), np.float32))


def test_collect_labels_records_the_teachers_clean_actions():
    class Teacher:
        resets = 0

        def reset(self):
            Teacher.resets += 1

        def __call__(self, obs):
            return np.full(4, -0.11, np.float32)
    import roboloop.sim  # noqa: F401
    env = gym.make("roboloop/QuadHover-v0", episode_s=0.5, hold_s=0.1)
    states, labels = collect_labels(env, Teacher(), 2, seed=0, noise=0.2)
    assert states.shape == (len(labels), 29) and np.all(labels == np.float32(-0.11)) and Teacher.resets == 2
    assert len(labels) <= 100
