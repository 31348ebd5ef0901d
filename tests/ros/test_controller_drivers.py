"""The controller drivers against stand-ins that speak each controller's exact interface over real DDS.

The controllers themselves (joint_trajectory_controller, forward_command_controller,
gripper_action_controller, MoveIt Servo) are C++ packages of a ROS 2 install, not installable here:
`fake_controller.py` runs in its own process, as a node named like the controller with its `joints`
parameter, on the controller's topics, actions (control_msgs/FollowJointTrajectory and GripperCommand,
built into the venv from their upstream definitions) and message types (see its docstring). The driver
runs in the test process on a real rclpy node and reads the controller's joint order from that
parameter; the controller's order differs from the description's and from the order of /joint_states,
so a driver that mixed them up would send the arm elsewhere.
"""
import json
import math
import os
import time

import numpy as np
import pytest
from std_msgs.msg import Bool

from roboloop.hardware.arm_kinematics import ArmKinematics
from roboloop.hardware.ros2_control import (FollowJointTrajectoryDriver, ForwardPositionDriver, ForwardVelocityDriver,
                                            JointTrajectoryDriver, ServoTwistDriver)
from roboloop.sim.description import resolve_path

from .ros_helpers import PY, wait_for

FAKE = os.path.join(os.path.dirname(__file__), "fake_controller.py")
HZ = 20.0


def home(arm: str) -> tuple[ArmKinematics, np.ndarray]:
    """The arm's kinematics and joint values (description order) with the pinch point at its sim home pose."""
    kin = ArmKinematics(arm)
    q = kin.model.ik(np.asarray(kin.arm.scene.home_ee), kin.down_rotation(0.0),
                     q0=np.asarray(kin.arm.scene.home_q), max_iters=300).q
    return kin, q


def start(spawn, kind, controller, joints, q, *extra):
    return spawn(PY, FAKE, kind, controller, "--joints=" + ",".join(joints), "--q0=" + ",".join(map(str, q)), *extra)


def received(peer, topic):
    out = []
    for line in list(peer.lines):
        if line.startswith("{"):
            m = json.loads(line)
            if m["topic"] == topic:
                out.append(m)
    return out


def run_ticks(driver, seconds):
    for _ in range(int(seconds * HZ)):
        driver.tick()
        time.sleep(1.0 / HZ)


def drive(driver, linear, distance, timeout=20.0, **gripper):
    """Command `linear` (3,) m/s at every tick, as an actor does, until the target has gone `distance` m
    from where the arm was. A tick on stale joint states (a starved stand-in on a loaded machine) stops
    the arm and sets the target back to the measured pose, as it must; the commands then carry on."""
    start, direction = driver.read_state().ee_position.copy(), np.asarray(linear) / np.linalg.norm(linear)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        driver.command_velocity(linear, **gripper)
        driver.tick()
        time.sleep(1.0 / HZ)
        if driver.target_pos is not None and (driver.target_pos - start) @ direction >= distance - 1e-9:
            return


