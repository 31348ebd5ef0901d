"""`RobotDriver`s for the controllers real arms expose under ros2_control and MoveIt.

Every driver takes end-effector commands (`RobotDriver`), reads ``/joint_states`` (from
``joint_state_broadcaster``, any joint order: matched by name) and, once per `tick()` (call it at
``control_hz``), sends one command in its controller's own interface:

  ``joint_trajectory``  joint_trajectory_controller: a one-point trajectory_msgs/JointTrajectory on
                        ``<controller>/joint_trajectory`` (positions, reached ``point_time`` s after it
                        arrives); the default controller of UR, Franka and most arms.
  ``follow_joint_trajectory``  the same controller through its control_msgs/FollowJointTrajectory action
                        ``<controller>/follow_joint_trajectory``: one goal per tick holding that one-point
                        trajectory, each goal preempting the one before; rejected goals are reported.
  ``forward_position``  forward_command_controller on the position interface: std_msgs/Float64MultiArray
                        joint positions on ``<controller>/commands``.
  ``forward_velocity``  forward_command_controller on the velocity interface: Float64MultiArray joint
                        velocities (rad/s) on ``<controller>/commands``.
  ``servo_twist``       MoveIt Servo: geometry_msgs/TwistStamped (base frame) on ``servo_topic``; the
                        servo node does the kinematics, this driver keeps the tool pointing down.

Joint commands go in the controller's joint order, read from the controller's own ``joints`` parameter
(its node's ``get_parameters`` service), unless `joint_names` names them; a controller whose joints are
not the arm's (plus, optionally, the gripper's) is refused by name. The kinematics are the arm's model
built from its description (`ArmKinematics`): the config's URDF, or the ``robot_description`` of the
running system (`description_from_topic`).

Grippers (`gripper`): ``forward`` (a forward position controller: Float64MultiArray, one value per joint
of ``<gripper_controller>/commands``), ``action`` (the control_msgs/GripperCommand action named by
`gripper_controller`, e.g. ``/robotiq_gripper_controller/gripper_cmd`` of a GripperActionController or
franka_gripper's ``/panda_gripper/gripper_action``; the goal's position is the gripper joint target), ``controller``
(the gripper joints are joints of the arm's own controller) or ``none``.

The actions need the control_msgs package: apt's ``ros-$ROS_DISTRO-control-msgs`` on a ROS 2 install; next to
the PyPI wheels ``make install`` builds it (``ros2_ws/interfaces/build_interfaces.py``).

Safety: a tick whose ``/joint_states`` is older than `state_timeout` stops the arm; `stop()` holds the
measured joint positions (position and trajectory controllers), cancels the active FollowJointTrajectory
goal (the controller then holds its position), sends zero joint velocities or a zero twist; a non-finite
value is never sent (the arm is held instead); a joint target moves at most
``max_joint_speed / control_hz`` per tick and the pinch point at most ``max_linear_speed / control_hz``.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from .arm_kinematics import ArmKinematics
from .robot_driver import EECommand, RobotDriver, RobotState, quat_from_matrix

INTERFACES = ("joint_trajectory", "follow_joint_trajectory", "forward_position", "forward_velocity", "servo_twist")
GRIPPERS = ("none", "forward", "action", "controller")


def _control_msgs_action(name: str, what: str):
    """control_msgs.action.<name>, or a ValueError saying how to get control_msgs."""
    try:
        import control_msgs.action
    except ImportError:
        raise ValueError(f"{what} needs the control_msgs package: apt ros-$ROS_DISTRO-control-msgs on a ROS 2 "
                         "install; with the PyPI wheels run `python ros2_ws/interfaces/build_interfaces.py` "
                         "(make install does)") from None
    return getattr(control_msgs.action, name)


def _one_point_trajectory(msg_types, names, values, point_time: float):
    """A JointTrajectory with one point (`values`, in `names` order) reached `point_time` s after its start."""
    traj_t, point_t = msg_types
    point = point_t(positions=values)
    sec = int(point_time)
    point.time_from_start.sec, point.time_from_start.nanosec = sec, int(round((point_time - sec) * 1e9))
    # A zero stamp means "start when it arrives" to the controller.
    return traj_t(joint_names=list(names), points=[point])


def _name(controller: str, suffix: str) -> str:
    """Absolute name of a controller's topic/service: controllers are nodes under the controller manager."""
    base = controller if controller.startswith("/") else f"/{controller}"
    return f"{base.rstrip('/')}/{suffix}"


