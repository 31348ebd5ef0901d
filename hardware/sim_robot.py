"""The simulated robot: a roboloop task env (MuJoCo arm) behind the `RobotDriver` contract.

`SimRobotDriver` steps the same Gymnasium env the policy was trained on, so a reality-gap
variant of a task (issue 3's ``roboloop/PickCubeGap-v0``) becomes a different robot just by its
task id. Each `tick()` turns the held end-effector command into one normalized env action
(velocity x control period / max_delta_pos), so the sim robot moves exactly like the env.
"""
from __future__ import annotations

import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from .robot_driver import EECommand, RobotDriver, RobotState, quat_from_matrix  # noqa: E402

JOINT_NAMES = ("j1", "j2", "j3", "j4", "j5", "j6", "finger_l", "finger_r")


class SimRobotDriver(RobotDriver):
    """MuJoCo arm driven through a roboloop task env.

    Args:
        task: task name or id (`roboloop tasks`), e.g. ``roboloop/PickCube-v0``.
        env_kwargs: task options (control_hz, ...); control_hz sets the tick rate.
        seed: seed of the first `reset`; later resets continue the env's random stream.
    The speed limits default to what one env action can do: max_delta_pos * control_hz m/s
    and max_delta_yaw * control_hz rad/s.
    """

    def __init__(self, task: str = "roboloop/PickCube-v0", env_kwargs: dict | None = None,
                 seed: int | None = 0):
        import gymnasium as gym

        from roboloop.sim import resolve_task
        self.task = resolve_task(task)
        try:
            self.env = gym.make(self.task, **(env_kwargs or {}))
        except TypeError as e:
            raise ValueError(f"bad env option for task {task!r}: {e}") from None
        self.base = self.env.unwrapped
        self.control_hz = float(self.base.control_hz)
        super().__init__(max_linear_speed=self.base.max_delta_pos * self.control_hz,
                         max_yaw_rate=self.base.max_delta_yaw * self.control_hz)
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self.observation: dict[str, np.ndarray] = {}
        self.info: dict = {}
        self.terminated = False
        self.steps = 0
        self.reset(seed)

    @property
    def sim(self):
        """The `roboloop.sim.robot.ArmSim` inside the env."""
        return self.base.sim

    @property
    def success(self) -> bool:
        return bool(self.info.get("is_success", False))

    def reset(self, seed: int | None = None) -> None:
        """New episode (cube/goal re-sampled), command zeroed, gripper open."""
        self.observation, self.info = self.env.reset(seed=seed)
        self.command = EECommand()
        self.gripper_command = -1.0
        self.terminated = False
        self.steps = 0

    def _apply(self, command: EECommand) -> None:
        pass  # held until the next tick: the sim moves only in `tick()`

    def _stop(self) -> None:
        # Hold where the arm is, not where the last command was heading.
        self.sim.set_target(self.sim.ee_pos(), self.sim.ee_yaw())

    def action(self) -> np.ndarray:
        """The normalized env action (Box(-1, 1)) that realizes the held command for one tick."""
        b, c = self.base, self.command
        dt = 1.0 / self.control_hz
        if c.mode == "pose":
            dpos = c.position - self.sim.target_pos
            dyaw = 0.0 if c.yaw is None else c.yaw - self.sim.target_yaw
        else:
            dpos, dyaw = c.linear * dt, c.yaw_rate * dt
        a = [*np.clip(dpos / b.max_delta_pos, -1, 1)]
        if b.use_yaw:
            a.append(float(np.clip(dyaw / b.max_delta_yaw, -1, 1)))
        a.append(self.gripper_command)
        return np.asarray(a, dtype=np.float32)

    def tick(self) -> None:
        """Advance one control period (1 / control_hz of sim time) under the held command."""
        self.observation, _, terminated, _, self.info = self.env.step(self.action())
        self.terminated = self.terminated or terminated
        self.steps += 1

    def read_state(self) -> RobotState:
        d = self.sim.data
        q = np.array([d.joint(j).qpos[0] for j in JOINT_NAMES])
        qd = np.array([d.joint(j).qvel[0] for j in JOINT_NAMES])
        return RobotState(stamp=float(d.time), received=time.monotonic(), joint_names=JOINT_NAMES,
                          joint_positions=q, joint_velocities=qd, ee_position=self.sim.ee_pos(),
                          ee_quat=quat_from_matrix(self.sim.ee_rot()), ee_yaw=self.sim.ee_yaw(),
                          gripper=self.sim.gripper_opening())

    def render(self, camera: str, width: int, height: int) -> np.ndarray:
        """RGB image (height, width, 3) uint8 from one of the model's cameras ("front", "wrist")."""
        key = (width, height)
        if key not in self._renderers:
            vis = self.sim.model.vis.global_
            vis.offwidth, vis.offheight = max(vis.offwidth, width), max(vis.offheight, height)
            self._renderers[key] = mujoco.Renderer(self.sim.model, height, width)
        r = self._renderers[key]
        r.update_scene(self.sim.data, camera=camera)
        return r.render()

    def close(self) -> None:
        self.stop()
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()
        self.env.close()
