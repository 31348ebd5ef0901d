"""The robot as a Gymnasium env: `RobotEnv` over a `RobotDriver` and an observation source.

Spaces come from the task's spec (``task_spec()`` of the sim task the policy was trained on):
observation ``Dict(state=Box(float32, (n,)), <camera>=Box(uint8, (H, W, 3)) ...)``, action
``Box(-1, 1, (4 or 5,))`` = [dx, dy, dz, (dyaw,) gripper]. The normalized action becomes the driver's
SI command here and only here: an end-effector velocity of ``a * max_delta_pos_m * control_hz`` m/s
(and ``a * max_delta_yaw_rad * control_hz`` rad/s), the gripper absolute in [-1, 1]. A mobile base's task
(``action.command == "base_velocity"``, action [v, w]) commands ``v * max_linear_mps`` m/s along the base's
x axis and ``w * max_angular_radps`` rad/s about z, with no gripper.

`step` sends the command, then blocks until the next fresh observation (the robot's control tick)
and decides reward, ``terminated`` and success with the task's rules (`roboloop.sim.rules`), the
same ones the sim task uses; ``truncated`` comes from `max_episode_steps`. A missing, stale,
wrong-shaped or non-finite observation, or a refused command, stops the robot and raises
`RobotFault` naming what is wrong; call `reset()` to go on.
"""
from __future__ import annotations

import abc
import time
from typing import Any, Callable, Mapping

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from roboloop.sim.rules import TaskRules, named
from roboloop.sim.tasks import UNIT_BOUNDS

from .robot_driver import RobotDriver


class RobotFault(RuntimeError):
    """The robot was stopped: an observation or a command was missing, stale or malformed."""


def observation_layout(spec: Mapping[str, Any]) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Task spec -> {observation key: (shape, dtype)}."""
    return {k: (tuple(v["shape"]), np.dtype(v["dtype"])) for k, v in spec["observation"].items()}


def check_observation(key: str, value, layout) -> np.ndarray:
    """`value` as the layout's dtype; RobotFault naming the key for a wrong shape or non-finite values."""
    if key not in layout:
        raise RobotFault(f"{key}: not an observation of this task (expected {sorted(layout)})")
    shape, dtype = layout[key]
    a = np.asarray(value)
    if a.shape != shape:
        raise RobotFault(f"{key}: got shape {a.shape}, the policy expects {shape}")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise RobotFault(f"{key}: non-finite values")
    return a.astype(dtype, copy=False)


class ObservationSource(abc.ABC):
    """Where a RobotEnv's observations come from: one state vector per control tick, camera images,
    and flags the task's rules may need (e.g. an external success detector)."""

    @abc.abstractmethod
    def next(self, timeout_s: float) -> dict[str, tuple[np.ndarray, float]] | None:
        """Block until an observation newer than the last one returned is complete; None on timeout.

        Returns {key: (value, time.monotonic() when received)}. May raise RobotFault for a malformed
        message received since the last call.
        """

    def clear(self) -> None:
        """Forget what was received: `next` returns only what arrives after this call."""

    def flags(self) -> dict[str, bool]:
        """Flags for the task rules (is_success, is_failure, is_grasped), from outside the state."""
        return {}


def wait_for_operator(prompt: str = "reset the scene, then press Enter: ",
                      read: Callable[[str], str] = input) -> Callable[[int | None], None]:
    """A `reset` for RobotEnv that waits for the person at the robot (it is stopped meanwhile)."""
    def reset(seed: int | None) -> None:
        read(prompt)
    return reset


