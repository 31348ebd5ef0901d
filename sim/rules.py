"""Task rules: success, failure and reward of each arm task, shared by the sim tasks and the robot.

A rule reads the task's NAMED observation state (the names of ``task_spec()["observation"]["state"]``,
SI units) plus the task's constants, so the sim task (`roboloop.sim.tasks`) and the robot
(`roboloop.hardware.robot_env.RobotEnv`) decide an episode the same way.

Quantities an observation does not hold come as ``flags`` (a mapping of name -> bool):
  * ``is_grasped``: both finger pads touch the cube (PickCube's dense reward);
  * ``is_success`` / ``is_failure``: the outcome from an external source, for tasks whose state cannot
    decide it (PickCubeVision has no cube pose: the sim computes it from its privileged state, a robot
    takes it from a success detector or the person's buttons).

    rules = task_rules("roboloop/PickCube-v0", {"lift_height": 0.05})
    success, failure = rules.outcome(named(names, state), flags={})
    reward = rules.reward(named(names, state), success, flags={})
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping

import numpy as np

TABLE_Z = 0.40          # m, the table top (as in assets/arm.xml)
CUBE_HALF = 0.02        # m, the nominal cube's half edge
REWARD_TYPES = ("sparse", "dense")


def named(names, state) -> dict[str, float]:
    """State vector (n,) + its n names -> {name: value}; ValueError when the lengths differ."""
    values = np.asarray(state, dtype=np.float64).reshape(-1)
    if len(values) != len(names):
        raise ValueError(f"state has {len(values)} values for {len(names)} names")
    return dict(zip(names, values.tolist()))


def _vec(s: Mapping[str, float], prefix: str) -> np.ndarray:
    return np.array([s[f"{prefix}_{a}"] for a in "xyz"])


class TaskRules:
    """success, failure and reward over a named state. Subclasses set `needs` (the state names read)."""

    needs: tuple[str, ...] = ()
    reward_type: str = "sparse"

    def check(self, names) -> None:
        """ValueError naming the state entries this task's rules need and `names` lacks."""
        missing = [n for n in self.needs if n not in names]
        if missing:
            raise ValueError(f"{type(self).__name__} needs state entries {missing}; the state has {list(names)}")

    def begin(self, s: Mapping[str, float]) -> None:
        """A new episode starts at state `s` (rules whose reward follows progress remember where)."""

    def outcome(self, s: Mapping[str, float], flags: Mapping[str, bool]) -> tuple[bool, bool]:
        """(success, failure) of the state `s`."""
        raise NotImplementedError

    def reward(self, s: Mapping[str, float], success: bool, flags: Mapping[str, bool]) -> float:
        return float(success)


@dataclass
class ReachRules(TaskRules):
    """Success: ||goal - ee|| < success_dist (m). Never fails. Dense: success - tanh(10 * distance)."""

    success_dist: float = 0.03
    reward_type: str = "sparse"
    needs = ("goal_minus_ee_x", "goal_minus_ee_y", "goal_minus_ee_z")

    @staticmethod
    def distance(s: Mapping[str, float]) -> float:
        return float(np.linalg.norm(_vec(s, "goal_minus_ee")))

    def outcome(self, s, flags):
        return self.distance(s) < self.success_dist, False

    def reward(self, s, success, flags):
        if self.reward_type == "sparse":
            return float(success)
        return float(success) - float(np.tanh(10.0 * self.distance(s)))


@dataclass
class PickCubeRules(TaskRules):
    """Success: the cube lifted >= lift_height (m) above its resting height cube_rest_z (m). Failure:
    the cube centre leaves [bounds_low, bounds_high] (m, off the table or out of reach).
    Dense: success + 0.25 * (1 - tanh(10 * |cube - ee|)) + 0.25 * grasped
    + 0.5 * grasped * clip(lift / lift_height, 0, 1), in [0, 2] (grasped: flags["is_grasped"])."""

    lift_height: float = 0.05
    reward_type: str = "sparse"
    cube_rest_z: float = TABLE_Z + CUBE_HALF
    bounds_low: tuple[float, float, float] = (0.05, -0.45, TABLE_Z - 0.01)
    bounds_high: tuple[float, float, float] = (0.75, 0.45, TABLE_Z + 0.6)
    needs = ("cube_x", "cube_y", "cube_z", "cube_minus_ee_x", "cube_minus_ee_y", "cube_minus_ee_z")

    def lift(self, s: Mapping[str, float]) -> float:
        """Cube height above its resting height (m)."""
        return float(s["cube_z"] - self.cube_rest_z)

    def outcome(self, s, flags):
        cube = _vec(s, "cube")
        failure = bool(np.any(cube < self.bounds_low) or np.any(cube > self.bounds_high))
        return (not failure) and self.lift(s) >= self.lift_height, failure

    def reward(self, s, success, flags):
        if self.reward_type == "sparse":
            return float(success)
        if "is_grasped" not in flags:
            raise ValueError("PickCube's dense reward needs flags['is_grasped'] (no grasp sensor given)")
        dist = float(np.linalg.norm(_vec(s, "cube_minus_ee")))
        grasped = float(bool(flags["is_grasped"]))
        lift_frac = float(np.clip(self.lift(s) / self.lift_height, 0.0, 1.0))
        return (float(success) + 0.25 * (1.0 - np.tanh(10.0 * dist)) + 0.25 * grasped
                + 0.5 * grasped * lift_frac)


