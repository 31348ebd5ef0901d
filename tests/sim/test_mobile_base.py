"""The differential-drive base and its navigation task: lidar against geometry, odometry against the truth
(with and without slip, radius error and encoder noise), acceleration limits, collisions, maps, rules and
the DWA planner."""
import math

import numpy as np
import pytest

from roboloop.sim.base_tasks import BaseNavEnv
from roboloop.sim.dwa import DWAPolicy
from roboloop.sim.mobile_base import (CHASSIS_RADIUS, BaseLimits, BasePhysics, MobileBaseSim, beam_angles,
                                      body_velocity, wheel_speeds)
from roboloop.sim.rules import BaseNavRules, named, task_rules


def test_lidar_ranges_match_the_geometry():
    sim = MobileBaseSim(n_beams=8, range_max=3.5, arena_half=2.5)
    # The base at (0.5, -0.3) facing +y; a 0.25 m cylinder (slot 2) 1.2 m ahead of it.
    sim.set_clutter([[0.5, 0.9]], [2])
    assert sim.clutter_radii[2] == pytest.approx(0.25)
    sim.reset((0.5, -0.3, math.pi / 2))
    r = sim.scan()
    assert r[0] == pytest.approx(1.2 - 0.25, abs=1e-6)        # forward: the cylinder's surface
    assert r[2] == pytest.approx(0.5 + 2.5, abs=1e-6)         # left = -x: the west wall at -2.5
    assert r[4] == pytest.approx(2.5 - 0.3, abs=1e-6)         # backward = -y: the south wall
    assert r[6] == pytest.approx(2.5 - 0.5, abs=1e-6)         # right = +x: the east wall
    assert r[1] == pytest.approx(3.5)                         # the diagonal reaches past range_max
    np.testing.assert_allclose(beam_angles(8)[[0, 2, 4, 6]], [0, np.pi / 2, np.pi, 3 * np.pi / 2])
    # Parked clutter is out of the lidar plane.
    sim.set_clutter(np.zeros((0, 2)))
    assert sim.scan()[0] == pytest.approx(2.5 + 0.3, abs=1e-6)   # now the north wall


def test_lidar_noise_is_gaussian_with_the_given_std():
    sim = MobileBaseSim(n_beams=36, lidar_noise=0.02, arena_half=1.0, seed=3)
    clean = MobileBaseSim(n_beams=36, arena_half=1.0).scan()
    err = np.concatenate([sim.scan() - clean for _ in range(200)])
    assert abs(err.mean()) < 0.003 and err.std() == pytest.approx(0.02, rel=0.1)


def test_kinematics_round_trip():
    w = wheel_speeds(0.3, -0.8)
    assert body_velocity(w) == pytest.approx((0.3, -0.8))


def drive(sim, v, w, steps, rng=None):
    for _ in range(steps):
        sim.command(v, w)
        sim.step(rng)


def test_odometry_equals_the_truth_without_slip_or_noise():
    sim = MobileBaseSim(arena_half=5.0, limits=BaseLimits(max_linear_accel=100, max_angular_accel=100))
    sim.reset((0.0, 0.0, 0.0))
    drive(sim, 0.4, 0.5, 40)   # an arc of radius 0.8 m
    truth = sim.pose()
    assert np.linalg.norm(sim.odom[:2] - truth[:2]) < 0.02
    assert sim.odom[2] == pytest.approx(truth[2], abs=0.02)
    assert np.hypot(*truth[:2]) > 1.0


def test_radius_error_and_slip_make_the_odometry_drift_the_way_a_real_base_does():
    lim = BaseLimits(max_linear_accel=100, max_angular_accel=100)
    sim = MobileBaseSim(arena_half=5.0, limits=lim)
    # Wheels 5% larger than nominal: the base goes 5% farther than the odometry believes.
    sim.reset((-2.0, 0.0, 0.0), BasePhysics(radius_scale=(1.05, 1.05)))
    drive(sim, 0.5, 0.0, 40)
    assert sim.pose()[0] + 2.0 == pytest.approx(1.05 * sim.odom[0], rel=0.01)
    # 10% slip on both wheels: it goes 10% less far.
    sim.reset((-2.0, 0.0, 0.0), BasePhysics(slip=(0.1, 0.1)))
    drive(sim, 0.5, 0.0, 40)
    assert sim.pose()[0] + 2.0 == pytest.approx(0.9 * sim.odom[0], rel=0.01)
    # Slip on one wheel only: the base curves toward it while the odometry says "straight".
    sim.reset((-2.0, 0.0, 0.0), BasePhysics(slip=(0.1, 0.0)))
    drive(sim, 0.5, 0.0, 30)
    assert sim.pose()[2] > 0.1 and abs(sim.odom[2]) < 1e-9


