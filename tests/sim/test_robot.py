"""ArmSim: home pose, IK tracking, gripper, and physics/control rates."""

import numpy as np
import pytest

from roboloop.sim.robot import HOME_EE, TABLE_Z, ArmSim


@pytest.fixture(scope="module")
def sim():
    return ArmSim()


def test_home_pose_points_down_with_gripper_open(sim):
    sim.reset()
    np.testing.assert_allclose(sim.ee_pos(), HOME_EE, atol=1e-3)
    assert sim.ee_rot()[2, 2] < -0.999  # tool axis along world -z
    assert abs(sim.ee_yaw()) < 1e-3
    assert sim.gripper_opening() > 0.99
    np.testing.assert_allclose(sim.cube_pos()[2], TABLE_Z + 0.02, atol=1e-3)


@pytest.mark.parametrize("target", [[0.5, 0.2, TABLE_Z + 0.05], [0.25, -0.25, TABLE_Z + 0.3],
                                    [0.6, 0.0, TABLE_Z + 0.03], [0.4, -0.15, TABLE_Z + 0.15]])
def test_ik_tracks_commanded_target(sim, target):
    sim.reset()
    target = np.array(target)
    for _ in range(25):
        sim.apply_action(np.clip(target - sim.target_pos, -0.05, 0.05), 0.0, -1.0)
    assert np.linalg.norm(sim.ee_pos() - target) < 0.003
    assert sim.ee_rot()[2, 2] < -0.995  # still pointing down
    assert abs(sim.ee_yaw()) < 0.02


def test_yaw_control(sim):
    sim.reset()
    for _ in range(10):
        sim.apply_action(np.zeros(3), 0.2, -1.0)
    assert abs(sim.ee_yaw() - sim.target_yaw) < 0.02
    assert sim.target_yaw > 1.5  # 10 x 0.2 rad, clipped at YAW_LIMIT
    assert np.linalg.norm(sim.ee_pos() - HOME_EE) < 0.003


def test_target_is_clipped_to_workspace(sim):
    sim.reset()
    for _ in range(30):
        sim.apply_action([0.0, 0.0, -0.05], 0.0, -1.0)  # push down into the table
    assert sim.target_pos[2] == pytest.approx(sim.workspace[0, 2])
    assert sim.ee_pos()[2] > TABLE_Z + 0.015


def test_gripper_opens_and_closes(sim):
    sim.reset()
    sim.apply_action(np.zeros(3), 0.0, 1.0)
    sim.apply_action(np.zeros(3), 0.0, 1.0)
    assert sim.gripper_opening() < 0.05
    sim.apply_action(np.zeros(3), 0.0, -1.0)
    sim.apply_action(np.zeros(3), 0.0, -1.0)
    assert sim.gripper_opening() > 0.95
    sim.apply_action(np.zeros(3), 0.0, 0.0)
    sim.apply_action(np.zeros(3), 0.0, 0.0)
    assert 0.4 < sim.gripper_opening() < 0.6


@pytest.mark.parametrize("physics_hz,control_hz,substeps", [(500, 10, 50), (500, 20, 25),
                                                             (1000, 10, 100), (250, 25, 10)])
def test_rates_set_substeps_and_timestep(physics_hz, control_hz, substeps):
    sim = ArmSim(physics_hz=physics_hz, control_hz=control_hz)
    assert sim.n_substeps == substeps
    assert sim.model.opt.timestep == pytest.approx(1.0 / physics_hz)
    sim.apply_action(np.zeros(3), 0.0, -1.0)
    assert sim.data.time == pytest.approx(1.0 / control_hz)


def test_env_rate_kwargs_reach_the_sim():
    import gymnasium as gym

    env = gym.make("roboloop/PickCube-v0", physics_hz=1000, control_hz=20)
    env.reset(seed=0)
    env.step(np.zeros(4, dtype=np.float32))
    sim = env.unwrapped.sim
    assert sim.n_substeps == 50 and sim.data.time == pytest.approx(0.05)
    assert env.unwrapped.metadata["render_fps"] == 20


def test_non_integer_rate_ratio_rejected():
    with pytest.raises(ValueError):
        ArmSim(physics_hz=500, control_hz=30)
