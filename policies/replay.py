"""Replay buffers for dict observations.

Every observation (images included) is stored once: transition i reads its next observation from slot
i+1. At an episode end the final next observation is written into the following slot, which is then
marked as "not a transition start" and skipped by sampling. Memory is one frame per step, not two.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import torch


class ReplayBuffer:
    """Ring buffer of (obs, action, reward, next_obs, terminated) with dict observations.

    obs_shapes: {"state": (D,), "front": (H, W, 3), ...}; obs_dtypes: numpy dtypes per key.
    Storage is allocated lazily by the OS (np.zeros), so a large image capacity costs only what is used.
    encode: {key: f} turns an incoming observation of that key into what is stored, whenever its shape is
    not the stored one (a frozen image encoder's features instead of the frame, see policies/encoders.py).
    """

    def __init__(self, obs_shapes: Mapping[str, tuple[int, ...]], obs_dtypes: Mapping[str, np.dtype],
                 act_dim: int, capacity: int, encode: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None):
        if capacity < 2:
            raise ValueError(f"replay capacity must be >= 2, got {capacity}")
        self.capacity = int(capacity)
        self.encode = dict(encode or {})
        self.obs = {k: np.zeros((capacity, *shape), dtype=obs_dtypes[k]) for k, shape in obs_shapes.items()}
        self.action = np.zeros((capacity, act_dim), dtype=np.float32)
        self.reward = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.is_start = np.zeros(capacity, dtype=bool)  # slot i holds a transition whose next obs is slot i+1
        self.ptr = 0            # next slot to write
        self.filled = 0         # slots written so far (saturates at capacity)
        self.num_added = 0      # transitions ever added
        self._chained = False   # the next add() would continue the last transition's episode

    def __len__(self) -> int:
        return int(self.is_start[: self.filled].sum())

    def _write_obs(self, slot: int, obs: Mapping[str, np.ndarray]) -> None:
        for k, arr in self.obs.items():
            value = obs[k]
            if k in self.encode and np.shape(value) != arr.shape[1:]:
                value = self.encode[k](value)
            arr[slot] = value

    def add(self, obs: Mapping[str, np.ndarray], action: np.ndarray, reward: float,
            next_obs: Mapping[str, np.ndarray], terminated: bool, truncated: bool) -> None:
        """Add one transition. Consecutive calls within an episode must chain (obs == previous next_obs)."""
        i, j = self.ptr, (self.ptr + 1) % self.capacity
        self._write_obs(i, obs)
        self.action[i] = action
        self.reward[i] = reward
        self.terminated[i] = float(terminated)
        self.is_start[i] = True
        # next_obs is written eagerly so transition i is complete now; the next add() in the same
        # episode overwrites slot j with the same observation and turns it into a transition start.
        self._write_obs(j, next_obs)
        self.is_start[j] = False
        self.num_added += 1
        step = 2 if (terminated or truncated) else 1
        self.filled = min(self.capacity, max(self.filled, i + 2))  # slots i and j are written
        self.ptr = (i + step) % self.capacity
        self._chained = step == 1

    def cut(self) -> None:
        """End the current chain: the next add() does not continue the last one (e.g. the steps a person
        drove, stored apart when they let go mid-episode). Keeps the last transition's next observation."""
        if self._chained:
            self.ptr = (self.ptr + 1) % self.capacity
            self._chained = False

    def sample_indices(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """batch_size indices of valid transitions, uniformly, with replacement."""
        if self.num_added == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        out = np.empty(0, dtype=np.int64)
        while out.size < batch_size:
            idx = rng.integers(0, self.filled, size=batch_size + batch_size // 4 + 8)
            out = np.concatenate([out, idx[self.is_start[idx]]])
        return out[:batch_size]

    def gather(self, idx: np.ndarray) -> dict:
        """Transitions at idx as numpy arrays: obs/next_obs dicts of (B, ...), action (B, A), reward, terminated."""
        nxt = (idx + 1) % self.capacity
        return {
            "obs": {k: v[idx] for k, v in self.obs.items()},
            "next_obs": {k: v[nxt] for k, v in self.obs.items()},
            "action": self.action[idx], "reward": self.reward[idx], "terminated": self.terminated[idx],
        }

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict:
        return self.gather(self.sample_indices(batch_size, rng))

    # ------------------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, np.ndarray]:
        """Only the written part, as plain arrays (saved with np.savez, no pickle)."""
        n = self.filled
        state = {f"obs/{k}": v[:n] for k, v in self.obs.items()}
        state.update({"action": self.action[:n], "reward": self.reward[:n], "terminated": self.terminated[:n],
                      "is_start": self.is_start[:n],
                      "counters": np.array([self.ptr, self.filled, self.num_added, self.capacity], dtype=np.int64)})
        return state

    def extend_from_state(self, state: Mapping[str, np.ndarray]) -> int:
        """Append the transitions of another buffer's `state_dict()` (any capacity), oldest first, keeping
        its episodes chained; returns how many were added. For starting one run from another's data."""
        ptr, filled, _, capacity = (int(x) for x in state["counters"])
        missing = [k for k in self.obs if f"obs/{k}" not in state]
        if missing:
            raise ValueError(f"saved replay buffer has no observation key(s) {missing}")
        order = np.r_[ptr:filled, 0:ptr] if filled == capacity else np.arange(filled)
        is_start, obs = state["is_start"], {k: state[f"obs/{k}"] for k in self.obs}
        added = 0
        for pos, i in enumerate(order):
            if not is_start[i]:
                continue
            j = (i + 1) % capacity
            chained = pos + 1 < len(order) and order[pos + 1] == j and bool(is_start[j])
            terminated = bool(state["terminated"][i])
            self.add({k: v[i] for k, v in obs.items()}, state["action"][i], float(state["reward"][i]),
                     {k: v[j] for k, v in obs.items()}, terminated, truncated=not chained and not terminated)
            added += 1
        return added

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        ptr, filled, num_added, capacity = (int(x) for x in state["counters"])
        if capacity != self.capacity:
            raise ValueError(f"replay capacity mismatch: saved {capacity}, configured {self.capacity}")
        for k, v in self.obs.items():
            key = f"obs/{k}"
            if key not in state:
                raise ValueError(f"saved replay buffer has no observation key {k!r}")
            if state[key].shape[1:] != v.shape[1:]:
                raise ValueError(f"replay observation {k!r} shape mismatch: saved {state[key].shape[1:]}, "
                                 f"expected {v.shape[1:]}")
            v[:filled] = state[key]
        self.action[:filled] = state["action"]
        self.reward[:filled] = state["reward"]
        self.terminated[:filled] = state["terminated"]
        self.is_start[:filled] = state["is_start"]
        self.ptr, self.filled, self.num_added = ptr, filled, num_added
        self._chained = False


def to_torch(batch: dict) -> dict:
    """Numpy batch -> torch tensors without copies (uint8 images stay uint8)."""
    return {k: ({kk: torch.from_numpy(vv) for kk, vv in v.items()} if isinstance(v, dict) else torch.from_numpy(v))
            for k, v in batch.items()}


def sample_rlpd(online, demo, batch_size: int, rng) -> dict:
    """A numpy batch: RLPD's symmetric sampling, half from `online` and half from `demo` (all from
    `online` when `demo` is None or empty). Its "demo" entry (B,) float32 is 1 on the rows from `demo`."""
    if demo is None or demo.num_added == 0:
        batch = online.sample(batch_size, rng)
        batch["demo"] = np.zeros(batch_size, np.float32)
        return batch
    n_demo = batch_size // 2
    batch = concat_batches(online.sample(batch_size - n_demo, rng), demo.sample(n_demo, rng))
    batch["demo"] = np.concatenate([np.zeros(batch_size - n_demo, np.float32), np.ones(n_demo, np.float32)])
    return batch


def concat_batches(a: dict, b: dict) -> dict:
    """Concatenate two numpy batches along the batch axis (RLPD: half online, half demo)."""
    return {k: ({kk: np.concatenate([v[kk], b[k][kk]]) for kk in v} if isinstance(v, dict)
                else np.concatenate([v, b[k]]))
            for k, v in a.items()}
