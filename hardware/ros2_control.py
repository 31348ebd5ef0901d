"""A `RobotDriver` for any arm run by ros2_control with a forward position controller.

ros2_control's standard `forward_command_controller/ForwardCommandController` (configured for
the `position` interface, usually named `forward_position_controller`) takes joint targets on
``/<controller>/commands`` (std_msgs/Float64MultiArray, one entry per controller joint, in the
controller's joint order), and `joint_state_broadcaster` publishes ``/joint_states``. This driver
turns end-effector commands into those joint targets with the arm's kinematic model (MJCF) and
damped-least-squares IK (`roboloop.sim.robot.ArmSim.solve_ik`), once per `tick()`.

A gripper on its own forward controller gets ``[finger position m]`` on
``/<gripper_controller>/commands`` (0 closed .. FINGER_MAX open).

`stop()` publishes the measured joint positions as the target (hold where you are); before any
joint state has arrived it publishes nothing, since nothing has been commanded.
"""
from __future__ import annotations

import threading
import time

import mujoco
import numpy as np

from .robot_driver import EECommand, RobotDriver, RobotState, quat_from_matrix, yaw_of_down_rotation

ARM_JOINTS = ("j1", "j2", "j3", "j4", "j5", "j6")


class Ros2ControlDriver(RobotDriver):
    """End-effector commands -> ros2_control forward position controller.

    Args:
        node: an rclpy Node the caller spins (the driver adds one publisher/subscription).
        controller: forward position controller name (topic ``/<controller>/commands``).
        joint_names: the controller's joints, in its order (default the roboloop arm's j1..j6).
        gripper_controller: forward controller of the gripper, or "" for none.
        control_hz: rate of `tick()` calls (Hz): a velocity moves the target by v / control_hz.
        model_path: MJCF of the arm for the kinematics (default the roboloop arm).
        state_timeout: s; `tick()` stops the arm when /joint_states is older than this.
    """

    def __init__(self, node, controller: str = "forward_position_controller",
                 joint_names=ARM_JOINTS, gripper_controller: str = "", control_hz: float = 10.0,
                 model_path: str | None = None, state_timeout: float = 0.5, **limits):
        from sensor_msgs.msg import JointState
        from std_msgs.msg import Float64MultiArray

        from roboloop.sim.robot import FINGER_MAX, ArmSim
        super().__init__(**limits)
        self.node = node
        self.joint_names = tuple(joint_names)
        self.control_hz = float(control_hz)
        self.state_timeout = float(state_timeout)
        self.kin = ArmSim(model_path=model_path)  # kinematics only: its physics never steps
        self._fk_data = mujoco.MjData(self.kin.model)
        self._qadr = np.array([self.kin.model.joint(j).qposadr[0] for j in self.joint_names])
        self._ee_site = self.kin.model.site("ee").id
        self._finger_max = FINGER_MAX
        self._Float64MultiArray = Float64MultiArray
        self._lock = threading.Lock()
        self._state: RobotState | None = None
        self.target_pos: np.ndarray | None = None
        self.target_yaw = 0.0
        self.q_cmd: np.ndarray | None = None
        self.sent = 0
        self.pub = node.create_publisher(Float64MultiArray, f"/{controller}/commands", 10)
        self.pub_gripper = (node.create_publisher(Float64MultiArray, f"/{gripper_controller}/commands", 10)
                            if gripper_controller else None)
        node.create_subscription(JointState, "/joint_states", self._on_joint_states, 10)

    # ------------------------------------------------------------------ state
    def forward_kinematics(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """End-effector position (3,) m and rotation (3, 3) for arm joints q (controller order)."""
        d = self._fk_data
        d.qpos[self._qadr] = q
        mujoco.mj_kinematics(self.kin.model, d)
        site = self._ee_site
        return d.site_xpos[site].copy(), d.site_xmat[site].reshape(3, 3).copy()

    def _on_joint_states(self, msg) -> None:
        pos = dict(zip(msg.name, msg.position))
        if not all(j in pos for j in self.joint_names):
            return  # another publisher's subset (e.g. the gripper's own state)
        vel = dict(zip(msg.name, msg.velocity)) if len(msg.velocity) == len(msg.name) else {}
        q = np.array([pos[j] for j in self.joint_names])
        if not np.all(np.isfinite(q)):
            self.node.get_logger().error(f"/joint_states has non-finite positions {q.tolist()}; stopping")
            self.stop()
            return
        ee, rot = self.forward_kinematics(q)
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        fingers = [pos[f] for f in ("finger_l", "finger_r") if f in pos]
        gripper = float(np.clip(np.mean(fingers) / self._finger_max, 0, 1)) if fingers else float("nan")
        with self._lock:
            self._state = RobotState(stamp, time.monotonic(), self.joint_names, q,
                                     np.array([vel.get(j, 0.0) for j in self.joint_names]), ee,
                                     quat_from_matrix(rot), yaw_of_down_rotation(rot), gripper)

    def read_state(self) -> RobotState | None:
        with self._lock:
            return self._state

    # ------------------------------------------------------------------ commands
    def _apply(self, command: EECommand) -> None:
        pass  # held; `tick()` turns it into joint targets at control_hz

    def _publish(self, q: np.ndarray) -> None:
        self.pub.publish(self._Float64MultiArray(data=[float(x) for x in q]))
        if self.pub_gripper is not None:
            finger = 0.5 * (1.0 - self.gripper_command) * self._finger_max
            self.pub_gripper.publish(self._Float64MultiArray(data=[finger]))
        self.q_cmd = np.array(q, dtype=float)
        self.sent += 1

    def _stop(self) -> None:
        s = self.read_state()
        if s is None:
            return
        self.target_pos, self.target_yaw = s.ee_position.copy(), s.ee_yaw
        self._publish(s.joint_positions)

    def tick(self) -> None:
        """Send one joint target for the held command (call at control_hz)."""
        s = self.read_state()
        if s is None:
            return
        if s.age() > self.state_timeout:
            self.node.get_logger().warning(f"/joint_states is {s.age():.2f} s old; holding position")
            self.stop()
            return
        if self.target_pos is None:
            self.target_pos, self.target_yaw = s.ee_position.copy(), s.ee_yaw
        c = self.command
        if c.mode == "pose":
            self.target_pos = c.position.copy()
            self.target_yaw = self.target_yaw if c.yaw is None else c.yaw
        else:
            self.target_pos = self.target_pos + c.linear / self.control_hz
            self.target_yaw += c.yaw_rate / self.control_hz
        ws = self.kin.workspace
        self.target_pos = np.clip(self.target_pos, ws[0], ws[1])
        seed = s.joint_positions if self.q_cmd is None else self.q_cmd
        self._publish(self.kin.solve_ik(self.target_pos, self.target_yaw, seed))