def test_encoder_noise_spreads_the_odometry_and_is_reproducible():
    finals = []
    for seed in range(8):
        sim = MobileBaseSim(arena_half=5.0)
        sim.reset((0.0, 0.0, 0.0), BasePhysics(encoder_noise=1.0))
        drive(sim, 0.3, 0.0, 30, np.random.default_rng(seed))
        finals.append(sim.odom.copy())
    finals = np.array(finals)
    assert finals[:, 2].std() > 0.01                       # heading noise from the encoders
    again = MobileBaseSim(arena_half=5.0)
    again.reset((0.0, 0.0, 0.0), BasePhysics(encoder_noise=1.0))
    drive(again, 0.3, 0.0, 30, np.random.default_rng(0))
    np.testing.assert_array_equal(again.odom, finals[0])


def test_acceleration_and_speed_limits():
    lim = BaseLimits(max_linear=0.5, max_angular=1.5, max_linear_accel=1.0, max_angular_accel=3.0)
    sim = MobileBaseSim(arena_half=5.0, limits=lim)
    sim.reset((-3.0, 0.0, 0.0))
    sps = [sim.command(10.0, -10.0).copy() for _ in range(8)]
    np.testing.assert_allclose([s[0] for s in sps], [0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose([s[1] for s in sps], [-0.3, -0.6, -0.9, -1.2, -1.5, -1.5, -1.5, -1.5], atol=1e-12)
    sim.reset((-3.0, 0.0, 0.0))
    for k in range(1, 4):
        sim.command(0.5, 0.0)
        sim.step()
        assert sim.twist()[0] == pytest.approx(0.1 * k, abs=0.01)   # the chassis follows the ramp
    with pytest.raises(ValueError, match="non-finite"):
        sim.command(float("nan"), 0.0)


def test_an_obstacle_stops_the_base_and_counts_as_a_collision():
    sim = MobileBaseSim(arena_half=2.5)
    sim.set_clutter([[1.0, 0.0]], [1])          # radius 0.2
    sim.reset((0.0, 0.0, 0.0))
    for _ in range(30):
        sim.command(0.5, 0.0)
        sim.step()
        if sim.contact:
            break
    assert sim.contact
    assert sim.pose()[0] == pytest.approx(1.0 - 0.2 - CHASSIS_RADIUS, abs=0.01)


def test_nav_env_contract_maps_and_collision(make_env):
    env = make_env("roboloop/base-Nav-v0")
    obs, info = env.reset(seed=7)
    u = env.unwrapped
    spec = u.task_spec()
    assert obs["state"].shape == (42,) and env.observation_space.contains(obs)
    assert spec["action"]["command"] == "base_velocity" and spec["lidar"]["n_beams"] == 36
    # The odometry goal at the start is the true goal in the base frame.
    x, y, yaw = u.sim.pose()
    d = u.goal_world - [x, y]
    g = [math.cos(yaw) * d[0] + math.sin(yaw) * d[1], -math.sin(yaw) * d[0] + math.cos(yaw) * d[1]]
    np.testing.assert_allclose(obs["state"][36:38], g, atol=1e-5)
    assert 2.0 <= np.linalg.norm(d) <= 4.5
    for c, r in zip(u.clutter, u.clutter_r):   # clear of the start and the goal
        assert np.linalg.norm(c - [x, y]) >= CHASSIS_RADIUS + r + 0.3 - 1e-9
        assert np.linalg.norm(c - u.goal_world) >= CHASSIS_RADIUS + r + 0.3 - 1e-9
    maps = {}
    for seed in (7, 7, 8):
        env.reset(seed=seed)
        maps.setdefault(seed, []).append((u.goal_world.copy(), u.clutter.copy()))
    np.testing.assert_array_equal(maps[7][0][0], maps[7][1][0])
    assert not np.allclose(maps[7][0][0], maps[8][0][0])
    # Drive straight at whatever is ahead: a collision terminates with is_failure and a penalty.
    env.reset(seed=7)
    for _ in range(300):
        obs, reward, terminated, truncated, info = env.step(np.array([1.0, 0.0], np.float32))
        if terminated:
            break
    assert terminated and info["is_failure"] and not info["is_success"] and reward < -4.0
    with pytest.raises(ValueError, match="2 entries"):
        env.step(np.zeros(3, np.float32))


def test_nav_rules_progress_reward_and_lidar_collision():
    rules = task_rules("roboloop/base-Nav-v0", {"success_dist": 0.3})
    assert isinstance(rules, BaseNavRules)
    names = ["scan_0", "scan_1", "goal_x", "goal_y"]
    rules.check(names)
    rules.begin(named(names, [2.0, 2.0, 1.0, 0.0]))
    s = named(names, [2.0, 2.0, 0.9, 0.0])
    assert rules.outcome(s, {}) == (False, False)
    assert rules.reward(s, False, {}) == pytest.approx(10.0 * 0.1 - 0.01)
    near_wall = named(names, [0.15, 2.0, 0.2, 0.0])
    assert rules.outcome(near_wall, {}) == (False, True)
    assert rules.outcome(named(names, [2.0, 2.0, 0.2, 0.0]), {}) == (True, False)
    with pytest.raises(ValueError, match="needs state entries"):
        rules.check(["goal_x", "goal_y"])


def test_dwa_reaches_the_goal_in_an_empty_arena_and_avoids_a_blocking_obstacle(make_env):
    env = make_env("roboloop/base-Nav-v0", n_obstacles=(0, 0))
    dwa = DWAPolicy(env.unwrapped.task_spec())
    obs, _ = env.reset(seed=1)
    for t in range(200):
        obs, _, terminated, truncated, info = env.step(dwa.act(obs))
        if terminated or truncated:
            break
    assert info["is_success"] and info["goal_dist_true"] < 0.5
    # Straight line from start to goal blocked by a cylinder: DWA goes around without touching it.
    u = env.unwrapped
    env.reset(seed=1)
    start = u.sim.pose()[:2]
    mid = (start + u.goal_world) / 2
    u.sim.set_clutter([mid], [4])   # radius 0.35
    obs = u._obs()
    u.rules.begin(named(u.state_names, obs["state"]))
    for t in range(300):
        obs, _, terminated, truncated, info = env.step(dwa.act(obs))
        if terminated or truncated:
            break
    assert info["is_success"] and not info["collision"]


def test_race_checkpoints_come_from_the_demo_lap_and_the_expert_laps_faster(make_env):
    from roboloop.sim import make_expert
    from roboloop.sim.race_task import ISLAND_X
    env = make_env("roboloop/base-Race-v0")
    u = env.unwrapped
    cps = u.checkpoints
    # One slow lap, a checkpoint every 0.5 m, all on the track: clear of the island and the walls.
    assert 15 <= len(cps) <= 30 and u.demo_lap_s > 30.0
    assert np.all(np.abs(cps) < 2.5 - CHASSIS_RADIUS)
    island = np.stack([ISLAND_X, np.zeros_like(ISLAND_X)], 1)
    assert np.linalg.norm(cps[:, None] - island[None], axis=-1).min() > 0.35 + CHASSIS_RADIUS
    obs, info = env.reset(seed=0)
    expert = make_expert(env)
    for _ in range(300):
        obs, r, terminated, truncated, info = env.step(expert.act())
        assert not terminated
    assert info["laps"] >= 1 and info["collisions"] == 0
    assert info["lap_times"][0] < 0.6 * u.demo_lap_s


def test_race_collision_respawns_at_the_last_checkpoint_and_goes_on(make_env):
    env = make_env("roboloop/base-Race-v0", checkpoints=[[0.0, -1.35], [1.9, 0.0], [0.0, 1.35], [-1.9, 0.0]])
    u = env.unwrapped
    obs, _ = env.reset(seed=0)
    total = 0.0
    for _ in range(100):   # full speed, hard left: into the island
        obs, r, terminated, truncated, info = env.step(np.array([1.0, 0.35], np.float32))
        total += r
        if info["collisions"]:
            break
    assert info["collisions"] == 1 and not terminated and r < -3.0
    pose = u.sim.pose()
    np.testing.assert_allclose(pose[:2], u.checkpoints[info["checkpoint"]], atol=1e-6)
    assert u.sim.twist() == pytest.approx([0.0, 0.0], abs=1e-9)
    with pytest.raises(ValueError, match="checkpoints must be"):
        make_env("roboloop/base-Race-v0", checkpoints=[[0.0, 0.0]])


def test_the_car_like_variant_cannot_turn_in_place_and_keeps_its_turning_radius(make_env):
    from roboloop.sim.mobile_base import Steering
    car = MobileBaseSim(arena_half=5.0, limits=BaseLimits(max_linear_accel=100, max_angular_accel=100),
                        steering=Steering(wheelbase=0.26, max_steer=0.45))
    car.reset((0.0, 0.0, 0.0))
    drive(car, 0.0, 1.5, 10)
    assert car.pose()[2] == pytest.approx(0.0, abs=1e-6)       # no turning on the spot
    drive(car, 0.4, 1.5, 20)                                    # asks for more than the steering gives
    v, w = car.twist()
    assert w == pytest.approx(0.4 * math.tan(0.45) / 0.26, rel=0.03)
    assert car.odom[2] == pytest.approx(car.pose()[2], abs=0.02)   # the rear-wheel odometry follows
    env = make_env("roboloop/base-Nav-v0", drive="ackermann")
    assert env.unwrapped.task_spec()["robot"]["kind"] == "ackermann"
    with pytest.raises(ValueError, match="drive must be"):
        make_env("roboloop/base-Nav-v0", drive="tank")
