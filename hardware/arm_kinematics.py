"""End-effector kinematics of a real arm, built from its description (URDF or ``robot_description``).

`ArmKinematics` answers the questions a controller driver asks every control tick, in the arm's base
frame (metres, radians): where the pinch point is for measured joint values, which joint values put it
at a target pointing the tool down at a yaw, and which gripper joint value realizes a normalized gripper
command. The model is `roboloop.sim.kinematics.RobotModel` of the arm's config (`roboloop.sim.arms`):
the same description, frames, joints and tool-down convention as the arm's sim, so a policy trained on
``roboloop/<arm>-PickCube-v0`` commands the real arm in the frame it learned in.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from roboloop.sim.arms import Arm, down_rotation_for, load_arm
from roboloop.sim.kinematics import RobotModel


class ArmKinematics:
    """Kinematics of one arm from its config.

    Args:
        arm: an `Arm`, a shipped arm's name ('so101', 'panda', 'ur5') or an arm YAML path.
        description: URDF text (e.g. the ``robot_description`` a running system publishes) to build the
            model from instead of the config's description file; frames and joints stay the config's.
        workspace: (2, 3) m, box (base frame) the commanded pinch point is clipped to; default the config's
            ``sim.workspace``.
        gripper_range: (open, closed) gripper joint values (rad or m); default the config's ``sim.gripper``.
        ik_iters: damped-least-squares iterations per solve (warm-started from the last solution).
    """

    def __init__(self, arm: Arm | str, description: str | None = None, workspace=None,
                 gripper_range: tuple[float, float] | None = None, ik_iters: int = 20):
        self.arm = arm if isinstance(arm, Arm) else load_arm(str(arm))
        robot = self.arm.robot if description is None else dataclasses.replace(self.arm.robot, description=description)
        self.model = RobotModel(robot)
        self.arm_joints, self.gripper_joints = robot.arm_joints, robot.gripper_joints
        self.base_frame = robot.base_frame
        self.workspace = np.asarray(self.arm.scene.workspace if workspace is None else workspace, float).reshape(2, 3)
        if np.any(self.workspace[0] > self.workspace[1]):
            raise ValueError(f"workspace {self.workspace.tolist()}: each minimum must be <= its maximum (m)")
        g = self.arm.scene.gripper
        self.gripper_open, self.gripper_closed = (float(g.open), float(g.closed)) if gripper_range is None \
            else (float(gripper_range[0]), float(gripper_range[1]))
        if self.gripper_open == self.gripper_closed:
            raise ValueError(f"gripper range: open and closed are both {self.gripper_open}")
        self.ik_iters = int(ik_iters)
        self._down0 = down_rotation_for(self.arm.scene, 0.0)

    @property
    def n(self) -> int:
        return self.model.n

    def down_rotation(self, yaw: float) -> np.ndarray:
        """Rotation (3, 3), base frame, of the ee frame with the tool pointing down at `yaw` rad."""
        return down_rotation_for(self.arm.scene, yaw)

    def fk(self, q) -> tuple[np.ndarray, np.ndarray, float]:
        """(pinch point (3,) m, ee rotation (3, 3), yaw rad) for arm joints q (n,) in `arm_joints` order."""
        p, r = self.model.fk(q)
        rr = r @ self._down0.T
        return p, r, float(np.arctan2(-rr[0, 1], rr[1, 1]))

    def ik(self, position, yaw: float, seed) -> np.ndarray:
        """Arm joints (n,) putting the pinch point at `position` (3,) m pointing down at `yaw` rad, from `seed`."""
        return self.model.ik(np.asarray(position, float), self.down_rotation(yaw), q0=np.asarray(seed, float),
                             max_iters=self.ik_iters).q

    def clip_to_workspace(self, position) -> np.ndarray:
        return np.clip(np.asarray(position, float), self.workspace[0], self.workspace[1])

    def gripper_target(self, command: float) -> float:
        """Gripper joint value for a command in [-1, 1] (-1 fully open, +1 closed), as the sims map it."""
        c = float(np.clip(command, -1.0, 1.0))
        return self.gripper_closed + 0.5 * (1.0 - c) * (self.gripper_open - self.gripper_closed)

    def gripper_opening(self, value: float) -> float:
        """Opening in [0, 1] (0 closed, 1 open) of a measured gripper joint value."""
        return float(np.clip((value - self.gripper_closed) / (self.gripper_open - self.gripper_closed), 0.0, 1.0))
