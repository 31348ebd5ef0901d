"""The wrapper stack, from a YAML list: the same list runs in sim and on the robot.

    wrappers:                       # applied in order: the first sits next to the robot
      - {type: domain_randomization, cube_mass: [0.5, 2.0]}
      - {type: safety, max_speed: 0.4}
      - {type: action_delay, steps: [0, 2]}
      - {type: observation_noise, std: 0.002}
      - {type: history, length: 2}
      - {type: action_history, length: 2}

Perturbations (randomization, delays, jitter, dropped frames, noise) model the robot during training
and are left out of evaluation unless an entry says `eval: true`; shaping wrappers (safety, action and
observation shaping) change what the policy sees or sends, so they always apply (`eval: false` is
refused for them). Unknown types and keys, bad ranges and delays longer than the buffer are errors
naming the entry.
"""
from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable

import gymnasium as gym

from roboloop.hardware.safety import SafetyLimits

from .action import ActionRepeat, LowPass, RateLimit
from .gripper import DiscreteGripper
from .noise import ActionNoise, ObservationNoise
from .observation import ActionHistory, HistoryStack, ImageCropResize, RelativeFrame
from .safety import SafetyWrapper
from .timing import ActionDelay, ControlJitter, FrameDrop, ObservationDelay


def _domain_randomization(env: gym.Env, **ranges: Any) -> gym.Env:
    from .randomization import DomainRandomization, DomainRandomizationConfig
    return DomainRandomization(env, DomainRandomizationConfig(**ranges))


def _safety(env: gym.Env, **limits: Any) -> gym.Env:
    return SafetyWrapper(env, SafetyLimits(**limits))


def _dr_keys() -> list[str]:
    from .randomization import DomainRandomizationConfig
    return [f.name for f in dataclasses.fields(DomainRandomizationConfig)]


# type -> (constructor, is a perturbation, valid keys (None: the constructor's keyword arguments))
WRAPPERS: dict[str, tuple[Callable[..., gym.Env], bool, Callable[[], list[str]] | None]] = {
    "domain_randomization": (_domain_randomization, True, _dr_keys),
    "control_jitter": (ControlJitter, True, None),
    "action_delay": (ActionDelay, True, None),
    "observation_delay": (ObservationDelay, True, None),
    "frame_drop": (FrameDrop, True, None),
    "observation_noise": (ObservationNoise, True, None),
    "action_noise": (ActionNoise, True, None),
    "safety": (_safety, False, lambda: [f.name for f in dataclasses.fields(SafetyLimits)]),
    "rate_limit": (RateLimit, False, None),
    "low_pass": (LowPass, False, None),
    "action_repeat": (ActionRepeat, False, None),
    "history": (HistoryStack, False, None),
    "action_history": (ActionHistory, False, None),
    "image_crop_resize": (ImageCropResize, False, None),
    "relative_frame": (RelativeFrame, False, None),
    "discrete_gripper": (DiscreteGripper, False, None),
}


def _valid_keys(kind: str) -> list[str]:
    make, _, keys = WRAPPERS[kind]
    if keys is not None:
        return keys()
    return [p for p in inspect.signature(make).parameters if p != "env"]


def check_stack(specs: Any) -> list[dict]:
    """Validate the shape of a stack config (types, keys) without an env; returns it as a list of dicts."""
    if specs is None:
        return []
    if not isinstance(specs, (list, tuple)):
        raise ValueError(f"wrappers must be a list of {{type: ..., key: value}} entries, got {specs!r}")
    out = []
    for i, spec in enumerate(specs):
        where = f"wrappers[{i}]"
        if not isinstance(spec, dict) or "type" not in spec:
            raise ValueError(f"{where} must be a mapping with a 'type' key, got {spec!r}")
        kind = spec["type"]
        if kind not in WRAPPERS:
            raise ValueError(f"{where}: unknown wrapper type {kind!r}; known: {', '.join(WRAPPERS)}")
        keys = _valid_keys(kind)
        unknown = sorted(set(spec) - {"type", "eval"} - set(keys))
        if unknown:
            raise ValueError(f"{where} ({kind}): unknown key(s) {', '.join(unknown)}; valid: {', '.join(keys + ['eval'])}")
        if spec.get("eval", True) is False and not WRAPPERS[kind][1]:
            raise ValueError(f"{where} ({kind}) changes the policy's interface and cannot be left out of evaluation")
        out.append(dict(spec))
    return out


def build_wrappers(env: gym.Env, specs: Any, training: bool = True) -> gym.Env:
    """Wrap `env` with the stack `specs` (see the module docstring). training=False leaves out the
    perturbations not marked `eval: true`."""
    for i, spec in enumerate(check_stack(specs)):
        kind = spec["type"]
        make, perturbation, _ = WRAPPERS[kind]
        if not training and perturbation and not spec.get("eval", False):
            continue
        kwargs = {k: v for k, v in spec.items() if k not in ("type", "eval")}
        try:
            env = make(env, **kwargs)
        except (TypeError, ValueError) as e:
            raise ValueError(f"wrappers[{i}] ({kind}): {e}") from None
        env.stack_type = kind  # read by roboloop.envs.env_spec
        env.stack_perturbation = perturbation
    return env


def interface_wrappers(env: gym.Env) -> list[str]:
    """Types of the shaping wrappers around `env`, innermost first (part of the checkpoint's env spec)."""
    kinds = []
    while isinstance(env, gym.Wrapper):
        if getattr(env, "stack_type", None) and not env.stack_perturbation:
            kinds.append(env.stack_type)
        env = env.env
    return kinds[::-1]
