"""discrete_gripper: the last action dim reads as close / stay / open, and "stay" holds the real gripper."""
import numpy as np
import pytest

from roboloop.envs import env_spec, make_env


def opening_after(env, gripper, steps=8):
    for _ in range(steps):
        obs = env.step(np.array([0, 0, 0, gripper], np.float32))[0]
    return float(obs["state"][4])   # PickCube's gripper_opening, 0 closed .. 1 open


def test_stay_holds_the_gripper_and_thresholds_pick_close_and_open():
    env = make_env("PickCube", {}, [{"type": "discrete_gripper"}])
    assert env_spec(env)["wrappers"] == ["discrete_gripper"]
    obs, _ = env.reset(seed=0)
    assert obs["state"][4] > 0.95
    assert opening_after(env, 0.0) > 0.95           # stay after reset: open
    assert opening_after(env, 0.6) < 0.05           # > 0.5: close
    assert opening_after(env, 0.0) < 0.05           # stay: held closed (the bare task would half-open at 0)
    assert opening_after(env, 0.5) < 0.05           # the threshold itself is still "stay"
    assert opening_after(env, -0.6) > 0.95          # < -0.5: open
    assert opening_after(env, -0.3) > 0.95          # stay: held open
    opening_after(env, 1.0)                         # a scripted expert's absolute +1 closes ...
    env.reset(seed=1)
    assert opening_after(env, 0.0) > 0.95           # ... and a reset opens it again
    bare = make_env("PickCube", {}, [])
    bare.reset(seed=0)
    assert 0.3 < opening_after(bare, 0.0) < 0.7     # what "stay" would do without the wrapper


def test_the_caller_action_is_left_as_sent():
    env = make_env("PickCube", {}, [{"type": "discrete_gripper"}])
    env.reset(seed=0)
    action = np.array([0.1, 0.0, 0.0, 0.2], np.float32)
    env.step(action)
    np.testing.assert_array_equal(action, np.array([0.1, 0.0, 0.0, 0.2], np.float32))


def test_a_task_without_a_gripper_is_refused():
    with pytest.raises(ValueError, match="last action is 'gripper'"):
        make_env("QuadHover", {}, [{"type": "discrete_gripper"}])
