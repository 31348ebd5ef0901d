"""The robot driver contract: one command/state interface for the sim robot and real arms.

Everything that moves an arm (the ROS 2 `sim_robot_node`, a ros2_control arm, later a
microcontroller bridge) implements `RobotDriver`. Units are SI, frames are the robot's base
frame (for the sim arm, MuJoCo's world frame), the gripper is normalized.

Commands (the caller picks one kind per tick; the driver holds the latest until replaced):
  * `command_velocity(linear, yaw_rate, gripper)`: end-effector linear velocity (3,) m/s and
    yaw rate rad/s about the base z axis, gripper in [-1, 1] (-1 fully open, +1 closed).
    Velocities are clipped to `max_linear_speed` / `max_yaw_rate`.
  * `command_pose(position, yaw, gripper)`: absolute end-effector target (3,) m and yaw rad.
  * `stop()`: zero velocity, hold the current pose, keep the gripper as it is. It never raises
    and needs no fresh state: a driver that lost its robot still drops its pending command.

State (`read_state()` -> `RobotState`): joint names/positions/velocities, end-effector pose,
gripper opening and two timestamps (when the state was measured, and when it was received).
Non-finite commands are refused with `ValueError` and turn into a `stop()` first, so a NaN
never becomes a motion.
"""
from __future__ import annotations

import abc
import math
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class RobotState:
    """One measured robot state.

    Attributes:
        stamp: time the state was measured, seconds (the source's clock: sim time for the sim
            robot, the header stamp of /joint_states for ros2_control).
        received: `time.monotonic()` seconds when the driver got it (staleness checks).
        joint_names: names of `joint_positions` entries.
        joint_positions: (n,) rad (prismatic finger joints: m).
        joint_velocities: (n,) rad/s (or m/s).
        ee_position: (3,) m, base frame.
        ee_quat: (4,) unit quaternion (w, x, y, z), base frame.
        ee_yaw: rad about base z (the gripper points down).
        gripper: opening, 0 = closed, 1 = fully open.
    """

    stamp: float
    received: float
    joint_names: tuple[str, ...]
    joint_positions: np.ndarray
    joint_velocities: np.ndarray
    ee_position: np.ndarray
    ee_quat: np.ndarray
    ee_yaw: float
    gripper: float

    def age(self, now: float | None = None) -> float:
        """Seconds since the driver received this state."""
        return (time.monotonic() if now is None else now) - self.received


@dataclass
class EECommand:
    """The command a driver holds between ticks (see module docstring for units).

    mode is "velocity" (linear m/s, yaw_rate rad/s) or "pose" (position m, yaw rad).
    """

    mode: str = "velocity"
    linear: np.ndarray = field(default_factory=lambda: np.zeros(3))
    yaw_rate: float = 0.0
    position: np.ndarray | None = None
    yaw: float | None = None
    gripper: float | None = None  # None keeps the current gripper command


def _finite(name: str, value) -> np.ndarray:
    a = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"non-finite {name}: {a.tolist()}")
    return a


class RobotDriver(abc.ABC):
    """Base class of robot drivers; subclasses implement `_apply` and `read_state`.

    Args:
        max_linear_speed: m/s, per-axis clip of velocity commands.
        max_yaw_rate: rad/s, clip of yaw-rate commands.
    """

    def __init__(self, max_linear_speed: float = 0.5, max_yaw_rate: float = 2.5):
        if max_linear_speed <= 0 or max_yaw_rate <= 0:
            raise ValueError("max_linear_speed and max_yaw_rate must be positive")
        self.max_linear_speed = float(max_linear_speed)
        self.max_yaw_rate = float(max_yaw_rate)
        self.command = EECommand()
        self.gripper_command = -1.0  # open

    # ------------------------------------------------------------------ commands
    def command_velocity(self, linear, yaw_rate: float = 0.0, gripper: float | None = None) -> None:
        """Hold an end-effector velocity: linear (3,) m/s, yaw_rate rad/s, gripper in [-1, 1]."""
        try:
            lin = _finite("linear velocity", linear).reshape(3)
            yr = float(_finite("yaw rate", yaw_rate))
            g = None if gripper is None else float(_finite("gripper", gripper))
        except ValueError:
            self.stop()
            raise
        lin = np.clip(lin, -self.max_linear_speed, self.max_linear_speed)
        yr = float(np.clip(yr, -self.max_yaw_rate, self.max_yaw_rate))
        self.command = EECommand("velocity", lin, yr, gripper=g)
        if g is not None:
            self.gripper_command = float(np.clip(g, -1.0, 1.0))
        self._apply(self.command)

    def command_pose(self, position, yaw: float | None = None, gripper: float | None = None) -> None:
        """Hold an absolute end-effector target: position (3,) m, yaw rad, gripper in [-1, 1]."""
        try:
            pos = _finite("position", position).reshape(3)
            yw = None if yaw is None else float(_finite("yaw", yaw))
            g = None if gripper is None else float(_finite("gripper", gripper))
        except ValueError:
            self.stop()
            raise
        self.command = EECommand("pose", position=pos, yaw=yw, gripper=g)
        if g is not None:
            self.gripper_command = float(np.clip(g, -1.0, 1.0))
        self._apply(self.command)

    def stop(self) -> None:
        """Zero velocity and hold the current pose. Never raises."""
        self.command = EECommand()
        try:
            self._stop()
        except Exception:  # noqa: BLE001  (a stop must not take the caller down; the command is already zero)
            pass

    # ------------------------------------------------------------------ subclass hooks
    @abc.abstractmethod
    def _apply(self, command: EECommand) -> None:
        """Send (or store for the next tick) a validated, clipped command."""

    def _stop(self) -> None:
        """Make the robot hold still now; the base class already zeroed `self.command`."""
        self._apply(self.command)

    @abc.abstractmethod
    def read_state(self) -> RobotState | None:
        """The latest measured state, or None before the first one."""

    def close(self) -> None:
        """Stop the robot and release resources."""
        self.stop()


def quat_from_matrix(r: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a rotation matrix (3, 3)."""
    import mujoco
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(r, dtype=float).reshape(9))
    return q


def yaw_of_down_rotation(r: np.ndarray) -> float:
    """Yaw (rad) of a tool-down rotation matrix, as `roboloop.sim.robot.ArmSim.ee_yaw` defines it."""
    return float(math.atan2(-r[0, 1], r[1, 1]))
