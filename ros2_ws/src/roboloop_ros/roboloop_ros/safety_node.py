"""safety_node: the safety envelope and a watchdog between the actor and the robot driver.

Subscribes:
  cmd_in        geometry_msgs/TwistStamped  the actor's end-effector velocity (remap from actor/cmd_vel)
  gripper_in    std_msgs/Float64            the actor's gripper command, -1 open .. +1 closed
  ee_pose       geometry_msgs/PoseStamped   the measured end effector (anchors the envelope)
Publishes:
  cmd_out       geometry_msgs/TwistStamped  the filtered command (remap to the driver's cmd_vel)
  gripper_out   std_msgs/Float64
  /diagnostics  diagnostic_msgs/DiagnosticArray  1 Hz, and at once on every fault

Every command goes through `roboloop.hardware.safety.SafetyEnvelope` (box, speed, acceleration, the
same object the sim's SafetyWrapper uses): the requested velocity becomes a target one period ahead
of the measured pose, the envelope clips it, and the safe step goes out as a velocity. Faults stop the
robot (a zero twist) and say why: a non-finite or stale command, no ee_pose yet, and the watchdog,
which sends a stop whenever no fresh command has come for `watchdog_timeout` seconds (the actor died,
hung or lost its network), repeating it every check until commands come back.
"""
from __future__ import annotations

import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.node import Node
from std_msgs.msg import Float64

from roboloop.hardware.safety import SafetyEnvelope, SafetyLimits
from roboloop_ros.conversions import diagnostics_msg, stamp_seconds
from roboloop_ros.node_main import declare_params, run_node


