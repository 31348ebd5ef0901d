"""Demonstration datasets: one `.npz` file (numpy, loaded with allow_pickle=False), the format
`roboloop record` writes, `roboloop train --demos FILE` reads, and real-robot recordings reuse.

Format version 1. With E episodes of T_e steps each, N = sum T_e transitions:

    obs.<key>       (N + E, ...)  every observation, episode after episode, each episode's last one
                                  included (an episode of T steps holds T + 1 observations)
    action          (N, A) float32, normalized [-1, 1]: what was sent to the robot (the person's action
                                  on intervened steps)
    reward          (N,) float32
    terminated      (N,) bool      truncated (N,) bool
    intervention    (N,) bool      True where a person was driving
    episode_length  (E,) int64     success (E,) bool
    meta            () str         JSON: {"format": "roboloop-demos", "version": 1, "env_spec": {...}}
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT, VERSION = "roboloop-demos", 1


class DatasetError(ValueError):
    """A demo file that cannot be used; the message names the file and the problem."""


@dataclass
class Episode:
    observations: list[dict[str, np.ndarray]] = field(default_factory=list)  # T + 1
    actions: list[np.ndarray] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    terminated: list[bool] = field(default_factory=list)
    truncated: list[bool] = field(default_factory=list)
    intervention: list[bool] = field(default_factory=list)
    success: bool = False


def save_demos(path: str | Path, episodes: list[Episode], env_spec: dict) -> Path:
    if not episodes or any(len(e.observations) != len(e.actions) + 1 or not e.actions for e in episodes):
        raise DatasetError("every episode needs at least one step and one more observation than actions")
    keys = list(episodes[0].observations[0])
    arrays: dict[str, np.ndarray] = {
        f"obs.{k}": np.stack([o[k] for e in episodes for o in e.observations]) for k in keys}
    arrays.update(
        action=np.stack([a for e in episodes for a in e.actions]).astype(np.float32),
        reward=np.array([r for e in episodes for r in e.rewards], np.float32),
        terminated=np.array([t for e in episodes for t in e.terminated], bool),
        truncated=np.array([t for e in episodes for t in e.truncated], bool),
        intervention=np.array([i for e in episodes for i in e.intervention], bool),
        episode_length=np.array([len(e.actions) for e in episodes], np.int64),
        success=np.array([e.success for e in episodes], bool),
        meta=np.array(json.dumps({"format": FORMAT, "version": VERSION, "env_spec": env_spec})),
    )
    return write_npz(path, arrays)


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """`arrays` as a compressed .npz at `path`, written to a temporary name first: a crash mid-write never
    leaves a half file under the real name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    return path


def read_npz(path: str | Path, what: str, error: type[Exception]) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, meta) of a .npz with a JSON "meta" entry, read without pickle; `error` naming `what` the file
    is when it is missing, unreadable or has no valid meta."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} {path} not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise error(f"{what} {path} is not a readable .npz ({type(e).__name__}: {e})") from None
    try:
        meta = json.loads(str(data.pop("meta")))
    except (KeyError, json.JSONDecodeError):
        raise error(f"{what} {path} has no valid 'meta' entry") from None
    return data, meta


def load_demos(path: str | Path) -> tuple[list[Episode], dict]:
    """(episodes, meta). Raises DatasetError naming what is wrong."""
    data, meta = read_npz(path, "demo file", DatasetError)
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise DatasetError(f"demo file {path}: format {meta.get('format')!r} v{meta.get('version')}, "
                           f"expected {FORMAT!r} v{VERSION}")
    need = {"action", "reward", "terminated", "truncated", "intervention", "episode_length", "success"}
    missing = need - set(data)
    if missing:
        raise DatasetError(f"demo file {path} lacks {', '.join(sorted(missing))}")
    lengths = data["episode_length"]
    n, e = int(lengths.sum()), len(lengths)
    obs_keys = [k[4:] for k in data if k.startswith("obs.")]
    bad = [k for k in need - {"episode_length", "success"} if len(data[k]) != n]
    bad += [f"obs.{k}" for k in obs_keys if len(data[f"obs.{k}"]) != n + e]
    if bad or len(data["success"]) != e or not obs_keys or np.any(lengths < 1):
        raise DatasetError(f"demo file {path}: inconsistent lengths ({', '.join(bad) or 'episode_length/success'})")
    _check_arrays(path, data, meta.get("env_spec"), obs_keys, n)
    episodes, t, o = [], 0, 0
    for i, length in enumerate(lengths):
        steps = slice(t, t + length)
        episodes.append(Episode(
            observations=[{k: data[f"obs.{k}"][o + j] for k in obs_keys} for j in range(length + 1)],
            actions=list(data["action"][steps]), rewards=data["reward"][steps].tolist(),
            terminated=data["terminated"][steps].tolist(), truncated=data["truncated"][steps].tolist(),
            intervention=data["intervention"][steps].tolist(), success=bool(data["success"][i])))
        t, o = t + length, o + length + 1
    return episodes, meta


def _check_arrays(path: Path, data: dict[str, np.ndarray], spec, obs_keys: list[str], n: int) -> None:
    """Arrays against the spec the file declares (which the trainer then checks against the task):
    shapes, dtypes, finite values, actions in the normalized range. Raises DatasetError naming the array."""
    def bad(what: str) -> DatasetError:
        return DatasetError(f"demo file {path}: {what}")

    try:
        obs_spec = {k: (tuple(v["shape"]), np.dtype(v["dtype"])) for k, v in spec["observation"].items()}
        act_dim = int(spec["action"]["shape"][0])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        raise bad("meta.env_spec does not describe the observation and action spaces") from None
    if set(obs_keys) != set(obs_spec):
        raise bad(f"observations {sorted(obs_keys)} do not match its env_spec's {sorted(obs_spec)}")
    for k, (shape, dtype) in obs_spec.items():
        a = data[f"obs.{k}"]
        if a.shape[1:] != shape or a.dtype != dtype:
            raise bad(f"obs.{k} is {a.dtype}{a.shape[1:]} per step, the task's observation is {dtype}{shape}")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise bad(f"obs.{k} holds NaN or infinite values")
    a = data["action"]
    if a.shape != (n, act_dim) or a.dtype.kind != "f":
        raise bad(f"action is {a.dtype}{a.shape}, expected float32{(n, act_dim)}")
    if not np.isfinite(a).all() or np.abs(a).max(initial=0.0) > 1.0 + 1e-6:
        raise bad("action holds values outside the normalized range [-1, 1] (or NaN)")
    r = data["reward"]
    if r.shape != (n,) or r.dtype.kind != "f" or not np.isfinite(r).all():
        raise bad(f"reward must be {n} finite floats, got {r.dtype}{r.shape}")
    for k in ("terminated", "truncated", "intervention", "success"):
        if data[k].dtype != bool or data[k].ndim != 1:
            raise bad(f"{k} must be a 1-d bool array, got {data[k].dtype}{data[k].shape}")


def add_to_buffer(episodes: list[Episode], buffer) -> int:
    """Put every transition into a ReplayBuffer; returns how many."""
    n = 0
    for ep in episodes:
        for j, a in enumerate(ep.actions):
            buffer.add(ep.observations[j], a, ep.rewards[j], ep.observations[j + 1], ep.terminated[j], ep.truncated[j])
            n += 1
    return n
