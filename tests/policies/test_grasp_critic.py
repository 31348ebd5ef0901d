"""The optional grasp critic (sac.grasp_critic): its double-DQN target, its state in the actor and in
checkpoints, its compiled step, and that with it off nothing changes."""
import numpy as np
import pytest
import torch

from roboloop.checkpoint import CheckpointError
from roboloop.config import build_train_config, from_dict, to_dict
from roboloop.policies.actor import Actor, ActorArch
from roboloop.policies.config import TrainConfig
from roboloop.policies.networks import gripper_class
from roboloop.policies.sac import SAC, SACConfig, actor_arch
from roboloop.policies.training import load_agent_state

from .test_compile import state_batch


def grasp_agent(compile=False, **kw):
    kw = {"hidden_dims": (32, 32), **kw}
    return SAC({"state": (6,)}, 4, SACConfig(matmul_precision="float32", compile=compile, grasp_critic=True, **kw))


def test_gripper_actions_map_to_commands_by_thresholds():
    g = torch.tensor([1.0, 0.9, 0.51, 0.5, 0.0, -0.5, -0.51, -1.0])
    assert gripper_class(g).tolist() == [2, 2, 2, 1, 1, 1, 0, 0]   # 2 close, 1 stay, 0 open


def test_grasp_target_is_the_double_dqn_target():
    torch.manual_seed(0)
    agent = grasp_agent(gamma=0.9, tau=0.25)
    with torch.no_grad():   # a target net unlike the online one, so the double-Q choice matters
        for p in agent.grasp_target.parameters():
            p.add_(0.5 * torch.randn_like(p))
    b = 5
    batch = {"obs": {"state": torch.randn(b, 6)}, "next_obs": {"state": torch.randn(b, 6)},
             "action": torch.tensor([[0.1, 0.2, 0.3, 0.9], [0.0, 0.0, 0.0, -1.0], [0.5, -0.5, 0.0, 0.2],
                                     [0.0, 0.1, 0.0, 1.0], [0.3, 0.3, 0.3, -0.7]]),
             "reward": torch.tensor([0.0, 1.0, 0.0, 0.5, 0.0]), "terminated": torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0])}
    online = [p.clone() for p in agent.grasp.parameters()]
    target = [p.clone() for p in agent.grasp_target.parameters()]
    with torch.no_grad():   # by hand, row by row: y = r + gamma (1 - d) Q'(s', argmax_k Q(s', k))
        q_next_online = agent.grasp(batch["next_obs"]["state"]).numpy()
        q_next_target = agent.grasp_target(batch["next_obs"]["state"]).numpy()
        q = agent.grasp(batch["obs"]["state"]).numpy()
    commands = [2, 0, 1, 2, 0]   # 0.9 close, -1 open, 0.2 stay, 1 close, -0.7 open
    ys, plain_max = [], []
    for i in range(b):
        k_next = int(np.argmax(q_next_online[i]))
        cont = 0.9 * (1.0 - float(batch["terminated"][i]))
        ys.append(float(batch["reward"][i]) + cont * q_next_target[i, k_next])
        plain_max.append(float(batch["reward"][i]) + cont * q_next_target[i].max())
    loss = np.mean([(q[i, commands[i]] - ys[i]) ** 2 for i in range(b)])
    loss_plain_max = np.mean([(q[i, commands[i]] - plain_max[i]) ** 2 for i in range(b)])
    assert abs(loss - loss_plain_max) > 1e-3, "the test batch must tell double DQN from a plain max"

    info = agent.update_critic(batch)
    assert float(info["grasp_loss"]) == pytest.approx(loss, rel=1e-5)
    assert float(info["grasp_q"]) == pytest.approx(np.mean([q[i, commands[i]] for i in range(b)]), rel=1e-5)
    for p0, p in zip(online, agent.grasp.parameters()):
        assert not torch.equal(p0, p), "the grasp critic takes a gradient step"
    for p0, p, t0, t in zip(online, agent.grasp.parameters(), target, agent.grasp_target.parameters()):
        torch.testing.assert_close(t, 0.75 * t0 + 0.25 * p)   # Polyak, tau = 0.25, after the step


def test_policy_and_critics_cover_the_continuous_dims_and_the_gripper_is_greedy():
    torch.manual_seed(0)
    agent = grasp_agent()
    assert agent.actor.head.out_features == 2 * 3 and agent.critic.hidden[0].weight.shape[1] == 6 + 3
    assert agent.target_entropy == -1.5
    obs = {"state": np.random.default_rng(0).normal(size=6).astype(np.float32)}
    with torch.no_grad():
        greedy = float(agent.grasp(torch.as_tensor(obs["state"])[None]).argmax()) - 1.0
    for deterministic in (True, False):
        a = agent.act(obs, deterministic)
        assert a.shape == (4,) and a[3] == greedy and np.all(np.abs(a[:3]) < 1.0)


