"""The simulated robot: a roboloop task env (MuJoCo arm) behind the `RobotDriver` contract.

`SimRobotDriver` steps the same Gymnasium env the policy was trained on, so a reality-gap
variant of a task (``roboloop/PickCubeGap-v0``) becomes a different robot just by its
task id. Each `tick()` turns the held end-effector command into one normalized env action
(velocity x control period / max_delta_pos), so the sim robot moves exactly like the env. `sim_robot_env()` puts it behind `RobotEnv` in-process.
"""
from __future__ import annotations

import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from roboloop.sim.rendering import offscreen_renderer  # noqa: E402

from .robot_driver import EECommand, RobotDriver, RobotState, quat_from_matrix  # noqa: E402
from .robot_env import ObservationSource, RobotEnv  # noqa: E402

JOINT_NAMES = ("j1", "j2", "j3", "j4", "j5", "j6", "finger_l", "finger_r")


class SimRobotDriver(RobotDriver):
    """MuJoCo arm driven through a roboloop task env.

    Args:
        task: task name or id (`roboloop tasks`), e.g. ``roboloop/PickCube-v0`` or ``roboloop/so101-PickCube-v0``
            (any arm task: the sim robot is then that arm).
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
    def joint_names(self) -> tuple[str, ...]:
        """The arm's joints, then its gripper's (j1..j6, finger_l, finger_r on roboloop's own arm)."""
        arm = getattr(self.sim, "arm", None)
        if arm is None:
            return JOINT_NAMES
        grip = arm.robot.gripper_joints if arm.scene.gripper.kind == "joints" else ("finger_l", "finger_r")
        return tuple(arm.robot.arm_joints) + tuple(grip)

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

    def push_cube(self, velocity) -> None:
        """Knock the cube: set its linear velocity (3,) m/s, world frame (a disturbance, as a person's hand)."""
        v = np.asarray(velocity, dtype=float).reshape(3)
        if not np.all(np.isfinite(v)):
            raise ValueError(f"non-finite cube velocity {v.tolist()}")
        adr = self.sim.model.joint("cube").dofadr[0]
        self.sim.data.qvel[adr:adr + 3] = v

    def true_state(self) -> np.ndarray:
        """The task's state as the world is (no sensing error: see ArmTaskEnv.true_state), float64."""
        return np.asarray(self.base.true_state(), dtype=np.float64)

    def read_state(self) -> RobotState:
        d = self.sim.data
        names = self.joint_names
        q = np.array([d.joint(j).qpos[0] for j in names])
        qd = np.array([d.joint(j).qvel[0] for j in names])
        return RobotState(stamp=float(d.time), received=time.monotonic(), joint_names=names,
                          joint_positions=q, joint_velocities=qd, ee_position=self.sim.ee_pos(),
                          ee_quat=quat_from_matrix(self.sim.ee_rot()), ee_yaw=self.sim.ee_yaw(),
                          gripper=self.sim.gripper_opening())

    def render(self, camera: str, width: int, height: int) -> np.ndarray:
        """RGB image (height, width, 3) uint8 from one of the model's cameras ("front", "wrist")."""
        key = (width, height)
        if key not in self._renderers:
            self._renderers[key] = offscreen_renderer(self.sim.model, width, height)
        r = self._renderers[key]
        r.update_scene(self.sim.data, camera=camera)
        return r.render()

    def close(self) -> None:
        self.stop()
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()
        self.env.close()


class SimRobotObservations(ObservationSource):
    """The sim robot's observations in-process: each `next` advances it one control tick (the task's own
    observation), and its flags are the sim's privileged outcome (what a robot takes from a detector)."""

    def __init__(self, driver: SimRobotDriver):
        self.driver = driver
        self._fresh = True   # the observation of the last reset has not been returned yet

    def clear(self) -> None:
        self._fresh = True

    def next(self, timeout_s: float) -> dict[str, tuple[np.ndarray, float]]:
        if not self._fresh:
            self.driver.tick()
        self._fresh = False
        now = time.monotonic()
        return {k: (v, now) for k, v in self.driver.observation.items()}

    def flags(self) -> dict[str, bool]:
        return {"is_success": self.driver.success, "is_failure": bool(self.driver.info.get("is_failure", False)),
                "is_grasped": bool(self.driver.info.get("is_grasped", False))}


def sim_robot_env(task: str = "roboloop/PickCube-v0", env_kwargs: dict | None = None, seed: int | None = None,
                  spec: dict | None = None, max_episode_steps: int | None = None) -> RobotEnv:
    """A `RobotEnv` over an in-process `SimRobotDriver` (no ROS): the robot path, stepped like a sim.

    spec: the policy's task spec (default: the sim robot's own); the rules come from the spec's task
    with `env_kwargs`. Every reset re-samples the scene (`reset(seed=...)` seeds it).
    """
    from roboloop.sim.rules import task_rules
    driver = SimRobotDriver(task, env_kwargs, seed=seed)
    spec = spec or driver.base.task_spec()
    return RobotEnv(spec, driver, SimRobotObservations(driver), task_rules(spec["task"], env_kwargs),
                    reset=driver.reset,
                    max_episode_steps=max_episode_steps or driver.env.spec.max_episode_steps)
