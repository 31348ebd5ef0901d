"""Ros2ControlDriver drives a ros2_control forward position controller over real DDS.

The arm is a separate process (fake_ros2_control.py, standing in for controller_manager);
the driver runs in the test process on a real rclpy node.
"""
import math
import os
import time

import numpy as np
import pytest

from roboloop.hardware.ros2_control import Ros2ControlDriver
from roboloop.sim.robot import HOME_EE, ArmSim

from .ros_helpers import PY, wait_for

FAKE = os.path.join(os.path.dirname(__file__), "fake_ros2_control.py")


def test_velocity_commands_move_the_arm_and_stop_holds(ros_node, spawn):
    home_q = ArmSim().home_qpos
    peer = spawn(PY, FAKE, "arm_controller", *[str(x) for x in home_q])
    driver = Ros2ControlDriver(ros_node, controller="arm_controller", control_hz=20.0)
    s = wait_for(driver.read_state, 30, f"/joint_states from the fake arm:\n{peer.output}")
    assert s.joint_names == ("j1", "j2", "j3", "j4", "j5", "j6")
    assert np.linalg.norm(s.ee_position - HOME_EE) < 1e-3  # forward kinematics of the home pose
    assert s.age() < 0.5 and s.stamp > 0 and s.gripper == pytest.approx(1.0)

    driver.command_velocity([0.0, 0.1, 0.0])  # +y at 0.1 m/s for 1 s
    for _ in range(20):
        driver.tick()
        time.sleep(0.05)
    time.sleep(0.3)
    moved = driver.read_state().ee_position - s.ee_position
    assert 0.07 < moved[1] < 0.13 and abs(moved[0]) < 0.01 and abs(moved[2]) < 0.01, moved
    assert "command [" in peer.output  # the arm got Float64MultiArray joint targets

    driver.stop()  # holds where it is, even though ticks continue
    held = driver.read_state().ee_position
    for _ in range(10):
        driver.tick()
        time.sleep(0.05)
    assert np.linalg.norm(driver.read_state().ee_position - held) < 0.003

    with pytest.raises(ValueError, match="non-finite"):
        driver.command_velocity([math.nan, 0.0, 0.0])
    assert not np.any(driver.command.linear)  # a NaN became a stop

    # The arm goes silent (peer killed): the driver notices the stale state and holds.
    peer.stop()
    time.sleep(0.7)
    sent = driver.sent
    driver.command_velocity([0.1, 0.0, 0.0])
    driver.tick()
    assert driver.read_state().age() > 0.5
    assert driver.sent == sent + 1 and np.allclose(driver.q_cmd, driver.read_state().joint_positions)
