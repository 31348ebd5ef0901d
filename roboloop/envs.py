"""Task names -> Gymnasium envs, and the env spec that checkpoints carry."""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from roboloop.sim.registry import resolve_task, short_name, task_ids  # noqa: F401  (re-exported)


def make_env(task: str, env_kwargs: dict[str, Any] | None = None, wrappers: list | None = None,
             training: bool = True, **extra: Any) -> gym.Env:
    """The task, wrapped with the stack `wrappers` (roboloop.wrappers.stack; training=False leaves out
    the perturbations meant for training only)."""
    from roboloop.wrappers import build_wrappers
    try:
        env = gym.make(resolve_task(task), **(env_kwargs or {}), **extra)
    except TypeError as e:
        raise ValueError(f"bad env option for task {task!r}: {e}") from None
    return build_wrappers(env, wrappers, training=training)


def env_spec(env: gym.Env) -> dict[str, Any]:
    """The task's spec (names, shapes, units, control rate) plus the episode limit; with shaping
    wrappers, the shapes the policy sees and the wrappers' types."""
    from roboloop.wrappers import interface_wrappers
    spec = dict(env.unwrapped.task_spec())
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