class ControllerJoints:
    """A ros2_control controller's joints in its order: `given`, or its ``joints`` parameter, asked through
    ``/<controller>/get_parameters`` (once a second until it answers). `poll()` returns None until known."""

    def __init__(self, node, controller: str, given=()):
        self.controller = controller
        self.names: tuple[str, ...] | None = tuple(given) or None
        self._future = None
        self._asked = -np.inf
        if self.names is None:
            from rcl_interfaces.srv import GetParameters
            self._request = GetParameters.Request(names=["joints"])
            self.client = node.create_client(GetParameters, _name(controller, "get_parameters"))

    def poll(self) -> tuple[str, ...] | None:
        if self.names is not None:
            return self.names
        now = time.monotonic()
        if self._future is not None and self._future.done():
            values = self._future.result().values if self._future.result() is not None else []
            self._future = None
            if values and list(values[0].string_array_value):
                self.names = tuple(values[0].string_array_value)
                return self.names
        if self._future is not None and now - self._asked > 1.0:
            # Unanswered for a second: a reply sent before DDS matched its reader is lost, so ask again.
            self.client.remove_pending_request(self._future)
            self._future = None
        if self._future is None and now - self._asked > 1.0 and self.client.service_is_ready():
            self._future, self._asked = self.client.call_async(self._request), now
        return None


