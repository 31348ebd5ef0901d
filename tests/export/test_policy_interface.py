"""One policy interface: the agent, an actor built from the env spec alone, the transport's actor (weights
over real pyzmq from a real learner) and the exported ONNX actor (onnxruntime) act alike."""
import threading
import time

import numpy as np
import pytest
import torch

from roboloop.config import build_train_config
from roboloop.envs import env_spec, make_env
from roboloop.hardware.mcu_bridge import MCUPolicy
from roboloop.policies.actor import Actor, ActorArch
from roboloop.policies.export.onnx_export import OnnxPolicy, export_onnx
from roboloop.policies.policy import Policy
from roboloop.policies.sac import actor_arch
from roboloop.policies.train_loop import Trainer, load_actor
from roboloop.policies.transport.actor import ActorClient
from roboloop.policies.transport.learner import Learner, actor_weights

QUIET = dict(progress=False, log=lambda s: None)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A briefly trained Reach agent (its weights moved away from the initial ones) and its checkpoint."""
    cfg = build_train_config("Reach", None, ["sac.hidden_dims=[32, 32]", "sac.compile=false", "sac.batch_size=32",
                                             "sac.matmul_precision=float32", "learning_starts=60", "eval_every=0",
                                             "eval_episodes=1", "checkpoint_every=100000", "transport.learner_nice=0"],
                             steps=150, seed=1)
    trainer = Trainer(cfg, run_dir=tmp_path_factory.mktemp("run"), **QUIET)
    result = trainer.run()
    assert result.updates > 0
    env = make_env("Reach")
    obs = []
    for ep in range(3):
        o, _ = env.reset(seed=100 + ep)
        for _ in range(10):
            obs.append(o)
            o, *_ = env.step(env.action_space.sample())
    return cfg, trainer.agent, result.checkpoint, obs


def test_an_actor_from_the_spec_and_architecture_loads_actor_state_and_acts_as_the_agent(trained):
    cfg, agent, ckpt, obs = trained
    state = agent.actor_state()
    assert state.keys() == {k for k in agent.state_dict() if k.startswith(("actor.", "encoder."))}
    actor = Actor.from_spec(env_spec(make_env("Reach")), actor_arch(cfg.sac))
    assert not any(torch.equal(actor.state_dict()[k], v) for k, v in state.items())   # fresh weights differ
    actor.load_actor_state(state)
    for o in obs:
        np.testing.assert_array_equal(actor.act(o, deterministic=True), agent.act(o, deterministic=True))
    torch.manual_seed(7)
    sampled = agent.act(obs[0])
    torch.manual_seed(7)
    np.testing.assert_array_equal(actor.act(obs[0]), sampled)   # the same stochastic policy too
    from_ckpt = load_actor(ckpt)
    np.testing.assert_array_equal(from_ckpt.act(obs[5], True), agent.act(obs[5], True))
    with pytest.raises(ValueError, match="actor.head.weight"):
        Actor.from_spec(env_spec(make_env("Reach")), ActorArch(hidden_dims=(8, 8))).load_actor_state(state)
    with pytest.raises(ValueError, match="actor architecture needs the keys"):
        ActorArch.from_dict({"hidden_dims": [8]})


def test_transport_actor_onnx_actor_and_agent_give_the_same_deterministic_action(trained, tmp_path):
    cfg, agent, ckpt, obs = trained
    for policy in (agent, Actor.from_spec(env_spec(make_env("Reach")), actor_arch(cfg.sac))):
        assert isinstance(policy, Policy)
    assert issubclass(MCUPolicy, Policy) and issubclass(OnnxPolicy, Policy)
    expected = np.stack([agent.act(o, deterministic=True) for o in obs])
    assert expected.std() > 0.01   # real, varied actions

    onnx = OnnxPolicy(export_onnx(ckpt, tmp_path / "actor.onnx").path)
    assert isinstance(onnx, Policy)
    np.testing.assert_allclose(np.stack([onnx.act(o, deterministic=True) for o in obs]), expected, atol=1e-5)

    # the transport: a learner fine-tuning from the checkpoint sends its actor_state() to a real client
    learner = Learner(cfg, tmp_path / "learn", "tcp://127.0.0.1:*", init=ckpt, **QUIET)
    client = ActorClient(learner.endpoint, name="probe", log=lambda s: None)
    try:
        welcome: dict = {}
        connect = threading.Thread(target=lambda: welcome.update(client.connect(env_spec(make_env("Reach")), 30)))
        connect.start()
        deadline = time.monotonic() + 30
        while connect.is_alive() and time.monotonic() < deadline:
            learner._poll(20)
        assert welcome and "config" not in welcome
        assert {"transport", "env", "env_spec", "actor"} <= set(welcome)
        assert client.tcfg.publish_every == cfg.transport.publish_every
        from roboloop.policies.transport.actor import welcome_actor
        client.set_policy_template(welcome_actor(welcome))
        assert set(actor_weights(learner.agent)) == set(agent.actor_state())   # no critic, no optimizer
        learner._publish()
        while client.policy()[0] < 1 and time.monotonic() < deadline:
            learner._poll(20)
        version, remote = client.policy()
        assert version == 1 and isinstance(remote, Actor)
        np.testing.assert_array_equal(np.stack([remote.act(o, deterministic=True) for o in obs]), expected)
    finally:
        client.close()
        learner.close()
