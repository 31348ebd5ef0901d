import json
import os
import shutil

import pytest

from roboloop.checkpoint import CheckpointError, SpecMismatchError, load_checkpoint, sign_meta
from roboloop.cli import main
from roboloop.envs import make_env
from roboloop.policies.train_loop import load_agent


def copy_ckpt(src, tmp_path):
    dst = tmp_path / "ckpt"
    shutil.copytree(src, dst)
    return dst


def test_checkpoint_holds_everything_to_resume(tiny_checkpoint):
    ckpt = load_checkpoint(tiny_checkpoint)
    agent_keys = ckpt.model["agent"].keys()
    assert any(k.startswith("critic_target.") for k in agent_keys)
    assert "log_alpha" in agent_keys
    assert set(ckpt.model["optim"]) == {"actor", "critic", "alpha"}
    critic_opt = ckpt.model["optim"]["critic"]
    assert float(critic_opt["t"]) > 0 and any(v.abs().sum() > 0 for v in critic_opt["exp_avg_sq"]), \
        "optimizer moments must be saved"
    assert {"step", "episode", "updates"} <= set(ckpt.meta["counters"])
    assert ckpt.meta["env_spec"]["observation"]["state"]["shape"] == [13]
    assert ckpt.meta["config"]["sac"]["hidden_dims"] == [32, 32]
    assert "online" in ckpt.replay and ckpt.replay["online"]["action"].shape[0] > 300


def test_truncated_model_file_is_reported(tiny_checkpoint, tmp_path):
    ckpt = copy_ckpt(tiny_checkpoint, tmp_path)
    data = (ckpt / "model.pt").read_bytes()
    (ckpt / "model.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.pt is corrupt"):
        load_checkpoint(ckpt)


def test_garbage_meta_is_reported(tiny_checkpoint, tmp_path):
    ckpt = copy_ckpt(tiny_checkpoint, tmp_path)
    (ckpt / "meta.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"meta\.json is corrupt"):
        load_checkpoint(ckpt)


def test_missing_checkpoint_and_missing_file(tiny_checkpoint, tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nowhere")
    ckpt = copy_ckpt(tiny_checkpoint, tmp_path)
    (ckpt / "replay_online.npz").unlink()
    with pytest.raises(CheckpointError, match=r"replay_online\.npz is missing"):
        load_checkpoint(ckpt)


def test_weights_of_another_architecture_are_refused(tiny_checkpoint, tmp_path):
    ckpt = copy_ckpt(tiny_checkpoint, tmp_path)
    meta = json.loads((ckpt / "meta.json").read_text())
    meta["config"]["sac"]["hidden_dims"] = [64, 64]
    (ckpt / "meta.json").write_text(json.dumps(sign_meta(meta)))   # signed: past the checksum, to the weights
    with pytest.raises(CheckpointError, match="does not fit this agent"):
        load_agent(ckpt, make_env("Reach"))


def test_mismatched_env_spec_names_the_field(tiny_checkpoint):
    # PickCube has the same state size (13) as Reach, but other fields: the names must catch it.
    with pytest.raises(SpecMismatchError, match=r"observation\.state\.names\[3\]"):
        load_agent(tiny_checkpoint, make_env("PickCube"))
    with pytest.raises(SpecMismatchError, match=r"env_spec\.control_hz: checkpoint has 10\.0, env has 20\.0"):
        load_agent(tiny_checkpoint, make_env("Reach", {"control_hz": 20}))


def test_cli_eval_refuses_a_mismatch_with_a_clear_error(tiny_checkpoint, capsys):
    assert main(["eval", str(tiny_checkpoint), "--task", "PickCube", "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert "does not match" in err and "observation.state" in err


def test_cli_eval_runs_and_writes_video(tiny_checkpoint, tmp_path, capsys):
    video = tmp_path / "eval.mp4"
    assert main(["eval", str(tiny_checkpoint), "--episodes", "1", "--video", str(video)]) == 0
    assert "eval success rate:" in capsys.readouterr().out
    assert video.stat().st_size > 1000


def test_a_checkpoint_names_its_robot_and_refuses_another(tiny_checkpoint):
    ckpt = load_checkpoint(tiny_checkpoint, load_replay=False)
    assert ckpt.meta["env_spec"]["robot"]["name"] == "roboloop_arm"
    assert ckpt.meta["env_spec"]["robot"]["arm_joints"] == ["j1", "j2", "j3", "j4", "j5", "j6"]
    try:
        env = make_env("so101-Reach")  # the SO-101's Reach: the same shapes and names, another robot
    except ValueError as e:  # its description comes with the `arms` extra
        if os.environ.get("CI", "").lower() == "true":
            raise
        pytest.skip(f"needs the arms extra: {e}")
    with pytest.raises(SpecMismatchError, match=r"env_spec\.robot\.name: checkpoint has 'roboloop_arm', env has 'so101'"):
        load_agent(tiny_checkpoint, env)
    # The same checkpoint with its robot field naming a different joint order is refused too.
    meta = dict(ckpt.meta)
    spec = json.loads(json.dumps(meta["env_spec"]))
    spec["robot"]["arm_joints"] = ["j2", "j1", "j3", "j4", "j5", "j6"]
    from roboloop.checkpoint import check_spec
    with pytest.raises(SpecMismatchError, match=r"env_spec\.robot\.arm_joints\[0\]: checkpoint has 'j2', env has 'j1'"):
        check_spec(spec, ckpt.meta["env_spec"])
