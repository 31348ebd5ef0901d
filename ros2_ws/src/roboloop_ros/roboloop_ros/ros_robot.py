"""ROS 2 topics behind roboloop's robot interfaces: the driver, the observation source and the teleop
source that `RobotEnv` and `InterventionWrapper` take. Callbacks run in the node's executor thread;
the env steps in another thread and blocks on these objects until the topics answer.

  RosDriver         RobotDriver -> cmd_vel (TwistStamped), gripper_cmd (Float64), ee_target (PoseStamped)
  RosObservations   observation/state (Float32MultiArray), <camera>/image_raw (Image, sensor-data QoS),
                    success / failure (Bool: an external success detector, e.g. the sim robot's flags)
  RosTeleop         intervention/active (Bool), intervention/action (Float32MultiArray),
                    episode_event (String: success / failure / reset)
  ResetService      the robot's reset (std_srvs/Trigger)
"""
from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, Float32MultiArray, Float64, String
from std_srvs.srv import Trigger

from roboloop.hardware.gamepad.joy import TeleopCommand
from roboloop.hardware.robot_driver import EECommand, RobotDriver
from roboloop.hardware.robot_env import ObservationSource, RobotFault, check_observation
from roboloop_ros.conversions import image_array


class RosObservations(ObservationSource):
    """layout: {key: (shape, dtype)} of the task's observation (state + cameras)."""

    def __init__(self, node: Node, layout: dict):
        self.node, self.layout = node, layout
        self.cond = threading.Condition()
        self.values: dict[str, tuple[np.ndarray, float]] = {}
        self.seq = self.returned = 0
        self.error: str | None = None
        self.state_time = -np.inf          # monotonic s when the newest state arrived
        self.state_stamp = None            # ROS time it arrived (stamps the command built on it)
        self._flags: dict[str, bool] = {}
        node.create_subscription(Float32MultiArray, "observation/state", self.on_state, 10)
        for key in (k for k in layout if k != "state"):
            node.create_subscription(Image, f"{key}/image_raw", lambda m, k=key: self.on_image(k, m),
                                     qos_profile_sensor_data)
        for name in ("success", "failure"):
            node.create_subscription(Bool, name, lambda m, n=f"is_{name}": self._flag(n, m.data), 10)

    def _flag(self, name: str, value: bool) -> None:
        with self.cond:
            self._flags[name] = bool(value)

    def _put(self, key: str, value: np.ndarray) -> bool:
        try:
            value = check_observation(key, value, self.layout)
        except RobotFault as e:
            with self.cond:
                self.error = self.error or str(e)
                self.cond.notify_all()
            return False
        with self.cond:
            self.values[key] = (value, time.monotonic())
            if key == "state":
                self.seq += 1
                self.state_time, self.state_stamp = time.monotonic(), self.node.get_clock().now().to_msg()
            self.cond.notify_all()
        return True

    def on_state(self, msg: Float32MultiArray) -> None:
        self._put("state", np.asarray(msg.data, dtype=np.float32))

    def on_image(self, key: str, msg: Image) -> None:
        try:
            img = image_array(msg)
        except ValueError as e:
            with self.cond:
                self.error = self.error or f"{key}/image_raw: {e}"
                self.cond.notify_all()
            return
        self._put(key, img)

    def next(self, timeout_s: float):
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while True:
                if self.error:
                    why, self.error = self.error, None
                    raise RobotFault(why)
                # A tick's images may come after its state (topics are not ordered): wait for them too.
                if self.seq > self.returned and all(k in self.values for k in self.layout):
                    self.returned = self.seq
                    return dict(self.values)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return dict(self.values)
                self.cond.wait(remaining)

    def clear(self) -> None:
        with self.cond:
            self.values.clear()
            self._flags.clear()
            self.returned, self.error = self.seq, None

    def flags(self) -> dict[str, bool]:
        with self.cond:
            return dict(self._flags)


