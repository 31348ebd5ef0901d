"""Neural network building blocks for SAC: MLPs, a fused critic ensemble, the squashed-Gaussian actor
and a small conv encoder for 128x128 RGB images.

Shapes: B = batch, E = ensemble size, D = feature size, A = action dimension.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


def native_bf16() -> bool:
    """True on a CPU with bfloat16 arithmetic in hardware (AVX512-BF16 or AMX). oneDNN also runs bf16 on
    plain AVX-512 by converting to float32 and back, which makes matmuls about 2x slower than float32."""
    cpu = torch.cpu
    return bool(getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
                or getattr(cpu, "_is_amx_tile_supported", lambda: False)())


def resolve_low_precision(matmul_precision: str) -> bool:
    """True when hidden layers should run bfloat16 matmuls: "bfloat16", or "auto" on a CPU with native
    bf16 (`native_bf16`); False for "float32"."""
    if matmul_precision == "auto":
        return native_bf16()
    if matmul_precision not in ("float32", "bfloat16"):
        raise ValueError(f"sac.matmul_precision must be 'auto', 'float32' or 'bfloat16', got {matmul_precision!r}")
    return matmul_precision == "bfloat16"


def hidden_precision(low_precision: bool):
    """Context for hidden layers: bfloat16 matmuls (fp32 accumulation, fp32 master weights) when
    asked. Heads always run in float32 outside it, so Q-values and log-probs keep full precision."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=low_precision)


def mlp(in_dim: int, hidden_dims: tuple[int, ...], out_dim: int) -> nn.Sequential:
    """Linear -> ReLU blocks, then a linear output layer."""
    layers: list[nn.Module] = []
    d = in_dim
    for h in hidden_dims:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


