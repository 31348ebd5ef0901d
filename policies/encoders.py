"""The pretrained image encoder: a small keypoint CNN trained on domain-randomized PickCube renders
(scripts/pretrain_encoder.py) that ships with roboloop, and how SAC uses it.

    backbone = load_backbone()                   # the shipped weights (policies/weights/)
    feats = backbone.features(images)            # uint8 (B, H, W, 3) -> float32 (B, F) in [-1, 1]

`KeypointBackbone`: three convolutions (5x5 and 3x3 at stride 2, 3x3), a 1x1 convolution to C keypoint
maps (28x28 at 128x128 input, about 17 M multiply-adds per frame) and a spatial softmax: each of
the C output channels becomes the expected (x, y) image position of its activation, so F = 2 C
features that locate things in the image (the cube, the fingers), in image coordinates in [-1, 1].
Any square input size works; the shipped weights were trained at 128x128.

`PretrainedEncoder` is the SAC encoder built on it: the backbone (one set of weights for every
camera), then per camera a trainable Linear + LayerNorm + tanh projection, then the state vector.
Frozen (the default), features are computed once per frame when it enters the replay buffer and the
buffer stores (F,) float32 features instead of (H, W, 3) images (`replay_storage`), so an update
never runs a convolution; the encoder's forward takes either images or those features.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

WEIGHTS_DIR = Path(__file__).parent / "weights"
SHIPPED_WEIGHTS = WEIGHTS_DIR / "pickcube_encoder.pt"
WEIGHTS_FORMAT = "roboloop-keypoint-encoder-v1"


class EncoderWeightsError(ValueError):
    """An encoder weights file that is missing, of another format, or of another architecture."""


class SpatialSoftmax(nn.Module):
    """(B, C, H, W) maps -> (B, 2C) expected (x, y) of each channel's softmax over pixels, in [-1, 1]."""

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        b, c, h, w = maps.shape
        attn = F.softmax(maps.reshape(b, c, h * w), dim=-1).reshape(b, c, h, w)
        xs = torch.linspace(-1.0, 1.0, w, dtype=maps.dtype, device=maps.device)
        ys = torch.linspace(-1.0, 1.0, h, dtype=maps.dtype, device=maps.device)
        return torch.cat([(attn.sum(2) * xs).sum(-1), (attn.sum(3) * ys).sum(-1)], dim=-1)


class KeypointBackbone(nn.Module):
    """uint8 RGB (B, H, W, 3) -> keypoint features (B, 2 * channels) float32 in [-1, 1]."""

    def __init__(self, channels: int = 32):
        super().__init__()
        self.channels = channels
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 5, stride=2), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2), nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=1), nn.ReLU(),
            nn.Conv2d(32, channels, 1),
        )
        self.keypoints = SpatialSoftmax()
        self.out_dim = 2 * channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float() / 255.0 - 0.5
        return self.keypoints(self.net(x.contiguous(memory_format=torch.channels_last)))

    @torch.no_grad()
    def features(self, images: np.ndarray | torch.Tensor, chunk: int = 256) -> np.ndarray:
        """uint8 (B, H, W, 3) or one (H, W, 3) image -> float32 features (B, F) or (F,), without gradients."""
        x = torch.as_tensor(images)
        single = x.ndim == 3
        x = x[None] if single else x
        out = torch.cat([self(x[i:i + chunk]) for i in range(0, len(x), chunk)]) if len(x) else \
            torch.zeros(0, self.out_dim)
        out = out.numpy().astype(np.float32)
        return out[0] if single else out


