"""Checkpoints that resume exactly and refuse to load against the wrong task.

Layout of a checkpoint directory:
    meta.json        format/version, config, env spec, counters, numpy/env RNG states, sha256 of the files
    model.pt         networks, target networks, temperature, every optimizer, torch RNG (tensors only;
                     loaded with weights_only=True, so a checkpoint cannot run code)
    replay_<name>.npz  replay buffers (plain arrays, loaded with allow_pickle=False)
A checkpoint is written to a temporary directory and renamed into place, so a crash mid-write never
leaves a half checkpoint under the final name.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "roboloop-checkpoint"
VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt, or of an unknown format."""


class SpecMismatchError(CheckpointError):
    """The checkpoint was trained on a task whose spec differs from the current one."""


def compare_specs(saved: Any, current: Any, where: str = "env_spec") -> list[str]:
    """All differences between two specs as 'field: checkpoint has X, env has Y' lines."""
    if isinstance(saved, dict) and isinstance(current, dict):
        diffs = []
        for k in sorted(set(saved) | set(current)):
            if k not in current:
                diffs.append(f"{where}.{k}: checkpoint has {saved[k]!r}, env has no such field")
            elif k not in saved:
                diffs.append(f"{where}.{k}: env has {current[k]!r}, checkpoint has no such field")
            else:
                diffs += compare_specs(saved[k], current[k], f"{where}.{k}")
        return diffs
    if isinstance(saved, (list, tuple)) and isinstance(current, (list, tuple)):
        if len(saved) == len(current):
            return [d for i, (a, b) in enumerate(zip(saved, current)) for d in compare_specs(a, b, f"{where}[{i}]")]
    if isinstance(saved, float) or isinstance(current, float):
        try:
            if np.isclose(float(saved), float(current), rtol=1e-9, atol=0.0):
                return []
        except (TypeError, ValueError):
            pass
    return [] if saved == current else [f"{where}: checkpoint has {saved!r}, env has {current!r}"]


def check_spec(saved: dict, current: dict) -> None:
    diffs = compare_specs(saved, current)
    if diffs:
        raise SpecMismatchError("checkpoint does not match this task's observation/action spec:\n  "
                                + "\n  ".join(diffs))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Checkpoint:
    meta: dict[str, Any]            # config, env_spec, counters, rng states
    model: dict[str, Any]           # "agent", "optim", "torch_rng"
    replay: dict[str, dict[str, np.ndarray]]
    path: Path


def save_checkpoint(path: str | Path, meta: dict[str, Any], model: dict[str, Any],
                    replay: dict[str, dict[str, np.ndarray]] | None = None) -> Path:
    """Write atomically. meta must be JSON-serializable; model holds tensors and plain containers."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files = {"model.pt": tmp / "model.pt"}
    torch.save(model, files["model.pt"])
    for name, state in (replay or {}).items():
        files[f"replay_{name}.npz"] = tmp / f"replay_{name}.npz"
        np.savez(files[f"replay_{name}.npz"], **state)
    meta = dict(meta, format=FORMAT, version=VERSION,
                files={name: _sha256(p) for name, p in files.items()})
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    old = path.with_name(path.name + ".old")
    if path.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def load_checkpoint(path: str | Path, env_spec: dict | None = None, load_replay: bool = True) -> Checkpoint:
    """Load and verify a checkpoint; with env_spec, refuse one trained on a different spec."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} does not exist (expected a directory with meta.json)")
    meta_path = path / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} has no meta.json; it is incomplete or not a checkpoint") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint file {meta_path} is corrupt (not valid JSON: {e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path} is not a roboloop checkpoint (format={meta.get('format')!r})"
                              if isinstance(meta, dict) else f"{meta_path} is not a roboloop checkpoint")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {meta.get('version')}, "
                              f"this roboloop reads version {VERSION}")
    for name, digest in meta.get("files", {}).items():
        if not name.startswith("replay_") or load_replay:
            fp = path / name
            if not fp.exists():
                raise CheckpointError(f"checkpoint file {fp} is missing")
            if _sha256(fp) != digest:
                raise CheckpointError(f"checkpoint file {fp} is corrupt (sha256 does not match meta.json)")
    if env_spec is not None:
        check_spec(meta["env_spec"], env_spec)
    try:
        model = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"checkpoint file {path / 'model.pt'} could not be read: {e}") from None
    replay = {}
    if load_replay:
        for fp in sorted(path.glob("replay_*.npz")):
            try:
                with np.load(fp, allow_pickle=False) as z:
                    replay[fp.stem[len("replay_"):]] = {k: z[k] for k in z.files}
            except Exception as e:
                raise CheckpointError(f"checkpoint file {fp} could not be read: {e}") from None
    return Checkpoint(meta=meta, model=model, replay=replay, path=path)
