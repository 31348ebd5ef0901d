"""A closed grasp holds the cube while lifting and while the arm jerks at full speed."""

import numpy as np

from roboloop.sim import make_expert


def test_grasp_survives_full_speed_shaking(make_env):
    env = make_env("roboloop/PickCube-v0", lift_height=10.0)  # never "succeeds": keep going
    raw = env.unwrapped
    rng = np.random.default_rng(0)
    held = 0
    for seed in range(12):
        env.reset(seed=seed)
        expert = make_expert(env)
        for _ in range(40):
            env.step(expert.act())
            if expert.phase == "lift" and raw.lift() > 0.05:
                break
        assert raw.sim.is_grasped() and raw.lift() > 0.05
        # Bang-bang moves on every axis: +-0.05 m per 0.1 s, direction flips at random.
        for _ in range(15):
            env.step(np.r_[rng.choice([-1.0, 1.0], 3), 1.0].astype(np.float32))
        offset = raw.sim.ee_rot().T @ (raw.sim.cube_pos() - raw.sim.ee_pos())
        held += raw.sim.is_grasped() and np.abs(offset).max() < 0.015
    assert held >= 11, held


def test_opening_the_gripper_drops_the_cube(make_env):
    env = make_env("roboloop/PickCube-v0", lift_height=10.0)
    raw = env.unwrapped
    env.reset(seed=0)
    expert = make_expert(env)
    for _ in range(40):
        env.step(expert.act())
        if expert.phase == "lift" and raw.lift() > 0.08:
            break
    for _ in range(5):
        env.step(np.array([0, 0, 0, -1.0], dtype=np.float32))
    assert not raw.sim.is_grasped() and raw.lift() < 0.005  # back on the table
