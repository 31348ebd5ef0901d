"""Any Gymnasium env behind roboloop's env contract, and the success rule an episode is judged by.

roboloop's own tasks already speak the contract: observation `Dict(state=Box(float32), <camera>=
Box(uint8, HxWx3) ...)`, action `Box(-1, 1)`, a `task_spec()` and `info["is_success"]`. `GymAdapter`
gives the same to an env from any other package:

- observation: every image leaf (a `uint8` Box of shape HxWx3) becomes a camera key under its own name
  (`pixels` for a bare image space); every other leaf (Box, Discrete, MultiBinary, ...) is flattened into
  `state` (float32), in the space's key order;
- action: a bounded Box, any shape, becomes `Box(-1, 1, (n,), float32)`; -1/+1 map to the env's
  low/high per dimension. Unbounded, discrete and composite action spaces are refused (SAC needs a
  continuous, bounded action);
- spec: names (`<key>[i]`), shapes and the env's own bounds; units are unknown; the control rate comes
  from the env's `dt` or, failing that, its `render_fps`.

`EpisodeSuccess` writes `info["is_success"]` from the configured rule: an info key the env reports
(`is_success`, `success`, `succeed`, ...) or a minimum episode return for envs with no success signal.
"""
from __future__ import annotations

import importlib
import math
import warnings
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


@dataclass
class SuccessRule:
    """What counts as a successful episode: an info key the env reports, or (set instead) a minimum return."""

    key: str = "is_success"              # info key the env sets at the episode's end (is_success, success, succeed, ...)
    min_return: float | None = None      # or: an episode succeeds when its summed reward reaches this

    @property
    def is_default(self) -> bool:
        return self.key == "is_success" and self.min_return is None


def _is_image(space: gym.Space) -> bool:
    return (isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3
            and space.shape[-1] == 3)


def _leaves(space: gym.Space, prefix: str) -> list[tuple[str, tuple, gym.Space]]:
    """(name, path of keys, space) for every leaf of a (nested) Dict/Tuple space, in the space's order."""
    if isinstance(space, spaces.Dict):
        return [leaf for k, s in space.spaces.items()
                for leaf in ((n, (k, *p), sp) for n, p, sp in _leaves(s, f"{prefix}.{k}" if prefix else str(k)))]
    if isinstance(space, spaces.Tuple):
        return [leaf for i, s in enumerate(space.spaces)
                for leaf in ((n, (i, *p), sp) for n, p, sp in _leaves(s, f"{prefix}.{i}" if prefix else str(i)))]
    return [(prefix, (), space)]


def _get(obs: Any, path: tuple) -> Any:
    for k in path:
        obs = obs[k]
    return obs


