"""Every file and setting is checked against the task and sane ranges: a user mistake is an error that
names the file or key (exit code 2), never a traceback, a silent broadcast or a run that trains to NaN."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from roboloop.checkpoint import load_checkpoint, save_checkpoint
from roboloop.cli import main
from roboloop.config import ConfigError, build_train_config
from roboloop.dataset import DatasetError, Episode, load_demos, save_demos
from roboloop.envs import env_spec, make_env


@pytest.mark.parametrize("command", ["train", "learn"])
@pytest.mark.parametrize("override, message", [
    ("sac.batch_size=0", r"config key 'sac\.batch_size': must be a number in \[1, inf\), got 0"),
    ("sac.utd_ratio=0", r"config key 'sac\.utd_ratio': must be a number in \[1, inf\)"),
    ("sac.gamma=.nan", r"config key 'sac\.gamma'"),
    ("sac.tau=0", r"config key 'sac\.tau'"),
    ("checkpoint_every=0", r"config key 'checkpoint_every'"),
    ("transport.max_message_mb=99999", r"config key 'transport\.max_message_mb'"),
    ("sac.batch_size=[1", r"override 'sac\.batch_size=\[1': the value '\[1' is not valid YAML"),
    ("sac.batch_size=abc", r"config key 'sac\.batch_size': expected an integer"),
    ("=3", r"is not a config key"),
    ("sac..lr=3", r"is not a config key"),
])
def test_a_setting_out_of_range_or_malformed_is_an_error_naming_the_key(command, override, message, capsys, tmp_path):
    argv = [command, "--task", "Reach", "--set", override, "--out", str(tmp_path / "run"), "--no-progress"]
    if command == "learn":
        argv += ["--bind", "tcp://127.0.0.1:*"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "Traceback" not in err


def test_defaults_and_presets_are_within_range():
    for task in ("Reach", "PickCube", "PickCubeVision"):
        build_train_config(task)
    with pytest.raises(ConfigError, match="sac.num_min_critics"):
        build_train_config("Reach", overrides=["sac.num_critics=2", "sac.num_min_critics=3"])


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    env = make_env("Reach")
    rng = np.random.default_rng(0)
    episodes = []
    for _ in range(2):
        obs, _ = env.reset(seed=int(rng.integers(1000)))
        ep = Episode(observations=[obs])
        for _ in range(5):
            a = rng.uniform(-1, 1, 4).astype(np.float32)
            obs, r, term, trunc, _ = env.step(a)
            ep.observations.append(obs)
            ep.actions.append(a)
            ep.rewards.append(float(r))
            ep.terminated.append(bool(term))
            ep.truncated.append(bool(trunc))
            ep.intervention.append(False)
        episodes.append(ep)
    path = tmp_path_factory.mktemp("demos") / "good.npz"
    save_demos(path, episodes, env_spec(env))
    return path


def rewrite(src, dst, **changes):
    with np.load(src, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    for k, fn in changes.items():
        data[k] = fn(data[k])
    np.savez(dst, **data)
    return dst


@pytest.mark.parametrize("change, message", [
    (dict(action=lambda a: np.where(np.arange(a.size).reshape(a.shape) == 3, 99.0, a).astype(np.float32)),
     r"action holds values outside the normalized range"),
    (dict(**{"obs.state": lambda o: np.where(np.arange(o.size).reshape(o.shape) == 7, np.nan, o).astype(o.dtype)}),
     r"obs\.state holds NaN"),
    (dict(**{"obs.state": lambda o: np.concatenate([o, o[:, :2]], axis=1)}), r"obs\.state is float32\(15,\) per step"),
    (dict(action=lambda a: a[:, :3].copy()), r"action is float32\(10, 3\)"),
    (dict(reward=lambda r: np.full_like(r, np.inf)), r"reward must be 10 finite floats"),
    (dict(terminated=lambda t: t.astype(np.float32)), r"terminated must be a 1-d bool array"),
])
def test_a_demo_file_that_does_not_fit_the_task_is_refused_naming_the_file(demo_file, tmp_path, change, message):
    bad = rewrite(demo_file, tmp_path / "bad.npz", **change)
    with pytest.raises(DatasetError, match=message) as e:
        load_demos(bad)
    assert str(bad) in str(e.value)


def test_train_with_a_bad_demo_file_exits_with_the_file_named(demo_file, tmp_path, capsys):
    assert load_demos(demo_file)[0]   # the good one loads
    bad = rewrite(demo_file, tmp_path / "bad.npz", action=lambda a: (a * 99).astype(np.float32))
    assert main(["train", "--task", "Reach", "--demos", str(bad), "--steps", "10", "--out", str(tmp_path / "r"),
                 "--no-progress", "--set", "sac.compile=false"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "normalized range" in err and "Traceback" not in err
    other = make_env("PickCube")
    assert main(["train", "--task", "PickCube", "--demos", str(demo_file), "--steps", "10", "--out",
                 str(tmp_path / "r2"), "--no-progress", "--set", "sac.compile=false"]) == 2
    err = capsys.readouterr().err
    assert f"demo file {demo_file} was recorded on another task" in err
    other.close()


def test_export_c_refuses_a_checkpoint_with_non_finite_weights(tmp_path, capsys):
    from roboloop.policies.train_loop import Trainer
    cfg = build_train_config("Reach", None, ["sac.compile=false", "sac.hidden_dims=[16, 16]"], steps=0, seed=0)
    good = Trainer(cfg, run_dir=tmp_path / "run", progress=False, log=lambda s: None).save()
    ckpt = load_checkpoint(good)
    ckpt.model["agent"]["actor.head.weight"][0, 0] = float("nan")
    bad = save_checkpoint(tmp_path / "diverged", ckpt.meta, ckpt.model, ckpt.replay)
    assert main(["export", "c", str(bad), "--out", str(tmp_path / "c"), "--target", "host"]) == 2
    err = capsys.readouterr().err
    assert "NaN or infinite" in err and "Traceback" not in err
    assert not (tmp_path / "c" / "policy.c").exists()
    assert torch.isfinite(load_checkpoint(good).model["agent"]["actor.head.weight"]).all()