def test_actor_state_carries_the_grasp_critic():
    torch.manual_seed(0)
    agent = grasp_agent()
    agent.update([state_batch(32, 6, 4)])
    spec = {"observation": {"state": {"shape": [6]}}, "action": {"shape": [4]}}
    actor = Actor.from_spec(spec, ActorArch.from_dict(actor_arch(agent.cfg).to_dict()))   # as a transport actor
    actor.load_actor_state({k: v.numpy() for k, v in agent.actor_state().items()})
    assert any(k.startswith("grasp.") for k in agent.actor_state())
    rng = np.random.default_rng(1)
    for _ in range(20):
        obs = {"state": rng.normal(size=6).astype(np.float32)}
        np.testing.assert_array_equal(actor.act(obs, deterministic=True), agent.act(obs, deterministic=True))
    plain = Actor.from_spec(spec, ActorArch(hidden_dims=(32, 32), matmul_precision="float32"))
    with pytest.raises(ValueError, match="grasp critic"):
        plain.load_actor_state(agent.actor_state())
    with pytest.raises(ValueError, match="grasp critic"):
        actor.load_actor_state(plain.actor_state())


def test_checkpoint_state_with_and_without_the_grasp_critic_is_refused_by_the_other(tmp_path):
    torch.manual_seed(0)
    with_grasp = grasp_agent()
    without = SAC({"state": (6,)}, 4, SACConfig(matmul_precision="float32", compile=False, hidden_dims=(32, 32)))
    for saved, agent, flag in ((with_grasp, without, "true"), (without, with_grasp, "false")):
        model = {"agent": saved.state_dict(), "optim": saved.optimizer_state()}
        with pytest.raises(CheckpointError, match=f"trained with sac.grasp_critic={flag}"):
            load_agent_state(agent, model, tmp_path)
    restored = grasp_agent()
    load_agent_state(restored, {"agent": with_grasp.state_dict(), "optim": with_grasp.optimizer_state()}, tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(restored.state_dict().values(), with_grasp.state_dict().values()))


def test_off_by_default_and_on_adds_the_discrete_gripper_once():
    assert SACConfig().grasp_critic is False and ActorArch().grasp_head is False
    off = build_train_config("PickCube", None, [])
    assert not any(w["type"] == "discrete_gripper" for w in off.wrappers)
    assert not any(k.startswith("grasp") for k in SAC({"state": (6,)}, 4, SACConfig(compile=False)).state_dict())
    on = build_train_config("PickCube", None, ["sac.grasp_critic=true", "wrappers=[{type: safety}]"])
    assert [w["type"] for w in on.wrappers] == ["safety", "discrete_gripper"]   # outermost of the stack
    again = from_dict(TrainConfig, to_dict(on))   # as a checkpoint's config is read back
    assert again.wrappers == on.wrappers


def test_compiled_grasp_step_matches_eager():
    """The grasp step alone under the agent's torch.compile (in training it runs inside the critic step's graph,
    whose other parts tests/policies/test_compile.py covers; compiling that whole graph again costs ~30 s)."""
    agents = []
    for compile in (True, False):
        torch.manual_seed(0)
        agents.append(grasp_agent(compile=compile, hidden_dims=(16,)))
    compiled, eager = agents
    torch.manual_seed(1)
    b = 64
    inputs = [(torch.randn(b, 6), torch.randint(0, 3, (b,)), torch.randn(b), (torch.rand(b) < 0.2).float(),
               torch.randn(b, 6), torch.randn(b, 6)) for _ in range(3)]
    before = {k: v.clone() for k, v in eager.grasp.state_dict().items()}
    for agent in agents:
        step = agent._compiled(agent._grasp_step)
        for args in inputs:
            info = step(*args)
        assert torch.isfinite(info["grasp_loss"])
    assert all(not torch.equal(before[k], v) for k, v in eager.grasp.state_dict().items())
    for (name, c), e in zip(compiled.state_dict().items(), eager.state_dict().values()):
        torch.testing.assert_close(c, e, rtol=1e-4, atol=1e-5, msg=lambda m: f"{name}: {m}")
    for c, e in zip(compiled.grasp_opt.exp_avg_sq, eager.grasp_opt.exp_avg_sq):
        torch.testing.assert_close(c, e, rtol=1e-3, atol=1e-12)


def test_demos_recorded_with_the_absolute_gripper_feed_a_grasp_critic_run(tmp_path):
    from roboloop.dataset import save_demos
    from roboloop.envs import env_spec, make_env, obs_layout
    from roboloop.policies.training import Layout, TrainingLoop
    from roboloop.record import drive
    episodes, spec = drive("PickCube", "expert", 1, view=False, log=lambda s: None)   # no wrapper: -1 / +1
    assert "wrappers" not in spec
    good = save_demos(tmp_path / "demos.npz", episodes, spec)
    episodes[0].actions[3] = np.array([0, 0, 0, 0.2], np.float32)   # an absolute half-closed gripper
    bad = save_demos(tmp_path / "half.npz", episodes, spec)

    def loop(demo_file):
        cfg = build_train_config("PickCube", None, ["sac.grasp_critic=true", "sac.hidden_dims=[16]",
                                                    "sac.compile=false", "demos=0", f"demo_file={demo_file}"])
        env = make_env(cfg.task, cfg.env, cfg.wrappers)
        assert env_spec(env)["wrappers"] == ["discrete_gripper"]
        return TrainingLoop(cfg, env_spec(env), Layout(*obs_layout(env)), log=lambda s: None, progress=False)

    training = loop(good)
    training.fill_demos()
    assert training.demo.num_added == len(episodes[0].actions)
    with pytest.raises(ValueError, match="1 gripper value"):
        loop(bad)