class ControllerDriver(RobotDriver):
    """End-effector commands -> one ros2_control (or MoveIt Servo) interface; see the module docstring.

    Args:
        node: an rclpy Node the caller spins (the driver adds its publishers and subscriptions).
        arm: an `ArmKinematics`, or an arm's name / YAML path (`roboloop.sim.arms.load_arm`).
        controller: the controller's name (its topics are ``/<controller>/...``).
        joint_names: the controller's joints in its order; empty: read from the controller.
        gripper: 'none', 'forward', 'action' or 'controller'; gripper_controller: its controller / action server.
        control_hz: Hz of `tick()` calls. state_timeout: s; older /joint_states stop the arm.
        max_joint_speed: rad/s (m/s for prismatic joints) per joint.
        description_from_topic: build the kinematics from ``/robot_description`` (std_msgs/String,
            transient local, as robot_state_publisher publishes it) instead of the config's file.
        workspace, gripper_range: as `ArmKinematics` (used when the driver builds it from `arm`).
        max_linear_speed, max_yaw_rate: as `RobotDriver`.
    """

    INTERFACE = ""

    def __init__(self, node, arm: ArmKinematics | str, controller: str, joint_names=(), gripper: str = "none",
                 gripper_controller: str = "", control_hz: float = 10.0, state_timeout: float = 0.5,
                 max_joint_speed: float = 1.0, description_from_topic: bool = False, workspace=None,
                 gripper_range: tuple[float, float] | None = None, **limits):
        from sensor_msgs.msg import JointState
        super().__init__(**limits)
        if gripper not in GRIPPERS:
            raise ValueError(f"gripper {gripper!r}: expected one of {', '.join(GRIPPERS)}")
        if gripper in ("forward", "action") and not gripper_controller:
            raise ValueError(f"gripper {gripper!r} needs gripper_controller (its controller or action server name)")
        if control_hz <= 0 or state_timeout <= 0 or max_joint_speed <= 0:
            raise ValueError("control_hz, state_timeout and max_joint_speed must be positive")
        self.node, self.controller = node, controller
        self.control_hz, self.state_timeout = float(control_hz), float(state_timeout)
        self.max_joint_speed = float(max_joint_speed)
        self.gripper_kind = gripper
        self._lock = threading.Lock()
        self._state: RobotState | None = None
        self.kin: ArmKinematics | None = None
        self._arm_source, self._kin_options = arm, {"workspace": workspace, "gripper_range": gripper_range}
        if isinstance(arm, ArmKinematics) and description_from_topic:
            raise ValueError("description_from_topic builds the kinematics itself: pass the arm's name or config")
        if description_from_topic:
            self._subscribe_description()
        else:
            self.kin = arm if isinstance(arm, ArmKinematics) else ArmKinematics(arm, **self._kin_options)
        self.joints = ControllerJoints(node, controller, joint_names) if self.INTERFACE != "servo_twist" else None
        self.order: np.ndarray | None = None   # controller slot -> index into [arm joints..., gripper joints...]
        self.target_pos: np.ndarray | None = None
        self.target_yaw = 0.0
        self.q_cmd: np.ndarray | None = None   # last arm joint target (arm_joints order)
        self.sent = 0                          # commands published
        self.last_sent: list[float] | None = None
        self.gripper = _make_gripper(self, gripper, gripper_controller)
        self._warned = 0.0
        self._refused = False
        node.create_subscription(JointState, "/joint_states", self._on_joint_states, 10)

    # ------------------------------------------------------------------ set-up
    def _subscribe_description(self) -> None:
        from rclpy.qos import DurabilityPolicy, QoSProfile
        from std_msgs.msg import String

        def on_description(msg) -> None:
            if self.kin is not None:
                return
            try:
                self.kin = ArmKinematics(self._arm_source, description=msg.data, **self._kin_options)
            except ValueError as e:  # DescriptionError too: a wrong robot_description leaves the arm unmoved
                self.node.get_logger().error(f"/robot_description: {e}")
        qos = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.node.create_subscription(String, "/robot_description", on_description, qos)

    def ready(self) -> bool:
        """True once the kinematics and the controller's joint order are known."""
        if self.kin is None:
            return False
        if self.joints is None or self.order is not None:
            return True
        names = self.joints.poll()
        if names is None:
            return False
        allowed = list(self.kin.arm_joints) + (list(self.kin.gripper_joints) if self.gripper_kind == "controller" else [])
        missing = [j for j in self.kin.arm_joints if j not in names]
        extra = [j for j in names if j not in allowed]
        if missing or extra or len(set(names)) != len(names):
            raise ValueError(f"controller {self.controller!r} has joints {list(names)}: "
                             + (f"missing arm joint(s) {missing}; " if missing else "")
                             + (f"joint(s) {extra} are not the arm's" if extra else "")
                             + (" (gripper joints need gripper:=controller)"
                                if set(extra) & set(self.kin.gripper_joints) else ""))
        if self.gripper_kind == "controller" and not any(j in names for j in self.kin.gripper_joints):
            raise ValueError(f"gripper:=controller, but controller {self.controller!r} has none of the gripper "
                             f"joints {list(self.kin.gripper_joints)}")
        self.order = np.array([allowed.index(j) for j in names])
        return True

    # ------------------------------------------------------------------ state
    def _on_joint_states(self, msg) -> None:
        kin = self.kin
        if kin is None:
            return
        pos = dict(zip(msg.name, msg.position))
        if not all(j in pos for j in kin.arm_joints):
            return  # another publisher's subset (e.g. a gripper's own state)
        vel = dict(zip(msg.name, msg.velocity)) if len(msg.velocity) == len(msg.name) else {}
        q = np.array([pos[j] for j in kin.arm_joints], dtype=float)
        if not np.all(np.isfinite(q)):
            self.node.get_logger().error(f"/joint_states has non-finite positions {q.tolist()}; stopping")
            self.stop()
            return
        p, r, yaw = kin.fk(q)
        grip = [pos[j] for j in kin.gripper_joints if j in pos]
        opening = kin.gripper_opening(float(np.mean(grip))) if grip and np.all(np.isfinite(grip)) else float("nan")
        names = tuple(kin.arm_joints) + tuple(j for j in kin.gripper_joints if j in pos)
        qs = np.array([pos[j] for j in names], dtype=float)
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        with self._lock:
            self._state = RobotState(stamp, time.monotonic(), names, qs,
                                     np.array([vel.get(j, 0.0) for j in names], dtype=float),
                                     p, quat_from_matrix(r), yaw, opening)

    def read_state(self) -> RobotState | None:
        """The latest state; joint_names are the arm joints (config order), then the gripper joints present."""
        with self._lock:
            return self._state

    def _arm_q(self, s: RobotState) -> np.ndarray:
        return s.joint_positions[:self.kin.n]

    # ------------------------------------------------------------------ commands
    def _apply(self, command: EECommand) -> None:
        pass  # held; `tick()` turns it into the controller's command at control_hz

    def _stop(self) -> None:
        s = self.read_state()
        if s is not None:
            self.target_pos, self.target_yaw = s.ee_position.copy(), s.ee_yaw
            self.q_cmd = self._arm_q(s).copy()
        if self.ready():
            self._hold(s)

    def _warn(self, text: str) -> None:
        now = time.monotonic()
        if now - self._warned > 1.0:  # once a second, not once a tick
            self._warned = now
            self.node.get_logger().warning(text)

    def tick(self) -> None:
        """Send one command for the held end-effector command (call at control_hz)."""
        if not self.ready():
            self._warn("waiting for " + ("/robot_description" if self.kin is None
                                         else f"the joints of controller {self.controller!r} (its get_parameters service; "
                                              "or set joint_names)"))
            return
        s = self.read_state()
        if s is None:
            self._warn("waiting for /joint_states")
            return
        if s.age() > self.state_timeout:
            self._warn(f"/joint_states is {s.age():.2f} s old; stopping the arm")
            self.stop()
            return
        if self.target_pos is None:
            self.target_pos, self.target_yaw = s.ee_position.copy(), s.ee_yaw
        c, dt = self.command, 1.0 / self.control_hz
        if c.mode == "pose":
            step = c.position - self.target_pos
            n = float(np.linalg.norm(step))
            limit = self.max_linear_speed * dt   # a far pose is approached at the speed limit, not leapt to
            self.target_pos = self.target_pos + (step if n <= limit else step * (limit / n))
            if c.yaw is not None:
                self.target_yaw += float(np.clip(c.yaw - self.target_yaw, -self.max_yaw_rate * dt, self.max_yaw_rate * dt))
        else:
            self.target_pos = self.target_pos + c.linear * dt
            self.target_yaw += c.yaw_rate * dt
        self.target_pos = self.kin.clip_to_workspace(self.target_pos)
        self._refused = False
        self._command(s)
        if self._refused:   # something non-finite was about to go out: hold instead
            self.stop()
        self.gripper.send(self.gripper_command)

    # ------------------------------------------------------------------ per interface
    def _command(self, s: RobotState) -> None:
        """Send the command that moves toward (target_pos, target_yaw) from state s."""
        q_meas = self._arm_q(s)
        seed = q_meas if self.q_cmd is None else self.q_cmd
        q = self.kin.ik(self.target_pos, self.target_yaw, seed)
        step = self.max_joint_speed / self.control_hz
        q = np.clip(q, seed - step, seed + step)
        if not np.all(np.isfinite(q)):
            self.node.get_logger().error(f"IK gave non-finite joints {q.tolist()}; holding")
            self.stop()
            return
        self._send_joints(q, s)
        self.q_cmd = q

    def _hold(self, s: RobotState | None) -> None:
        """Make the arm hold still now (s: the latest state or None)."""
        if s is not None:
            self._send_joints(self._arm_q(s), s)

    def _slots(self, q_arm: np.ndarray) -> list[float]:
        """Arm joint values (config order) + the gripper target -> values in the controller's order."""
        full = np.concatenate([q_arm, np.full(len(self.kin.gripper_joints),
                                              self.kin.gripper_target(self.gripper_command))])
        return [float(full[i]) for i in self.order]

    def _finite(self, values) -> bool:
        """False, logged, when a value is non-finite: it must not reach the controller (the tick then holds)."""
        if np.all(np.isfinite(values)):
            return True
        self.node.get_logger().error(f"refusing to send non-finite values {list(values)} to {self.controller!r}")
        self._refused = True
        return False

    def _publish(self, publisher, msg, values) -> bool:
        """Publish unless a value is non-finite (then nothing reaches the controller)."""
        if not self._finite(values):
            return False
        publisher.publish(msg)
        self.last_sent = [float(v) for v in values]
        self.sent += 1
        return True

    def _send_joints(self, q_arm: np.ndarray, s: RobotState) -> None:
        raise NotImplementedError


