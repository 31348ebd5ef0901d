"""The quadrotor tasks: Gymnasium contract, spec, determinism, per-episode randomization that really
changes the physics, and a scripted geometric controller that hovers and tracks within the stated error."""

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from roboloop.sim.quadrotor import F_MAX, HOVER_ACTION, MASS, HoverController, mixer_matrix

import roboloop.sim  # noqa: F401  (registers the task ids)

QUAD_TASKS = ["roboloop/QuadHover-v0", "roboloop/QuadTrack-v0"]
RANDOMIZED = dict(mass_range=0.2, inertia_range=0.3, thrust_range=0.1, motor_tau_range=(0.08, 0.2))


def run_episode(env, policy, seed):
    obs, info = env.reset(seed=seed)
    if hasattr(policy, "reset"):
        policy.reset()
    done, n = False, 0
    while not done:
        obs, _, terminated, truncated, info = env.step(policy(obs))
        done, n = terminated or truncated, n + 1
    return info, n


@pytest.mark.parametrize("task_id", QUAD_TASKS)
def test_env_checker_spaces_and_spec(task_id):
    env = gym.make(task_id, **RANDOMIZED, obs_noise=1.0, tumble_prob=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    assert env.observation_space["state"].shape == (29,) and env.observation_space["state"].dtype == np.float32
    assert env.action_space.shape == (4,) and np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)
    spec = env.unwrapped.task_spec()
    json.dumps(spec)
    state = spec["observation"]["state"]
    assert len(state["names"]) == len(state["units"]) == 29 and state["names"][0] == "err_x"
    assert set(state["units"]) == {"m", "1", "m/s", "rad/s", "m s"}
    assert spec["control_hz"] == 100.0 and spec["physics_hz"] == 500.0 and spec["task"] == task_id
    assert spec["action"]["max_thrust_n"] == pytest.approx(F_MAX)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs) and isinstance(info["is_success"], bool)
    assert gym.make(task_id, control_hz=250).unwrapped.task_spec()["control_hz"] == 250.0


def test_thrust_model_matches_the_cited_crazyflie_numbers():
    assert F_MAX == pytest.approx(0.1488, abs=2e-4)                  # 3.16e-10 * 21702^2 N
    assert 4 * F_MAX / (MASS * 9.81) == pytest.approx(2.25, abs=0.01)  # thrust-to-weight
    m = mixer_matrix()
    hover = np.full(4, MASS * 9.81 / 4)
    assert np.allclose(m @ hover, [MASS * 9.81, 0, 0, 0])              # equal thrusts: no torque
    assert HOVER_ACTION == pytest.approx(-0.11, abs=0.01)


def test_same_seed_same_episode_different_seed_different():
    def rollout(seed):
        env = gym.make("roboloop/QuadHover-v0", **RANDOMIZED, obs_noise=1.0, tumble_prob=0.3)
        obs, _ = env.reset(seed=seed)
        actions = np.random.default_rng(1).uniform(-0.3, 0.1, (50, 4)).astype(np.float32)
        out = [obs["state"]]
        for a in actions:
            obs, r, term, trunc, _ = env.step(a)
            out.append(obs["state"])
            if term or trunc:
                break
        return np.stack(out), env.unwrapped.sim.physics.as_vector()
    a, pa = rollout(3)
    b, pb = rollout(3)
    c, pc = rollout(4)
    assert np.array_equal(a, b) and np.array_equal(pa, pb)
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(pa, pc)


def test_randomization_stays_in_its_ranges_and_reaches_the_model():
    env = gym.make("roboloop/QuadHover-v0", **RANDOMIZED)
    sim = env.unwrapped.sim
    phys = []
    for seed in range(30):
        env.reset(seed=seed)
        p = sim.physics
        phys.append(p.as_vector())
        # the drawn values are the ones MuJoCo integrates
        assert sim.model.body_mass[sim.body] == pytest.approx(MASS * p.mass_scale)
        assert np.all(sim.model.actuator_gainprm[:, 0] == p.thrust_scale)
        assert np.all(sim.model.actuator_dynprm[:, 0] == p.motor_tau)
    phys = np.array(phys)
    lo = np.array([0.8, 0.7, 0.7, 0.7, 0.9, 0.08])
    hi = np.array([1.2, 1.3, 1.3, 1.3, 1.1, 0.2])
    assert np.all(phys >= lo) and np.all(phys <= hi)
    assert np.all(phys.std(axis=0) > 0.15 * (hi - lo) / np.sqrt(12))    # spread over the range, not stuck
    nominal = gym.make("roboloop/QuadHover-v0")
    nominal.reset(seed=0)
    assert np.array_equal(nominal.unwrapped.sim.physics.as_vector(), [1, 1, 1, 1, 1, 0.15])


