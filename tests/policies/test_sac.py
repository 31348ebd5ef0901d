import numpy as np
import torch

from roboloop.policies.replay import ReplayBuffer, to_torch
from roboloop.policies.sac import SAC, SACConfig


def image_batch(b=8, size=32):
    obs = lambda: {"state": torch.randn(b, 3), "front": torch.randint(0, 255, (b, size, size, 3), dtype=torch.uint8),
                   "wrist": torch.randint(0, 255, (b, size, size, 3), dtype=torch.uint8)}
    return {"obs": obs(), "next_obs": obs(), "action": torch.rand(b, 2) * 2 - 1, "reward": torch.randn(b),
            "terminated": torch.zeros(b)}


def test_defaults():
    agent = SAC({"state": (5,)}, 4, SACConfig(compile=False))
    assert agent.target_entropy == -2.0
    assert agent.critic.ensemble_size == 2


def test_image_encoder_is_trained_by_the_critic_only():
    torch.manual_seed(0)
    shapes = {"state": (3,), "front": (32, 32, 3), "wrist": (32, 32, 3)}
    agent = SAC(shapes, 2, SACConfig(compile=False, hidden_dims=(32, 32), image_channels=8, image_feature_dim=16))
    batch = image_batch()
    enc0 = [p.detach().clone() for p in agent.encoder.parameters()]
    info = agent.update_critic(batch)
    enc1 = [p.detach().clone() for p in agent.encoder.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(enc0, enc1)), "critic step must train the encoder"
    actor0 = [p.detach().clone() for p in agent.actor.parameters()]
    agent.update_actor_and_temperature(info["feat"])
    assert all(torch.equal(a, b) for a, b in zip(enc1, agent.encoder.parameters())), "actor must not train the encoder"
    assert any(not torch.equal(a, b) for a, b in zip(actor0, agent.actor.parameters()))
    action = agent.act({k: v[0].numpy() for k, v in batch["obs"].items()})
    assert action.shape == (2,) and np.all(np.abs(action) < 1)


def test_targets_follow_by_polyak_averaging():
    torch.manual_seed(0)
    agent = SAC({"state": (4,)}, 2, SACConfig(compile=False, hidden_dims=(16, 16), tau=0.1))
    before = [p.detach().clone() for p in agent.critic_target.parameters()]
    b = 16
    agent.update_critic({"obs": {"state": torch.randn(b, 4)}, "next_obs": {"state": torch.randn(b, 4)},
                         "action": torch.rand(b, 2), "reward": torch.randn(b), "terminated": torch.zeros(b)})
    for old, tgt, online in zip(before, agent.critic_target.parameters(), agent.critic.parameters()):
        assert torch.allclose(tgt, 0.9 * old + 0.1 * online, atol=1e-6)


def test_redq_subset_of_a_larger_ensemble_runs():
    agent = SAC({"state": (4,)}, 2, SACConfig(compile=False, hidden_dims=(16, 16), num_critics=5, num_min_critics=2))
    b = 8
    batch = {"obs": {"state": torch.randn(b, 4)}, "next_obs": {"state": torch.randn(b, 4)},
             "action": torch.rand(b, 2), "reward": torch.randn(b), "terminated": torch.zeros(b)}
    info = agent.update([batch, batch, batch])
    assert np.isfinite(float(info["critic_loss"])) and agent.critic(torch.randn(3, 4), torch.rand(3, 2)).shape == (5, 3)


def test_sac_solves_a_one_step_bandit():
    """Reward -(a - target)^2 for a one-step episode: the deterministic action must move to the target."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    target = np.array([0.5, -0.3], np.float32)
    agent = SAC({"state": (1,)}, 2, SACConfig(compile=False, hidden_dims=(64, 64), batch_size=128, init_temperature=0.01))
    buf = ReplayBuffer({"state": (1,)}, {"state": np.float32}, 2, 5000)
    obs = {"state": np.ones(1, np.float32)}
    for i in range(1500):
        a = rng.uniform(-1, 1, 2).astype(np.float32) if i < 300 else agent.act(obs)
        buf.add(obs, a, -float(np.sum((a - target) ** 2)), obs, terminated=True, truncated=False)
        if i >= 300:
            agent.update([to_torch(buf.sample(128, rng))])
    final = agent.act(obs, deterministic=True)
    assert np.abs(final - target).max() < 0.1, final


def test_temperature_rises_when_entropy_is_below_target():
    agent = SAC({"state": (2,)}, 2, SACConfig(compile=False, hidden_dims=(8,), target_entropy=100.0))
    a0 = float(agent.alpha.detach())
    for _ in range(5):
        agent.update_actor_and_temperature(torch.randn(32, 2))
    assert float(agent.alpha.detach()) > a0


def test_bc_weight_pulls_the_actor_to_the_demo_rows_actions_only():
    """With bc_weight the actor's mean action moves to the actions of the rows marked as demo (and not to the
    others'); without it, or with no row marked, the same updates leave it far from them."""
    b, target = 64, torch.tensor([0.6, -0.4])

    def batch(mark_demo: bool):
        gen = torch.Generator().manual_seed(1)
        action = torch.rand(b, 2, generator=gen) * 2 - 1
        action[b // 2:] = target
        demo = torch.zeros(b)
        if mark_demo:
            demo[b // 2:] = 1.0
        return {"obs": {"state": torch.randn(b, 3, generator=gen)}, "next_obs": {"state": torch.randn(b, 3, generator=gen)},
                "action": action, "reward": torch.ones(b), "terminated": torch.zeros(b), "demo": demo}

    def distance(bc_weight: float, mark_demo: bool) -> float:
        torch.manual_seed(0)
        agent = SAC({"state": (3,)}, 2, SACConfig(compile=False, hidden_dims=(32, 32), bc_weight=bc_weight))
        data = batch(mark_demo)
        for _ in range(100):
            agent.update([data])
        demo_obs = data["obs"]["state"][b // 2:]
        with torch.no_grad():
            mean_action = torch.tanh(agent.actor(agent.encoder({"state": demo_obs}))[0])
        return float((mean_action - target).norm(dim=-1).mean())

    assert distance(10.0, True) < 0.25
    assert distance(0.0, True) > 0.5 and distance(10.0, False) > 0.5