class EnsembleLinear(nn.Module):
    """E independent linear layers evaluated in one batched matmul: (E, B, in) -> (E, B, out)."""

    def __init__(self, ensemble_size: int, in_dim: int, out_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(ensemble_size, in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(ensemble_size, 1, out_dim))
        # Same init as nn.Linear, member by member.
        bound = 1.0 / math.sqrt(in_dim)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleLayerNorm(nn.Module):
    """LayerNorm over the last dim with a separate gain and bias per member: (E, B, D) -> (E, B, D)."""

    def __init__(self, ensemble_size: int, dim: int, eps: float = 1e-5):
        super().__init__()
        self.dim, self.eps = dim, eps
        self.weight = nn.Parameter(torch.ones(ensemble_size, 1, dim))
        self.bias = nn.Parameter(torch.zeros(ensemble_size, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.bias, F.layer_norm(x, (self.dim,), eps=self.eps), self.weight)


class CriticEnsemble(nn.Module):
    """E Q-functions Q_e(s, a), all members in one fused pass (no Python loop over critics).

    LayerNorm after every hidden layer keeps Q bounded under high update-to-data ratios (RLPD).
    forward(feat (B, D), act (B, A)) -> q (E, B).
    """

    def __init__(self, feat_dim: int, act_dim: int, hidden_dims: tuple[int, ...], ensemble_size: int,
                 layer_norm: bool = True, low_precision: bool = False):
        super().__init__()
        self.ensemble_size = ensemble_size
        self.low_precision = low_precision
        layers: list[nn.Module] = []
        d = feat_dim + act_dim
        for h in hidden_dims:
            layers.append(EnsembleLinear(ensemble_size, d, h))
            if layer_norm:
                layers.append(EnsembleLayerNorm(ensemble_size, h))
            layers.append(nn.ReLU())
            d = h
        self.hidden = nn.Sequential(*layers)
        self.head = EnsembleLinear(ensemble_size, d, 1)

    def forward(self, feat: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        x = torch.cat([feat, act], dim=-1)
        x = x.unsqueeze(0).expand(self.ensemble_size, *x.shape)
        with hidden_precision(self.low_precision):
            h = self.hidden(x)
        return self.head(h.float()).squeeze(-1)


class SquashedGaussianActor(nn.Module):
    """pi(a|s) = tanh(N(mu(s), sigma(s))): actions in (-1, 1), the normalized action space."""

    def __init__(self, feat_dim: int, act_dim: int, hidden_dims: tuple[int, ...], low_precision: bool = False):
        super().__init__()
        self.low_precision = low_precision
        self.trunk = mlp(feat_dim, hidden_dims[:-1], hidden_dims[-1])
        self.head = nn.Linear(hidden_dims[-1], 2 * act_dim)

    def forward(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (mu (B, A), log_std (B, A)) of the pre-tanh Gaussian."""
        with hidden_precision(self.low_precision):
            h = F.relu(self.trunk(feat))
        mu, log_std = self.head(h.float()).chunk(2, dim=-1)
        # Soft clamp keeps gradients alive at the bounds (as in DrQ-v2 / SpinningUp).
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(log_std) + 1.0)
        return mu, log_std

    def sample(self, feat: torch.Tensor, eps: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterized sample a = tanh(mu + sigma * eps); returns (a (B, A), log pi(a|s) (B,)).
        eps: standard normal noise (B, A), drawn here when not given."""
        mu, log_std = self(feat)
        return tanh_gaussian_sample(mu, log_std, torch.randn_like(mu) if eps is None else eps)

    def deterministic(self, feat: torch.Tensor) -> torch.Tensor:
        """The mean action tanh(mu): what evaluation and export run."""
        mu, _ = self(feat)
        return torch.tanh(mu)


class GraspCritic(nn.Module):
    """Q_g(s, k) for the gripper commands k = 0 open, 1 stay, 2 close (HIL-SERL's grasp critic, a DQN head).

    LayerNorm after every hidden layer, as in the critics. forward(feat (B, D)) -> q (B, 3);
    command(feat) -> the greedy command's gripper value (B,) in {-1 open, 0 stay, +1 close}.
    """

    def __init__(self, feat_dim: int, hidden_dims: tuple[int, ...], low_precision: bool = False):
        super().__init__()
        self.low_precision = low_precision
        layers: list[nn.Module] = []
        d = feat_dim
        for h in hidden_dims:
            layers += [nn.Linear(d, h), nn.LayerNorm(h), nn.ReLU()]
            d = h
        self.hidden = nn.Sequential(*layers)
        self.head = nn.Linear(d, len(GRIPPER_COMMANDS))

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        with hidden_precision(self.low_precision):
            h = self.hidden(feat)
        return self.head(h.float())

    def command(self, feat: torch.Tensor) -> torch.Tensor:
        return self(feat).argmax(dim=-1).float() - 1.0


GRIPPER_COMMANDS = (-1.0, 0.0, 1.0)   # gripper value of command k: open, stay, close


def gripper_class(gripper: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """A gripper action (B,) -> its command k (B,) int64: 2 close (> threshold), 0 open (< -threshold),
    else 1 stay. Scripted demos' absolute -1 / +1 and the grasp critic's -1 / 0 / +1 map alike."""
    return (gripper > threshold).long() - (gripper < -threshold).long() + 1


def tanh_gaussian_sample(mu: torch.Tensor, log_std: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """a = tanh(u), u = mu + exp(log_std) * eps; returns (a, log pi(a|s)), log-prob summed over the last dim."""
    u = mu + log_std.exp() * eps
    a = torch.tanh(u)
    # log pi(a|s) = log N(u; mu, std) - sum log(1 - tanh(u)^2), with (u - mu) / std = eps and
    # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)) (numerically stable form).
    log_prob = (-0.5 * eps.square() - log_std - (u + F.softplus(-2.0 * u)) * -2.0).sum(-1)
    return a, log_prob - a.shape[-1] * (0.5 * math.log(2 * math.pi) + 2.0 * math.log(2.0))


class ConvEncoder(nn.Module):
    """Small DrQ-style encoder for one or more uint8 RGB cameras (B, H, W, 3) -> features (B, D).

    Each camera goes through its own conv stack; the flattened maps are projected to `feature_dim`
    with LayerNorm + tanh (bounded features keep the critic stable). The state vector is appended.
    """

    def __init__(self, image_keys: list[str], image_shape: tuple[int, int, int], state_dim: int,
                 feature_dim: int = 50, channels: int = 32, low_precision: bool = False):
        super().__init__()
        self.image_keys = list(image_keys)
        self.low_precision = low_precision
        h, w, c = image_shape

        def stack() -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c, channels, 3, stride=2), nn.ReLU(),
                nn.Conv2d(channels, channels, 3, stride=2), nn.ReLU(),
                nn.Conv2d(channels, channels, 3, stride=2), nn.ReLU(),
                nn.Conv2d(channels, channels, 3, stride=1), nn.ReLU(),
                nn.Flatten(),
            )

        self.convs = nn.ModuleDict({k: stack() for k in self.image_keys})
        with torch.no_grad():
            n_flat = self.convs[self.image_keys[0]](torch.zeros(1, c, h, w)).shape[-1]
        self.proj = nn.ModuleDict({
            k: nn.Sequential(nn.Linear(n_flat, feature_dim), nn.LayerNorm(feature_dim), nn.Tanh())
            for k in self.image_keys})
        self.out_dim = feature_dim * len(self.image_keys) + state_dim

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        feats = []
        for k in self.image_keys:
            x = obs[k].permute(0, 3, 1, 2).float() / 255.0 - 0.5  # (B, 3, H, W) in [-0.5, 0.5]
            with hidden_precision(self.low_precision):
                maps = self.convs[k](x)
            feats.append(self.proj[k](maps.float()))
        feats.append(obs["state"])
        return torch.cat(feats, dim=-1)


class StateEncoder(nn.Module):
    """Identity encoder for state-only tasks: obs["state"] (B, D) -> (B, D)."""

    def __init__(self, state_dim: int):
        super().__init__()
        self.out_dim = state_dim

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return obs["state"]


def random_shift(images: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """DrQ augmentation: replicate-pad by `pad` pixels and take a random HxW crop, per sample.

    images: uint8 (B, H, W, C) -> uint8 (B, H, W, C). Integer shifts via one gather (no interpolation).
    """
    b, h, w, _ = images.shape
    padded = F.pad(images.permute(0, 3, 1, 2).float(), (pad, pad, pad, pad), mode="replicate")
    dx = torch.randint(0, 2 * pad + 1, (b,), device=images.device)
    dy = torch.randint(0, 2 * pad + 1, (b,), device=images.device)
    rows = (torch.arange(h, device=images.device)[None, :] + dy[:, None])  # (B, H)
    cols = (torch.arange(w, device=images.device)[None, :] + dx[:, None])  # (B, W)
    bidx = torch.arange(b, device=images.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[bidx, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.to(images.dtype)