def test_heavier_or_weaker_vehicles_sink_under_the_nominal_hover_command():
    """Mass and thrust scales act on the dynamics: the nominal hover command holds only the nominal vehicle."""
    def climb_after_half_a_second(**kw):
        env = gym.make("roboloop/QuadHover-v0", init_pos=0, init_vel=0, init_tilt=0, init_angvel=0, **kw)
        env.reset(seed=0)
        for _ in range(50):
            env.step(np.full(4, HOVER_ACTION, np.float32))
        return env.unwrapped.sim.vel()[2]
    assert abs(climb_after_half_a_second()) < 0.02
    heavy = climb_after_half_a_second(mass_range=0.3)   # seed 0 draws a scale away from 1
    env = gym.make("roboloop/QuadHover-v0", mass_range=0.3)
    env.reset(seed=0)
    scale = env.unwrapped.sim.physics.mass_scale
    assert np.sign(heavy) == -np.sign(scale - 1) and abs(heavy) > 0.1
    # a slower motor reaches a new command later
    def thrust_after(tau, steps=5):
        env = gym.make("roboloop/QuadHover-v0", motor_tau_range=(tau, tau), init_pos=0, init_vel=0, init_tilt=0,
                       init_angvel=0)
        env.reset(seed=0)
        for _ in range(steps):
            env.step(np.ones(4, np.float32))
        return env.unwrapped.sim.motor_thrust().mean()
    assert thrust_after(0.05) > thrust_after(0.2) + 0.01


def test_observation_noise_has_the_stated_size():
    env = gym.make("roboloop/QuadHover-v0", obs_noise=1.0)
    obs, _ = env.reset(seed=0)
    ctl = HoverController()
    diffs = []
    for _ in range(200):
        obs, *_ = env.step(ctl(obs))
        diffs.append(obs["state"] - env.unwrapped.true_state().astype(np.float32))
    std = np.stack(diffs).std(axis=0)
    assert std[:3] == pytest.approx([0.002] * 3, rel=0.3) and std[15:18] == pytest.approx([0.02] * 3, rel=0.3)
    assert np.all(std[18:] == 0)    # the previous action and the motor estimate are known exactly


def test_episode_length_follows_the_control_rate_and_a_crash_terminates():
    for hz, steps in ((100, 100), (500, 500)):
        env = gym.make("roboloop/QuadHover-v0", control_hz=hz, episode_s=1.0, hold_s=0.5, init_pos=0, init_vel=0,
                       init_tilt=0, init_angvel=0)
        info, n = run_episode(env, lambda o: np.full(4, HOVER_ACTION, np.float32), 0)
        assert n == steps and info["is_success"], info
    env = gym.make("roboloop/QuadHover-v0")
    env.reset(seed=0)
    for t in range(1000):   # motors off: it falls out of the 1 m bound
        _, _, term, trunc, info = env.step(-np.ones(4, np.float32))
        if term or trunc:
            break
    assert term and not trunc and info["is_failure"] and not info["is_success"] and t < 100
    with pytest.raises(ValueError, match="non-finite"):
        env.step(np.array([0, np.nan, 0, 0], np.float32))
    with pytest.raises(ValueError, match="integer multiple"):
        gym.make("roboloop/QuadHover-v0", control_hz=300)
    with pytest.raises(ValueError, match="100-500 Hz"):
        gym.make("roboloop/QuadHover-v0", control_hz=10)
    with pytest.raises(ValueError, match="motor_tau_range"):
        gym.make("roboloop/QuadHover-v0", motor_tau_range=(0.2, 0.1))


