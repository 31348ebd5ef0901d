"""`roboloop export c` and an actor too big for the chip: it refuses to call the export done and names
--distill; with --distill 64x64 it imitates the big actor DAgger-style, compares student and teacher in
closed loop on held-out episodes, and exports a student that fits (float32 and int8)."""
import re

import pytest

from roboloop.cli import main
from roboloop.config import build_train_config
from roboloop.policies.export.c_codegen import TARGETS

BIG_ACTOR = ["sac.hidden_dims=[256, 256]", "sac.compile=false", "sac.matmul_precision=float32", "torch_threads=1"]


@pytest.fixture(scope="module")
def big_reach_checkpoint(tmp_path_factory):
    """A 13 -> 256 -> 256 -> 4 Reach actor that reaches (cloned from the scripted expert: seconds, not minutes)."""
    from roboloop.policies.distill import collect_labels, distill_actor
    from roboloop.policies.train_loop import Trainer
    from roboloop.sim import make_expert
    cfg = build_train_config("Reach", None, BIG_ACTOR, steps=1_000, seed=0)
    trainer = Trainer(cfg, run_dir=tmp_path_factory.mktemp("reach256"), progress=False, log=lambda s: None)
    expert = make_expert(trainer.env)
    states, labels = collect_labels(trainer.env, lambda o: expert.act(), 10, seed=0)
    assert distill_actor(trainer.agent, states, labels, updates=400).final_mse < 1e-2
    return trainer.save()


def test_too_big_actor_is_refused_with_the_distill_hint(big_reach_checkpoint, tmp_path, capsys):
    assert main(["export", "c", str(big_reach_checkpoint), "--out", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert "does not fit cortex-m4" in err and "--distill 64x64" in err, err


def test_distilled_student_matches_the_teacher_and_fits(big_reach_checkpoint, tmp_path, capsys):
    out = tmp_path / "c32"
    assert main(["export", "c", str(big_reach_checkpoint), "--out", str(out), "--distill", "64x64",
                 "--distill-episodes", "10", "--distill-eval", "20"]) == 0
    text = capsys.readouterr().out
    teacher, student = (int(x) for x in re.search(r"teacher (\d+)%, student (\d+)%", text).groups())
    assert teacher >= 80 and student >= teacher - 10, text   # 20 episodes: 10 points is two episodes
    assert "float32 MLP 13 -> 64 -> 64 -> 4" in text and "fits cortex-m4" in text, text
    flash = int(re.search(r"~(\d+) bytes flash", text).group(1))
    assert flash <= TARGETS["cortex-m4"].flash
    # the student is a checkpoint like any other: it exports to int8 without distilling again
    student = out / "student" / "checkpoint"
    assert main(["export", "c", str(student), "--quant", "int8", "--out", str(tmp_path / "c8")]) == 0
    text = capsys.readouterr().out
    assert "int8 MLP 13 -> 64 -> 64 -> 4" in text and "fits cortex-m4" in text, text
    assert (tmp_path / "c8" / "policy.c").stat().st_size > 0


def test_bad_distill_widths_are_a_clear_error(big_reach_checkpoint, tmp_path, capsys):
    assert main(["export", "c", str(big_reach_checkpoint), "--out", str(tmp_path / "c"), "--distill", "64xbig"]) == 2
    assert "64x64" in capsys.readouterr().err
