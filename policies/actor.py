"""The actor: observation -> encoder -> squashed-Gaussian policy -> action in [-1, 1].

One module serves every place that acts with a trained policy: the SAC agent owns one (and trains it),
the transport's actors load its weights, and the ONNX export copies it. It is built from the env spec
and its architecture alone, without critics, target networks or optimizers:

    actor = Actor.from_spec(env_spec, ActorArch(hidden_dims=(256, 256)))
    actor.load_actor_state(agent.actor_state())
    action = actor.act(obs, deterministic=True)        # (A,) float32 in [-1, 1]

Its state (`actor_state()`) holds "encoder.*" (the conv encoder for image tasks; nothing for state-only
tasks) and "actor.*" tensors, the same names the agent's checkpoint uses for them. With a grasp head
(`ActorArch.grasp_head`, sac.grasp_critic) the policy covers the first A-1 dims and "grasp.*" holds the
grasp critic Q_g(s, k), whose greedy command -1 open / 0 stay / +1 close is the last action dim.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn as nn

from roboloop.policies.encoders import PretrainedEncoder
from roboloop.policies.networks import (ConvEncoder, GraspCritic, SquashedGaussianActor, StateEncoder,
                                       resolve_low_precision)


IMAGE_ENCODERS = ("conv", "pretrained")


@dataclass(frozen=True)
class ActorArch:
    """What, besides the env spec, fixes the actor's networks.

    hidden_dims: widths of the policy MLP; image_feature_dim / image_channels: the conv encoder of
    image tasks; matmul_precision: "auto", "float32" or "bfloat16" hidden-layer matmuls;
    image_encoder: "conv" (the DrQ conv encoder) or "pretrained" (policies/encoders.py's keypoint
    backbone; its weights travel in the actor state like every other tensor); grasp_head: the last
    action dim (a gripper) is the greedy command of a discrete grasp critic (networks.GraspCritic).
    """

    hidden_dims: tuple[int, ...] = (256, 256)
    image_feature_dim: int = 50
    image_channels: int = 32
    matmul_precision: str = "auto"
    image_encoder: str = "conv"
    grasp_head: bool = False

    def __post_init__(self) -> None:
        if self.image_encoder not in IMAGE_ENCODERS:
            raise ValueError(f"image_encoder must be one of {IMAGE_ENCODERS}, got {self.image_encoder!r}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hidden_dims": list(self.hidden_dims)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ActorArch":
        """From `to_dict()`'s output (e.g. a learner's welcome); an unknown or missing key is an error."""
        names = set(cls.__dataclass_fields__)
        if not isinstance(data, Mapping) or set(data) != names:
            got = sorted(data) if isinstance(data, Mapping) else repr(data)
            raise ValueError(f"actor architecture needs the keys {sorted(names)}, got {got}")
        return cls(hidden_dims=tuple(int(h) for h in data["hidden_dims"]),
                   image_feature_dim=int(data["image_feature_dim"]), image_channels=int(data["image_channels"]),
                   matmul_precision=str(data["matmul_precision"]), image_encoder=str(data["image_encoder"]),
                   grasp_head=bool(data["grasp_head"]))


def spec_layout(spec: Mapping[str, Any]) -> tuple[dict[str, tuple[int, ...]], int]:
    """(observation shapes, action dimension) from an env spec (roboloop.envs.env_spec)."""
    try:
        shapes = {k: tuple(int(d) for d in v["shape"]) for k, v in spec["observation"].items()}
        act_dim = int(spec["action"]["shape"][0])
    except (KeyError, TypeError, IndexError, ValueError) as e:
        raise ValueError(f"env spec without observation/action shapes: {e!r}") from None
    if "state" not in shapes:
        raise ValueError(f"env spec has no 'state' observation (keys {sorted(shapes)})")
    return shapes, act_dim


class Actor(nn.Module):
    """Encoder + squashed-Gaussian policy (+ the grasp critic with a grasp head). obs_shapes: {"state": (D,),
    "<camera>": (H, W, 3), ...}; actions (A,) in [-1, 1]; the policy's own dims: cont_dim (A, or A-1)."""

    def __init__(self, obs_shapes: Mapping[str, tuple[int, ...]], act_dim: int, arch: ActorArch = ActorArch()):
        super().__init__()
        self.arch, self.act_dim = arch, act_dim
        self.obs_shapes = {k: tuple(v) for k, v in obs_shapes.items()}
        low = resolve_low_precision(arch.matmul_precision)
        state_dim = self.obs_shapes["state"][0]
        self.image_keys = [k for k in self.obs_shapes if k != "state"]
        if self.image_keys and arch.image_encoder == "pretrained":
            self.encoder: nn.Module = PretrainedEncoder(self.image_keys, state_dim, arch.image_feature_dim,
                                                        frozen=True, low_precision=low)
        elif self.image_keys:
            self.encoder = ConvEncoder(self.image_keys, self.obs_shapes[self.image_keys[0]], state_dim,
                                                  arch.image_feature_dim, arch.image_channels, low)
        else:
            self.encoder = StateEncoder(state_dim)
        if arch.grasp_head and act_dim < 2:
            raise ValueError(f"a grasp head needs a gripper after at least one continuous action dim, "
                             f"got an action of {act_dim} dim")
        self.cont_dim = act_dim - 1 if arch.grasp_head else act_dim
        self.actor = SquashedGaussianActor(self.encoder.out_dim, self.cont_dim, arch.hidden_dims, low)
        if arch.grasp_head:
            self.grasp = GraspCritic(self.encoder.out_dim, arch.hidden_dims, low)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], arch: ActorArch = ActorArch()) -> "Actor":
        shapes, act_dim = spec_layout(spec)
        return cls(shapes, act_dim, arch)

    @torch.no_grad()
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = False) -> np.ndarray:
        """One observation (unbatched) -> action (A,) float32 in [-1, 1]: tanh(mu) when deterministic,
        else a sample of the policy; with a grasp head, the gripper is the greedy command either way."""
        feat = self.encoder({k: torch.as_tensor(v)[None] for k, v in obs.items()})
        a = self.actor.deterministic(feat) if deterministic else self.actor.sample(feat)[0]
        if self.arch.grasp_head:
            a = torch.cat([a, self.grasp.command(feat)[:, None]], dim=-1)
        return a[0].numpy().astype(np.float32)

    def actor_state(self) -> dict[str, torch.Tensor]:
        """Copies of every tensor that acting needs (see the module docstring for the names)."""
        return {k: v.detach().clone() for k, v in self.state_dict().items()}

    def load_actor_state(self, state: Mapping[str, Any]) -> None:
        """Load `actor_state()` tensors (torch or numpy); a missing, extra or misshaped tensor is a
        ValueError naming it."""
        has_grasp = any(k.startswith("grasp.") for k in state)
        if has_grasp != self.arch.grasp_head:
            raise ValueError(f"actor state {'has' if has_grasp else 'has no'} grasp critic ('grasp.*' tensors) "
                             f"but this actor is built with grasp_head={self.arch.grasp_head} "
                             f"(sac.grasp_critic must match the run that trained it)")
        try:
            self.load_state_dict({k: v if isinstance(v, torch.Tensor) else torch.from_numpy(np.array(v))
                                  for k, v in state.items()}, strict=True)
        except RuntimeError as e:
            raise ValueError(f"actor state does not fit this actor's networks: {e}") from None
