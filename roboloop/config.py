"""Typed configuration from YAML files, shipped presets and `key=value` overrides, strictly.

Unknown keys and values of the wrong type are errors that name the key, so a typo in a config file
never silently trains with a default.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# The schema itself lives with the learner that reads it; the app re-exports it.
from roboloop.policies.config import ConfigError, TrainConfig, from_dict, to_dict  # noqa: F401


def deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def parse_override(text: str) -> dict[str, Any]:
    """'sac.batch_size=128' -> {'sac': {'batch_size': 128}}; the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value (for example sac.utd_ratio=4)")
    key, raw = text.split("=", 1)
    if not key.strip() or any(not p.strip() for p in key.strip().split(".")):
        raise ConfigError(f"override {text!r}: {key!r} is not a config key (for example sac.utd_ratio=4)")
    try:
        value = yaml.safe_load(raw) if raw else None
    except yaml.YAMLError as e:
        raise ConfigError(f"override {text!r}: the value {raw!r} is not valid YAML "
                          f"({str(e).splitlines()[0]})") from None
    out: dict[str, Any] = {}
    node = out
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return out


PRESET_DIR = Path(__file__).parent / "configs"


def preset_for(task: str) -> dict[str, Any]:
    """The shipped defaults for a task (roboloop/configs/<task>.yaml), or {} if none ships (as for
    every env from another package)."""
    from roboloop.envs import resolve_task, short_name  # any spelling of the name finds the same preset
    task_id = resolve_task(task)
    if not task_id.startswith("roboloop/"):
        return {}
    name = short_name(task_id)
    path = PRESET_DIR / f"{name}.yaml"
    if not path.exists() and "-" in name:  # an arm's task ('so101-pickcube') takes its task's preset
        path = PRESET_DIR / f"{name.rsplit('-', 1)[1]}.yaml"
    return load_yaml(path) if path.exists() else {}


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def build_train_config(task: str | None = None, config_file: str | None = None,
                       overrides: list[str] | None = None, base: dict | None = None, **cli: Any) -> TrainConfig:
    """Preset for the task (or `base`, e.g. a checkpoint's config) <- config file <- CLI flags <-
    key=value overrides (later wins)."""
    data: dict[str, Any] = {}
    file_data = load_yaml(config_file) if config_file else {}
    task = task or file_data.get("task") or (base or {}).get("task") or TrainConfig.task
    data = deep_merge(base if base is not None else preset_for(task), file_data)
    data["task"] = task
    data = deep_merge(data, {k: v for k, v in cli.items() if v is not None})
    for o in overrides or []:
        data = deep_merge(data, parse_override(o))
    cfg = from_dict(TrainConfig, data)
    from roboloop.wrappers import check_stack
    try:
        cfg.wrappers = check_stack(cfg.wrappers)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return cfg
