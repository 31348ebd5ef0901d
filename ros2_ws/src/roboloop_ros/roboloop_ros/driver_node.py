"""DriverNode: the topics every robot node shares, around a `roboloop.hardware` RobotDriver.

Subscribes (relative names, remap as needed):
  cmd_vel       geometry_msgs/TwistStamped  end-effector velocity, linear m/s, angular.z rad/s
  ee_target     geometry_msgs/PoseStamped   absolute end-effector target (m; yaw from the quaternion)
  gripper_cmd   std_msgs/Float64            -1 open .. +1 closed
Publishes:
  ee_pose       geometry_msgs/PoseStamped   every tick (frame `frame_id`)
  /diagnostics  diagnostic_msgs/DiagnosticArray  1 Hz, and at once on a refused command: ticks,
                tick overruns (`deadline_misses`), late commands (`late_commands`: a stamped command that
                arrived after the tick following the observation it answers), command latency p50/p99

A command that is non-finite or whose stamp is older than `max_command_age` is refused: the
robot stops and a diagnostic says why. No command for `command_timeout` stops a moving robot.
Subclasses create `self.robot` and implement `step()` (called every 1 / control_hz s).

A sim robot can run in lockstep with its actor (`lockstep`): a tick waits until the command answering the
last tick's observation has arrived (a stamped twist no older than that tick, then the gripper command
the actor sends after it), for up to `lockstep_timeout` s of wall time. Sim time then follows the actor,
so every stored transition pairs an observation with the command that was applied after it, however
loaded the machine or slow the person's answer; without it a command that misses its tick is applied
one tick late while the actor records it for the earlier one (`late_commands` counts those). A real
robot cannot wait: it leaves this off.
"""
from __future__ import annotations

import bisect
import time
from collections import deque

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.node import Node
from std_msgs.msg import Float64

from roboloop_ros.conversions import diagnostics_msg, pose_msg, stamp_seconds

COMMAND_PARAMS = {
    "control_hz": 10.0,  # robot ticks per second
    "frame_id": "world",  # frame of the published poses
    "command_timeout": 0.5,  # s without a command -> stop
    "max_command_age": 0.5,  # s; older stamped commands are refused (a zero stamp is accepted)
    "latency_warmup_s": 2.0,  # s after the first tick before command latency is counted (startup queues)
}


def arrived_after_next_tick(ticks, stamp: float, now: float, period: float) -> bool:
    """Whether a command built on the observation of the last tick at or before `stamp` arrived (`now`)
    after the tick that followed it. ticks: tick start times in ascending order (s, the clock of the
    stamps); period: s. A stamp older than every recorded tick is late."""
    i = bisect.bisect_right(ticks, stamp)
    if i == 0:
        return True
    next_tick = ticks[i] if i < len(ticks) else ticks[i - 1] + period
    return now > next_tick


