"""Checkpoints that resume exactly and refuse to load against the wrong task.

Layout of a checkpoint directory:
    meta.json        format/version, config, env spec, counters, numpy/env RNG states, sha256 of the
                     files, a save generation, and a sha256 of meta.json's own content ("checksum"),
                     so an edit anywhere in the checkpoint is caught on load
    model.pt         networks, target networks, temperature, every optimizer, torch RNG (tensors only;
                     loaded with weights_only=True, so a checkpoint cannot run code)
    replay_<name>.npz  replay buffers (plain arrays, loaded with allow_pickle=False)

Crash safety. `save_checkpoint(path)` writes `path.tmp/`, fsyncs every file and the folder, then
moves the previous copy to `path.old/`, renames `path.tmp/` to `path/`, fsyncs the parent folder
after every rename, and only then deletes `path.old/`. A crash at any instant leaves at least one
complete copy among path, path.tmp and path.old; `load_checkpoint(path)` takes the newest complete
one (by generation) and says which in `Checkpoint.path`, and the next save first finishes or
clears what an interrupted one left.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
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


def _meta_digest(meta: dict[str, Any]) -> str:
    body = {k: v for k, v in meta.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def sign_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """meta with its "checksum" set (what save_checkpoint writes; for tools that rewrite meta.json)."""
    return dict(meta, checksum=_meta_digest(meta))


def _reached(point: str) -> None:
    """A named instant of save_checkpoint; a seam where crash tests stop the process."""


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _siblings(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + ".tmp"), path.with_name(path.name + ".old")


def _generation(path: Path) -> int | None:
    """The save generation of a checkpoint folder whose meta.json is intact, else None (cheap: no file hashes)."""
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("checksum") != _meta_digest(meta):
        return None
    return int(meta.get("generation", 0))


def _remove(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
        _fsync_dir(path.parent)


@dataclass
class Checkpoint:
    meta: dict[str, Any]            # config, env_spec, counters, rng states
    model: dict[str, Any]           # "agent", "optim", "torch_rng"
    replay: dict[str, dict[str, np.ndarray]]
    path: Path


def save_checkpoint(path: str | Path, meta: dict[str, Any], model: dict[str, Any],
                    replay: dict[str, dict[str, np.ndarray]] | None = None) -> Path:
    """Write crash-safely (see the module docstring). meta must be JSON-serializable; model holds
    tensors and plain containers. Returns `path`."""
    path = Path(path)
    tmp, old = _siblings(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _finish_interrupted_save(path)
    _reached("start")
    _remove(tmp)
    tmp.mkdir()
    files = {"model.pt": tmp / "model.pt"}
    torch.save(model, files["model.pt"])
    _reached("model written")
    for name, state in (replay or {}).items():
        files[f"replay_{name}.npz"] = tmp / f"replay_{name}.npz"
        np.savez(files[f"replay_{name}.npz"], **state)
    for p in files.values():
        _fsync_file(p)
    _reached("files written")
    generation = max(time.time_ns(), (_generation(path) or 0) + 1)
    meta = sign_meta(dict(meta, format=FORMAT, version=VERSION, generation=generation,
                          files={name: _sha256(p) for name, p in files.items()}))
    with open(tmp / "meta.json", "w") as f:
        f.write(json.dumps(meta, indent=1))
        f.flush()
        os.fsync(f.fileno())
    _fsync_dir(tmp)
    _reached("tmp complete")
    if path.exists():
        _remove(old)
        _reached("old cleared")
        os.replace(path, old)
        _fsync_dir(path.parent)
        _reached("between renames")
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    _reached("renamed")
    _remove(old)
    _reached("done")
    return path


def _finish_interrupted_save(path: Path) -> None:
    """Put the newest complete copy that an interrupted save left under `path`, and clear the rest."""
    tmp, old = _siblings(path)
    if not (tmp.exists() or old.exists()):
        return
    newest = find_checkpoint(path)
    if newest is not None and newest != path:
        if path.exists():
            _remove(path)
        os.replace(newest, path)
        _fsync_dir(path.parent)
    for p in (tmp, old):
        _remove(p)


def _verify(path: Path, load_replay: bool) -> dict[str, Any]:
    """meta.json of a complete, unmodified checkpoint folder, or CheckpointError naming what is wrong."""
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
    if meta.get("checksum") != _meta_digest(meta):
        raise CheckpointError(f"checkpoint file {meta_path} is corrupt or was edited (its checksum does not match "
                              f"its content)")
    files = meta.get("files")
    if not isinstance(files, dict) or "model.pt" not in files:
        raise CheckpointError(f"{meta_path} lists no model.pt")
    for name, digest in files.items():
        if not name.startswith("replay_") or load_replay:
            fp = path / name
            if not fp.exists():
                raise CheckpointError(f"checkpoint file {fp} is missing")
            if _sha256(fp) != digest:
                raise CheckpointError(f"checkpoint file {fp} is corrupt (sha256 does not match meta.json)")
    return meta


def find_checkpoint(path: str | Path) -> Path | None:
    """The newest complete checkpoint among `path` and what an interrupted save leaves beside it
    (`path.tmp`, `path.old`), or None if there is none."""
    path = Path(path)
    candidates = [(g, p) for p in (path, *_siblings(path)) if p.is_dir() and (g := _generation(p)) is not None]
    for _, p in sorted(candidates, key=lambda c: c[0], reverse=True):
        try:
            _verify(p, load_replay=True)
        except CheckpointError:
            continue
        return p
    return None


def load_checkpoint(path: str | Path, env_spec: dict | None = None, load_replay: bool = True) -> Checkpoint:
    """Load and verify a checkpoint; with env_spec, refuse one trained on a different spec."""
    path = Path(path)
    tmp, old = _siblings(path)
    if tmp.is_dir() or old.is_dir():   # a save was interrupted: take the newest complete copy it left
        found = find_checkpoint(path)
        if found is not None:
            path = found
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} does not exist (expected a directory with meta.json)")
    meta = _verify(path, load_replay)
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
