"""A crash at any instant of saving leaves a checkpoint that loads: the newest complete one. Crashes are
injected at every named instant of save_checkpoint (including between its two renames), and real
SIGKILLs hit a saving process at random times."""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import roboloop.checkpoint as checkpoint
from roboloop.checkpoint import CheckpointError, find_checkpoint, load_checkpoint, save_checkpoint, sign_meta

POINTS = ["start", "model written", "files written", "tmp complete", "old cleared", "between renames", "renamed",
          "done"]
NEW_IS_COMPLETE = {"tmp complete", "old cleared", "between renames", "renamed", "done"}


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs."""


def save(path, n: int, size: int = 1_000):
    model = {"agent": {"w": torch.full((size,), float(n))}}
    replay = {"online": {"x": np.full(size, n, np.float32)}}
    return save_checkpoint(path, {"counters": {"n": n}}, model, replay)


def loaded_n(path) -> int:
    ckpt = load_checkpoint(path)
    n = ckpt.meta["counters"]["n"]
    assert float(ckpt.model["agent"]["w"][0]) == n and ckpt.replay["online"]["x"][0] == n   # one consistent copy
    return n


@pytest.mark.parametrize("first, point", [(True, p) for p in POINTS if p not in ("old cleared", "between renames")]
                         + [(False, p) for p in POINTS])   # a first save has no previous copy to move aside
def test_a_crash_at_any_instant_of_saving_leaves_the_newest_complete_checkpoint(tmp_path, monkeypatch, point, first):
    path = tmp_path / "checkpoint"
    if not first:
        save(path, 1)

    def crash_at(p):
        if p == point:
            raise Crash(p)
    monkeypatch.setattr(checkpoint, "_reached", crash_at)
    with pytest.raises(Crash):
        save(path, 2)
    monkeypatch.undo()

    if point in NEW_IS_COMPLETE:
        assert loaded_n(path) == 2
    elif first:
        assert find_checkpoint(path) is None
        with pytest.raises(CheckpointError):
            load_checkpoint(path)
    else:
        assert loaded_n(path) == 1
    save(path, 3)   # the next save finishes or clears what the crash left
    assert loaded_n(path) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_crashes_in_a_row_between_renames_keep_the_newest(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint"
    save(path, 1)
    for n in (2, 3, 4):
        monkeypatch.setattr(checkpoint, "_reached", lambda p: (_ for _ in ()).throw(Crash(p)) if p == "between renames"
                            else None)
        with pytest.raises(Crash):
            save(path, n)
        monkeypatch.undo()
        assert not path.exists() and loaded_n(path) == n   # only .old and .tmp are on disk


# A separate process (not a fork: a fork of a test process whose torch threads are running can hang)
# that saves forever and prints each n once its save has returned.
SAVER = """
import sys, numpy as np, torch
from roboloop.checkpoint import save_checkpoint
path, n = sys.argv[1], int(sys.argv[2])
while True:
    n += 1
    save_checkpoint(path, {"counters": {"n": n}}, {"agent": {"w": torch.full((100_000,), float(n))}},
                    {"online": {"x": np.full(100_000, n, np.float32)}})
    print(n, flush=True)
"""


def test_sigkill_at_random_times_while_saving_always_leaves_a_loadable_newest_checkpoint(tmp_path):
    path = tmp_path / "checkpoint"
    rng = np.random.default_rng(0)
    last_acked = 0
    kills = 0
    for _ in range(20):
        start = loaded_n(path) if find_checkpoint(path) else 0
        assert start >= last_acked, "a checkpoint whose save had returned was lost"
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(start)], stdout=subprocess.PIPE,
                                text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready, "no save finished"
        last_acked = max(last_acked, int(proc.stdout.readline()))   # one save done: the kill lands in a later one
        time.sleep(float(rng.uniform(0.0, 0.3)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        for line in proc.stdout.read().split():
            last_acked = max(last_acked, int(line))
    assert kills == 20 and loaded_n(path) >= last_acked > 0


def test_an_edit_of_meta_json_is_caught_by_the_checksum(tmp_path):
    path = save(tmp_path / "checkpoint", 1)
    meta = json.loads((path / "meta.json").read_text())
    meta["counters"]["n"] = 7
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="edited"):
        load_checkpoint(path)
    (path / "meta.json").write_text(json.dumps(sign_meta(meta)))   # a tool that rewrites meta.json signs it
    assert load_checkpoint(path).meta["counters"]["n"] == 7
