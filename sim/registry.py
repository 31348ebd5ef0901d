"""roboloop's own task ids: registration with Gymnasium and the short names users type.

`resolve_task` maps 'Reach', 'reach', 'roboloop/Reach' or 'roboloop/Reach-v0' to 'roboloop/Reach-v0';
roboloop.envs extends it to any Gymnasium id.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym

# id -> (entry point, max_episode_steps). Limits give the scripted experts ample slack at 10 Hz.
TASKS = {
    "roboloop/Reach-v0": ("roboloop.sim.tasks:ReachEnv", 30),
    "roboloop/PickCube-v0": ("roboloop.sim.tasks:PickCubeEnv", 50),
    "roboloop/PickCubeVision-v0": ("roboloop.sim.tasks:PickCubeVisionEnv", 50),
    "roboloop/PickCubeGap-v0": ("roboloop.sim.tasks:PickCubeGapEnv", 50),
    "roboloop/PickCubeVisionGap-v0": ("roboloop.sim.tasks:PickCubeVisionGapEnv", 50),
    # The quadrotor tasks end their episodes themselves (episode_s), whatever the control rate.
    "roboloop/QuadHover-v0": ("roboloop.sim.quad_tasks:QuadHoverEnv", None),
    "roboloop/QuadTrack-v0": ("roboloop.sim.quad_tasks:QuadTrackEnv", None),
    # A differential-drive base: 300 steps = 30 s at 10 Hz, three times the expert's longest trips.
    "roboloop/base-Nav-v0": ("roboloop.sim.base_tasks:BaseNavEnv", 300),
    # Laps around an island: 600 steps = 60 s, a little more than the slow demonstration lap takes.
    "roboloop/base-Race-v0": ("roboloop.sim.race_task:BaseRaceEnv", 600),
}


def register_tasks() -> None:
    for task_id, (entry, steps) in TASKS.items():
        if task_id not in gym.registry:
            gym.register(id=task_id, entry_point=entry, max_episode_steps=steps)
    # Arms built from their descriptions: roboloop/<arm>-<Task>-v0, and roboloop/arm-<Task>-v0 (arm=...).
    from .arm_tasks import arm_task_table
    for task_id, (entry, steps, kwargs) in arm_task_table().items():
        if task_id not in gym.registry:
            gym.register(id=task_id, entry_point=entry, max_episode_steps=steps, kwargs=kwargs)


def task_ids() -> list[str]:
    """Every registered roboloop/ id."""
    register_tasks()
    return sorted(i for i in gym.registry if i.startswith("roboloop/"))


def short_name(name: str) -> str:
    """'roboloop/Pick_Cube-v0', 'PickCube', 'pick_cube' -> 'pickcube' (the key of presets and lookups)."""
    return name.split("/", 1)[-1].rsplit("-v", 1)[0].lower().replace("_", "")


def resolve_task(name: str) -> str:
    """'Reach', 'reach', 'roboloop/Reach' or 'roboloop/Reach-v0' -> 'roboloop/Reach-v0'."""
    by_short = {short_name(i): i for i in task_ids()}
    if name in by_short.values():
        return name
    if short_name(name) in by_short:
        return by_short[short_name(name)]
    names = sorted(i.split("/", 1)[1].rsplit("-v", 1)[0] for i in by_short.values())
    raise ValueError(f"unknown task {name!r}; available: {', '.join(names)} (run `roboloop tasks`)")


def task_for_robot(task: str, robot: str) -> tuple[str, dict[str, Any]]:
    """(task id, env options) of `task` run on `robot`: a shipped arm's name, an arm YAML path, or "" (the task
    as given). 'PickCube' on 'so101' is ``roboloop/so101-PickCube-v0``; on 'my_arm.yaml' it is
    ``roboloop/arm-PickCube-v0`` with ``arm=<absolute path>``. Reality-gap variants (PickCubeGap,
    PickCubeVisionGap) exist for roboloop's own arm only: on another arm their plain task runs.
    """
    if not robot:
        return task, {}
    from pathlib import Path

    from .arm_tasks import ENTRY
    from .arms import load_arm, shipped_arms
    family = resolve_task(task).split("/", 1)[1].rsplit("-v", 1)[0].rsplit("-", 1)[-1]
    family = {"PickCubeGap": "PickCube", "PickCubeVisionGap": "PickCubeVision"}.get(family, family)
    if family not in ENTRY:
        raise ValueError(f"task {task!r} runs on roboloop's own arm only; on robot {robot!r} the tasks are "
                         f"{', '.join(ENTRY)}")
    path = Path(robot)
    if path.suffix in (".yaml", ".yml"):
        load_arm(str(path))   # a missing or malformed config is named now, not in the env
        return f"roboloop/arm-{family}-v0", {"arm": str(path.resolve())}
    if robot not in shipped_arms():
        raise ValueError(f"unknown robot {robot!r}: shipped arms are {', '.join(shipped_arms())}, or give the path "
                         "of an arm YAML file")
    return f"roboloop/{robot}-{family}-v0", {}
