"""Transition batches: what an actor sends every N steps or T ms, and what the store keeps.

A batch of N consecutive steps of one actor carries every observation once:

    obs/<key>        (N, ...)   observation before step i
    action           (N, A)     float32 in [-1, 1]
    reward           (N,)       float32
    terminated       (N,)       bool
    truncated        (N,)       bool
    final_idx        (M,)       int32, the steps whose next observation is not obs[i + 1]
                                (episode ends, and always the last step of the batch)
    final_obs/<key>  (M, ...)   their next observations
    intervened       (N,)       bool, optional: a person drove this step (the learner also puts these
                                steps in its demo buffer, as in-process training with --teleop does)

so images cost one frame per step on the wire, as in the replay buffer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from roboloop.policies.replay import ReplayBuffer
from roboloop.policies.training import Layout  # noqa: F401  (the transport checks batches against it)
from roboloop.policies.transport.wire import Message, WireError


@dataclass
class Step:
    obs: Mapping[str, np.ndarray]
    action: np.ndarray
    reward: float
    next_obs: Mapping[str, np.ndarray]
    terminated: bool
    truncated: bool
    intervened: bool = False


def pack_batch(steps: list[Step], meta: dict[str, Any]) -> Message:
    """Consecutive steps of one actor -> a 'transitions' message (meta: actor, seq, episodes, ...)."""
    n = len(steps)
    final = [i for i, s in enumerate(steps) if s.terminated or s.truncated or i == n - 1]
    keys = list(steps[0].obs)
    arrays: dict[str, np.ndarray] = {f"obs/{k}": np.stack([s.obs[k] for s in steps]) for k in keys}
    arrays["action"] = np.stack([s.action for s in steps]).astype(np.float32)
    arrays["reward"] = np.array([s.reward for s in steps], dtype=np.float32)
    arrays["terminated"] = np.array([s.terminated for s in steps], dtype=bool)
    arrays["truncated"] = np.array([s.truncated for s in steps], dtype=bool)
    arrays["final_idx"] = np.array(final, dtype=np.int32)
    if any(s.intervened for s in steps):
        arrays["intervened"] = np.array([s.intervened for s in steps], dtype=bool)
    arrays.update({f"final_obs/{k}": np.stack([steps[i].next_obs[k] for i in final]) for k in keys})
    return Message("transitions", meta, arrays)


def check_batch(msg: Message, layout: Layout, max_steps: int = 100_000) -> int:
    """Validate a 'transitions' message against the task layout; returns N or raises WireError."""
    a, meta = msg.arrays, msg.meta
    if not isinstance(meta.get("actor"), str) or not isinstance(meta.get("seq"), int) or meta["seq"] < 0:
        raise WireError("transitions need meta.actor (str) and meta.seq (int >= 0)")
    expected = {"action", "reward", "terminated", "truncated", "final_idx",
                *(f"obs/{k}" for k in layout.shapes), *(f"final_obs/{k}" for k in layout.shapes)}
    if set(a) - {"intervened"} != expected:
        raise WireError(f"transitions arrays {sorted(a)} do not match this task's {sorted(expected)}"
                        f" (+ optional intervened)")
    if a["reward"].ndim != 1:
        raise WireError(f"reward: got shape {a['reward'].shape}, expected one value per step (N,)")
    n = len(a["reward"])
    if not 1 <= n <= max_steps:
        raise WireError(f"batch of {n} steps (allowed 1..{max_steps})")
    fixed = {"action": ((n, layout.act_dim), np.float32), "reward": ((n,), np.float32),
             "terminated": ((n,), np.bool_), "truncated": ((n,), np.bool_),
             **({"intervened": ((n,), np.bool_)} if "intervened" in a else {})}
    for name, (shape, dtype) in fixed.items():
        if a[name].shape != shape or a[name].dtype != dtype:
            raise WireError(f"{name}: got {a[name].dtype}{a[name].shape}, expected {np.dtype(dtype)}{shape}")
    idx = a["final_idx"]
    if idx.dtype != np.int32 or idx.ndim != 1 or len(idx) == 0 or idx[-1] != n - 1 \
            or np.any(np.diff(idx) <= 0) or idx[0] < 0:
        raise WireError("final_idx must be increasing int32 step indices ending at the last step")
    done = np.flatnonzero(a["terminated"] | a["truncated"])
    if not np.isin(done, idx).all():
        raise WireError("every episode end must be listed in final_idx")
    for k, shape in layout.shapes.items():
        for prefix, rows in (("obs", n), ("final_obs", len(idx))):
            arr = a[f"{prefix}/{k}"]
            if arr.shape != (rows, *shape) or arr.dtype != layout.dtypes[k]:
                raise WireError(f"{prefix}/{k}: got {arr.dtype}{arr.shape}, "
                                f"expected {np.dtype(layout.dtypes[k])}{(rows, *shape)}")
    for name in ("action", "reward", *(f"{p}/{k}" for p in ("obs", "final_obs") for k in layout.shapes
                                       if a[f"{p}/{k}"].dtype.kind == "f")):
        if not np.isfinite(a[name]).all():
            raise WireError(f"{name} holds NaN or infinite values")
    if np.abs(a["action"]).max() > 1.0 + 1e-5:
        raise WireError("action outside the normalized range [-1, 1]")
    return n


def add_to_replay(buffer: ReplayBuffer, msg: Message, demo: ReplayBuffer | None = None) -> int:
    """Add a checked batch to the replay buffer (and its intervened steps to `demo` too); returns the
    number of transitions added.

    The chain of stored observations is cut at the end of every batch (passed as `truncated` to the
    buffer, which only moves its write pointer): batches of different actors interleave in the buffer.
    """
    a = msg.arrays
    keys = [k[len("obs/"):] for k in a if k.startswith("obs/")]
    finals = {int(i): j for j, i in enumerate(a["final_idx"])}
    n = len(a["reward"])
    for i in range(n):
        obs = {k: a[f"obs/{k}"][i] for k in keys}
        j = finals.get(i)
        nxt = {k: a[f"final_obs/{k}"][j] for k in keys} if j is not None else {k: a[f"obs/{k}"][i + 1] for k in keys}
        args = (obs, a["action"][i], float(a["reward"][i]), nxt, bool(a["terminated"][i]),
                bool(a["truncated"][i]) or j is not None)
        buffer.add(*args)
        if demo is not None and "intervened" in a and a["intervened"][i]:
            # the demo buffer's chain of observations is cut where the person lets go
            demo.add(*args[:-1], args[-1] or i == n - 1 or not a["intervened"][i + 1])
    return n
