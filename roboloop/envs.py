"""Task names -> Gymnasium envs, and the env spec that checkpoints carry.

roboloop's own tasks come first ('Reach', 'roboloop/PickCube-v0', ...); any other registered Gymnasium id
(`Pendulum-v1`, `InvertedPendulum-v5`, `module:Id-v0`) or a `module:Class` entry point is made with
Gymnasium and put behind `GymAdapter` (roboloop/gym_adapter.py), which maps it to the same contract.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from roboloop.gym_adapter import EpisodeSuccess, GymAdapter, SuccessRule, make_gym_env
from roboloop.sim.registry import short_name, task_ids  # noqa: F401  (re-exported)
from roboloop.sim.registry import resolve_task as resolve_own_task


def resolve_task(name: str) -> str:
    """A roboloop task in any spelling -> its id ('reach' -> 'roboloop/Reach-v0'); an exact Gymnasium id
    or an entry point (anything with ':') is returned as given. Unknown names are a ValueError that lists
    roboloop's tasks and Gymnasium's nearest id."""
    if name in gym.registry and not name.startswith("roboloop/"):
        return name
    namespace = name.split("/", 1)[0] if "/" in name else None
    try:
        if namespace not in (None, "roboloop"):   # another package's namespace: never one of ours
            raise ValueError(f"unknown task {name!r}")
        return resolve_own_task(name)
    except ValueError as own_error:
        if ":" in name:
            return name
        try:
            gym.spec(name)   # raises with Gymnasium's own hint (a close id, a missing version or package)
        except gym.error.Error as e:
            raise ValueError(f"{own_error}; nor is it a Gymnasium id ({e})") from None
        return name


def make_env(task: str, env_kwargs: dict[str, Any] | None = None, wrappers: list | None = None,
             training: bool = True, success: SuccessRule | None = None, **extra: Any) -> gym.Env:
    """The task, wrapped with the stack `wrappers` (roboloop.wrappers.stack; training=False leaves out
    the perturbations meant for training only). An env without a `task_spec()` (any other package's)
    is adapted to roboloop's spaces; `success` (default: info['is_success']) decides what
    `info['is_success']` reports."""
    from roboloop.wrappers import build_wrappers
    task_id = resolve_task(task)
    kwargs = {**(env_kwargs or {}), **extra}
    try:
        env = gym.make(task_id, **kwargs) if task_id.startswith("roboloop/") else make_gym_env(task_id, **kwargs)
    except TypeError as e:
        raise ValueError(f"bad env option for task {task!r}: {e}") from None
    rule = success or SuccessRule()
    if not hasattr(env.unwrapped, "task_spec"):
        try:
            env = GymAdapter(env, task_id)
        except ValueError as e:
            env.close()
            raise ValueError(f"task {task!r}: {e}") from None
        env = EpisodeSuccess(env, rule)
    elif not rule.is_default:
        env = EpisodeSuccess(env, rule)
    return build_wrappers(env, wrappers, training=training)


def env_spec(env: gym.Env) -> dict[str, Any]:
    """The task's spec (names, shapes, units, control rate) plus the episode limit; with shaping
    wrappers, the shapes the policy sees and the wrappers' types."""
    from roboloop.wrappers import interface_wrappers
    try:
        task_spec = env.get_wrapper_attr("task_spec")
    except AttributeError:
        raise ValueError(f"{env} has no task_spec(); make it with roboloop.envs.make_env, which adapts "
                         "envs from other packages") from None
    spec = dict(task_spec())
    spec["max_episode_steps"] = env.spec.max_episode_steps if env.spec else None
    shaping = interface_wrappers(env)
    if shaping:
        spec["wrappers"] = shaping
        spec["observation"] = {k: {**v, "shape": list(env.observation_space[k].shape)}
                               for k, v in spec["observation"].items()}
    return spec


def obs_layout(env: gym.Env) -> tuple[dict[str, tuple[int, ...]], dict[str, np.dtype], int]:
    """(shapes, dtypes) of each observation key and the action dimension."""
    space = env.observation_space
    if not isinstance(space, gym.spaces.Dict) or "state" not in space.spaces:
        raise ValueError(f"roboloop envs need a Dict observation with a 'state' key, got {space}")
    shapes = {k: tuple(s.shape) for k, s in space.spaces.items()}
    dtypes = {k: s.dtype for k, s in space.spaces.items()}
    act = env.action_space
    if not isinstance(act, gym.spaces.Box) or not (np.all(act.low == -1) and np.all(act.high == 1)):
        raise ValueError(f"roboloop envs need a normalized Box(-1, 1) action space, got {act}")
    return shapes, dtypes, int(act.shape[0])