def settle(driver, goal, timeout=10.0, tol=0.002, **gripper):
    """Hold `goal` (3,) m, re-commanded at every tick, until the measured end effector is on it: the
    stand-in controller is a process of its own and lags the ticks on a loaded machine."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        driver.command_pose(goal, **gripper)
        driver.tick()
        time.sleep(1.0 / HZ)
        if np.linalg.norm(driver.read_state().ee_position - goal) < tol:
            return


def quiet_count(peer, topic, quiet=0.5, timeout=10.0):
    """How many `topic` messages the stand-in has printed, once none has come for `quiet` seconds (what
    was sent before is all counted, however far its output lags)."""
    n, since, deadline = len(received(peer, topic)), time.monotonic(), time.monotonic() + timeout
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        time.sleep(0.05)
        m = len(received(peer, topic))
        if m != n:
            n, since = m, time.monotonic()
    return n


def mute(ros_node, on=True):
    pub = ros_node.create_publisher(Bool, "/stand_in/mute", 10)
    wait_for(lambda: pub.get_subscription_count(), 10, "the stand-in's mute subscription")
    for _ in range(20):
        pub.publish(Bool(data=on))
        time.sleep(0.02)


def test_joint_trajectory_controller_from_robot_description(ros_node, spawn):
    kin, q = home("ur5")
    ctrl_joints = list(reversed(kin.arm_joints))          # the controller's order is not the description's
    urdf = resolve_path(kin.arm.robot.description, kin.arm.robot.packages, kin.arm.robot.base_dir)
    peer = start(spawn, "joint_trajectory", "arm_controller", ctrl_joints, q[::-1], "--description", str(urdf))
    driver = JointTrajectoryDriver(ros_node, "ur5", controller="arm_controller", control_hz=HZ,
                                   description_from_topic=True, max_linear_speed=0.25)
    s = wait_for(lambda: driver.ready() and driver.read_state(), 30, lambda: f"/robot_description, joints:\n{peer.output}")
    assert driver.joints.names == tuple(ctrl_joints)   # read from the controller's parameter
    assert np.linalg.norm(s.ee_position - np.asarray(kin.arm.scene.home_ee)) < 1e-3   # FK of the measured joints

    drive(driver, [0.0, 0.1, 0.0], 0.1)                 # +y at 0.1 m/s: 1 s on an unloaded machine
    settle(driver, driver.target_pos.copy())
    moved = driver.read_state().ee_position - s.ee_position
    assert 0.07 < moved[1] < 0.13 and abs(moved[0]) < 0.01 and abs(moved[2]) < 0.01, moved
    # The point is this tick's IK target, in the controller's order.
    msgs = wait_for(lambda: (m := received(peer, "joint_trajectory")) and np.allclose(
        m[-1]["values"], driver.q_cmd[::-1], atol=1e-9) and m, 5, "the last tick's point at the controller")
    assert len(msgs) >= 15 and all(m["names"] == ctrl_joints and len(m["values"]) == 6 for m in msgs)

    driver.stop()                                       # holds where it is while ticks go on
    held = driver.read_state().ee_position
    run_ticks(driver, 0.5)
    assert np.linalg.norm(driver.read_state().ee_position - held) < 0.003

    with pytest.raises(ValueError, match="non-finite"):
        driver.command_velocity([math.nan, 0.0, 0.0])
    with pytest.raises(ValueError, match="non-finite"):
        driver.command_pose([0.4, math.inf, 0.2])
    assert not np.any(driver.command.linear) and driver.command.mode == "velocity"   # a NaN became a stop
    run_ticks(driver, 0.2)

    # The arm's state goes stale: the next tick holds the last measured joints instead of moving on.
    mute(ros_node)
    wait_for(lambda: driver.read_state().age() > 0.6, 10, "stale joint states")
    driver.command_velocity([0.1, 0.0, 0.0])
    n = quiet_count(peer, "joint_trajectory")
    run_ticks(driver, 0.3)
    after = wait_for(lambda: received(peer, "joint_trajectory")[n:], 5, "the hold command")
    last_q = driver.read_state().joint_positions
    assert driver.read_state().age() > 0.5
    assert all(np.allclose(m["values"], last_q[::-1]) for m in after)
    assert "NONFINITE" not in peer.output


@pytest.mark.parametrize("kind", ["forward_position", "forward_velocity"])
def test_forward_controllers_and_gripper(ros_node, spawn, kind):
    kin, q = home("so101")
    ctrl_joints = [kin.arm_joints[i] for i in (2, 0, 4, 1, 3)]
    q_ctrl = [q[kin.arm_joints.index(j)] for j in ctrl_joints]
    name = f"{kind}_controller"
    peer = start(spawn, kind, name, ctrl_joints, q_ctrl, "--gripper", "gripper_controller:gripper:0.6")
    cls = ForwardPositionDriver if kind == "forward_position" else ForwardVelocityDriver
    driver = cls(ros_node, kin, controller=name, gripper="forward", gripper_controller="gripper_controller",
                 control_hz=HZ, max_linear_speed=0.1)
    s = wait_for(lambda: driver.ready() and driver.read_state(), 30, lambda: f"the controller's joints:\n{peer.output}")
    assert driver.joints.names == tuple(ctrl_joints) and s.gripper == pytest.approx(1.0)

    drive(driver, [0.0, 0.0, -0.04], 0.04, gripper=1.0)  # down 4 cm at 4 cm/s, closing the jaw
    settle(driver, driver.target_pos.copy(), gripper=1.0)
    moved = driver.read_state().ee_position - s.ee_position
    assert -0.05 < moved[2] < -0.025 and abs(moved[0]) < 0.008 and abs(moved[1]) < 0.008, moved
    msgs = received(peer, "commands")
    assert len(msgs) >= 15 and all(len(m["values"]) == 5 for m in msgs)
    grip = received(peer, "gripper_commands")
    assert grip and grip[-1]["values"] == [pytest.approx(kin.gripper_closed)]
    wait_for(lambda: driver.read_state().gripper < 0.1, 5, "the stand-in's jaw closed")

    mute(ros_node)                                             # stale joint states stop the arm
    wait_for(lambda: driver.read_state().age() > 0.6, 10, "stale joint states")
    driver.command_velocity([0.0, 0.05, 0.0])
    n = quiet_count(peer, "commands")
    run_ticks(driver, 0.3)
    after = wait_for(lambda: received(peer, "commands")[n:], 5, "the stop command")
    if kind == "forward_velocity":
        assert all(m["values"] == [0.0] * 5 for m in after)
    else:
        last = driver.read_state().joint_positions
        assert all(np.allclose(m["values"], [last[kin.arm_joints.index(j)] for j in ctrl_joints]) for m in after)
    with pytest.raises(ValueError, match="non-finite"):
        driver.command_velocity([0.0, math.nan, 0.0])
    run_ticks(driver, 0.2)
    assert "NONFINITE" not in peer.output


def test_follow_joint_trajectory_and_gripper_command_actions(ros_node, spawn):
    """FollowJointTrajectory goals in the controller's joint order, GripperCommand goals for the jaw; stale
    joint states cancel the running goal (the controller holds where the arm is) and no goal follows."""
    kin, q = home("so101")
    ctrl_joints = [kin.arm_joints[i] for i in (2, 0, 4, 1, 3)]
    q_ctrl = [q[kin.arm_joints.index(j)] for j in ctrl_joints]
    gripper_action = "/gripper_controller/gripper_cmd"
    peer = start(spawn, "joint_trajectory", "arm_controller", ctrl_joints, q_ctrl,
                 "--gripper-action", f"{gripper_action}:gripper:0.6")
    # Each goal's point is 1 s ahead, so a goal is still running when the states go stale: only a cancel stops it.
    driver = FollowJointTrajectoryDriver(ros_node, kin, controller="arm_controller", gripper="action",
                                         gripper_controller=gripper_action, control_hz=HZ, point_time=1.0,
                                         state_timeout=0.2, max_linear_speed=0.1)
    mute_pub = ros_node.create_publisher(Bool, "/stand_in/mute", 10)
    s = wait_for(lambda: driver.ready() and driver.client.server_is_ready() and driver.gripper.client.server_is_ready()
                 and mute_pub.get_subscription_count() and driver.read_state(), 30, lambda: f"the controller's joints and actions:\n{peer.output}")
    assert driver.joints.names == tuple(ctrl_joints) and s.gripper == pytest.approx(1.0)

    drive(driver, [0.0, 0.0, -0.04], 0.04, gripper=1.0)  # down 4 cm at 4 cm/s, closing the jaw
    goals = wait_for(lambda: (g := received(peer, "follow_joint_trajectory")) and np.allclose(
        g[-1]["values"], [driver.q_cmd[kin.arm_joints.index(j)] for j in ctrl_joints], atol=1e-9) and g, 5,
        "the last tick's goal at the controller")
    assert len(goals) >= 15 and all(m["names"] == ctrl_joints for m in goals)
    assert not received(peer, "follow_joint_trajectory/rejected") and driver.rejected == 0
    # The goal's point is this tick's IK target, in the controller's order; the targets went 4 cm down.
    assert np.allclose(goals[-1]["values"], [driver.q_cmd[kin.arm_joints.index(j)] for j in ctrl_joints], atol=1e-9)
    target_q = [goals[-1]["values"][ctrl_joints.index(j)] for j in kin.arm_joints]
    assert kin.fk(target_q)[0][2] - s.ee_position[2] == pytest.approx(-0.04, abs=0.008)
    assert driver.read_state().ee_position[2] < s.ee_position[2] - 0.01   # the arm follows, 1 s behind
    grip = received(peer, "gripper_action")
    assert grip and grip[-1]["values"][0] == pytest.approx(kin.gripper_closed)
    wait_for(lambda: driver.read_state().gripper < 0.1, 5, "the jaw closing")

    # The states stop while the last goal still runs: the driver cancels it and sends no further goal.
    mute_pub.publish(Bool(data=True))
    run_ticks(driver, 0.5)
    cancels = wait_for(lambda: received(peer, "follow_joint_trajectory/cancel"), 5, lambda: f"a cancel:\n{peer.output}")
    assert cancels[-1]["names"] == ctrl_joints
    n = len(received(peer, "follow_joint_trajectory"))
    run_ticks(driver, 0.3)
    assert len(received(peer, "follow_joint_trajectory")) == n
    with pytest.raises(ValueError, match="non-finite"):
        driver.command_velocity([0.0, math.nan, 0.0])
    # A non-finite joint target (as from a failed IK) is refused: no goal, the arm held.
    driver._send_joints(np.full(kin.n, math.nan), driver.read_state())
    assert driver._refused and len(received(peer, "follow_joint_trajectory")) == n
    mute_pub.publish(Bool(data=False))
    held = wait_for(lambda: driver.read_state().age() < 0.05 and driver.read_state(), 5, "fresh joint states")
    time.sleep(0.3)
    assert np.allclose(driver.read_state().joint_positions, held.joint_positions, atol=1e-9)   # held still
    assert np.linalg.norm(held.joint_positions[:kin.n] - target_q) > 0.005   # short of the cancelled goal's point
    assert "NONFINITE" not in peer.output


def test_moveit_servo_twists(ros_node, spawn):
    kin, q = home("panda")
    peer = start(spawn, "servo_twist", "servo_node", kin.arm_joints, q)
    driver = ServoTwistDriver(ros_node, kin, control_hz=HZ, max_linear_speed=0.1)
    wait_for(lambda: driver.ready() and driver.read_state(), 30, lambda: f"/joint_states:\n{peer.output}")
    driver.command_velocity([0.05, 0.0, 0.0], yaw_rate=0.2)
    run_ticks(driver, 0.5)
    msgs = wait_for(lambda: received(peer, "delta_twist_cmds"), 5, "twists")
    v = np.array(msgs[-1]["values"])
    assert msgs[-1]["frame"] == "panda_link0"                  # the description's base frame
    # The stand-in does not move, so the yaw error grows: the tool-down feedback opposes the commanded rate.
    assert np.allclose(v[:3], [0.05, 0.0, 0.0]) and np.all(np.abs(v[3:5]) < 0.05) and v[5] > 0.0, v

    mute(ros_node)
    wait_for(lambda: driver.read_state().age() > 0.6, 10, "stale joint states")
    n = quiet_count(peer, "delta_twist_cmds")
    run_ticks(driver, 0.3)
    after = wait_for(lambda: received(peer, "delta_twist_cmds")[n:], 5, "the stop twist")
    assert all(m["values"] == [0.0] * 6 for m in after)
    with pytest.raises(ValueError, match="non-finite"):
        driver.command_velocity([math.inf, 0.0, 0.0])
    assert "NONFINITE" not in peer.output


def test_a_controller_with_other_joints_is_refused_by_name(ros_node):
    driver = ForwardPositionDriver(ros_node, "ur5", joint_names=["shoulder_pan_joint", "elbow_joint", "j7"])
    with pytest.raises(ValueError, match=r"missing arm joint\(s\).*shoulder_lift_joint.*\['j7'\] are not the arm's"):
        driver.tick()
    with pytest.raises(ValueError, match="gripper_controller"):
        ForwardPositionDriver(ros_node, "ur5", gripper="forward")


@pytest.mark.parametrize("interface", ["joint_trajectory", "follow_joint_trajectory"])
def test_robot_driver_node_with_the_so101_walkthrough_parameters(ros_node, spawn, interface):
    """robot_driver_node as robot.launch.xml documents the SO-101 (joint_trajectory_controller + forward
    gripper controller), through the controller's topic and through its FollowJointTrajectory action with a
    GripperCommand gripper: cmd_vel and gripper_cmd topics in, the controllers' messages out."""
    from geometry_msgs.msg import TwistStamped
    from std_msgs.msg import Float64
    kin, q = home("so101")
    action = interface == "follow_joint_trajectory"
    gripper = (["--gripper-action", "/gripper_controller/gripper_cmd:gripper:0.6"] if action
               else ["--gripper", "gripper_controller:gripper:0.6"])
    peer = start(spawn, "joint_trajectory", "arm_controller", kin.arm_joints, q, *gripper)
    node = spawn(PY, "-m", "roboloop_ros.robot_driver_node", "--ros-args", "--params-file",
                 os.path.join(os.path.dirname(FAKE), "..", "..", "ros2_ws", "src", "roboloop_ros", "config",
                              "robot_driver.yaml"),
                 "-p", "robot:=so101", "-p", f"interface:={interface}", "-p", "controller:=arm_controller",
                 "-p", f"gripper:={'action' if action else 'forward'}",
                 "-p", f"gripper_controller:={'/gripper_controller/gripper_cmd' if action else 'gripper_controller'}",
                 "-p", "control_hz:=20.0")
    cmd = ros_node.create_publisher(TwistStamped, "/cmd_vel", 10)
    grip = ros_node.create_publisher(Float64, "/gripper_cmd", 10)
    wait_for(lambda: received(peer, interface), 30, lambda: f"trajectories:\n{node.output}\n{peer.output}")
    n = len(received(peer, interface))
    p_home = kin.fk(q)[0]

    def moved_in_y():   # +y at 5 cm/s, closing the jaw, until the targets have gone 3 cm (load-tolerant)
        msg = TwistStamped()
        msg.header.stamp = ros_node.get_clock().now().to_msg()
        msg.twist.linear.y = 0.05
        cmd.publish(msg)
        grip.publish(Float64(data=1.0))
        time.sleep(0.05)
        sent = received(peer, interface)[n:]
        return sent and kin.fk(sent[-1]["values"])[0][1] - p_home[1] > 0.03 and sent

    moving = wait_for(moved_in_y, 20, lambda: f"the arm moving along +y:\n{node.output}")
    # A stream of small steps, never a leap; under load DDS may drop some of the 12+ ticks' messages, and a
    # command or a joint state that comes late makes the driver stop and hold where the arm is (a step back).
    ys = [kin.fk(m["values"])[0][1] for m in moving]
    assert len(moving) >= 3 and all(m["names"] == list(kin.arm_joints) for m in moving)
    assert all(abs(b - a) < 0.025 for a, b in zip(ys, ys[1:])), [round(b - a, 4) for a, b in zip(ys, ys[1:])]
    d = kin.fk(moving[-1]["values"])[0] - p_home
    assert abs(d[0]) < 0.3 * d[1] and abs(d[2]) < 0.3 * d[1], d

    def jaw_closed():   # the gripper topic is matched on its own; under load it can trail cmd_vel
        grip.publish(Float64(data=1.0))
        time.sleep(0.05)
        if action:   # GripperCommand goal: [position, max_effort]
            goals = received(peer, "gripper_action")
            return goals and goals[-1]["values"][0] == pytest.approx(kin.gripper_closed)
        sent = received(peer, "gripper_commands")
        return sent and sent[-1]["values"] == [pytest.approx(kin.gripper_closed)]

    wait_for(jaw_closed, 10, lambda: f"the closed gripper at its controller:\n{node.output}\n{peer.output}")
    assert not received(peer, "follow_joint_trajectory/rejected")
    assert "NONFINITE" not in peer.output and node.p.poll() is None