class DriverNode(Node):
    def start(self, robot, p: dict, hardware_id: str) -> None:
        """Wire `robot` (a RobotDriver) to the topics; call at the end of the subclass __init__."""
        self.robot, self.hardware_id = robot, hardware_id
        self.frame_id = p["frame_id"]
        self.command_timeout, self.max_command_age = p["command_timeout"], p["max_command_age"]
        # real_time_factor (sim robots only) runs the same control period of sim time faster in wall time
        self.period = 1.0 / (p["control_hz"] * p.get("real_time_factor", 1.0))
        self.last_command = -np.inf  # monotonic s
        self.first_tick, self.latency_warmup = np.inf, p.get("latency_warmup_s", 2.0)
        self.refused = self.deadline_misses = self.ticks = self.late_commands = 0
        self.command_ages: deque[float] = deque(maxlen=10_000)   # s, of the most recent stamped commands
        self.tick_times: deque[float] = deque(maxlen=256)        # s (ROS clock) at the start of recent ticks
        self.last_fault = ""
        self.lockstep, self.lockstep_timeout = bool(p.get("lockstep", False)), float(p.get("lockstep_timeout", 0.5))
        self.answer_stamp = self.answer_time = self.gripper_time = -np.inf   # the newest twist's stamp; arrivals
        self.stepped_at = -np.inf   # monotonic s of the last physics step
        self.new_episode = False    # reset since the last tick: its first observation is not out yet
        self.pub_pose = self.create_publisher(PoseStamped, "ee_pose", 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(TwistStamped, "cmd_vel", self.on_twist, 10)
        self.create_subscription(PoseStamped, "ee_target", self.on_pose, 10)
        self.create_subscription(Float64, "gripper_cmd", self.on_gripper, 10)
        self.create_timer(self.period, self.tick)
        self.create_timer(1.0, self.publish_diagnostics)

    # ------------------------------------------------------------------ commands in
    def _fresh(self, stamp, what: str) -> bool:
        t = stamp_seconds(stamp)
        now = self.get_clock().now().nanoseconds * 1e-9
        age = now - t
        if t > 0 and age > self.max_command_age:
            self.refuse(f"stale {what}: {age:.3f} s old (max_command_age {self.max_command_age} s)")
            return False
        if t > 0 and time.monotonic() - self.first_tick > self.latency_warmup:
            # The actor stamps a command with the time its observation arrived: this is the
            # observation-to-command latency through the graph (actor, safety, DDS hops).
            self.command_ages.append(age)
            self.late_commands += arrived_after_next_tick(self.tick_times, t, now, self.period)
        return True

    def refuse(self, why: str) -> None:
        """Stop the robot and say why (log + ERROR diagnostic)."""
        self.robot.stop()
        self.refused += 1
        self.last_fault = why
        self.get_logger().warning(f"refused: {why}; robot stopped")
        self.publish_diagnostics(level="error", message=f"refused: {why}")

    def on_twist(self, msg: TwistStamped) -> None:
        if self._fresh(msg.header.stamp, "cmd_vel"):
            self.answer_stamp, self.answer_time = stamp_seconds(msg.header.stamp), time.monotonic()
            lin, ang = msg.twist.linear, msg.twist.angular
            self._command("cmd_vel", self.robot.command_velocity, [lin.x, lin.y, lin.z], ang.z)

    def on_pose(self, msg: PoseStamped) -> None:
        if self._fresh(msg.header.stamp, "ee_target"):
            p, q = msg.pose.position, msg.pose.orientation
            yaw = float(np.arctan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z)))
            self._command("ee_target", self.robot.command_pose, [p.x, p.y, p.z], yaw)

    def _command(self, what: str, fn, *args) -> None:
        try:
            fn(*args)
        except ValueError as e:
            self.refuse(f"{what}: {e}")
            return
        self.last_command = time.monotonic()

    def on_gripper(self, msg: Float64) -> None:
        if not np.isfinite(msg.data):
            self.refuse(f"gripper_cmd: non-finite {msg.data}")
            return
        self.robot.gripper_command = float(np.clip(msg.data, -1.0, 1.0))
        self.gripper_time = time.monotonic()

    # ------------------------------------------------------------------ the control tick
    def episode_started(self) -> None:
        """A reset: the next tick publishes the new episode's first observation without waiting (lockstep)."""
        self.new_episode = True

    def answered(self) -> bool:
        """Whether the command for the last tick's observation is in (lockstep)."""
        if self.new_episode:
            return True
        if not self.tick_times or self.answer_stamp < self.tick_times[-1]:
            return False
        # the actor sends the gripper after the twist; a robot that never got one has none to wait for
        return self.gripper_time >= self.answer_time or self.gripper_time == -np.inf

    def tick(self) -> None:
        t0 = time.monotonic()
        if self.lockstep and not self.answered() and t0 - self.stepped_at < self.lockstep_timeout:
            return   # sim time waits for the actor
        self.new_episode = False
        self.stepped_at = t0
        self.first_tick = min(self.first_tick, t0)
        self.tick_times.append(self.get_clock().now().nanoseconds * 1e-9)
        c = self.robot.command
        moving = c.mode == "pose" or np.any(c.linear != 0) or c.yaw_rate != 0
        if moving and t0 - self.last_command > self.command_timeout:
            self.robot.stop()
        self.step()
        self.ticks += 1
        s = self.robot.read_state()
        if s is not None:
            self.pub_pose.publish(pose_msg(s.ee_position, s.ee_quat, self.get_clock().now().to_msg(),
                                           self.frame_id))
        if time.monotonic() - t0 > self.period:
            self.deadline_misses += 1

    def step(self) -> None:
        raise NotImplementedError

    def diagnostic_values(self) -> dict:
        ages = np.asarray(self.command_ages) * 1e3
        latency = {"command_latency_p50_ms": round(float(np.percentile(ages, 50)), 3),
                   "command_latency_p99_ms": round(float(np.percentile(ages, 99)), 3),
                   "command_latency_n": len(ages)} if len(ages) else {}
        return {"ticks": self.ticks, "deadline_misses": self.deadline_misses, "late_commands": self.late_commands,
                "refused_commands": self.refused, "last_fault": self.last_fault, **latency}

    def publish_diagnostics(self, level: str | None = None, message: str | None = None) -> None:
        if level is None:
            level, message = "ok", "running"
        self.pub_diag.publish(diagnostics_msg(self.get_clock().now().to_msg(), self.get_name(),
                                              self.hardware_id, level, message, self.diagnostic_values()))

    def close(self) -> None:
        self.robot.close()
