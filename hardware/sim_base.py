"""The simulated mobile base: a roboloop base task env (MuJoCo) behind velocity commands in SI units.

`SimBaseDriver` steps the same Gymnasium env a navigation policy trains on (``roboloop/base-Nav-v0``), so
the ROS 2 `sim_base_node` publishes exactly what the policy saw in training: the lidar scan, the wheel
odometry and the task's state vector. Each `tick()` holds the latest (v m/s, w rad/s) command for one
control period; a command older than `command_timeout` s (a dead or hung commander) counts as a stop,
and so does a non-finite one. After a collision or a reached goal the base stands still until `reset()`.
"""
from __future__ import annotations

import math
import time

import numpy as np


class SimBaseDriver:
    """Args: task (a mobile-base task id), env_kwargs (its options; control_hz sets the tick rate), seed (of
    the first episode; later resets continue the env's stream), command_timeout (s, wall clock)."""

    def __init__(self, task: str = "roboloop/base-Nav-v0", env_kwargs: dict | None = None, seed: int | None = 0,
                 command_timeout: float = 0.5, clock=time.monotonic):
        import gymnasium as gym

        from roboloop.sim import resolve_task
        self.task = resolve_task(task)
        try:
            self.env = gym.make(self.task, **(env_kwargs or {})).unwrapped
        except TypeError as e:
            raise ValueError(f"bad env option for task {task!r}: {e}") from None
        spec = self.env.task_spec()
        if spec["action"].get("command") != "base_velocity":
            raise ValueError(f"{self.task} is not a mobile-base task (its actions are not base velocities)")
        if not command_timeout > 0:
            raise ValueError(f"command_timeout must be positive, got {command_timeout}")
        self.spec, self.clock, self.command_timeout = spec, clock, float(command_timeout)
        self.control_hz = float(spec["control_hz"])
        self.max_linear, self.max_angular = spec["action"]["max_linear_mps"], spec["action"]["max_angular_radps"]
        self.angles = spec["lidar"]["angle_min_rad"] + spec["lidar"]["angle_increment_rad"] * np.arange(
            spec["lidar"]["n_beams"])
        self.cmd = np.zeros(2)
        self.cmd_time = -math.inf
        self.stops = 0
        self.reset(seed)

    def reset(self, seed: int | None = None) -> None:
        """A new episode (a new map), the base at rest."""
        self.observation, self.info = self.env.reset(seed=seed)
        self.done = False
        self.steps = 0
        self.cmd = np.zeros(2)

    def command(self, v: float, w: float) -> None:
        """Hold (v m/s, w rad/s) until the next command; a non-finite one is refused (ValueError) after a stop."""
        if not (math.isfinite(v) and math.isfinite(w)):
            self.stop()
            raise ValueError(f"non-finite velocity command v={v}, w={w}")
        self.cmd = np.array([v, w], float)
        self.cmd_time = self.clock()

    def stop(self) -> None:
        self.cmd = np.zeros(2)
        self.stops += 1

    def tick(self) -> None:
        """One control period at the held command (zero when stale or after the episode ended)."""
        if self.clock() - self.cmd_time > self.command_timeout:
            self.cmd = np.zeros(2)
        if self.done:
            return
        a = np.clip(self.cmd / [self.max_linear, self.max_angular], -1.0, 1.0)
        self.observation, _, terminated, _, self.info = self.env.step(a)
        self.done = bool(terminated)
        self.steps += 1

    # ------------------------------------------------------------------------ what the node publishes
    def scan(self) -> np.ndarray:
        """(n_beams,) m, the ranges of the last observation (what the policy saw)."""
        n = len(self.angles)
        return self.observation["state"][:n].astype(np.float64)

    def odometry(self) -> tuple[np.ndarray, np.ndarray]:
        """((x m, y m, yaw rad) in the odom frame, (v m/s, w rad/s)) from the wheel encoders."""
        return self.env.sim.odom.copy(), self.env.sim.odom_twist.copy()

    @property
    def success(self) -> bool:
        return bool(self.info.get("is_success", False))

    @property
    def failure(self) -> bool:
        return bool(self.info.get("is_failure", False))
