"""Any Gymnasium env behind roboloop's contract: observation/action mapping, refusals, success rules, and
a classic-control env trained and evaluated from the CLI with success defined in the config."""
from __future__ import annotations

import json
import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from roboloop.cli import main
from roboloop.config import preset_for
from roboloop.envs import env_spec, make_env, obs_layout, resolve_task
from roboloop.gym_adapter import EpisodeSuccess, GymAdapter, SuccessRule, check_action_space


class ToyEnv(gym.Env):
    """Dict observation (nested dict, a camera, a discrete mode), a bounded 2x2 Box action; records the
    last action it was given; info['succeed'] once the episode's 3 steps are over."""

    metadata = {"render_fps": 12}

    def __init__(self, action_space=None, observation_space=None):
        self.action_space = action_space or spaces.Box(np.array([[-2.0, 0.0], [10.0, -0.5]], np.float32),
                                                       np.array([[2.0, 1.0], [30.0, 0.5]], np.float32))
        self.observation_space = observation_space or spaces.Dict({
            "pos": spaces.Box(-1.0, 1.0, (3,), np.float64),
            "front": spaces.Box(0, 255, (8, 8, 3), np.uint8),
            "mode": spaces.Discrete(3),
            "goal": spaces.Dict({"xy": spaces.Box(-5.0, 5.0, (2,), np.float32)}),
        })
        self.last_action = None
        self.t = 0

    def _obs(self):
        return {"pos": np.array([0.1, 0.2, 0.3]) * (self.t + 1), "front": np.full((8, 8, 3), 7 + self.t, np.uint8),
                "mode": self.t % 3, "goal": {"xy": np.array([4.0, -4.0], np.float32)}}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.last_action = np.array(action)
        self.t += 1
        return self._obs(), float(self.t), self.t >= 3, False, {"succeed": self.t >= 3}


def test_dict_observation_maps_to_state_and_camera():
    env = GymAdapter(ToyEnv(), "toy")
    assert set(env.observation_space.spaces) == {"state", "front"}
    assert env.observation_space["front"] == spaces.Box(0, 255, (8, 8, 3), np.uint8)
    # Dict spaces keep their keys sorted: front (camera), goal.xy (2), mode (one-hot 3), pos (3)
    assert env.observation_space["state"].shape == (8,) and env.observation_space["state"].dtype == np.float32
    obs, _ = env.reset(seed=0)
    assert obs["state"].dtype == np.float32 and env.observation_space.contains(obs)
    np.testing.assert_allclose(obs["state"], [4, -4, 1, 0, 0, 0.1, 0.2, 0.3], rtol=1e-6)
    assert obs["front"].dtype == np.uint8 and obs["front"][0, 0, 0] == 7
    obs, *_ = env.step(np.zeros(4, np.float32))
    np.testing.assert_allclose(obs["state"], [4, -4, 0, 1, 0, 0.2, 0.4, 0.6], rtol=1e-6)
    spec = env.task_spec()
    assert spec["observation"]["state"]["names"] == ["goal.xy[0]", "goal.xy[1]", "mode[0]", "mode[1]", "mode[2]",
                                                     "pos[0]", "pos[1]", "pos[2]"]
    assert spec["observation"]["front"] == {"shape": [8, 8, 3], "dtype": "uint8", "camera": "front"}
    assert spec["control_hz"] == 12.0   # no dt: the metadata's render_fps
    assert json.loads(json.dumps(spec)) == spec
    assert obs_layout(env)[2] == 4


def test_action_rescaling_round_trip_and_bounds():
    toy = ToyEnv()
    env = GymAdapter(toy, "toy")
    assert env.action_space == spaces.Box(-1.0, 1.0, (4,), np.float32)
    low, high = toy.action_space.low, toy.action_space.high
    np.testing.assert_allclose(env.to_env_action(-np.ones(4)), low)
    np.testing.assert_allclose(env.to_env_action(np.ones(4)), high)
    np.testing.assert_allclose(env.to_env_action(np.zeros(4)), (low + high) / 2)
    np.testing.assert_allclose(env.to_env_action(np.full(4, 7.0)), high)   # out of range is clipped, not scaled
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.uniform(-1, 1, 4).astype(np.float32)
        env_a = env.to_env_action(a)
        assert env_a.shape == (2, 2) and env_a.dtype == np.float32 and toy.action_space.contains(env_a)
        np.testing.assert_allclose(env.to_normalized(env_a), a, atol=1e-5)
    env.reset(seed=0)
    env.step(np.array([1.0, -1.0, 0.0, 0.5], np.float32))
    np.testing.assert_allclose(toy.last_action, [[2.0, 0.0], [20.0, 0.25]])
    spec = env.task_spec()["action"]
    assert spec["env_low"] == [-2.0, 0.0, 10.0, -0.5] and spec["env_high"] == [2.0, 1.0, 30.0, 0.5]
    assert spec["env_shape"] == [2, 2]