def _bounds(values: np.ndarray) -> list[float | None]:
    """float bounds for JSON (an infinite bound is None)."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, np.float64).ravel()]


def check_action_space(space: gym.Space) -> None:
    """Raise a ValueError saying why `space` cannot be mapped to Box(-1, 1)."""
    if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)):
        raise ValueError(f"discrete action space {space} is not supported: roboloop's SAC needs a continuous "
                         "Box action (wrap the env to a Box action, or use a continuous variant of the task)")
    if not isinstance(space, spaces.Box):
        raise ValueError(f"action space {space} is not supported: roboloop needs a single continuous Box action")
    if not np.issubdtype(space.dtype, np.floating):
        raise ValueError(f"action space {space} has integer dtype {space.dtype}; roboloop needs a float Box")
    unbounded = [i for i, (lo, hi) in enumerate(zip(space.low.ravel(), space.high.ravel()))
                 if not (np.isfinite(lo) and np.isfinite(hi))]
    if unbounded:
        raise ValueError(f"action space {space} is unbounded in dimension(s) {unbounded}; roboloop rescales "
                         "actions to [-1, 1] and needs a finite low and high for every dimension "
                         "(wrap the env with gymnasium.wrappers.ClipAction over a bounded Box first)")
    if np.any(space.high <= space.low):
        raise ValueError(f"action space {space} has high <= low in some dimension; nothing to rescale")


class GymAdapter(gym.Wrapper):
    """An env from any package, seen through roboloop's observation/action layout and spec.

    `task_id` is what the spec calls the task (the Gymnasium id or the `module:Class` entry point).
    """

    def __init__(self, env: gym.Env, task_id: str):
        super().__init__(env)
        self.task_id = task_id
        check_action_space(env.action_space)
        src_act = env.action_space
        self._act_shape, self._act_dtype = src_act.shape, src_act.dtype
        self._low = src_act.low.astype(np.float64).ravel()
        self._high = src_act.high.astype(np.float64).ravel()
        n = int(np.prod(src_act.shape))
        self.action_space = spaces.Box(-1.0, 1.0, (n,), np.float32)

        leaves = _leaves(env.observation_space, "")
        self._cams = [(name or "pixels", path) for name, path, s in leaves if _is_image(s)]
        self._state = [(name or "obs", path, s) for name, path, s in leaves if not _is_image(s)]
        if not self._state:
            raise ValueError(f"observation space {env.observation_space} has only images; roboloop's policies "
                             "need a state vector next to them (add proprioception to the env's observation)")
        for name, _, s in self._state:
            if not isinstance(s, (spaces.Box, spaces.Discrete, spaces.MultiBinary, spaces.MultiDiscrete)):
                raise ValueError(f"observation part {name!r} has space {s}, which has no flat vector form")
        taken = [name for name, _ in self._cams]
        if "state" in taken or len(set(taken)) != len(taken):
            raise ValueError(f"camera names {taken} collide with each other or with 'state'")
        names: list[str] = []
        lows: list[np.ndarray] = []
        highs: list[np.ndarray] = []
        for name, _, s in self._state:
            flat = spaces.flatten_space(s)
            names += [f"{name}[{i}]" for i in range(flat.shape[0])]
            lows.append(flat.low.astype(np.float32))
            highs.append(flat.high.astype(np.float32))
        self._state_names = names
        obs_spaces = {"state": spaces.Box(np.concatenate(lows), np.concatenate(highs), (len(names),), np.float32)}
        for name, path in self._cams:
            obs_spaces[name] = _get(env.observation_space, path)
        self.observation_space = spaces.Dict(obs_spaces)

    # ---------------------------------------------------------------------------- mapping
    def to_env_action(self, action: np.ndarray) -> np.ndarray:
        """Normalized action (n,) in [-1, 1] -> the env's action (its shape and dtype)."""
        a = np.clip(np.asarray(action, np.float64).ravel(), -1.0, 1.0)
        if a.shape[0] != self._low.shape[0]:
            raise ValueError(f"action has {a.shape[0]} values, the env's action space needs {self._low.shape[0]}")
        env_a = self._low + (a + 1.0) * 0.5 * (self._high - self._low)
        return np.clip(env_a, self._low, self._high).reshape(self._act_shape).astype(self._act_dtype)

    def to_normalized(self, env_action: np.ndarray) -> np.ndarray:
        """The env's action -> the normalized (n,) float32 action in [-1, 1] (inverse of to_env_action)."""
        a = np.asarray(env_action, np.float64).ravel()
        return np.clip(2.0 * (a - self._low) / (self._high - self._low) - 1.0, -1.0, 1.0).astype(np.float32)

    def observation(self, obs: Any) -> dict[str, np.ndarray]:
        parts = [spaces.flatten(s, _get(obs, path)).astype(np.float32) for _, path, s in self._state]
        out = {"state": np.concatenate(parts)}
        for name, path in self._cams:
            out[name] = np.asarray(_get(obs, path), np.uint8)
        return out

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return self.observation(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(self.to_env_action(action))
        return self.observation(obs), float(reward), bool(terminated), bool(truncated), info

    # ------------------------------------------------------------------------------- spec
    def control_hz(self) -> float | None:
        """1/dt where the env has a dt (MuJoCo and classic-control envs), else its metadata's render_fps."""
        dt = getattr(self.env.unwrapped, "dt", None)
        if isinstance(dt, (int, float)) and dt > 0:
            return round(1.0 / float(dt), 9)
        fps = (self.env.metadata or {}).get("render_fps")
        return float(fps) if isinstance(fps, (int, float)) and fps > 0 else None

    def task_spec(self) -> dict[str, Any]:
        """JSON-serializable interface spec, derived from the spaces (the env has no task_spec of its own)."""
        n_state = len(self._state_names)
        observation: dict[str, Any] = {"state": {
            "shape": [n_state], "dtype": "float32", "names": list(self._state_names), "units": ["unknown"] * n_state,
            "sources": [{"key": name, "space": type(s).__name__, "shape": list(s.shape or ()),
                         "dtype": str(s.dtype)} for name, _, s in self._state]}}
        for name, _ in self._cams:
            observation[name] = {"shape": list(self.observation_space[name].shape), "dtype": "uint8", "camera": name}
        n = self.action_space.shape[0]
        action = {"shape": [n], "dtype": "float32", "names": [f"action[{i}]" for i in range(n)],
                  "units": ["unknown"] * n, "low": -1.0, "high": 1.0,
                  "env_shape": list(self._act_shape), "env_dtype": str(np.dtype(self._act_dtype)),
                  "env_low": _bounds(self._low), "env_high": _bounds(self._high)}
        return {"task": self.task_id, "control_hz": self.control_hz(), "adapter": "gym",
                "observation": observation, "action": action}


class EpisodeSuccess(gym.Wrapper):
    """Writes `info["is_success"]` on every step from a `SuccessRule`: the rule's info key as a bool, or
    (with `min_return`) whether the episode's summed reward has reached it, judged at the episode's end."""

    def __init__(self, env: gym.Env, rule: SuccessRule):
        super().__init__(env)
        if rule.min_return is not None and rule.key != "is_success":
            raise ValueError(f"success rule sets both key={rule.key!r} and min_return={rule.min_return}; "
                             "set one (success.key for an info key, success.min_return for a return threshold)")
        if rule.min_return is not None and not math.isfinite(rule.min_return):
            raise ValueError(f"success.min_return must be a finite number, got {rule.min_return}")
        if not rule.key:
            raise ValueError("success.key must name an info key (e.g. is_success, success, succeed)")
        self.rule = rule
        self._return = 0.0
        self._seen_key = False
        self._warned = False

    def reset(self, **kwargs):
        self._return = 0.0
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._return += float(reward)
        info = dict(info)
        if self.rule.min_return is not None:
            info["is_success"] = bool((terminated or truncated) and self._return >= self.rule.min_return)
        else:
            self._seen_key |= self.rule.key in info
            info["is_success"] = bool(info.get(self.rule.key, False))
            if (terminated or truncated) and not self._seen_key and not self._warned:
                self._warned = True
                warnings.warn(f"{self.env.spec.id if self.env.spec else type(self.env.unwrapped).__name__} "
                              f"reported no info[{self.rule.key!r}] in a whole episode, so no episode counts as "
                              "a success; set success.key to the env's success key or success.min_return "
                              "to a return threshold", stacklevel=2)
        return obs, reward, terminated, truncated, info


def make_gym_env(name: str, **kwargs: Any) -> gym.Env:
    """`gym.make` for a registered id (`Pendulum-v1`, `namespace/Id-v0`, `module:Id-v0` importing the
    package that registers it) or a `module:Class` entry point (any gymnasium.Env subclass)."""
    if ":" in name:
        module, attr = name.split(":", 1)
        try:
            mod = importlib.import_module(module)
        except ImportError as e:
            raise ValueError(f"task {name!r}: cannot import module {module!r} ({e})") from None
        cls = getattr(mod, attr, None)
        if isinstance(cls, type):
            if not issubclass(cls, gym.Env):
                raise ValueError(f"task {name!r}: {attr} is not a gymnasium.Env subclass")
            return gym.make(gym.envs.registration.EnvSpec(id=attr, entry_point=name), **kwargs)
        if attr not in gym.registry:
            raise ValueError(f"task {name!r}: module {module!r} has no class {attr!r} and registers no "
                             f"Gymnasium id {attr!r}")
        return gym.make(attr, **kwargs)
    return gym.make(name, **kwargs)