class JointTrajectoryDriver(ControllerDriver):
    """joint_trajectory_controller: one-point JointTrajectory per tick on ``/<controller>/joint_trajectory``.

    point_time: s from the message's arrival to the point (default one control period: each tick's point
    is reached as the next arrives, so the arm moves smoothly at the commanded speed).
    """

    INTERFACE = "joint_trajectory"

    def __init__(self, node, arm, controller: str = "joint_trajectory_controller", point_time: float = 0.0, **kw):
        from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
        super().__init__(node, arm, controller, **kw)
        self.point_time = float(point_time) or 1.0 / self.control_hz
        self._msg_types = JointTrajectory, JointTrajectoryPoint
        self.pub = node.create_publisher(JointTrajectory, _name(controller, "joint_trajectory"), 10)

    def _send_joints(self, q_arm, s) -> None:
        values = self._slots(q_arm)
        self._publish(self.pub, _one_point_trajectory(self._msg_types, self.joints.names, values, self.point_time),
                      values)


class FollowJointTrajectoryDriver(ControllerDriver):
    """joint_trajectory_controller through its control_msgs/FollowJointTrajectory action.

    Each tick sends a goal (on ``/<controller>/follow_joint_trajectory``) holding a one-point trajectory to the
    tick's joint target, in the controller's joint order, reached point_time s after the goal starts (default
    one control period); the controller preempts the active goal with each new one. `stop()` cancels the
    active goal and any goal still waiting for acceptance: the controller then holds its current position.
    A rejected goal is logged and counted in `rejected`. Ticks wait (warning once a second) until the
    action server is up.
    """

    INTERFACE = "follow_joint_trajectory"

    def __init__(self, node, arm, controller: str = "joint_trajectory_controller", point_time: float = 0.0, **kw):
        from rclpy.action import ActionClient
        from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
        action = _control_msgs_action("FollowJointTrajectory", "interface:=follow_joint_trajectory")
        super().__init__(node, arm, controller, **kw)
        self.point_time = float(point_time) or 1.0 / self.control_hz
        self._msg_types, self._goal = (JointTrajectory, JointTrajectoryPoint), action.Goal
        self.action_name = _name(controller, "follow_joint_trajectory")
        self.client = ActionClient(node, action, self.action_name)
        self.rejected = 0
        self._seq = 0               # goals sent
        self._cancel_upto = 0       # goals numbered up to this are cancelled once accepted
        self._handles: dict[int, object] = {}   # accepted goals not yet cancelled, by number
        self._goal_lock = threading.Lock()

    def _send_joints(self, q_arm, s) -> None:
        values = self._slots(q_arm)
        if not self._finite(values):
            return
        if not self.client.server_is_ready():
            self._warn(f"waiting for the action server {self.action_name!r}")
            return
        goal = self._goal(trajectory=_one_point_trajectory(self._msg_types, self.joints.names, values, self.point_time))
        with self._goal_lock:
            self._seq += 1
            seq = self._seq
        self.client.send_goal_async(goal).add_done_callback(lambda f: self._on_response(seq, f))
        self.last_sent = [float(v) for v in values]
        self.sent += 1

    def _on_response(self, seq: int, future) -> None:
        handle = future.result()
        if handle is None or not handle.accepted:
            self.rejected += 1
            self._warn(f"controller {self.controller!r} rejected a FollowJointTrajectory goal "
                       f"(joints {list(self.joints.names)})")
            return
        with self._goal_lock:
            cancel = seq <= self._cancel_upto
            if not cancel:
                # Earlier goals are preempted by this one: only the newest needs cancelling on stop.
                self._handles = {k: h for k, h in self._handles.items() if k > seq}
                self._handles[seq] = handle
        if cancel:  # sent before a stop, accepted after it
            handle.cancel_goal_async()

    def _hold(self, s) -> None:
        with self._goal_lock:
            self._cancel_upto = self._seq
            handles, self._handles = list(self._handles.values()), {}
        for h in handles:
            h.cancel_goal_async()


