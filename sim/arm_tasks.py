"""Reach, PickCube and PickCubeVision on arms built from their descriptions (`arms`).

Same observation/action contract, rewards and success rules as roboloop's own arm tasks (`tasks`);
only the arm, the workspace and the cube differ, all read from the arm's YAML (`arms.load_arm`).
Registered ids (Gymnasium allows one namespace, so the arm prefixes the task name):
``roboloop/<arm>-Reach-v0``, ``roboloop/<arm>-PickCube-v0`` and ``roboloop/<arm>-PickCubeVision-v0`` for
each shipped arm (so101, panda, ur5), and ``roboloop/arm-<Task>-v0`` for a user's arm:
``gymnasium.make("roboloop/arm-PickCube-v0", arm="my_arm.yaml")`` (on the command line:
``--task arm-PickCube --set env.arm=my_arm.yaml``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .arms import Arm, DescribedArmSim, load_arm, shipped_arms
from .experts import PickCubeExpert
from .robot import TABLE_Z
from .rules import RESOLVERS, PickCubeRules, task_rules
from .tasks import PickCubeEnv, PickCubeVisionEnv, ReachEnv


class _DescribedArmTask:
    """Mixin: the arm comes from `arm` (a shipped arm's name, an arm YAML path, or an `Arm`)."""

    TASK_NAME = ""

    def _init_arm(self, arm: str | Arm | None, fixed_arm: str | None, kwargs: dict[str, Any]) -> None:
        if fixed_arm is not None:  # a shipped arm's own id: it never runs another arm
            if arm is not None and arm != fixed_arm:
                raise ValueError(f"roboloop/{fixed_arm}-{self.TASK_NAME}-v0 runs the {fixed_arm}, but the env option "
                                 f"arm={arm!r} names another arm (use roboloop/arm-{self.TASK_NAME}-v0 for that)")
            arm = fixed_arm
        if arm is None:
            raise ValueError(f"roboloop/arm-{self.TASK_NAME}-v0 needs the env option arm=<name or YAML path> "
                             f"(shipped: {', '.join(shipped_arms())})")
        self.arm = arm if isinstance(arm, Arm) else load_arm(str(arm))
        self.TASK_ID = f"roboloop/{fixed_arm or 'arm'}-{self.TASK_NAME}-v0"
        kwargs.setdefault("max_delta_pos", self.arm.scene.max_delta_pos)
        self._base = np.array([0.0, 0.0, TABLE_Z])

    def _make_sim(self, physics_hz: float, control_hz: float) -> DescribedArmSim:
        return DescribedArmSim(self.arm, physics_hz=physics_hz, control_hz=control_hz)


class ArmReachEnv(_DescribedArmTask, ReachEnv):
    """`ReachEnv` on a described arm: goals uniform in the arm's ``sim.goal_range``, success within
    ``sim.reach_success`` m."""

    TASK_NAME = "Reach"

    def __init__(self, arm: str | Arm | None = None, fixed_arm: str | None = None, **kwargs):
        self._init_arm(arm, fixed_arm, kwargs)
        lo, hi = np.asarray(self.arm.scene.goal_range, float)
        self.GOAL_LOW, self.GOAL_HIGH = lo + self._base, hi + self._base
        kwargs.setdefault("success_dist", self.arm.scene.reach_success)
        super().__init__(**kwargs)

    def _sample_scene(self):
        super()._sample_scene()
        self.sim.set_cube_pose(np.asarray(self.arm.scene.cube_park, float))  # out of this arm's reach


class ArmPickCubeEnv(_DescribedArmTask, PickCubeEnv):
    """`PickCubeEnv` on a described arm: the cube spawns in ``sim.cube_range``; it fails off the table."""

    TASK_NAME = "PickCube"

    def __init__(self, arm: str | Arm | None = None, fixed_arm: str | None = None, **kwargs):
        self._init_arm(arm, fixed_arm, kwargs)
        cr = np.asarray(self.arm.scene.cube_range, float)
        self.CUBE_LOW, self.CUBE_HIGH = cr[0], cr[1]
        ws = np.asarray(self.arm.scene.workspace, float)
        self.BOUNDS_LOW = np.array([ws[0, 0] - 0.15, ws[0, 1] - 0.15, TABLE_Z - 0.01])
        self.BOUNDS_HIGH = np.array([ws[1, 0] + 0.15, ws[1, 1] + 0.15, TABLE_Z + 0.6])
        super().__init__(**kwargs)

    def scripted_expert(self, env, noise: float = 0.0, seed: int | None = None) -> PickCubeExpert:
        """The PickCube expert with this arm's lift height."""
        return ArmPickCubeExpert(env, noise, seed)


class ArmPickCubeVisionEnv(ArmPickCubeEnv):
    """`PickCubeVisionEnv` on a described arm: proprioception plus front and wrist cameras."""

    TASK_NAME = "PickCubeVision"
    CAMERAS = PickCubeVisionEnv.CAMERAS
    _state_names_units = PickCubeVisionEnv._state_names_units
    _state = PickCubeVisionEnv._state


class ArmPickCubeExpert(PickCubeExpert):
    """`PickCubeExpert` lifting to the arm's ``sim.lift_z`` (m above the table)."""

    def reset(self):
        super().reset()
        self.LIFT_Z = TABLE_Z + self.env.arm.scene.lift_z


ENTRY = {"Reach": ("roboloop.sim.arm_tasks:ArmReachEnv", 30),
         "PickCube": ("roboloop.sim.arm_tasks:ArmPickCubeEnv", 50),
         "PickCubeVision": ("roboloop.sim.arm_tasks:ArmPickCubeVisionEnv", 50)}


def arm_task_rules(task: str, env_kwargs: dict[str, Any] | None = None):
    """The `roboloop.sim.rules.TaskRules` an arm task's env decides with (its arm's success distance and cube
    size), or None when `task` is no described-arm task id."""
    table = arm_task_table()
    if task not in table:
        return None
    entry, _, kw = table[task]
    opts = dict(env_kwargs or {})
    arm_name = kw.get("fixed_arm") or opts.pop("arm", None)
    if arm_name is None:
        raise ValueError(f"{task} needs the env option arm=<name or YAML path>")
    arm = arm_name if isinstance(arm_name, Arm) else load_arm(str(arm_name))
    family = task.split("-")[-2]
    if family == "Reach":
        opts.setdefault("success_dist", arm.scene.reach_success)
    rules = task_rules(f"roboloop/{family}-v0", opts)
    if isinstance(rules, PickCubeRules):
        rules.cube_rest_z = TABLE_Z + arm.scene.cube_half
    return rules


RESOLVERS.append(arm_task_rules)


def arm_task_table() -> dict[str, tuple[str, int, dict[str, Any]]]:
    """id -> (entry point, max_episode_steps, kwargs) of every described-arm task."""
    table = {}
    for name in shipped_arms():
        for task, (entry, steps) in ENTRY.items():
            table[f"roboloop/{name}-{task}-v0"] = (entry, steps, {"fixed_arm": name})
    for task, (entry, steps) in ENTRY.items():
        table[f"roboloop/arm-{task}-v0"] = (entry, steps, {})
    return table


__all__ = ["ArmReachEnv", "ArmPickCubeEnv", "ArmPickCubeVisionEnv", "ArmPickCubeExpert", "arm_task_table",
           "arm_task_rules"]
