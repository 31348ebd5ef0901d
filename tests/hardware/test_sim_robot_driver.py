"""SimRobotDriver: the RobotDriver contract on the MuJoCo arm."""
import math

import numpy as np
import pytest

from roboloop.hardware.sim_robot import JOINT_NAMES, SimRobotDriver


@pytest.fixture
def robot():
    r = SimRobotDriver("PickCube", seed=3)
    yield r
    r.close()


def test_velocity_pose_and_stop(robot):
    s0 = robot.read_state()
    assert s0.joint_names == JOINT_NAMES and s0.joint_positions.shape == (8,)
    assert s0.gripper == pytest.approx(1.0, abs=0.01) and np.isclose(np.linalg.norm(s0.ee_quat), 1)
    robot.command_velocity([0.2, 0.0, -0.1])  # m/s; 10 ticks at 10 Hz = 1 s
    for _ in range(10):
        robot.tick()
    d = robot.read_state().ee_position - s0.ee_position
    assert d == pytest.approx([0.2, 0.0, -0.1], abs=0.02)
    assert robot.read_state().stamp == pytest.approx(1.0)  # sim time, s

    robot.command_velocity([5.0, 0.0, 0.0])  # clipped to max_linear_speed (0.5 m/s)
    x = robot.read_state().ee_position[0]
    robot.tick()
    assert robot.read_state().ee_position[0] - x < 0.5 / 10 + 0.005

    robot.stop()
    held = robot.read_state().ee_position
    for _ in range(5):
        robot.tick()
    assert np.linalg.norm(robot.read_state().ee_position - held) < 0.005

    target = np.array([0.40, 0.05, 0.60])
    robot.command_pose(target)
    for _ in range(10):
        robot.tick()
    assert np.linalg.norm(robot.read_state().ee_position - target) < 0.01


def test_nan_is_refused_and_stops(robot):
    robot.command_velocity([0.1, 0.0, 0.0])
    with pytest.raises(ValueError, match="non-finite linear velocity"):
        robot.command_velocity([0.1, math.inf, 0.0])
    assert not np.any(robot.command.linear)
    with pytest.raises(ValueError, match="non-finite gripper"):
        robot.command_pose([0.4, 0.0, 0.6], gripper=math.nan)
    assert robot.command.mode == "velocity" and not np.any(robot.command.linear)


def test_gripper_and_camera_and_reset(robot):
    robot.command_velocity([0, 0, 0], gripper=1.0)
    for _ in range(5):
        robot.tick()
    assert robot.read_state().gripper < 0.1
    img = robot.render("wrist", 64, 48)
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8 and img.std() > 5
    robot.reset()
    assert robot.read_state().gripper == pytest.approx(1.0, abs=0.01) and robot.steps == 0
    assert not robot.success


def test_a_real_arms_sim_behind_the_same_driver():
    """robot:=so101 turns PickCube (and the gap variant) into the SO-101's sim, with its own joints."""
    from roboloop.sim.registry import task_for_robot
    assert task_for_robot("PickCube", "so101") == ("roboloop/so101-PickCube-v0", {})
    assert task_for_robot("roboloop/PickCubeGap-v0", "panda")[0] == "roboloop/panda-PickCube-v0"
    assert task_for_robot("roboloop/PickCube-v0", "") == ("roboloop/PickCube-v0", {})
    with pytest.raises(ValueError, match="unknown robot 'kuka'.*so101"):
        task_for_robot("PickCube", "kuka")
    with pytest.raises(ValueError, match="QuadHover.*own arm only"):
        task_for_robot("QuadHover", "so101")
    r = SimRobotDriver(*task_for_robot("PickCube", "so101"), seed=0)
    try:
        s0 = r.read_state()
        assert s0.joint_names == ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
        r.command_velocity([0.0, 0.05, 0.0])
        for _ in range(10):
            r.tick()
        d = r.read_state().ee_position - s0.ee_position
        assert d == pytest.approx([0.0, 0.05, 0.0], abs=0.01)
    finally:
        r.close()