def test_scripted_controller_hovers_within_the_stated_error():
    """The geometric controller (nominal parameters only) brings every start to within 0.1 m and holds it
    for the last 2 s of 5 s episodes, also under mass / inertia / motor randomization and sensor noise."""
    env = gym.make("roboloop/QuadHover-v0", obs_noise=1.0)
    ctl = HoverController()
    infos = [run_episode(env, ctl, seed)[0] for seed in range(100, 106)]
    assert all(i["is_success"] for i in infos), [i["pos_error"] for i in infos]
    assert max(i["pos_error"] for i in infos) < 0.05
    env = gym.make("roboloop/QuadHover-v0", episode_s=12, hold_s=5, mass_range=0.1, inertia_range=0.2,
                   motor_tau_range=(0.1, 0.2), obs_noise=1.0)
    assert sum(run_episode(env, ctl, seed)[0]["is_success"] for seed in range(200, 204)) >= 3
    # an uncontrolled vehicle (hover command, no feedback) does not hold
    assert not any(run_episode(gym.make("roboloop/QuadHover-v0"), lambda o: np.full(4, HOVER_ACTION, np.float32),
                               s)[0]["is_success"] for s in range(100, 105))


def test_scripted_controller_tracks_the_figure_eight():
    env = gym.make("roboloop/QuadTrack-v0", episode_s=8)
    infos = [run_episode(env, HoverController(), seed)[0] for seed in range(3)]
    assert all(i["is_success"] for i in infos), [i["pos_error"] for i in infos]


def test_scripted_expert_drives_the_quadrotor_through_any_wrapper():
    from roboloop.sim import make_expert
    env = gym.make("roboloop/QuadHover-v0", obs_noise=1.0)
    expert = make_expert(env, noise=0.0, seed=0)
    env.reset(seed=100)
    expert.reset()
    done = False
    while not done:
        _, _, terminated, truncated, info = env.step(expert.act())
        done = terminated or truncated
    assert info["is_success"] and info["pos_error"] < 0.1, info


def test_guided_start_and_integral_of_the_position_error():
    env = gym.make("roboloop/QuadHover-v0", guide_prob=1.0, max_dist=5.0, episode_s=10.0).unwrapped
    s = env.reset(seed=3)[0]["state"]
    # a guided start: on the target, level, at rest, nothing integrated yet
    assert np.allclose(s[:3], 0, atol=1e-6) and np.allclose(s[12:18], 0, atol=1e-6) and s[11] == pytest.approx(1.0)
    assert np.all(s[26:29] == 0) and env.observation_space["state"].shape == (29,)
    expected = np.zeros(3)
    for _ in range(400):   # full thrust: the vehicle climbs away from the target
        s = env.step(np.full(4, 0.3, np.float32))[0]["state"]
        expected = np.clip(expected + np.clip(s[:3], -0.3, 0.3) / env.control_hz, -1.0, 1.0)
        assert np.allclose(s[26:29], expected, atol=1e-5)
    assert s[2] > 0.3 and s[28] == pytest.approx(1.0)   # integrates the clipped error up to its own bound
    assert np.all(gym.make("roboloop/QuadHover-v0", guide_prob=1.0).unwrapped.reset(seed=3)[0]["state"][26:] == 0)


def test_expert_controller_is_memoryless_and_holds_from_the_hover_benchmark_starts():
    """The scripted demos' controller: its action is a function of the observation alone (a policy can
    imitate it), and under the quadhover preset's randomization and sensor noise it is within 0.1 m of the
    target for the last 10 s of 13 s flights (the hover benchmark's bar); the default gains are not."""
    env = gym.make("roboloop/QuadHover-v0", episode_s=13.0, hold_s=10.0, mass_range=0.1, inertia_range=0.1,
                   thrust_range=0.05, motor_tau_range=(0.12, 0.18), obs_noise=1.0)
    expert = HoverController.expert()
    obs, _ = env.reset(seed=7)
    first = expert(obs)
    for _ in range(50):
        expert(env.step(expert(obs))[0])
    assert np.array_equal(expert(obs), first)   # the same observation, after 50 other steps: the same action
    seeds = range(300, 304)
    assert all(run_episode(env, expert, s)[0]["is_success"] for s in seeds)
    assert not all(run_episode(env, HoverController(), s)[0]["is_success"] for s in seeds)
    with pytest.raises(ValueError, match="motor_lead"):
        HoverController(motor_lead=0.5)
