"""Actor and learner as separate processes on loopback learn Reach to the in-process success bar."""
import json

import pytest

from roboloop.cli import main
from roboloop.policies.evaluate import HELD_OUT_SEED


@pytest.mark.slow
def test_reach_learns_over_processes_to_90_percent(tmp_path, capsys):
    # The same preset, stopping rule and held-out bar as tests/policies/test_learning.py's Reach test. The
    # actor runs at 60 Hz so the learner (one core, ~60 updates/s here) keeps close to one update per env step.
    out = tmp_path / "run"
    assert main(["train", "--async", "--task", "Reach", "--seed", "0", "--steps", "12000", "--actor-hz", "60",
                 "--out", str(out), "--no-progress", "--set", "stop_at_success=0.9",
                 "--set", "eval_episodes=20", "--set", "eval_every=500"]) == 0
    meta = json.loads((out / "checkpoint" / "meta.json").read_text())
    assert max(rate for _, rate in meta["evals"]) >= 0.9, meta["evals"]
    actor = json.loads((out / "actor-0.json").read_text())
    assert actor["acked"] >= meta["counters"]["received"] - 200 and actor["rejected"] == 0
    # the checkpoint is an ordinary one: `roboloop eval` judges it on episodes the stopping evals never saw
    capsys.readouterr()
    assert main(["eval", str(out / "checkpoint"), "--episodes", "20", "--seed", str(HELD_OUT_SEED)]) == 0
    rate = float(capsys.readouterr().out.rsplit("eval success rate:", 1)[1])
    assert rate >= 0.8, (rate, meta["evals"])
