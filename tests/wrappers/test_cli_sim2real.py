"""The shipped sim-to-real config trains from the CLI, and its checkpoint evaluates on the gap variants."""
from pathlib import Path

import roboloop
from roboloop.checkpoint import load_checkpoint
from roboloop.cli import main

CONFIG = Path(roboloop.__file__).parent / "configs" / "sim2real.yaml"
TINY = ["--set", "sac.hidden_dims=[16, 16]", "--set", "sac.compile=false", "--set", "sac.batch_size=16",
        "--set", "learning_starts=50", "--set", "eval_every=0", "--set", "eval_episodes=1"]


def test_sim2real_config_trains_and_evaluates_on_a_gap_variant(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--config", str(CONFIG), "--steps", "100", "--demos", "0", "--seed", "0", "--out", str(out),
                 "--no-progress", *TINY]) == 0
    ckpt = load_checkpoint(out / "checkpoint", load_replay=False)
    assert [w["type"] for w in ckpt.meta["config"]["wrappers"]] == ["action_delay"]
    assert "wrappers" not in ckpt.meta["env_spec"]   # a perturbation only: the policy's interface is the task's
    assert main(["eval", str(out / "checkpoint"), "--task", "PickCubeGap", "--env", "variant=latency",
                 "--episodes", "2"]) == 0
    assert "eval success rate" in capsys.readouterr().out
    assert main(["eval", str(out / "checkpoint"), "--task", "PickCubeGap", "--env", "variant=icy"]) == 2
    assert "unknown reality-gap variant 'icy'" in capsys.readouterr().err
