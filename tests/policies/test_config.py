import pytest

from roboloop.config import ConfigError, TrainConfig, build_train_config, from_dict, parse_override


def test_overrides_reach_nested_dataclasses_and_env_kwargs():
    cfg = build_train_config("Reach", None, ["sac.utd_ratio=4", "env.control_hz=20", "sac.hidden_dims=[64, 64]"],
                             steps=123)
    assert cfg.steps == 123 and cfg.sac.utd_ratio == 4 and cfg.env["control_hz"] == 20
    assert cfg.sac.hidden_dims == (64, 64)


def test_config_file_is_read_and_cli_wins(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("task: PickCube\nsteps: 50\nsac:\n  gamma: 0.9\n")
    cfg = build_train_config(None, str(f), [], steps=70)
    assert cfg.task == "PickCube" and cfg.steps == 70 and cfg.sac.gamma == 0.9


@pytest.mark.parametrize("data, message", [
    ({"stepz": 3}, "unknown config key.*stepz"),
    ({"sac": {"batchsize": 3}}, r"unknown config key.*sac\.batchsize"),
    ({"steps": "many"}, "'steps': expected an integer"),
    ({"sac": {"gamma": "high"}}, r"'sac\.gamma': expected a number"),
    ({"sac": {"critic_layer_norm": 1}}, "expected true/false"),
])
def test_bad_configs_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(TrainConfig, data)


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("sac.gamma")


def test_missing_or_broken_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_train_config(None, str(tmp_path / "nope.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        build_train_config(None, str(bad))


def test_presets_are_found_for_any_spelling_of_the_task():
    for name in ("PickCube", "pick_cube", "roboloop/PickCube-v0"):
        assert build_train_config(name).demos == 10
    with pytest.raises(ValueError, match="unknown task"):
        build_train_config("Juggle")


def test_a_preset_given_as_config_file_trains_its_own_task():
    from roboloop.config import PRESET_DIR
    from roboloop.envs import resolve_task
    presets = [p for p in sorted(PRESET_DIR.glob("*.yaml")) if not p.stem.startswith("sim2real")]
    assert len(presets) >= 8
    for path in presets:
        cfg = build_train_config(None, str(path))
        # the file is the preset of the task it names, so `--config FILE` and `--task TASK` train the same
        assert resolve_task(cfg.task).lower().endswith(f"/{path.stem}-v0"), path.name
        assert cfg == build_train_config(cfg.task), path.name
    # as a preset, the run's own task wins over the file's
    assert build_train_config("so101-PickCubeVision").task == "so101-PickCubeVision"
