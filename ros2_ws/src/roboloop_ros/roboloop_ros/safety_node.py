"""safety_node: the safety envelope and a watchdog between the actor and the robot driver, for an arm
(`kind: arm`, the default) or a mobile base (`kind: base`).

Arm. Subscribes:
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

Base (`kind: base`): cmd_in is the actor's TwistStamped (linear.x m/s, angular.z rad/s); the node also
subscribes `scan` (sensor_msgs/LaserScan, sensor-data QoS) and publishes cmd_out as TwistStamped
(`cmd_out_stamped: true`) or Twist. Every command goes through `roboloop.hardware.base_safety.BaseSafety`:
speed (max_speed m/s, max_angular rad/s) and acceleration (max_accel m/s^2, max_angular_accel rad/s^2)
limits, and a lidar stop: moving toward a reading under `stop_distance` m, or without a scan fresher than
`max_scan_age` s, zeroes the linear velocity (turning in place stays allowed). The watchdog and the
fault handling are the arm's.
"""
from __future__ import annotations

import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import LaserScan
from std_msgs.msg import Float64

from roboloop.hardware.base_safety import BaseSafety, BaseSafetyLimits
from roboloop.hardware.safety import SafetyEnvelope, SafetyLimits
from roboloop_ros.conversions import diagnostics_msg, scan_arrays, stamp_seconds
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
            "kind": "arm",                 # "arm" (end-effector envelope) or "base" (mobile base, lidar stop)
            "max_angular": 1.5,            # base: rad/s (max_speed and max_accel are its linear m/s, m/s^2)
            "max_angular_accel": 3.0,      # base: rad/s^2
            "stop_distance": 0.3,          # base: m; a lidar reading under it ahead stops the base
            "max_scan_age": 0.5,           # base: s; without a fresher scan the base does not drive
            "cmd_out_stamped": True,       # base: cmd_out as TwistStamped (true) or Twist (false)
        })
        if p["kind"] not in ("arm", "base"):
            raise ValueError(f"parameter 'kind' must be 'arm' or 'base', got {p['kind']!r}")
        self.base = p["kind"] == "base"
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
        if self.base:
            self.base_safety = BaseSafety(BaseSafetyLimits(p["max_speed"], p["max_angular"], p["max_accel"],
                                                           p["max_angular_accel"], p["stop_distance"],
                                                           p["max_scan_age"]), self.period)
        self.pose: np.ndarray | None = None
        self.pose_received = -np.inf
        self.last_command = -np.inf          # monotonic s of the last accepted command
        self.stopped = True
        self.moving = False          # the last command passed on moved the robot
        self.stops = self.watchdog_trips = self.refused = self.commands = 0
        self.last_fault = ""
        self.gripper = -1.0
        self.out_stamped = p["cmd_out_stamped"] or not self.base
        self.pub_cmd = self.create_publisher(TwistStamped if self.out_stamped else Twist, "cmd_out", 10)
        self.pub_gripper = self.create_publisher(Float64, "gripper_out", 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(TwistStamped, "cmd_in", self.on_command, 10)
        self.create_subscription(Float64, "gripper_in", self.on_gripper, 10)
        self.create_subscription(PoseStamped, "ee_pose", self.on_pose, 10)
        if self.base:
            self.create_subscription(LaserScan, "scan", self.on_scan, qos_profile_sensor_data)
        # Check at 4x the timeout's rate so a stop goes out at most timeout * 1.25 after the last command.
        self.create_timer(self.timeout / 4.0, self.watchdog)
        self.create_timer(1.0, self.publish_diagnostics)
        what = (f"base: {p['max_speed']} m/s, {p['max_angular']} rad/s, lidar stop {p['stop_distance']} m" if self.base
                else f"envelope box {limits.box}, max speed {limits.max_speed} m/s")
        self.get_logger().info(f"{what}, watchdog {self.timeout * 1e3:.0f} ms")

    # ------------------------------------------------------------------ inputs
    def on_pose(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        pose = np.array([p.x, p.y, p.z])
        if np.all(np.isfinite(pose)):
            self.pose, self.pose_received = pose, time.monotonic()

    def on_scan(self, msg: LaserScan) -> None:
        try:
            self.base_safety.update_scan(*scan_arrays(msg), time.monotonic())
        except ValueError as e:
            self.fault(f"scan: {e}")

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
            if self.base:
                self.base_safety.filter(np.nan, np.nan, time.monotonic())   # counted as a non-finite stop
            else:
                self.envelope.filter(np.full(3, np.nan), self.gripper)
            self.fault(f"cmd_in: non-finite velocity {v.tolist()} / yaw rate {yaw_rate}")
            return
        if self.base:
            self.on_base_command(float(v[0]), float(yaw_rate), msg.header.stamp if t > 0 else None)
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

    def on_base_command(self, v: float, w: float, stamp) -> None:
        v, w, clipped = self.base_safety.filter(v, w, time.monotonic())
        self.last_command = time.monotonic()
        self.stopped = False
        self.moving = bool(v != 0 or w != 0)
        self.commands += 1
        if any(clipped.values()):
            self.last_fault = "clipped: " + ", ".join(k for k, c in clipped.items() if c)
        self.publish_twist(np.array([v, 0.0, 0.0]), w, stamp)

    # ------------------------------------------------------------------ outputs
    def publish_twist(self, v: np.ndarray, yaw_rate: float, stamp=None) -> None:
        """stamp: the command's own (kept, so the driver still sees how old its data is), else now."""
        if not self.context.ok():
            return   # shutting down: the driver's command_timeout stops the robot
        twist = Twist()
        twist.linear.x, twist.linear.y, twist.linear.z = (float(x) for x in v)
        twist.angular.z = float(yaw_rate)
        if not self.out_stamped:
            self.pub_cmd.publish(twist)
            return
        msg = TwistStamped()
        msg.header.stamp = stamp if stamp is not None else self.get_clock().now().to_msg()
        msg.header.frame_id = self.frame_id
        msg.twist = twist
        self.pub_cmd.publish(msg)

    def stop(self) -> None:
        self.envelope.stop()
        if self.base:
            self.base_safety.stop()
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
                  **{f"clipped_{k}": v for k, v in
                     (self.base_safety.counts if self.base else self.envelope.counts).items()}}
        self.pub_diag.publish(diagnostics_msg(self.get_clock().now().to_msg(), self.get_name(), "safety",
                                              level, message, values))

    def close(self) -> None:
        self.stop()


def main(args: list[str] | None = None) -> int:
    return run_node(SafetyNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
