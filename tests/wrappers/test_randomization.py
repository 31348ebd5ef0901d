"""Domain randomization and the reality-gap variants, on the real MuJoCo model."""
import numpy as np
import pytest

from roboloop.envs import env_spec, make_env
from roboloop.sim import GAP_VARIANTS, make_expert

DR = [{"type": "domain_randomization"}]


def rollout(env, seed, steps=15):
    obs, info = env.reset(seed=seed)
    states = [obs["state"]]
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        obs, _, terminated, truncated, info = env.step(rng.uniform(-1, 1, 4).astype(np.float32))
        states.append(obs["state"])
        if terminated or truncated:
            break
    return np.array(states), info


def test_each_episode_gets_new_physics_and_logs_it():
    env = make_env("PickCube", {}, DR)
    m = env.unwrapped.sim.model
    cube = m.body("cube").id
    nominal = m.body_mass[cube]
    _, info1 = env.reset(seed=1)
    mass1, gravity1 = m.body_mass[cube], m.opt.gravity.copy()
    _, info2 = env.reset(seed=2)
    d1, d2 = info1["randomization"]["domain"], info2["randomization"]["domain"]
    assert d1 != d2 and mass1 != m.body_mass[cube]
    assert mass1 == pytest.approx(nominal * d1["cube_mass"])
    assert not np.allclose(gravity1, m.opt.gravity) and np.linalg.norm(gravity1) == pytest.approx(9.81)
    expected = {"link_mass", "friction", "joint_damping", "armature", "actuator_gain", "cube_size", "cube_mass",
                "camera_pos", "camera_fovy", "light", "image_brightness", "image_contrast", "image_color",
                "gravity_tilt"}
    assert set(d1) == expected


def test_same_seed_same_randomization_and_same_episode():
    a, b = make_env("PickCube", {}, DR + [{"type": "action_delay", "steps": [0, 2]}]), make_env(
        "PickCube", {}, DR + [{"type": "action_delay", "steps": [0, 2]}])
    sa, ia = rollout(a, 7)
    b.reset(seed=123)  # a different history must not matter
    sb, ib = rollout(b, 7)
    assert ia["randomization"] == ib["randomization"]
    np.testing.assert_array_equal(sa, sb)
    sc, ic = rollout(b, 8)
    assert ic["randomization"] != ia["randomization"] and not np.array_equal(sc[:5], sa[:5])


def test_logged_values_replay_the_episode_exactly():
    env = make_env("PickCube", {}, DR)
    states, info = rollout(env, 5)
    logged = info["randomization"]
    env.reset(seed=99)  # other physics in between
    obs, info2 = env.reset(seed=5, options={"randomization": logged})
    assert info2["randomization"] == logged
    replay, _ = rollout_from(env, obs, 5, len(states) - 1)
    np.testing.assert_array_equal(states, replay)


def rollout_from(env, obs, seed, steps):
    rng = np.random.default_rng(seed)
    states = [obs["state"]]
    for _ in range(steps):
        obs, _, terminated, truncated, info = env.step(rng.uniform(-1, 1, 4).astype(np.float32))
        states.append(obs["state"])
    return np.array(states), info


def test_images_are_jittered_and_cameras_moved():
    env = make_env("PickCubeVision", {"image_size": 48}, DR)
    nominal = make_env("PickCubeVision", {"image_size": 48})
    obs, info = env.reset(seed=3)
    ref, _ = nominal.reset(seed=3)
    assert obs["front"].shape == ref["front"].shape == (48, 48, 3)
    assert np.abs(obs["front"].astype(int) - ref["front"].astype(int)).mean() > 2.0
    env.close(), nominal.close()


@pytest.mark.parametrize("bad, match", [
    ({"cube_mass": [2.0, 0.5]}, "low > high"),
    ({"friction": [-0.5, 1.0]}, "must not go below 0"),
    ({"gravity_tilt": [0.0, 2.0]}, "not a tilt"),
    ({"cube_mass": [1.0]}, r"\[low, high\] pair"),
])
def test_bad_ranges_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        make_env("PickCube", {}, [{"type": "domain_randomization", **bad}])


