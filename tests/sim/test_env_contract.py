"""The Gymnasium contract of every task: spaces, dtypes, checker, spec, termination."""

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from roboloop.sim.robot import TABLE_Z

from .sim_helpers import TASK_IDS

STATE_DIMS = {"roboloop/Reach-v0": 13, "roboloop/PickCube-v0": 13, "roboloop/PickCubeVision-v0": 5}


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_env_checker_passes(task_id, make_env):
    env = make_env(task_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning is a contract bug too
        check_env(env.unwrapped, skip_render_check=True)


def test_env_checker_passes_with_render_mode(make_env):
    env = make_env("roboloop/PickCube-v0", render_mode="rgb_array", render_size=96)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (96, 96, 3) and frame.dtype == np.uint8 and frame.std() > 5


@pytest.mark.parametrize("task_id", TASK_IDS)
@pytest.mark.parametrize("use_yaw", [False, True])
def test_spaces_and_dtypes(task_id, use_yaw, make_env):
    env = make_env(task_id, use_yaw=use_yaw)
    obs_space, act_space = env.observation_space, env.action_space
    assert isinstance(obs_space, gym.spaces.Dict)
    expected_keys = {"state", "front", "wrist"} if "Vision" in task_id else {"state"}
    assert set(obs_space.spaces) == expected_keys
    assert obs_space["state"].dtype == np.float32
    assert obs_space["state"].shape == (STATE_DIMS[task_id],)
    for cam in expected_keys - {"state"}:
        box = obs_space[cam]
        assert box.dtype == np.uint8 and box.shape == (128, 128, 3)
        assert np.all(box.low == 0) and np.all(box.high == 255)
    assert act_space.dtype == np.float32
    assert act_space.shape == ((5,) if use_yaw else (4,))
    assert np.all(act_space.low == -1.0) and np.all(act_space.high == 1.0)

    obs, info = env.reset(seed=0)
    assert obs_space.contains(obs)
    assert obs["state"].dtype == np.float32
    assert isinstance(info["is_success"], bool)
    obs, reward, terminated, truncated, info = env.step(act_space.sample())
    assert obs_space.contains(obs)
    assert isinstance(reward, float)
    assert isinstance(terminated, bool) and isinstance(truncated, bool)
    assert isinstance(info["is_success"], bool)


def test_image_size_kwarg(make_env):
    env = make_env("roboloop/PickCubeVision-v0", image_size=64)
    obs, _ = env.reset(seed=0)
    assert obs["front"].shape == (64, 64, 3) and obs["wrist"].shape == (64, 64, 3)
    assert env.observation_space["front"].shape == (64, 64, 3)


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_task_spec_is_stable_json_and_matches_spaces(task_id, make_env):
    env_a, env_b = make_env(task_id), make_env(task_id)
    spec = env_a.unwrapped.task_spec()
    text = json.dumps(spec, sort_keys=True)
    assert json.dumps(env_b.unwrapped.task_spec(), sort_keys=True) == text
    env_a.reset(seed=1)
    env_a.step(env_a.action_space.sample())
    assert json.dumps(env_a.unwrapped.task_spec(), sort_keys=True) == text  # no state leaks in
    assert spec["task"] == task_id
    assert spec["control_hz"] == 10.0 and spec["physics_hz"] == 500.0
    for key, box in env_a.observation_space.spaces.items():
        assert spec["observation"][key]["shape"] == list(box.shape)
        assert spec["observation"][key]["dtype"] == str(box.dtype)
    state = spec["observation"]["state"]
    assert len(state["names"]) == len(state["units"]) == state["shape"][0]
    assert len(set(state["names"])) == len(state["names"])
    act = spec["action"]
    assert act["shape"] == [4] and act["names"] == ["dx", "dy", "dz", "gripper"]
    assert act["low"] == -1.0 and act["high"] == 1.0 and act["max_delta_pos_m"] == 0.05


def test_task_spec_reflects_kwargs(make_env):
    base = make_env("roboloop/PickCube-v0").unwrapped.task_spec()
    other = make_env("roboloop/PickCube-v0", control_hz=20, max_delta_pos=0.02,
                     use_yaw=True).unwrapped.task_spec()
    assert other["control_hz"] == 20.0 and base["control_hz"] == 10.0
    assert other["action"]["max_delta_pos_m"] == 0.02
    assert other["action"]["names"] == ["dx", "dy", "dz", "dyaw", "gripper"]
    assert other["action"]["units"][3] == "rad"


def test_truncated_only_from_time_limit(make_env):
    env = make_env("roboloop/PickCube-v0")
    env.reset(seed=0)
    idle = np.array([0.0, 0.0, 0.0, -1.0], dtype=np.float32)  # stay still, gripper open
    for t in range(env.spec.max_episode_steps):
        _, reward, terminated, truncated, info = env.step(idle)
        assert not terminated and reward == 0.0 and not info["is_success"]
        assert truncated == (t == env.spec.max_episode_steps - 1)
    # The raw env never truncates by itself.
    raw = env.unwrapped
    for _ in range(5):
        assert raw.step(idle)[3] is False


def test_success_terminates_without_truncation(make_env):
    env = make_env("roboloop/Reach-v0")
    env.reset(seed=0)
    raw = env.unwrapped
    raw.goal = raw.sim.ee_pos()  # put the goal where the hand already is
    _, reward, terminated, truncated, info = env.step(np.array([0, 0, 0, -1], dtype=np.float32))
    assert terminated and not truncated and info["is_success"] and reward == 1.0


def test_cube_off_table_is_a_failure(make_env):
    env = make_env("roboloop/PickCube-v0")
    env.reset(seed=0)
    raw = env.unwrapped
    raw.sim.set_cube_pose([0.9, 0.0, TABLE_Z + 0.02])  # past the table's front edge: it falls
    _, reward, terminated, truncated, info = env.step(np.array([0, 0, 0, -1], dtype=np.float32))
    assert terminated and not truncated
    assert info["is_failure"] and not info["is_success"] and reward == 0.0


def test_dense_reward_shapes_progress(make_env):
    env = make_env("roboloop/Reach-v0", reward_type="dense")
    env.reset(seed=3)
    raw = env.unwrapped
    rewards = []
    for _ in range(3):
        toward = np.clip((raw.goal - raw.sim.ee_pos()) / (3 * raw.max_delta_pos), -1, 1)
        rewards.append(env.step(np.r_[toward, -1.0].astype(np.float32))[1])
    assert all(-1.0 <= r <= 1.0 for r in rewards[:-1])
    assert rewards[0] < rewards[1] < rewards[2]  # closer is better

    pick = make_env("roboloop/PickCube-v0", reward_type="dense")
    pick.reset(seed=0)
    r = pick.step(np.zeros(4, dtype=np.float32))[1]
    assert 0.0 < r < 0.25  # only the reaching term is active far from the cube


def test_bad_kwargs_raise():
    with pytest.raises(ValueError):
        gym.make("roboloop/PickCube-v0", reward_type="shaped")
    with pytest.raises(ValueError):
        gym.make("roboloop/PickCube-v0", physics_hz=500, control_hz=30)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_action_is_refused_and_never_moves_the_arm(bad, make_env):
    env = make_env("roboloop/PickCube-v0")
    env.reset(seed=0)
    before = env.unwrapped.sim.data.qpos.copy()
    with pytest.raises(ValueError, match="non-finite action"):
        env.step(np.array([0.5, bad, 0.0, 0.0], dtype=np.float32))
    np.testing.assert_array_equal(env.unwrapped.sim.data.qpos, before)
