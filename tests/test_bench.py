"""Multi-seed statistics (rliable) and the bench runner: numbers checked against hand computations,
a report from known evaluations, and a real two-seed run that resumes without retraining."""
from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats

from roboloop import stats
from roboloop.bench import load_bench, report, run_bench
from roboloop.cli import main


def test_aggregate_metrics_match_their_definitions():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.2, (10, 3))          # scores above 1 count as no shortfall in the optimality gap
    got = stats.aggregate({"x": x}, reps=300)["x"]
    assert got["IQM"].point == pytest.approx(scipy.stats.trim_mean(x.ravel(), 0.25))
    assert got["mean"].point == pytest.approx(x.mean())
    assert got["optimality gap"].point == pytest.approx(np.mean(np.maximum(1.0 - x, 0.0)))
    for m in stats.METRICS:
        assert got[m].low <= got[m].point <= got[m].high and got[m].low < got[m].high
    const = stats.aggregate({"c": np.full((5, 2), 0.4)}, reps=200)["c"]
    assert (const["IQM"].point, const["IQM"].low, const["IQM"].high) == pytest.approx((0.4, 0.4, 0.4))
    with pytest.raises(ValueError, match="non-finite"):
        stats.aggregate({"bad": np.array([[0.1], [np.nan]])})


def test_probability_of_improvement_counts_pairs():
    x, y = np.array([[0.1], [0.5], [0.9]]), np.array([[0.2], [0.6], [0.7]])
    # pairs with x > y: 0.5 > 0.2; 0.9 > 0.2, 0.6, 0.7 -> 4 of 9
    assert stats.probability_of_improvement(x, y, reps=200).point == pytest.approx(4 / 9)
    assert stats.probability_of_improvement(x + 1, y, reps=200) == stats.Interval(1.0, 1.0, 1.0)
    assert stats.probability_of_improvement(y, y, reps=200).point == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same tasks"):
        stats.probability_of_improvement(np.zeros((3, 2)), np.zeros((3, 1)))


def test_performance_profile_and_curve():
    scores = np.array([[0.2], [0.6], [1.0]])
    p, lo, hi = stats.performance_profiles({"a": scores}, [0.0, 0.5, 1.0], reps=200)["a"]
    np.testing.assert_allclose(p, [1.0, 2 / 3, 0.0])
    assert np.all(lo <= p) and np.all(p <= hi)
    curves = np.random.default_rng(1).uniform(0, 1, (8, 5))
    iqm, lo, hi = stats.iqm_curve(curves, reps=200)
    np.testing.assert_allclose(iqm, [scipy.stats.trim_mean(curves[:, i], 0.25) for i in range(5)])
    assert np.all(lo <= iqm + 1e-12) and np.all(iqm <= hi + 1e-12)


def fake_bench(folder, name, task, finals, steps=1000, every=250):
    """A bench.json as `bench run` writes it: success rising linearly to each run's final value."""
    runs = {}
    for seed, final in enumerate(finals):
        runs[str(seed)] = [{"step": t + (7 if t else 0), "target_step": t, "success_rate": final * t / steps,
                            "mean_return": 0.0, "mean_length": 10.0, "successes": [], "train_s": 0.06 * t}
                           for t in range(0, steps + 1, every)]
    folder.mkdir(parents=True)
    (folder / "bench.json").write_text(json.dumps({
        "format": "roboloop-bench", "name": name, "task": task, "config": {"steps": steps},
        "eval": {"every": every, "episodes": 20}, "runs": runs}))
    return folder


