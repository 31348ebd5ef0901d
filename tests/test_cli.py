import re

import pytest

from roboloop.cli import main

TINY = ["--set", "sac.hidden_dims=[16, 16]", "--set", "sac.compile=false", "--set", "sac.batch_size=16",
        "--set", "learning_starts=50", "--set", "eval_every=0", "--set", "eval_episodes=1"]


def test_tasks_lists_every_task(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for name in ("roboloop/Reach-v0", "roboloop/PickCube-v0", "roboloop/PickCubeVision-v0"):
        assert name in out
    assert "front(128, 128, 3)" in out


def test_train_then_resume_from_the_cli(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--task", "Reach", "--steps", "120", "--seed", "1", "--out", str(out), "--no-progress",
                 *TINY]) == 0
    text = capsys.readouterr().out
    assert "eval success rate:" in text
    assert (out / "config.yaml").exists() and (out / "tb").is_dir() and (out / "checkpoint" / "meta.json").exists()
    assert main(["train", "--resume", str(out / "checkpoint"), "--steps", "200", "--no-progress"]) == 0
    assert "resumed" in capsys.readouterr().out
    assert main(["train", "--resume", str(out / "checkpoint"), "--steps", "100", "--no-progress"]) == 2
    assert "already at step" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["train", "--task", "Fly", "--steps", "1"], "unknown task 'Fly'"),
    (["train", "--task", "Reach", "--set", "sac.gama=0.9"], r"unknown config key\(s\) sac.gama"),
    (["train", "--task", "Reach", "--set", "env.control_hz=7"], "control_hz"),
    (["eval", "/nonexistent/ckpt"], "does not exist"),
])
def test_bad_input_is_a_clear_error(argv, message, capsys, tmp_path):
    assert main(argv + (["--out", str(tmp_path / "x"), "--no-progress"] if argv[0] == "train" else [])) == 2
    assert re.search(message, capsys.readouterr().err)