class SafetyNode(Node):
    def __init__(self):
        super().__init__("safety")
        p = declare_params(self, {
            "control_hz": 10.0,            # the actor's command rate (sets the envelope's step)
            "watchdog_timeout": 0.2,       # s without a fresh command -> stop
            "max_command_age": 0.5,        # s; older stamped commands are refused (a zero stamp is accepted)
            "max_pose_age": 0.5,           # s; without a fresher ee_pose the robot is stopped
            "box_min": [0.22, -0.28, 0.422], "box_max": [0.62, 0.28, 0.76],   # m, world frame
            "robot": "",  # an arm (so101, panda, ur5 or an arm YAML): the box is its workspace, not box_min/box_max
            "robot_base": [0.0, 0.0, 0.0],  # m, the arm base's position in the frame of ee_pose (the arm sims: [0, 0, 0.4])
            "max_speed": 0.5, "max_accel": 3.0,                               # m/s, m/s^2
            "frame_id": "world",           # frame of the published commands
        })
        self.period = 1.0 / p["control_hz"]
        self.timeout, self.max_age, self.max_pose_age = p["watchdog_timeout"], p["max_command_age"], p["max_pose_age"]
        self.frame_id = p["frame_id"]
        box = [list(p["box_min"]), list(p["box_max"])]
        if p["robot"]:
            from roboloop.sim.arms import load_arm
            if len(p["robot_base"]) != 3:
                raise ValueError(f"parameter 'robot_base': expected 3 numbers (m), got {p['robot_base']}")
            ws = np.asarray(load_arm(p["robot"]).scene.workspace, float) + np.asarray(p["robot_base"], float)
            box = ws.tolist()
        limits = SafetyLimits(box=box, max_speed=p["max_speed"],
                              max_accel=p["max_accel"])
        self.envelope = SafetyEnvelope(limits, self.period)
        self.pose: np.ndarray | None = None
        self.pose_received = -np.inf
        self.last_command = -np.inf          # monotonic s of the last accepted command
        self.stopped = True
        self.moving = False          # the last command passed on moved the robot
        self.stops = self.watchdog_trips = self.refused = self.commands = 0
        self.last_fault = ""
        self.gripper = -1.0
        self.pub_cmd = self.create_publisher(TwistStamped, "cmd_out", 10)
        self.pub_gripper = self.create_publisher(Float64, "gripper_out", 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(TwistStamped, "cmd_in", self.on_command, 10)
        self.create_subscription(Float64, "gripper_in", self.on_gripper, 10)
        self.create_subscription(PoseStamped, "ee_pose", self.on_pose, 10)
        # Check at 4x the timeout's rate so a stop goes out at most timeout * 1.25 after the last command.
        self.create_timer(self.timeout / 4.0, self.watchdog)
        self.create_timer(1.0, self.publish_diagnostics)
        self.get_logger().info(f"envelope box {limits.box}, max speed {limits.max_speed} m/s, "
                               f"watchdog {self.timeout * 1e3:.0f} ms")

    # ------------------------------------------------------------------ inputs
    def on_pose(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        pose = np.array([p.x, p.y, p.z])
        if np.all(np.isfinite(pose)):
            self.pose, self.pose_received = pose, time.monotonic()

    def on_gripper(self, msg: Float64) -> None:
        if not np.isfinite(msg.data):
            self.fault(f"gripper_in: non-finite {msg.data}")
            return
        self.gripper = float(np.clip(msg.data, -1.0, 1.0))
        self.pub_gripper.publish(Float64(data=self.gripper))

    def on_command(self, msg: TwistStamped) -> None:
        now = self.get_clock().now().nanoseconds * 1e-9
        t = stamp_seconds(msg.header.stamp)
        if t > 0 and now - t > self.max_age:
            self.fault(f"stale cmd_in: {now - t:.3f} s old (max_command_age {self.max_age} s)")
            return
        lin = msg.twist.linear
        v = np.array([lin.x, lin.y, lin.z])
        yaw_rate = msg.twist.angular.z
        if not (np.all(np.isfinite(v)) and np.isfinite(yaw_rate)):
            self.envelope.filter(np.full(3, np.nan), self.gripper)   # counted as a non-finite stop
            self.fault(f"cmd_in: non-finite velocity {v.tolist()} / yaw rate {yaw_rate}")
            return
        if self.pose is None or time.monotonic() - self.pose_received > self.max_pose_age:
            self.fault("no fresh ee_pose: cannot check the command against the envelope")
            return
        # Anchor at the measured pose (the robot may lag its commands), keep the envelope's velocity
        # state so the acceleration limit spans commands.
        self.envelope.anchor(self.pose)
        _, _, report = self.envelope.filter(self.pose + v * self.period, self.gripper)
        safe_v = self.envelope.velocity   # the safe step / dt
        self.last_command = time.monotonic()
        self.stopped = False
        self.moving = bool(np.any(safe_v != 0) or yaw_rate != 0)
        self.commands += 1
        if any(report.clipped.values()):
            self.last_fault = "clipped: " + ", ".join(k for k, c in report.clipped.items() if c)
        self.publish_twist(safe_v, yaw_rate, msg.header.stamp if t > 0 else None)

    # ------------------------------------------------------------------ outputs
    def publish_twist(self, v: np.ndarray, yaw_rate: float, stamp=None) -> None:
        """stamp: the command's own (kept, so the driver still sees how old its data is), else now."""
        if not self.context.ok():
            return   # shutting down: the driver's command_timeout stops the robot
        msg = TwistStamped()
        msg.header.stamp = stamp if stamp is not None else self.get_clock().now().to_msg()
        msg.header.frame_id = self.frame_id
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = (float(x) for x in v)
        msg.twist.angular.z = float(yaw_rate)
        self.pub_cmd.publish(msg)

    def stop(self) -> None:
        self.envelope.stop()
        self.stops += 1
        self.stopped = True
        self.publish_twist(np.zeros(3), 0.0)

    def fault(self, why: str) -> None:
        self.refused += 1
        self.last_fault = why
        self.stop()
        self.get_logger().warning(f"{why}; robot stopped")
        self.publish_diagnostics(level="error", message=why)

    def watchdog(self) -> None:
        silent = time.monotonic() - self.last_command
        if silent > self.timeout:
            if not self.stopped and self.moving:
                self.watchdog_trips += 1
                self.last_fault = f"watchdog: no command for {silent * 1e3:.0f} ms"
                self.get_logger().warning(f"{self.last_fault}; robot stopped")
                self.publish_diagnostics(level="error", message=self.last_fault)
            self.stop()   # repeated while silent: one lost stop message must not leave the robot moving

    def publish_diagnostics(self, level: str | None = None, message: str | None = None) -> None:
        if level is None:
            level, message = ("warn", "stopped: " + (self.last_fault or "no command yet")) if self.stopped \
                else ("ok", "passing commands")
        values = {"commands": self.commands, "stops": self.stops, "watchdog_trips": self.watchdog_trips,
                  "refused_commands": self.refused, "last_fault": self.last_fault,
                  **{f"clipped_{k}": v for k, v in self.envelope.counts.items()}}
        self.pub_diag.publish(diagnostics_msg(self.get_clock().now().to_msg(), self.get_name(), "safety",
                                              level, message, values))

    def close(self) -> None:
        self.stop()


def main(args: list[str] | None = None) -> int:
    return run_node(SafetyNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
