"""sim_robot_node: the MuJoCo arm as a ROS 2 robot, in real time.

Subscribes (relative names, remap as needed):
  cmd_vel       geometry_msgs/TwistStamped  end-effector velocity, linear m/s, angular.z rad/s
  ee_target     geometry_msgs/PoseStamped   absolute end-effector target (m; yaw from the quaternion)
  gripper_cmd   std_msgs/Float64            -1 open .. +1 closed
Publishes:
  joint_states          sensor_msgs/JointState      every tick
  ee_pose               geometry_msgs/PoseStamped   every tick (frame `frame_id`)
  <camera>/image_raw    sensor_msgs/Image rgb8      sensor-data QoS, frame `<camera>_camera`
  observation/state     std_msgs/Float32MultiArray  the task's state observation (see `roboloop tasks`)
  success               std_msgs/Bool               the task's success flag, every tick
  /diagnostics          diagnostic_msgs/DiagnosticArray  1 Hz, and at once on a refused command
Services:
  reset   std_srvs/Trigger   new episode (cube re-sampled), arm home, command zeroed

A command that is non-finite or older than `max_command_age` is refused (the robot stops and a
diagnostic says why); no command for `command_timeout` also stops the robot.
"""
from __future__ import annotations

import time

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from std_msgs.msg import Bool, Float32MultiArray, Float64
from std_srvs.srv import Trigger
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image, JointState

from roboloop.hardware.sim_robot import SimRobotDriver
from roboloop_ros.conversions import diagnostics_msg, image_msg, joint_state_msg, pose_msg, stamp_seconds
from roboloop_ros.node_main import run_node


class SimRobotNode(Node):
    def __init__(self):
        super().__init__("sim_robot")
        p = self.declare_parameter
        self.task = p("task", "roboloop/PickCube-v0").value
        control_hz = float(p("control_hz", 10.0).value)
        seed = int(p("seed", 0).value)
        self.frame_id = p("frame_id", "world").value
        self.cameras = list(p("cameras", ["front", "wrist"]).value)
        self.image_width = int(p("image_width", 128).value)
        self.image_height = int(p("image_height", 128).value)
        self.camera_every = max(1, int(p("camera_every", 1).value))  # render every N ticks
        self.command_timeout = float(p("command_timeout", 0.5).value)
        self.max_command_age = float(p("max_command_age", 0.5).value)

        self.robot = SimRobotDriver(self.task, {"control_hz": control_hz}, seed=seed)
        self.period = 1.0 / self.robot.control_hz
        self.last_command = -np.inf  # monotonic s
        self.refused = 0
        self.deadline_misses = 0
        self.ticks = 0
        self.last_fault = ""

        self.pub_joints = self.create_publisher(JointState, "joint_states", 10)
        self.pub_pose = self.create_publisher(PoseStamped, "ee_pose", 10)
        self.pub_state = self.create_publisher(Float32MultiArray, "observation/state", 10)
        self.pub_success = self.create_publisher(Bool, "success", 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.pub_images = {c: self.create_publisher(Image, f"{c}/image_raw", qos_profile_sensor_data)
                           for c in self.cameras}
        self.create_subscription(TwistStamped, "cmd_vel", self.on_twist, 10)
        self.create_subscription(PoseStamped, "ee_target", self.on_pose, 10)
        self.create_subscription(Float64, "gripper_cmd", self.on_gripper, 10)
        self.create_service(Trigger, "reset", self.on_reset)
        self.create_timer(self.period, self.tick)
        self.create_timer(1.0, self.publish_diagnostics)
        self.get_logger().info(f"{self.robot.task} at {self.robot.control_hz:g} Hz, cameras {self.cameras}")

    # ------------------------------------------------------------------ commands in
    def _accept(self, stamp, what: str) -> bool:
        """Refuse stale commands (a zero stamp means unstamped and is accepted)."""
        t = stamp_seconds(stamp)
        age = self.get_clock().now().nanoseconds * 1e-9 - t
        if t > 0 and age > self.max_command_age:
            self._refuse(f"stale {what}: {age:.3f} s old (max_command_age {self.max_command_age} s)")
            return False
        return True

    def _refuse(self, why: str) -> None:
        self.robot.stop()
        self.refused += 1
        self.last_fault = why
        self.get_logger().warning(f"refused: {why}; robot stopped")
        self.publish_diagnostics(level="error", message=f"refused: {why}")

    def on_twist(self, msg: TwistStamped) -> None:
        if not self._accept(msg.header.stamp, "cmd_vel"):
            return
        lin, ang = msg.twist.linear, msg.twist.angular
        try:
            self.robot.command_velocity([lin.x, lin.y, lin.z], ang.z)
        except ValueError as e:
            self._refuse(f"cmd_vel: {e}")
            return
        self.last_command = time.monotonic()

    def on_pose(self, msg: PoseStamped) -> None:
        if not self._accept(msg.header.stamp, "ee_target"):
            return
        p, q = msg.pose.position, msg.pose.orientation
        yaw = float(np.arctan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z)))
        try:
            self.robot.command_pose([p.x, p.y, p.z], yaw)
        except ValueError as e:
            self._refuse(f"ee_target: {e}")
            return
        self.last_command = time.monotonic()

    def on_gripper(self, msg: Float64) -> None:
        if not np.isfinite(msg.data):
            self._refuse(f"gripper_cmd: non-finite {msg.data}")
            return
        self.robot.gripper_command = float(np.clip(msg.data, -1.0, 1.0))

    def on_reset(self, request, response):
        self.robot.reset()
        self.last_command = -np.inf
        response.success, response.message = True, f"{self.robot.task}: new episode"
        return response

    # ------------------------------------------------------------------ the control tick
    def tick(self) -> None:
        t0 = time.monotonic()
        if self.robot.command.mode != "velocity" or np.any(self.robot.command.linear) or self.robot.command.yaw_rate:
            if t0 - self.last_command > self.command_timeout:
                self.robot.stop()
        self.robot.tick()
        self.ticks += 1
        now = self.get_clock().now().to_msg()
        s = self.robot.read_state()
        self.pub_joints.publish(joint_state_msg(s.joint_names, s.joint_positions, s.joint_velocities, now))
        self.pub_pose.publish(pose_msg(s.ee_position, s.ee_quat, now, self.frame_id))
        self.pub_state.publish(Float32MultiArray(data=[float(x) for x in self.robot.observation["state"]]))
        self.pub_success.publish(Bool(data=self.robot.success))
        if self.ticks % self.camera_every == 0:
            for cam, pub in self.pub_images.items():
                rgb = self.robot.render(cam, self.image_width, self.image_height)
                pub.publish(image_msg(rgb, now, f"{cam}_camera"))
        if time.monotonic() - t0 > self.period:
            self.deadline_misses += 1

    def publish_diagnostics(self, level: str | None = None, message: str | None = None) -> None:
        if level is None:
            level, message = "ok", "running"
        self.pub_diag.publish(diagnostics_msg(
            self.get_clock().now().to_msg(), "sim_robot", self.robot.task, level, message,
            {"ticks": self.ticks, "deadline_misses": self.deadline_misses, "refused_commands": self.refused,
             "last_fault": self.last_fault, "success": self.robot.success}))

    def close(self) -> None:
        self.robot.close()


def main(args: list[str] | None = None) -> int:
    return run_node(SimRobotNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