class ForwardPositionDriver(ControllerDriver):
    """forward_command_controller (position interface): Float64MultiArray joint positions on ``<controller>/commands``."""

    INTERFACE = "forward_position"

    def __init__(self, node, arm, controller: str = "forward_position_controller", **kw):
        from std_msgs.msg import Float64MultiArray
        super().__init__(node, arm, controller, **kw)
        self._msg = Float64MultiArray
        self.pub = node.create_publisher(Float64MultiArray, _name(controller, "commands"), 10)

    def _send_joints(self, q_arm, s) -> None:
        values = self._slots(q_arm)
        self._publish(self.pub, self._msg(data=values), values)


class ForwardVelocityDriver(ControllerDriver):
    """forward_command_controller (velocity interface): Float64MultiArray joint velocities (rad/s).

    Each tick sends gain x (IK target - measured joints), capped at max_joint_speed: the target runs
    ahead under a velocity command, so the arm moves at the commanded speed and settles on a pose.
    gain: 1/s (default control_hz / 2). `stop()` sends zero velocities, with or without a state.
    """

    INTERFACE = "forward_velocity"

    def __init__(self, node, arm, controller: str = "forward_velocity_controller", gain: float = 0.0, **kw):
        from std_msgs.msg import Float64MultiArray
        super().__init__(node, arm, controller, **kw)
        self.gain = float(gain) or 0.5 * self.control_hz
        self._msg = Float64MultiArray
        self.pub = node.create_publisher(Float64MultiArray, _name(controller, "commands"), 10)

    def _command(self, s: RobotState) -> None:
        q_meas = self._arm_q(s)
        seed = q_meas if self.q_cmd is None else self.q_cmd
        q = self.kin.ik(self.target_pos, self.target_yaw, seed)
        qd = np.clip(self.gain * (q - q_meas), -self.max_joint_speed, self.max_joint_speed)
        if not np.all(np.isfinite(qd)):
            self.node.get_logger().error(f"IK gave non-finite joints {q.tolist()}; stopping")
            self.stop()
            return
        self._send_velocities(qd)
        self.q_cmd = q

    def _send_velocities(self, qd: np.ndarray) -> None:
        full = np.concatenate([qd, np.zeros(len(self.kin.gripper_joints))])
        values = [float(full[i]) for i in self.order]
        self._publish(self.pub, self._msg(data=values), values)

    def _hold(self, s) -> None:
        self._send_velocities(np.zeros(self.kin.n))


