"""Scripted experts reach the success rates demos rely on."""

import gymnasium as gym
import numpy as np
import pytest

from roboloop.sim import make_expert

from .sim_helpers import run_expert


def test_reach_expert(make_env):
    env = make_env("roboloop/Reach-v0")
    rate, lengths = run_expert(env, make_expert(env), range(30))
    assert rate >= 29 / 30
    assert lengths.max() < env.spec.max_episode_steps


@pytest.mark.parametrize("kwargs", [{}, {"use_yaw": True}, {"physics_hz": 250},
                                    {"control_hz": 20, "max_delta_pos": 0.025}])
def test_pick_cube_expert(kwargs, make_env):
    env = make_env("roboloop/PickCube-v0", **kwargs)
    rate, lengths = run_expert(env, make_expert(env), range(100, 125))
    assert rate >= 0.92, rate


def test_pick_cube_expert_with_noise_still_mostly_succeeds(make_env):
    env = make_env("roboloop/PickCube-v0")
    rate, _ = run_expert(env, make_expert(env, noise=0.3, seed=0), range(20))
    assert rate >= 0.85, rate


def test_noise_makes_demos_diverse_and_seeded(make_env):
    env = make_env("roboloop/PickCube-v0")
    acts = []
    for seed in (0, 0, 1):
        env.reset(seed=5)
        ex = make_expert(env, noise=0.3, seed=seed)
        episode = []
        for _ in range(3):
            episode.append(ex.act())
            env.step(episode[-1])
        acts.append(np.stack(episode))
    np.testing.assert_array_equal(acts[0], acts[1])
    assert not np.array_equal(acts[0], acts[2])


def test_pick_cube_vision_expert(make_env):
    env = make_env("roboloop/PickCubeVision-v0")
    rate, _ = run_expert(env, make_expert(env), range(6))
    assert rate == 1.0


def test_expert_works_through_wrappers(make_env):
    env = gym.wrappers.RecordEpisodeStatistics(make_env("roboloop/PickCube-v0"))
    ex = make_expert(env)
    act = (env.reset(seed=0), ex.act())[1]
    assert act.dtype == np.float32 and env.action_space.contains(act)


def test_actions_are_in_action_space(make_env):
    env = make_env("roboloop/PickCube-v0", use_yaw=True)
    env.reset(seed=0)
    ex = make_expert(env, noise=0.5, seed=0)
    for _ in range(10):
        a = ex.act()
        assert env.action_space.contains(a)
        env.step(a)


def test_the_scripted_person_picks_on_the_latency_robot(make_env):
    """The person who corrects the policy on the gap robot can do the task there: with 2 control steps of
    action latency the plain expert overshoots and lifts nothing, the robot's own expert waits out the lag."""
    from roboloop.sim.experts import PickCubeExpert
    env = make_env("roboloop/PickCubeGap-v0", variant="latency")
    rate, _ = run_expert(env, make_expert(env), range(200, 208))
    plain, _ = run_expert(env, PickCubeExpert(env), range(200, 208))
    assert rate >= 7 / 8 and plain <= 1 / 8, (rate, plain)