def test_report_from_known_evaluations(tmp_path):
    good = fake_bench(tmp_path / "good", "good", "roboloop/Reach-v0", [0.9, 0.95, 1.0, 0.85, 0.9])
    bad = fake_bench(tmp_path / "bad", "bad", "roboloop/Reach-v0", [0.1, 0.3, 0.0, 0.2, 0.15])
    data = json.loads((bad / "bench.json").read_text())
    data["runs"]["5"] = data["runs"]["0"][:2]          # an unfinished seed is left out
    (bad / "bench.json").write_text(json.dumps(data))
    assert len(load_bench(bad).runs) == 5
    md = report([good, bad], tmp_path / "report", bar=0.8, reps=300, log=lambda s: None)
    text = md.read_text()
    assert "| good | 5 x 1 |" in text and "| bad | 5 x 1 |" in text
    out = json.loads((tmp_path / "report" / "report.json").read_text())
    assert out["probability_of_improvement"]["good > bad"]["point"] == 1.0
    assert out["aggregate"]["good"]["IQM"]["point"] == pytest.approx(np.mean([0.9, 0.9, 0.95]))
    # good crosses 80% first at target 1000 (0.85, 0.9) or 1000 for all; steps are target + 7
    assert out["steps_to_bar"]["good / roboloop/Reach-v0"]["reached"] == 5
    assert out["steps_to_bar"]["good / roboloop/Reach-v0"]["steps"] == [1007] * 5
    assert out["steps_to_bar"]["good / roboloop/Reach-v0"]["minutes"] == pytest.approx([1.0] * 5)
    assert out["steps_to_bar"]["bad / roboloop/Reach-v0"]["minutes"] == [None] * 5
    assert "| 1.0 [1.0, 1.0] |" in text       # IQM training minutes to the bar
    assert out["steps_to_bar"]["bad / roboloop/Reach-v0"]["reached"] == 0
    for png in ("curves_roboloop_Reach-v0.png", "profiles.png"):
        data = (tmp_path / "report" / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    with pytest.raises(ValueError, match="no bench.json"):
        load_bench(tmp_path)


def test_two_seed_run_is_resumable_and_evaluates_on_held_out_seeds(tmp_path, capsys):
    cfg = tmp_path / "reach.yaml"
    cfg.write_text("task: Reach\nsteps: 150\nlearning_starts: 60\nstop_at_success: 0.5\ntorch_threads: 1\n"
                   "sac: {hidden_dims: [16, 16], compile: false, batch_size: 16}\n")
    out = tmp_path / "bench"
    argv = ["bench", "run", str(cfg), "--eval-every", "75", "--eval-episodes", "2", "--out", str(out)]
    assert main(argv + ["--seeds", "1"]) == 0
    meta0 = out / "seed-0" / "run" / "checkpoint" / "meta.json"
    mtime = meta0.stat().st_mtime_ns
    saved = json.loads(meta0.read_text())["config"]
    assert saved["stop_at_success"] == 0.0 and saved["seed"] == 0   # held-out evals never stop a run
    assert main(argv + ["--seeds", "2"]) == 0
    assert "seed 0: finished earlier, kept" in capsys.readouterr().out
    assert meta0.stat().st_mtime_ns == mtime
    bench = json.loads((out / "bench.json").read_text())
    assert sorted(bench["runs"]) == ["0", "1"]
    for recs in bench["runs"].values():
        assert [r["target_step"] for r in recs] == [0, 75, 150] and recs[-1]["step"] >= 150
        assert all(len(r["successes"]) == 2 for r in recs)
        assert 0 < recs[0]["train_s"] < recs[1]["train_s"] < recs[2]["train_s"]
    # a crash between a seed's last checkpoint and its evaluation: the evaluation is redone, not the training
    seed1 = out / "seed-1"
    (seed1 / "done").unlink()
    recs = json.loads((seed1 / "evals.json").read_text())
    (seed1 / "evals.json").write_text(json.dumps(recs[:-1]))
    mtime1 = (seed1 / "run" / "checkpoint" / "meta.json").stat().st_mtime_ns
    assert main(argv + ["--seeds", "2"]) == 0
    again = json.loads((seed1 / "evals.json").read_text())
    assert again == recs and (seed1 / "done").exists()
    assert (seed1 / "run" / "checkpoint" / "meta.json").stat().st_mtime_ns == mtime1
    # another config in the same folder is refused; the report runs over what is there
    assert main(argv + ["--seeds", "2", "--set", "steps=300"]) == 2
    assert "another config" in capsys.readouterr().err
    assert main(["bench", "report", str(out), "--reps", "200"]) == 0
    assert "| reach | 2 x 1 |" in (out / "report.md").read_text()