class ServoTwistDriver(ControllerDriver):
    """MoveIt Servo: TwistStamped in the base frame on `servo_topic` each tick.

    linear: the commanded velocity (m/s; under a pose command, gain x the error, capped at max_linear_speed);
    angular: the yaw rate about base z plus gain x the tool's tilt/yaw error (rad/s), so the tool stays
    pointing down. `stop()` sends a zero twist. gain: 1/s (default control_hz / 2).
    """

    INTERFACE = "servo_twist"

    def __init__(self, node, arm, controller: str = "servo_node", servo_topic: str = "", gain: float = 0.0, **kw):
        from geometry_msgs.msg import TwistStamped
        super().__init__(node, arm, controller, **kw)
        self.gain = float(gain) or 0.5 * self.control_hz
        self._msg = TwistStamped
        self.topic = servo_topic or _name(controller, "delta_twist_cmds")
        self.pub = node.create_publisher(TwistStamped, self.topic, 10)

    def _command(self, s: RobotState) -> None:
        from roboloop.sim.kinematics import rotation_error
        c = self.command
        if c.mode == "pose":
            lin = np.clip(self.gain * (self.target_pos - s.ee_position), -self.max_linear_speed, self.max_linear_speed)
            yaw_rate = 0.0
        else:
            lin, yaw_rate = c.linear, c.yaw_rate
            # the pinch point leaves the workspace: no motion further out
            ws = self.kin.workspace
            lin = np.where((s.ee_position <= ws[0]) & (lin < 0) | (s.ee_position >= ws[1]) & (lin > 0), 0.0, lin)
        rot = self.kin.down_rotation(self.target_yaw)
        r = np.asarray(self.kin.fk(self._arm_q(s))[1])
        ang = np.clip(self.gain * rotation_error(r, rot), -self.max_yaw_rate, self.max_yaw_rate)
        ang[2] += yaw_rate
        self._send_twist(lin, ang)

    def _send_twist(self, lin, ang) -> None:
        msg = self._msg()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.header.frame_id = self.kin.base_frame
        values = [float(v) for v in (*lin, *ang)]
        if np.all(np.isfinite(values)):
            t = msg.twist
            t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z = values
        self._publish(self.pub, msg, values)

    def _hold(self, s) -> None:
        self._send_twist(np.zeros(3), np.zeros(3))


