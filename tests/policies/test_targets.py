"""The learner's arithmetic, checked against numbers worked out by hand: the Bellman target's
terminated/truncated masking, RLPD's 50/50 batch split and REDQ's min over the drawn critic subset.

The critic's TD target y is read from the critic loss: with the online critic's head zeroed every
Q is 0, so one transition's loss is E * y**2 (E ensemble members). The target critic is replaced by
a module whose member e always answers `values[e]`, so y is known in closed form.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from roboloop.policies.replay import ReplayBuffer, sample_rlpd, to_torch
from roboloop.policies.sac import SAC, SACConfig

GAMMA = 0.9


class FixedTargetCritic(nn.Module):
    """(feat (B, D), act (B, A)) -> (E, B) with member e answering values[e] for every input."""

    def __init__(self, values: list[float]):
        super().__init__()
        self.register_buffer("values", torch.tensor(values, dtype=torch.float32))

    def forward(self, feat: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return self.values[:, None].expand(len(self.values), feat.shape[0])


def agent_with_known_critics(target_values: list[float], num_min_critics: int | None = None) -> SAC:
    cfg = SACConfig(compile=False, hidden_dims=(8, 8), num_critics=len(target_values), gamma=GAMMA,
                    num_min_critics=num_min_critics, matmul_precision="float32")
    agent = SAC({"state": (3,)}, 2, cfg)
    agent.critic.head.weight.zero_()
    agent.critic.head.bias.zero_()
    agent.critic_target = FixedTargetCritic(target_values)
    return agent


def td_target(agent: SAC, batch: dict) -> float:
    """y of a one-transition batch, from the critic loss E * (0 - y)**2; y is positive in these tests."""
    loss = float(agent.update_critic(batch)["critic_loss"])
    return float(np.sqrt(loss / agent.cfg.num_critics))


def one_transition(terminated: bool, truncated: bool, reward: float = 1.0) -> dict:
    """A transition as the training loop stores and samples it (through the replay buffer)."""
    buf = ReplayBuffer({"state": (3,)}, {"state": np.float32}, 2, capacity=8)
    buf.add({"state": np.zeros(3, np.float32)}, np.zeros(2, np.float32), reward,
            {"state": np.ones(3, np.float32)}, terminated, truncated)
    return to_torch(buf.sample(1, np.random.default_rng(0)))


@pytest.mark.parametrize("terminated, truncated, expected", [
    (False, False, 1.0 + GAMMA * 3.0),   # mid-episode: bootstrap from min(5, 3)
    (False, True, 1.0 + GAMMA * 3.0),    # time limit: the state still has a future, so bootstrap as well
    (True, False, 1.0),                   # the episode really ended: no bootstrap
    (True, True, 1.0),                    # terminated wins over truncated
])
def test_bellman_target_masks_only_termination(terminated, truncated, expected):
    torch.manual_seed(0)
    agent = agent_with_known_critics([5.0, 3.0])
    batch = one_transition(terminated, truncated)
    assert float(batch["terminated"][0]) == float(terminated)
    assert td_target(agent, batch) == pytest.approx(expected, abs=1e-5)


def test_redq_takes_the_min_over_the_drawn_subset_only():
    values = [1.0, 2.0, 3.0, 4.0]
    batch = one_transition(False, False, reward=0.5)
    seen = set()
    for seed in range(40):
        agent = agent_with_known_critics(values, num_min_critics=2)
        torch.manual_seed(seed)
        subset = torch.randperm(4)[:2]       # the draw the critic step makes first from the same seed
        torch.manual_seed(seed)
        y = td_target(agent, batch)
        expected = 0.5 + GAMMA * min(values[i] for i in subset.tolist())
        assert y == pytest.approx(expected, abs=1e-5), f"seed {seed}: subset {subset.tolist()}"
        seen.add(round(y, 4))
    # subsets without member 0 give min 2 or 3: a min over all four members would always give 1.4
    assert seen == {round(0.5 + GAMMA * v, 4) for v in (1.0, 2.0, 3.0)}


def test_full_ensemble_min_without_redq():
    agent = agent_with_known_critics([4.0, 2.5, 6.0], num_min_critics=None)
    assert td_target(agent, one_transition(False, False)) == pytest.approx(1.0 + GAMMA * 2.5, abs=1e-5)


def filled(reward: float, n: int) -> ReplayBuffer:
    buf = ReplayBuffer({"state": (2,)}, {"state": np.float32}, 1, capacity=4 * n)
    for i in range(n):
        buf.add({"state": np.full(2, i, np.float32)}, np.zeros(1, np.float32), reward,
                {"state": np.full(2, i + 1, np.float32)}, False, i % 10 == 9)
    return buf


@pytest.mark.parametrize("batch_size", [256, 7, 2])
def test_rlpd_batches_are_half_online_half_demo(batch_size):
    online, demo = filled(0.0, 300), filled(1.0, 40)     # reward tells the source apart
    rng = np.random.default_rng(0)
    for _ in range(5):
        batch = sample_rlpd(online, demo, batch_size, rng)
        rewards = batch["reward"]
        assert rewards.shape == (batch_size,)
        assert np.array_equal(batch["demo"], rewards)   # the demo mask marks exactly the demo rows
        n_demo = batch_size // 2
        assert np.all(rewards[: batch_size - n_demo] == 0.0) and np.all(rewards[batch_size - n_demo:] == 1.0)
    # a demo buffer 7.5x smaller still fills half the batch: sampling is per buffer, not over the union
    many = np.concatenate([sample_rlpd(online, demo, 256, rng)["reward"] for _ in range(20)])
    assert many.mean() == pytest.approx(0.5, abs=1e-9)


def test_rlpd_without_demos_samples_online_only():
    online, empty = filled(0.0, 50), ReplayBuffer({"state": (2,)}, {"state": np.float32}, 1, capacity=8)
    rng = np.random.default_rng(1)
    for demo in (None, empty):
        batch = sample_rlpd(online, demo, 64, rng)
        assert batch["reward"].shape == (64,) and np.all(batch["reward"] == 0.0) and not batch["demo"].any()
