"""action_history: the policy's own recent commands in its state, newest last, reset to zero, the same
stack in training and at deployment."""
import numpy as np
import pytest

from roboloop.envs import env_spec, make_env

A1 = np.array([0.1, 0.2, 0.3, -1.0], np.float32)
A2 = np.array([-0.4, 0.5, 0.0, 1.0], np.float32)
A3 = np.array([0.0, 0.0, 1.0, 1.0], np.float32)
UP = np.array([0, 0, 1, -1], np.float32)
ZERO = np.zeros(4, np.float32)


def test_history_holds_the_last_commands_oldest_first_and_restarts_at_reset():
    env = make_env("Reach", {}, [{"type": "action_history", "length": 2}])
    bare = make_env("Reach", {}, [])
    obs, _ = env.reset(seed=3)
    ref, _ = bare.reset(seed=3)
    d = ref["state"].shape[0]
    assert obs["state"].shape == (d + 8,) and obs["state"].dtype == ref["state"].dtype
    np.testing.assert_array_equal(obs["state"][:d], ref["state"])
    np.testing.assert_array_equal(obs["state"][d:], 0.0)
    expected = [np.concatenate([ZERO, A1]), np.concatenate([A1, A2]), np.concatenate([A2, A3])]
    for a, hist in zip((A1, A2, A3), expected):
        obs = env.step(a)[0]
        ref = bare.step(a)[0]
        np.testing.assert_array_equal(obs["state"][:d], ref["state"])   # the task's state is untouched
        np.testing.assert_array_equal(obs["state"][d:], hist)
    obs, _ = env.reset(seed=4)
    np.testing.assert_array_equal(obs["state"][d:], 0.0)   # nothing carries over from the last episode
    np.testing.assert_array_equal(env.step(A3)[0]["state"][d:], np.concatenate([ZERO, A3]))


def test_spaces_and_spec_carry_the_history_and_evaluation_keeps_it():
    stack = [{"type": "action_delay", "steps": [0, 2]}, {"type": "action_history", "length": 3}]
    train_env = make_env("PickCube", {}, stack)
    eval_env = make_env("PickCube", {}, stack, training=False)   # as `roboloop eval` and the actor build it
    space = train_env.observation_space["state"]
    d = make_env("PickCube", {}, []).observation_space["state"].shape[0]
    assert space.shape == (d + 12,) and eval_env.observation_space["state"].shape == (d + 12,)
    np.testing.assert_array_equal(space.low[d:], -1.0)
    np.testing.assert_array_equal(space.high[d:], 1.0)
    for env in (train_env, eval_env):
        spec = env_spec(env)
        assert spec["wrappers"] == ["action_history"] and spec["observation"]["state"]["shape"] == [d + 12]
        obs, _ = env.reset(seed=0)
        assert space.contains(obs["state"])


def test_history_shows_the_commands_still_in_flight_on_the_gap_robot():
    env = make_env("PickCubeGap", {"variant": "latency"}, [{"type": "action_history", "length": 2}])
    obs, _ = env.reset(seed=0)
    z0 = env.unwrapped.sim.ee_pos()[2]
    for _ in range(2):
        obs = env.step(UP)[0]
    # the robot has not moved yet (2 steps of hidden lag), and the policy can see both ups on their way
    assert abs(env.unwrapped.sim.ee_pos()[2] - z0) < 0.005
    np.testing.assert_array_equal(obs["state"][-8:], np.concatenate([UP, UP]))
    env.step(UP)
    assert env.unwrapped.sim.ee_pos()[2] > z0 + 0.005


def test_non_finite_commands_are_recorded_as_zero_and_still_stopped_by_safety():
    env = make_env("Reach", {}, [{"type": "safety"}, {"type": "action_history", "length": 2}])
    env.reset(seed=0)
    env.step(A1)
    obs, _, _, _, info = env.step(np.array([np.nan, 0, np.inf, 0], np.float32))
    assert np.all(np.isfinite(obs["state"])) and info["safety"]["stopped"]
    np.testing.assert_array_equal(obs["state"][-8:], np.concatenate([A1, ZERO]))


@pytest.mark.parametrize("length", [0, 1.5, -2])
def test_bad_lengths_are_refused_with_the_entry_named(length):
    with pytest.raises(ValueError, match=r"wrappers\[0\] \(action_history\): action_history.length"):
        make_env("Reach", {}, [{"type": "action_history", "length": length}])