def load_torch_file(path: Path, fmt: str, what: str, error: type[Exception], hint: str = "") -> dict:
    """The dict saved by torch at `path` whose "format" is `fmt` (tensors only: weights_only); `error` naming
    `what` the file should be when it is missing (with `hint`), unreadable, or of another format."""
    if not path.is_file():
        raise error(f"{what} {path} not found{hint}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a file that is not a torch save
        raise error(f"{what} {path} cannot be read: {e}") from None
    if not isinstance(blob, dict) or blob.get("format") != fmt:
        raise error(f"format: {path} is not a roboloop {what} file (format {fmt!r})")
    return blob


def load_backbone(path: str | Path = "") -> KeypointBackbone:
    """The backbone with the weights at `path` ("" = the shipped ones); a file that is not a roboloop
    keypoint encoder is an EncoderWeightsError naming what is wrong."""
    path = Path(path) if path else SHIPPED_WEIGHTS
    blob = load_torch_file(path, WEIGHTS_FORMAT, "encoder weights", EncoderWeightsError,
                           "; re-create them with scripts/pretrain_encoder.py" if path == SHIPPED_WEIGHTS else "")
    backbone = KeypointBackbone(int(blob["meta"]["channels"]))
    try:
        backbone.load_state_dict(blob["backbone"], strict=True)
    except RuntimeError as e:
        raise EncoderWeightsError(f"encoder weights {path} do not fit the keypoint backbone: {e}") from None
    backbone.meta = dict(blob["meta"])
    return backbone.eval()


def backbone_sha256(backbone: KeypointBackbone) -> str:
    """SHA-256 of the backbone's weights (names, shapes and float32 values in name order): what a model
    trained on its features (a reward classifier) records, so that other weights are refused."""
    h = hashlib.sha256()
    for name, t in sorted(backbone.state_dict().items()):
        h.update(f"{name}:{tuple(t.shape)};".encode())
        h.update(t.detach().to(torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


def weights_meta(path: str | Path = "") -> dict[str, Any]:
    """The metadata stored with encoder weights (data, objective, accuracy); see docs/vision.md."""
    return load_backbone(path).meta


class PretrainedEncoder(nn.Module):
    """SAC encoder on the pretrained backbone: obs -> (B, feature_dim * cameras + state_dim).

    obs[camera] is either uint8 images (B, H, W, 3) or backbone features (B, F) float32 (what a
    replay buffer stores while `frozen`). frozen: the backbone is not trained (and its parameters are
    left out of `trainable_parameters()`); otherwise the critic's loss fine-tunes it.
    """

    def __init__(self, image_keys: list[str], state_dim: int, feature_dim: int = 50, frozen: bool = True,
                 backbone: KeypointBackbone | None = None, low_precision: bool = False):
        super().__init__()
        self.image_keys = list(image_keys)
        self.frozen = frozen
        self.low_precision = low_precision  # the backbone runs float32; kept for export's interface
        self.backbone = backbone if backbone is not None else KeypointBackbone()
        n = self.backbone.out_dim
        self.proj = nn.ModuleDict({
            k: nn.Sequential(nn.Linear(n, feature_dim), nn.LayerNorm(feature_dim), nn.Tanh())
            for k in self.image_keys})
        self.out_dim = feature_dim * len(self.image_keys) + state_dim

    def trainable_parameters(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.named_parameters() if not (self.frozen and k.startswith("backbone."))}

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        feats = []
        for k in self.image_keys:
            x = obs[k]
            if x.dtype == torch.uint8:
                if self.frozen:
                    with torch.no_grad():
                        x = self.backbone(x)
                else:
                    x = self.backbone(x)
            feats.append(self.proj[k](x))
        feats.append(obs["state"])
        return torch.cat(feats, dim=-1)


class FrameFeatures:
    """Backbone features of one camera frame at a time, for a replay buffer: (H, W, 3) uint8 -> (F,).

    A frame is usually written twice (as a transition's next observation, then as the next
    transition's observation); the last frame's features are reused when the same array comes again.
    """

    def __init__(self, backbone: KeypointBackbone):
        self.backbone = backbone
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if self._last is not None and self._last[0] is frame:
            return self._last[1]
        # One frame is too little work to split: with a second thread it waits on a busy core instead
        # (about 15x slower than one thread on a loaded 2-core machine).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            feats = self.backbone.features(frame)
        finally:
            torch.set_num_threads(threads)
        self._last = (frame, feats)  # holding the array keeps its identity unique while cached
        return feats


def replay_storage(encoder: nn.Module, shapes: Mapping[str, tuple[int, ...]], dtypes: Mapping[str, Any]
                   ) -> tuple[dict, dict, dict[str, Callable[[np.ndarray], np.ndarray]]]:
    """What a replay buffer stores for an agent with `encoder`: (shapes, dtypes, encoders per key).

    A frozen PretrainedEncoder's cameras are stored as (F,) float32 features computed as frames
    arrive; otherwise every observation is stored as it comes (images as uint8)."""
    if not (isinstance(encoder, PretrainedEncoder) and encoder.frozen):
        return dict(shapes), dict(dtypes), {}
    shapes, dtypes = dict(shapes), dict(dtypes)
    encode = {}
    for k in encoder.image_keys:
        shapes[k], dtypes[k] = (encoder.backbone.out_dim,), np.float32
        encode[k] = FrameFeatures(encoder.backbone)
    return shapes, dtypes, encode
