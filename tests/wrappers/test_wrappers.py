"""Each wrapper does its one job, and the YAML stack refuses bad configs with the entry named."""
import numpy as np
import pytest

from roboloop.config import ConfigError, build_train_config
from roboloop.envs import env_spec, make_env

STILL = np.array([0, 0, 0, -1], np.float32)
UP = np.array([0, 0, 1, -1], np.float32)


def reach(stack, seed=0):
    env = make_env("Reach", {}, stack)
    obs, info = env.reset(seed=seed)
    return env, obs, info


def test_observation_delay_returns_old_observations():
    env, obs0, _ = reach([{"type": "observation_delay", "steps": 2}])
    o1 = env.step(UP)[0]
    o2 = env.step(UP)[0]
    o3 = env.step(UP)[0]
    np.testing.assert_array_equal(o1["state"], obs0["state"])
    np.testing.assert_array_equal(o2["state"], obs0["state"])
    assert o3["state"][2] > obs0["state"][2]  # the first step's motion arrives 2 steps late


def test_action_delay_applies_actions_late():
    env, obs0, _ = reach([{"type": "action_delay", "steps": 1}])
    env.step(STILL)
    after_still = env.unwrapped.sim.ee_pos()[2]
    env.step(UP)  # the env applies STILL again
    assert abs(env.unwrapped.sim.ee_pos()[2] - after_still) < 0.005
    env.step(STILL)  # now UP arrives
    assert env.unwrapped.sim.ee_pos()[2] > after_still + 0.02


def test_sampled_delays_are_logged_per_episode():
    env, _, info = reach([{"type": "action_delay", "steps": [0, 3], "max_delay": 3}])
    seen = set()
    for seed in range(12):
        _, info = env.reset(seed=seed)
        seen.add(info["randomization"]["action_delay"]["steps"])
    assert seen == {0, 1, 2, 3}


def test_control_jitter_varies_the_period():
    env, _, _ = reach([{"type": "control_jitter", "jitter": 0.5}])
    moves = []
    for _ in range(6):
        z = env.unwrapped.sim.data.time
        env.step(STILL)
        moves.append(round(env.unwrapped.sim.data.time - z, 6))
    assert len(set(moves)) > 1 and all(0.05 - 1e-9 <= m <= 0.15 + 1e-9 for m in moves)


def test_frame_drop_repeats_the_last_frame():
    env = make_env("PickCubeVision", {"image_size": 32}, [{"type": "frame_drop", "p": 1.0}])
    obs0, _ = env.reset(seed=0)
    obs1, _, _, _, info = env.step(UP)
    np.testing.assert_array_equal(obs1["front"], obs0["front"])
    assert info["frames_dropped"] == 2
    env.close()


def test_observation_noise_has_a_per_episode_bias():
    env, _, info = reach([{"type": "observation_noise", "std": 0.0, "bias_std": 0.01}])
    clean = make_env("Reach")
    o, info = env.reset(seed=4)
    c, _ = clean.reset(seed=4)
    bias = np.asarray(info["randomization"]["observation_noise"]["bias"])
    np.testing.assert_allclose(o["state"][:6], c["state"][:6] + bias[:6], atol=1e-6)  # (entry 6 sits at its bound)
    assert np.abs(bias).max() > 0


def test_rate_limit_low_pass_and_repeat():
    env, _, _ = reach([{"type": "rate_limit", "max_change": 0.25}])
    env.step(STILL)
    z = env.unwrapped.sim.target_pos[2]
    env.step(UP)
    assert env.unwrapped.sim.target_pos[2] - z == pytest.approx(0.25 * 0.05)
    env, _, _ = reach([{"type": "low_pass", "alpha": 0.5}])
    env.step(STILL)
    z = env.unwrapped.sim.target_pos[2]
    env.step(UP)
    assert env.unwrapped.sim.target_pos[2] - z == pytest.approx(0.5 * 0.05)
    env, _, _ = reach([{"type": "action_repeat", "repeat": 3}])
    z = env.unwrapped.sim.target_pos[2]
    env.step(np.array([0, 0, -1, -1], np.float32))
    assert z - env.unwrapped.sim.target_pos[2] == pytest.approx(0.15)


