"""The shipped sim-to-real config trains from the CLI, and its checkpoint evaluates on the gap variants."""
from pathlib import Path

import numpy as np

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


def test_the_camera_sim2real_config_keeps_its_speed_cap_on_the_robot(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--config", str(CONFIG.with_name("sim2real_vision.yaml")), "--steps", "60", "--demos", "0",
                 "--seed", "0", "--out", str(out), "--no-progress", *TINY]) == 0
    ckpt = load_checkpoint(out / "checkpoint", load_replay=False)
    assert ckpt.meta["config"]["task"] == "PickCubeVision" and ckpt.meta["config"]["sac"]["freeze_encoder"]
    assert ckpt.meta["config"]["wrappers"] == [{"type": "safety", "max_speed": 0.2}]
    # On the camera twin of the robot, built from the checkpoint's stack as `roboloop eval` builds it, a
    # full-scale command (5 cm per step uncapped) moves the arm about 2 cm per step.
    from roboloop.envs import make_env
    env = make_env("PickCubeVisionGap", {"variant": "miscalibrated"}, ckpt.meta["config"]["wrappers"],
                   training=False)
    env.reset(seed=0)
    start = env.unwrapped.sim.ee_pos().copy()
    for _ in range(3):
        env.step(np.array([0.0, 1.0, 0.0, -1.0], np.float32))
    assert 0.03 < env.unwrapped.sim.ee_pos()[1] - start[1] < 0.065
    env.close()
    assert main(["eval", str(out / "checkpoint"), "--task", "PickCubeVisionGap", "--env", "variant=shifted_camera",
                 "--episodes", "1"]) == 0
    assert "eval success rate" in capsys.readouterr().out
