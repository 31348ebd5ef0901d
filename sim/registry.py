"""roboloop's own task ids: registration with Gymnasium and the short names users type.

`resolve_task` maps 'Reach', 'reach', 'roboloop/Reach' or 'roboloop/Reach-v0' to 'roboloop/Reach-v0';
roboloop.envs extends it to any Gymnasium id.
"""
from __future__ import annotations

import gymnasium as gym

# id -> (entry point, max_episode_steps). Limits give the scripted experts ample slack at 10 Hz.
TASKS = {
    "roboloop/Reach-v0": ("roboloop.sim.tasks:ReachEnv", 30),
    "roboloop/PickCube-v0": ("roboloop.sim.tasks:PickCubeEnv", 50),
    "roboloop/PickCubeVision-v0": ("roboloop.sim.tasks:PickCubeVisionEnv", 50),
    "roboloop/PickCubeGap-v0": ("roboloop.sim.tasks:PickCubeGapEnv", 50),
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