def test_nan_passes_through_shaping_to_the_envelope_and_stops():
    env, _, _ = reach([{"type": "safety"}, {"type": "low_pass"}, {"type": "rate_limit"}, {"type": "action_noise"}])
    env.step(UP)
    before = env.unwrapped.commanded_target()
    _, _, _, _, info = env.step(np.array([np.nan, 0, np.inf, 0], np.float32))
    assert info["safety"]["stopped"] and np.array_equal(env.unwrapped.commanded_target(), before)


def test_history_and_relative_frame_shape_the_observation():
    env = make_env("PickCube", {}, [{"type": "relative_frame"}, {"type": "history", "length": 3}])
    obs, _ = env.reset(seed=0)
    assert obs["state"].shape == (39,) and env.observation_space["state"].shape == (39,)
    np.testing.assert_allclose(obs["state"][26:29], 0.0, atol=1e-6)  # ee at its reset pose = origin
    spec = env_spec(env)
    assert spec["observation"]["state"]["shape"] == [39] and spec["wrappers"] == ["relative_frame", "history"]
    obs, *_ = env.step(UP)
    assert obs["state"][26 + 2] > 0.02  # newest last, relative to the reset pose
    np.testing.assert_array_equal(obs["state"][:13], obs["state"][13:26])  # two copies of the reset frame


def test_image_crop_resize():
    env = make_env("PickCubeVision", {"image_size": 64},
                   [{"type": "image_crop_resize", "size": 32, "crop": [0.25, 0.25, 0.75, 0.75]}])
    obs, _ = env.reset(seed=0)
    assert obs["front"].shape == obs["wrist"].shape == (32, 32, 3) and env.observation_space["front"].shape == (32, 32, 3)
    env.close()


@pytest.mark.parametrize("stack, match", [
    ([{"type": "teleport"}], r"wrappers\[0\]: unknown wrapper type 'teleport'"),
    ([{"type": "action_delay", "step": 1}], r"wrappers\[0\] \(action_delay\): unknown key\(s\) step"),
    ([{"type": "action_delay", "steps": 6, "max_delay": 4}], "longer than the buffer"),
    ([{"type": "observation_delay", "steps": [2, 1]}], "low > high"),
    ([{"type": "observation_noise", "std": -0.1}], "std must be a non-negative"),
    ([{"type": "frame_drop", "p": 1.5}], "probability"),
    ([{"type": "history", "length": 0}], "history.length"),
    ([{"type": "safety", "eval": False}], "cannot be left out of evaluation"),
    ([{"type": "safety", "max_speed": 0}], r"wrappers\[0\] \(safety\): safety.max_speed must be a positive"),
    ({"type": "safety"}, "must be a list"),
])
def test_bad_stacks_are_refused_with_the_entry_named(stack, match):
    with pytest.raises(ValueError, match=match):
        make_env("Reach", {}, stack)


def test_train_config_checks_the_stack_before_training():
    with pytest.raises(ConfigError, match=r"unknown key\(s\) stepz"):
        build_train_config("Reach", None, ['wrappers=[{"type": "action_delay", "stepz": 1}]'])
    cfg = build_train_config("Reach", None, ['wrappers=[{"type": "action_delay", "steps": [0, 1]}]'])
    assert cfg.wrappers == [{"type": "action_delay", "steps": [0, 1]}]


def test_perturbations_stay_out_of_evaluation():
    stack = [{"type": "domain_randomization"}, {"type": "safety"}, {"type": "observation_noise", "eval": True}]
    train, evaluation = make_env("PickCube", {}, stack), make_env("PickCube", {}, stack, training=False)
    _, info = evaluation.reset(seed=0)
    assert list(info["randomization"]) == ["observation_noise"] and "safety" in info
    assert env_spec(train) == env_spec(evaluation)