@pytest.mark.parametrize("space, message", [
    (spaces.Discrete(3), "discrete action space"),
    (spaces.MultiDiscrete([2, 3]), "discrete action space"),
    (spaces.Box(-np.inf, np.inf, (2,), np.float32), r"unbounded in dimension\(s\) \[0, 1\]"),
    (spaces.Box(np.array([-1.0, 0.0], np.float32), np.array([1.0, np.inf], np.float32)),
     r"unbounded in dimension\(s\) \[1\]"),
    (spaces.Tuple([spaces.Box(-1, 1, (1,))]), "single continuous Box"),
    (spaces.Box(0, 5, (2,), np.int64), "integer dtype"),
])
def test_unsupported_action_spaces_are_refused(space, message):
    with pytest.raises(ValueError, match=message):
        check_action_space(space)
    with pytest.raises(ValueError, match=message):
        GymAdapter(ToyEnv(action_space=space), "toy")


def test_image_only_observation_is_refused():
    env = ToyEnv(observation_space=spaces.Box(0, 255, (8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="only images"):
        GymAdapter(env, "toy")


def test_discrete_action_env_is_refused_by_name():
    with pytest.raises(ValueError, match=r"task 'CartPole-v1': discrete action space Discrete\(2\)"):
        make_env("CartPole-v1")


def test_success_rules():
    env = EpisodeSuccess(GymAdapter(ToyEnv(), "toy"), SuccessRule(key="succeed"))
    env.reset(seed=0)
    got = [env.step(np.zeros(4))[4]["is_success"] for _ in range(3)]
    assert got == [False, False, True]
    # returns are 1, 1+2, 1+2+3: judged at the episode's end only
    for threshold, expected in ((6.0, True), (6.5, False)):
        env = EpisodeSuccess(GymAdapter(ToyEnv(), "toy"), SuccessRule(min_return=threshold))
        env.reset(seed=0)
        got = [env.step(np.zeros(4))[4]["is_success"] for _ in range(3)]
        assert got == [False, False, expected]
    with pytest.raises(ValueError, match="set one"):
        EpisodeSuccess(ToyEnv(), SuccessRule(key="succeed", min_return=1.0))
    env = EpisodeSuccess(GymAdapter(ToyEnv(), "toy"), SuccessRule(key="is_success"))
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="reported no info\\['is_success'\\]"):
        for _ in range(3):
            env.step(np.zeros(4))


def test_task_names_resolve_to_ours_first_then_gymnasium():
    assert resolve_task("reach") == "roboloop/Reach-v0"
    assert resolve_task("Pendulum-v1") == "Pendulum-v1"
    with pytest.raises(ValueError, match="unknown task 'foo/Reach-v3'.*Namespace foo not found"):
        resolve_task("foo/Reach-v3")      # another namespace's Reach is never ours
    with pytest.raises(ValueError, match="unknown task 'Pendulum-v0'; available: .*Reach.*Pendulum-v1"):
        resolve_task("Pendulum-v0")
    assert preset_for("Pendulum-v1") == {} and preset_for("reach") == preset_for("roboloop/Reach-v0")


def test_registered_id_and_entry_point_make_the_same_adapted_env():
    by_id = make_env("Pendulum-v1")
    by_entry = make_env("gymnasium.envs.classic_control.pendulum:PendulumEnv", {"max_episode_steps": 200})
    a, b = env_spec(by_id), env_spec(by_entry)
    assert a["task"] == "Pendulum-v1" and b["task"] == "gymnasium.envs.classic_control.pendulum:PendulumEnv"
    assert {**a, "task": None} == {**b, "task": None}
    assert a["control_hz"] == 20.0 and a["max_episode_steps"] == 200   # 1/dt, dt = 0.05 s
    o1, _ = by_id.reset(seed=5)
    o2, _ = by_entry.reset(seed=5)
    np.testing.assert_array_equal(o1["state"], o2["state"])
    with pytest.raises(ValueError, match="has no class 'Nope'"):
        make_env("gymnasium.envs.classic_control.pendulum:Nope")
    with pytest.raises(ValueError, match="cannot import module 'no_such_pkg'"):
        make_env("no_such_pkg:Env")


def _rollout_returns(ckpt, seed: int, episodes: int) -> list[float]:
    """The checkpoint's deterministic policy on plain gymnasium Pendulum (no adapter): the action is
    rescaled by hand from [-1, 1] to Pendulum's [-2, 2] N·m."""
    from roboloop.policies.train_loop import load_agent
    agent, _, _ = load_agent(ckpt, make_env("Pendulum-v1", {"max_episode_steps": 100}))
    raw = gym.make("Pendulum-v1", max_episode_steps=100)
    returns = []
    for ep in range(episodes):
        obs, _ = raw.reset(seed=seed + ep)
        done, ret = False, 0.0
        while not done:
            a = agent.act({"state": obs.astype(np.float32)}, deterministic=True)
            obs, r, term, trunc, _ = raw.step(2.0 * np.clip(a, -1, 1))
            ret += float(r)
            done = term or trunc
        returns.append(ret)
    return returns


def test_pendulum_trains_and_evaluates_from_the_cli(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--task", "Pendulum-v1", "--steps", "200", "--seed", "1", "--out", str(out), "--no-progress",
                 "--set", "sac.hidden_dims=[32, 32]", "--set", "sac.compile=false", "--set", "sac.batch_size=32",
                 "--set", "env.max_episode_steps=100", "--set", "torch_threads=1", "--set", "learning_starts=100", "--set", "eval_every=0", "--set", "eval_episodes=2",
                 "--set", "success.min_return=-1000000000"]) == 0
    text = capsys.readouterr().out
    assert "eval success rate: 1.00" in text      # every return clears -1e9: the config's rule decided
    meta = json.loads((out / "checkpoint" / "meta.json").read_text())
    spec = meta["env_spec"]
    assert spec["task"] == "Pendulum-v1" and spec["adapter"] == "gym" and spec["control_hz"] == 20.0
    assert spec["max_episode_steps"] == 100
    assert spec["observation"] == {"state": {
        "shape": [3], "dtype": "float32", "names": ["obs[0]", "obs[1]", "obs[2]"], "units": ["unknown"] * 3,
        "sources": [{"key": "obs", "space": "Box", "shape": [3], "dtype": "float32"}]}}
    assert spec["action"]["shape"] == [1] and spec["action"]["low"] == -1.0 and spec["action"]["high"] == 1.0
    assert spec["action"]["env_low"] == [-2.0] and spec["action"]["env_high"] == [2.0]
    assert meta["config"]["success"] == {"key": "is_success", "min_return": -1.0e9}

    # Evaluation on held-out seeds, with a threshold between the policy's 2nd and 3rd best returns (measured
    # independently on plain gymnasium Pendulum): exactly half the episodes must count as successes.
    returns = _rollout_returns(out / "checkpoint", seed=777, episodes=4)
    lo, hi = sorted(returns)[1:3]
    assert hi - lo > 1e-3, returns
    assert main(["eval", str(out / "checkpoint"), "--episodes", "4", "--seed", "777",
                 "--success", f"{{min_return: {(lo + hi) / 2}}}"]) == 0
    text = capsys.readouterr().out
    assert "eval success rate: 0.50" in text
    mean_return = float(re.search(r"return (-?[\d.]+)", text).group(1))
    assert mean_return == pytest.approx(np.mean(returns), abs=0.01)

    # The same checkpoint refuses another env, naming the fields that differ.
    assert main(["eval", str(out / "checkpoint"), "--task", "MountainCarContinuous-v0", "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert "env_spec.observation.state.shape[0]: checkpoint has 3, env has 2" in err
    assert "env_spec.task: checkpoint has 'Pendulum-v1', env has 'MountainCarContinuous-v0'" in err


def test_task_list_stays_ours():
    from roboloop.envs import task_ids
    assert "roboloop/Reach-v0" in task_ids() and all(t.startswith("roboloop/") for t in task_ids())