def test_gap_variants_keep_the_spec_and_change_the_physics():
    nominal = make_env("PickCube")
    m0 = nominal.unwrapped.sim.model
    for variant in GAP_VARIANTS:
        env = make_env("PickCubeGap", {"variant": variant})
        assert env_spec(env) == env_spec(nominal), variant  # a PickCube checkpoint runs on it
        m = env.unwrapped.sim.model
        differs = [not np.array_equal(getattr(m, k), getattr(m0, k)) for k in
                   ("body_mass", "geom_friction", "actuator_gainprm", "cam_pos")] + [
            env.unwrapped._delay > 0, np.any(env.unwrapped._cube_bias != 0)]
        assert any(differs), variant
    with pytest.raises(ValueError, match="unknown reality-gap variant 'icy'"):
        make_env("PickCubeGap", {"variant": "icy"})


def test_latency_variant_applies_actions_late():
    env = make_env("PickCubeGap", {"variant": "latency"})
    env.reset(seed=0)
    z0 = env.unwrapped.sim.ee_pos()[2]
    env.step(np.array([0, 0, 1, -1], np.float32))  # up, but two steps late
    assert abs(env.unwrapped.sim.ee_pos()[2] - z0) < 0.005


def test_miscalibrated_variant_reports_the_cube_off_by_its_bias():
    env, nominal = make_env("PickCubeGap", {"variant": "miscalibrated"}), make_env("PickCube")
    obs, _ = env.reset(seed=3)
    ref, _ = nominal.reset(seed=3)
    bias = np.array([0.03, -0.02, 0.0])
    cube = env.unwrapped.sim.cube_pos()
    np.testing.assert_allclose(obs["state"][5:8], cube + bias, atol=1e-6)   # what the robot reports
    np.testing.assert_allclose(ref["state"][5:8], cube, atol=1e-6)          # the same scene, nominal sim
    np.testing.assert_allclose(obs["state"][10:13] - ref["state"][10:13], bias, atol=1e-6)   # cube - ee
    np.testing.assert_allclose(obs["state"][:5], ref["state"][:5], atol=1e-6)   # the arm reads true


def test_the_camera_twin_sees_the_moved_camera_and_reads_no_cube_estimate():
    nominal = make_env("PickCubeVision", {"image_size": 64})
    ref, _ = nominal.reset(seed=3)
    seen = {}
    for variant in ("shifted_camera", "miscalibrated", "latency"):
        env = make_env("PickCubeVisionGap", {"variant": variant, "image_size": 64})
        assert env_spec(env) == env_spec(nominal), variant   # a PickCubeVision checkpoint runs on it
        obs, _ = env.reset(seed=3)
        np.testing.assert_allclose(obs["state"], ref["state"], atol=1e-6)   # the arm reads true; no cube in it
        seen[variant] = [np.abs(obs[c].astype(float) - ref[c]).mean() for c in ("front", "wrist")]
        env.close()
    assert seen["shifted_camera"][0] > 2.0 and seen["shifted_camera"][1] == 0.0   # the front camera moved
    assert seen["miscalibrated"] == [0.0, 0.0] and seen["latency"] == [0.0, 0.0]
    # The lag the lag-aware person feels is the twin's too.
    assert type(make_expert(make_env("PickCubeVisionGap", {"variant": "latency"}))).__name__ == "LagAwarePickCubeExpert"


def test_a_recording_under_a_gap_sees_the_gaps_camera():
    from roboloop.reward_frames import record_frames
    kw = dict(env_kwargs={"image_size": 64}, after_success=0, random_share=0.0, noises=(0.1,), log=lambda s: None)
    plain = record_frames("PickCubeVision", "expert", 1, seed=3, **kw)
    for gap, moved in (("shifted_camera", True), ("miscalibrated", False)):
        under = record_frames("PickCubeVision", "expert", 1, seed=3, gap=gap, **kw)
        assert under["meta"]["gap"] == gap
        diff = np.abs(under["frames"]["front"][0].astype(float) - plain["frames"]["front"][0]).mean()
        assert (diff > 2.0) if moved else (diff == 0.0), (gap, diff)


@pytest.mark.parametrize("variant", ["heavy_cube", "low_friction", "weak_servos", "miscalibrated"])
def test_the_physics_gaps_stay_solvable(variant):
    """The scripted expert (open loop in its timing, so latency defeats it) still picks on them."""
    env = make_env("PickCubeGap", {"variant": variant})
    expert = make_expert(env, noise=0.0, seed=0)
    wins = 0
    for ep in range(4):
        env.reset(seed=ep)
        expert.reset()
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(expert.act())
            done = terminated or truncated
        wins += info["is_success"]
    assert wins >= 3, f"{variant}: the expert picked {wins}/4"