class RobotEnv(gym.Env):
    """A robot behind the Gymnasium API.

    Args:
        spec: the task spec (`task_spec()` of the sim task; a checkpoint carries it).
        driver: the `RobotDriver` that moves the arm.
        observations: the `ObservationSource` of states and images.
        rules: the task's `roboloop.sim.rules.TaskRules` (`task_rules(task, env_kwargs)`).
        reset: called with the seed at every reset to bring the scene back (a reset service, a
            prompt that waits for the operator: `wait_for_operator()`); None: nothing to call.
        home: end-effector position (3,) m to drive to at every reset, after `reset` (None: stay);
            the env waits until the observed end effector is within home_tolerance_m of it.
        max_episode_steps: truncation after this many steps (None: never).
        obs_timeout_s: an observation older than this (s, wall clock) is stale; also how long `step`
            waits for the next one.
        control_hz: the control rate that turns a normalized action into a velocity (default: the
            spec's; a robot ticking at another rate moves one action's distance per its own tick).
    """

    metadata = {"render_modes": []}

    def __init__(self, spec: Mapping[str, Any], driver: RobotDriver, observations: ObservationSource,
                 rules: TaskRules, reset: Callable[[int | None], None] | None = None,
                 max_episode_steps: int | None = None, obs_timeout_s: float = 0.5,
                 control_hz: float | None = None, home=None, home_tolerance_m: float = 0.01,
                 home_timeout_s: float = 10.0):
        self.spec_dict = dict(spec)
        self.driver, self.observations, self.rules, self._reset_scene = driver, observations, rules, reset
        self.layout = observation_layout(spec)
        state = spec["observation"]["state"]
        self.state_names = list(state["names"])
        rules.check(self.state_names)
        act = spec["action"]
        self.use_yaw = "dyaw" in act["names"]
        self.control_hz = float(control_hz or spec["control_hz"])
        self.base_velocity = act.get("command") == "base_velocity"
        if self.base_velocity:
            self.max_v, self.max_w = float(act["max_linear_mps"]), float(act["max_angular_radps"])
            self.max_delta_pos = self.max_delta_yaw = 0.0
        else:
            self.max_delta_pos = float(act["max_delta_pos_m"])
            self.max_delta_yaw = float(act.get("max_delta_yaw_rad", 0.0))
        self.max_episode_steps = max_episode_steps
        self.obs_timeout_s = float(obs_timeout_s)
        scale = min(self.max_v, self.max_w) if self.base_velocity else self.max_delta_pos
        if self.control_hz <= 0 or self.obs_timeout_s <= 0 or scale <= 0:
            raise ValueError("control_hz, obs_timeout_s and the action's scale (max_delta_pos_m, or "
                             "max_linear_mps and max_angular_radps) must be positive")
        self._low = np.array([UNIT_BOUNDS[u][0] for u in state["units"]], np.float32)
        self._high = np.array([UNIT_BOUNDS[u][1] for u in state["units"]], np.float32)
        obs = {"state": spaces.Box(self._low, self._high, dtype=np.float32)}
        for k, (shape, dtype) in self.layout.items():
            if k != "state":
                obs[k] = spaces.Box(0, 255, shape, dtype)
        self.observation_space = spaces.Dict(obs)
        self.action_space = spaces.Box(-1.0, 1.0, tuple(act["shape"]), np.float32)
        self.t = 0
        self._ee = np.zeros(3)
        ee = [n for n in ("ee_x", "ee_y", "ee_z") if n in self.state_names]
        self._ee_cols = [self.state_names.index(n) for n in ee] if len(ee) == 3 else None
        self.home = None if home is None else np.asarray(home, dtype=float).reshape(3)
        self.home_tolerance_m, self.home_timeout_s = float(home_tolerance_m), float(home_timeout_s)
        if self.home is not None and self._ee_cols is None:
            raise ValueError("home needs ee_x, ee_y, ee_z in the state to see when the arm got there")

    # ------------------------------------------------------------------ what the wrappers read
    def task_spec(self) -> dict[str, Any]:
        return dict(self.spec_dict)

    def commanded_target(self) -> np.ndarray:
        """The end effector's position (3,) m at the last observation: a velocity-driven robot's target."""
        if self._ee_cols is None:
            raise ValueError("this task's state has no ee_x/ee_y/ee_z: the safety wrapper cannot track the arm")
        return self._ee.copy()

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.driver.stop()
        if self._reset_scene is not None:
            self._reset_scene(seed)
        if self.home is not None:
            self._go_home()
        self.observations.clear()   # the episode starts from an observation taken after the reset
        self.t = 0
        obs = self._observe()
        s = named(self.state_names, obs["state"])
        self.rules.begin(s)
        success, failure = self.rules.outcome(s, self.observations.flags())
        return obs, {"is_success": bool(success), "is_failure": bool(failure)}

    def step(self, action):
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != self.action_space.shape:
            self._fault(f"action shape {a.shape}, expected {self.action_space.shape}")
        if not np.all(np.isfinite(a)):
            self._fault(f"non-finite action {a.tolist()}")
        a = np.clip(a, -1.0, 1.0)
        try:
            if self.base_velocity:
                self.driver.command_velocity([a[0] * self.max_v, 0.0, 0.0], a[1] * self.max_w)
            else:
                yaw_rate = a[3] * self.max_delta_yaw * self.control_hz if self.use_yaw else 0.0
                self.driver.command_velocity(a[:3] * self.max_delta_pos * self.control_hz, yaw_rate, a[-1])
        except ValueError as e:
            self._fault(f"command refused: {e}")
        obs = self._observe()
        self.t += 1
        flags = self.observations.flags()
        s = named(self.state_names, obs["state"])
        success, failure = self.rules.outcome(s, flags)
        reward = float(self.rules.reward(s, success, flags))
        terminated = bool(success or failure)
        truncated = bool(not terminated and self.max_episode_steps and self.t >= self.max_episode_steps)
        if terminated or truncated:
            self.driver.stop()
        return obs, reward, terminated, truncated, {"is_success": bool(success), "is_failure": bool(failure)}

    def close(self):
        self.driver.stop()

    # ------------------------------------------------------------------ helpers
    def _go_home(self) -> None:
        deadline = time.monotonic() + self.home_timeout_s
        self.driver.command_pose(self.home, 0.0, -1.0)
        while np.linalg.norm(self._observe()["state"][self._ee_cols] - self.home) > self.home_tolerance_m:
            if time.monotonic() > deadline:
                self._fault(f"the arm did not reach home {self.home.tolist()} within {self.home_timeout_s:g} s")
            self.driver.command_pose(self.home, 0.0, -1.0)   # hold the command fresh (driver timeouts)
        self.driver.stop()

    def _fault(self, why: str):
        self.driver.stop()
        raise RobotFault(why)

    def _observe(self) -> dict[str, np.ndarray]:
        try:
            reading = self.observations.next(self.obs_timeout_s)
        except RobotFault:
            self.driver.stop()
            raise
        now = time.monotonic()
        reading = reading or {}
        stale = [k for k in self.layout if k not in reading or now - reading[k][1] > self.obs_timeout_s]
        if stale:
            self._fault(f"no fresh {', '.join(stale)} for {self.obs_timeout_s:g} s")
        try:
            obs = {k: check_observation(k, reading[k][0], self.layout) for k in self.layout}
        except RobotFault:
            self.driver.stop()
            raise
        if self._ee_cols is not None:
            self._ee = obs["state"][self._ee_cols].astype(np.float64)
        obs["state"] = np.clip(obs["state"], self._low, self._high)
        return obs
