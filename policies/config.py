"""The training run's configuration schema: typed dataclasses filled strictly from plain mappings.

Unknown keys and values of the wrong type are errors that name the key, so a typo in a config file
never silently trains with a default. Reading YAML files, presets and `key=value` overrides into these
dataclasses is the app's job (roboloop.config); this module is what the learner and actors share.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from roboloop.gym_adapter import SuccessRule
from roboloop.policies.ranges import RangeError, check_ranges
from roboloop.policies.sac import SACConfig
from roboloop.policies.transport.settings import TransportConfig


class ConfigError(ValueError):
    """A config file or override that does not fit the schema."""


@dataclass
class TrainConfig:
    """Everything `roboloop train` needs; saved as config.yaml in every run and checkpoint."""

    task: str = "Reach"                 # a roboloop task, any Gymnasium id, or a module:Class entry point
    steps: int = 20_000                 # env steps; training ends at the first episode end at or after this
    seed: int = 0                       # seeds torch, numpy, the env and the demos (eval seeds derive from it)
    learning_starts: int = 1_000        # random actions (and no updates) before this many env steps
    replay_capacity: int = 200_000      # transitions the online buffer keeps (oldest overwritten)
    demos: int = 0                      # scripted-expert demo episodes for RLPD (0 = plain SAC)
    demo_noise: float = 0.1             # Gaussian noise on the expert's actions, for diverse demos
    demo_file: str = ""                 # recorded demos (.npz, `roboloop record`) for the demo buffer
    demo_bc_updates: int = 0            # behaviour-cloning steps of the actor on the demo buffer before the
                                        # first RL update (a warm start; state-only tasks; 0 = none)
    teleop: str = ""                    # "", "gamepad", "keyboard" or "evdev": a person may intervene
    teleop_pad: str = "xbox"            # pad map: xbox, playstation, logitech_f310, logitech_f710 or a YAML path
    eval_every: int = 2_000             # env steps between evaluations (0 = only at the end)
    eval_episodes: int = 20             # episodes per evaluation, on held-out seeds
    checkpoint_every: int = 10_000      # env steps between checkpoints (written at episode ends)
    stop_at_success: float = 0.0        # > 0: stop at the episode end after an eval reaches this rate
    torch_threads: int = 0              # 0 = one per CPU core
    run_dir: str = "runs"               # runs go to <run_dir>/<task>-s<seed>-<time>
    env: dict[str, Any] = field(default_factory=dict)   # keyword arguments for the task (control_hz, ...)
    wrappers: list[Any] = field(default_factory=list)   # sim-to-real wrapper stack (roboloop/wrappers/stack.py)
    success: SuccessRule = field(default_factory=SuccessRule)  # success.key (an info key) or success.min_return
    reward_classifier: str = ""         # a trained reward classifier (.pt, `roboloop classifier train`): the
                                        # training env's reward (and success termination) comes from its cameras
    sac: SACConfig = field(default_factory=SACConfig)
    transport: TransportConfig = field(default_factory=TransportConfig)  # roboloop learn / act

    def __post_init__(self) -> None:
        check_ranges(self, {"steps": (0, None), "learning_starts": (0, None), "replay_capacity": (1, None),
                            "demos": (0, None), "demo_noise": (0.0, None), "demo_bc_updates": (0, None), "eval_every": (0, None),
                            "eval_episodes": (1, None), "checkpoint_every": (1, None), "stop_at_success": (0.0, 1.0),
                            "torch_threads": (0, None)})
        # The grasp critic's "stay" needs an env that holds the gripper: the stack's outermost entry, in sim
        # and on the robot alike (every env of a run is built from this list).
        if self.sac.grasp_critic and not any(isinstance(w, dict) and w.get("type") == "discrete_gripper"
                                             for w in self.wrappers):
            self.wrappers = [*self.wrappers, {"type": "discrete_gripper"}]


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                pass
        raise ConfigError(f"config key {key!r}: {value!r} is not a {tp}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key {key!r}: expected a list, got {value!r}")
        (elem, *_) = typing.get_args(tp)
        return tuple(_coerce(v, elem, key) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r}: expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r}: expected a mapping, got {value!r}")
        return from_dict(tp, value, prefix=f"{key}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config key {key!r}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"config key {key!r}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key {key!r}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key {key!r}: expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    """Build dataclass `cls` from a mapping, rejecting unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(prefix + u for u in unknown)}; "
                          f"valid keys: {', '.join(sorted(prefix + n for n in names))}")
    values = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items()}
    try:
        return cls(**values)
    except RangeError as e:
        raise ConfigError(f"config key '{prefix}{e.field}': {str(e)[len(e.field) + 2:]}") from None


def to_dict(cfg: Any) -> dict[str, Any]:
    """Dataclass -> plain YAML/JSON-serializable dict (tuples become lists)."""
    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(dataclasses.asdict(cfg))