class RosDriver(RobotDriver):
    """Velocity commands as TwistStamped, stamped with the arrival time of the observation they answer
    (the driver measures observation-to-command latency and refuses commands built on old data)."""

    def __init__(self, node: Node, observations: RosObservations, max_linear_speed: float, max_yaw_rate: float,
                 frame_id: str = "world"):
        super().__init__(max_linear_speed, max_yaw_rate)
        self.node, self.observations, self.frame_id = node, observations, frame_id
        self.stops = 0
        self.pub_cmd = node.create_publisher(TwistStamped, "cmd_vel", 10)
        self.pub_pose = node.create_publisher(PoseStamped, "ee_target", 10)
        self.pub_gripper = node.create_publisher(Float64, "gripper_cmd", 10)

    def _publish(self, command: EECommand, stamp) -> None:
        if not self.node.context.ok():
            return   # shutting down: the robot driver's command_timeout stops the arm
        if command.mode == "pose":
            msg = PoseStamped()
            msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in command.position)
            yaw = command.yaw or 0.0
            msg.pose.orientation.w, msg.pose.orientation.z = float(np.cos(yaw / 2)), float(np.sin(yaw / 2))
            pub = self.pub_pose
        else:
            msg = TwistStamped()
            msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = (float(v) for v in command.linear)
            msg.twist.angular.z = float(command.yaw_rate)
            pub = self.pub_cmd
        msg.header.stamp, msg.header.frame_id = stamp, self.frame_id
        pub.publish(msg)
        self.pub_gripper.publish(Float64(data=float(self.gripper_command)))

    def _apply(self, command: EECommand) -> None:
        self._publish(command, self.observations.state_stamp or self.node.get_clock().now().to_msg())

    def _stop(self) -> None:
        # Zero motion, the gripper kept where it was (opening a gripper is not a safe default).
        self.stops += 1
        self._publish(self.command, self.node.get_clock().now().to_msg())

    def read_state(self):
        return None   # the task's observation (RosObservations) carries the measured state


class RosTeleop:
    """The person, for `InterventionWrapper`: poll() -> TeleopCommand from the teleop topics.

    While the deadman is held, poll waits up to `person_wait_s` for the person's answer to the newest
    observation (their action after it arrived), so the stored pair is (observation, the person's response
    to it); an answer that does not come in time counts in `late_answers`, and their latest action is used.
    """

    def __init__(self, node: Node, observations: RosObservations, act_dim: int, person_wait_s: float,
                 intervention_timeout_s: float, on_bad_input: Callable[[str], None]):
        self.observations, self.act_dim = observations, act_dim
        self.person_wait_s, self.timeout_s, self.on_bad_input = person_wait_s, intervention_timeout_s, on_bad_input
        self.cond = threading.Condition()
        self.active, self.time, self.action, self.event = False, -np.inf, None, None
        self.action_time = -np.inf     # monotonic s of the newest action (an answer to an observation)
        self.late_answers = 0
        node.create_subscription(Bool, "intervention/active", self.on_active, 10)
        node.create_subscription(Float32MultiArray, "intervention/action", self.on_action, 10)
        node.create_subscription(String, "episode_event", self.on_event, 10)

    def on_active(self, msg: Bool) -> None:
        with self.cond:
            self.active, self.time = bool(msg.data), time.monotonic()
            self.cond.notify_all()

    def on_action(self, msg: Float32MultiArray) -> None:
        a = np.asarray(msg.data, dtype=np.float32)
        if a.shape != (self.act_dim,) or not np.all(np.isfinite(a)):
            self.on_bad_input(f"intervention/action: expected {self.act_dim} finite numbers, got {a.tolist()}")
            return
        with self.cond:
            self.action, self.time = np.clip(a, -1.0, 1.0), time.monotonic()
            self.action_time = self.time
            self.cond.notify_all()

    def on_event(self, msg: String) -> None:
        with self.cond:
            self.event = msg.data

    def _driving(self) -> bool:
        return self.active and self.action is not None and time.monotonic() - self.time < self.timeout_s

    def reset(self) -> None:
        with self.cond:
            self.event = None

    def poll(self) -> TeleopCommand:
        with self.cond:
            if self.person_wait_s > 0 and self._driving():
                deadline = self.observations.state_time + self.person_wait_s   # from the observation's arrival
                while self._driving() and self.action_time <= self.observations.state_time:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self.late_answers += 1
                        break
                    self.cond.wait(remaining)
            driving, event, self.event = self._driving(), self.event, None
            action = self.action.copy() if driving else np.zeros(self.act_dim, np.float32)
        return TeleopCommand(driving, action, success=event == "success", failure=event == "failure",
                             reset=event == "reset")


class ResetService:
    """The robot's reset (std_srvs/Trigger `reset`) as a blocking call; RobotFault when it cannot."""

    def __init__(self, node: Node, timeout_s: float):
        self.client, self.timeout_s = node.create_client(Trigger, "reset"), timeout_s

    def __call__(self, seed: int | None = None) -> None:
        if not self.client.wait_for_service(timeout_sec=self.timeout_s):
            raise RobotFault("reset service not available")
        done = threading.Event()
        future = self.client.call_async(Trigger.Request())
        future.add_done_callback(lambda _: done.set())
        if not done.wait(self.timeout_s):
            self.client.remove_pending_request(future)
            raise RobotFault(f"reset service did not answer in {self.timeout_s:g} s")
        if not future.result().success:
            raise RobotFault(f"reset refused: {future.result().message}")