# ---------------------------------------------------------------------------------------------- grippers
class _NoGripper:
    def send(self, command: float) -> None:
        pass


class _ForwardGripper:
    """Gripper joints on their own forward position controller: the target on every joint, each tick."""

    def __init__(self, driver: ControllerDriver, controller: str):
        from std_msgs.msg import Float64MultiArray
        self.driver, self._msg = driver, Float64MultiArray
        self.joints = ControllerJoints(driver.node, controller)
        self.pub = driver.node.create_publisher(Float64MultiArray, _name(controller, "commands"), 10)

    def send(self, command: float) -> None:
        names = self.joints.poll()
        if names is None:
            return
        value = self.driver.kin.gripper_target(command)
        if np.isfinite(value):
            self.pub.publish(self._msg(data=[float(value)] * len(names)))


class _ActionGripper:
    """control_msgs/GripperCommand action `server` (its full name): a new goal whenever the target changes."""

    def __init__(self, driver: ControllerDriver, server: str, max_effort: float = 0.0):
        from rclpy.action import ActionClient
        GripperCommand = _control_msgs_action("GripperCommand", "gripper:=action")
        self.driver, self._goal = driver, GripperCommand.Goal
        self.client = ActionClient(driver.node, GripperCommand, server)
        self.max_effort, self.last = float(max_effort), None

    def send(self, command: float) -> None:
        value = self.driver.kin.gripper_target(command)
        if not np.isfinite(value) or value == self.last or not self.client.server_is_ready():
            return
        goal = self._goal()
        goal.command.position, goal.command.max_effort = float(value), self.max_effort
        self.client.send_goal_async(goal)
        self.last = value


def _make_gripper(driver: ControllerDriver, kind: str, controller: str):
    if kind == "forward":
        return _ForwardGripper(driver, controller)
    if kind == "action":
        return _ActionGripper(driver, controller)
    return _NoGripper()   # 'none', or 'controller': the arm's controller carries it


DRIVERS = {"joint_trajectory": JointTrajectoryDriver, "follow_joint_trajectory": FollowJointTrajectoryDriver,
           "forward_position": ForwardPositionDriver,
           "forward_velocity": ForwardVelocityDriver, "servo_twist": ServoTwistDriver}


def make_controller_driver(node, interface: str, arm, controller: str = "", **kw) -> ControllerDriver:
    """The driver of `interface` (one of INTERFACES); controller "" takes that driver's usual name."""
    if interface not in DRIVERS:
        raise ValueError(f"interface {interface!r}: expected one of {', '.join(INTERFACES)}")
    cls = DRIVERS[interface]
    return cls(node, arm, controller, **kw) if controller else cls(node, arm, **kw)