@dataclass
class FlagRules(TaskRules):
    """For tasks whose state cannot decide the outcome: success and failure come from
    flags["is_success"] / flags["is_failure"] (a detector, the sim's privileged flags, a person).
    Sparse reward only."""

    reward_type: str = "sparse"

    def __post_init__(self):
        if self.reward_type != "sparse":
            raise ValueError("a task decided by external flags has a sparse reward only")

    def outcome(self, s, flags):
        return bool(flags.get("is_success", False)), bool(flags.get("is_failure", False))


@dataclass
class BaseNavRules(TaskRules):
    """A mobile base reaching a goal among obstacles. Reads the goal in the base frame (goal_x, goal_y, m,
    from odometry) and the lidar ranges (every scan_<i>, m). Success: the goal closer than success_dist
    (m). Failure: flags["is_failure"] (a bumper, the sim's contact) or any lidar range under
    collision_range (m, the chassis radius plus a margin). Dense: progress_scale * (metres of progress
    toward the goal since the last step) + success_bonus * success - collision_penalty * failure
    - time_penalty; sparse: success."""

    success_dist: float = 0.25
    collision_range: float = 0.20
    reward_type: str = "dense"
    progress_scale: float = 10.0
    success_bonus: float = 5.0
    collision_penalty: float = 5.0
    time_penalty: float = 0.01
    needs = ("goal_x", "goal_y", "scan_0")

    def __post_init__(self):
        self._last: float | None = None

    @staticmethod
    def distance(s: Mapping[str, float]) -> float:
        return float(np.hypot(s["goal_x"], s["goal_y"]))

    @staticmethod
    def min_range(s: Mapping[str, float]) -> float:
        return min(v for k, v in s.items() if k.startswith("scan_"))

    def begin(self, s):
        self._last = self.distance(s)

    def outcome(self, s, flags):
        failure = bool(flags.get("is_failure", False)) or self.min_range(s) < self.collision_range
        return (not failure) and self.distance(s) < self.success_dist, failure

    def reward(self, s, success, flags):
        if self.reward_type == "sparse":
            return float(success)
        d = self.distance(s)
        progress = 0.0 if self._last is None else self._last - d
        self._last = d
        failure = bool(flags.get("is_failure", False)) or self.min_range(s) < self.collision_range
        return (self.progress_scale * progress + self.success_bonus * float(success)
                - self.collision_penalty * float(failure) - self.time_penalty)


# Task id -> rules class; PickCubeVision's state has no cube, so flags decide it.
RULES: dict[str, type[TaskRules]] = {
    "roboloop/Reach-v0": ReachRules,
    "roboloop/PickCube-v0": PickCubeRules,
    "roboloop/PickCubeGap-v0": PickCubeRules,
    "roboloop/PickCubeVision-v0": FlagRules,
    "roboloop/base-Nav-v0": BaseNavRules,
}


# Task families registered elsewhere add a resolver here: (task id, env options) -> TaskRules or None.
# (the arm tasks do, as `roboloop.sim` registers them; they import this module, so not the other way)
RESOLVERS: list[Callable[[str, dict[str, Any]], "TaskRules | None"]] = []


def task_rules(task: str, env_kwargs: Mapping[str, Any] | None = None) -> TaskRules:
    """The rules of `task` with the task options `env_kwargs` (others, e.g. control_hz, are ignored),
    with the same defaults as the sim task (for an arm task, `roboloop/<arm>-<Task>-v0`, its arm's)."""
    if task not in RULES:
        for resolve in RESOLVERS:
            rules = resolve(task, dict(env_kwargs or {}))
            if rules is not None:
                return rules
        raise ValueError(f"no task rules for {task!r}; known: {', '.join(RULES)}")
    cls = RULES[task]
    names = {f.name for f in fields(cls)} - {"cube_rest_z", "bounds_low", "bounds_high"}
    kwargs = {k: v for k, v in (env_kwargs or {}).items() if k in names}
    if kwargs.get("reward_type", "sparse") not in REWARD_TYPES:
        raise ValueError(f"reward_type must be 'sparse' or 'dense', got {kwargs['reward_type']!r}")
    return cls(**kwargs)
