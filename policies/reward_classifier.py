"""Reward from pixels: a binary success classifier on the frozen pretrained encoder's features.

    clf = train_classifier(frames, labels, episodes)        # frames: {camera: uint8 (N, H, W, 3)}
    clf.save("success.pt")
    clf = load_reward_classifier("success.pt", env.observation_space)
    p = clf.success_probability(obs)                         # one observation -> float in [0, 1]
    success = p >= clf.threshold

The classifier reads the cameras it was trained on (not the state): each frame goes through the
keypoint backbone (policies/encoders.py, frozen; 64 features per camera), the features of all its
cameras are concatenated, and an ensemble of `members` small MLPs (each: its own feature
standardization, one hidden layer of `hidden` ReLU units, dropout while training, weight decay) gives
the probability of success as the mean of the members' sigmoids.

Training never puts frames of one episode on both sides of a split. With `folds` >= 2 (the default,
5) the recorded episodes are dealt into `folds` groups; member k fits all groups but group k with
class-balanced binary cross-entropy and scores group k, so every episode gets out-of-fold
probabilities from a member that never saw it, and the decision threshold is chosen on all of them:
the lowest threshold whose out-of-fold precision is at least `min_precision` (false successes teach a
policy the wrong thing, so precision comes first), which keeps recall as high as possible. With
`folds=1` one MLP fits the episodes but a `held_out` share, and the threshold is chosen on those. The
held-out precision and recall are stored with the classifier.

The file (torch.save of tensors and plain metadata, loaded with weights_only=True) records what the
classifier needs to be valid: `encoder_sha256` (the backbone its features came from), `encoder_weights`
(where that backbone is loaded from; "" = the shipped one), `cameras`, `image_shape` and `threshold`.
Loading refuses, with a ClassifierError naming the field, a file of another format, an untrained
classifier (no threshold), backbone weights whose hash differs, and an observation space without its
cameras or with other image shapes. Files of one member written before ensembles existed still load.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from roboloop.policies.encoders import KeypointBackbone, backbone_sha256, load_backbone, load_torch_file
from roboloop.wrappers.reward import DetectorReward

FORMAT = "roboloop-reward-classifier-v1"


class ClassifierError(ValueError):
    """A reward classifier that cannot be used here; the message names the file and the field."""


@dataclass
class Metrics:
    """Frame-level precision and recall of `success = p >= threshold` (positive = success)."""

    precision: float
    recall: float
    frames: int
    positives: int

    def as_dict(self) -> dict[str, float | int]:
        return {"precision": self.precision, "recall": self.recall, "frames": self.frames,
                "positives": self.positives}


def precision_recall(probs: np.ndarray, labels: np.ndarray, threshold: float) -> Metrics:
    """Precision and recall of probs >= threshold against boolean labels (N,). With no predicted
    positive, precision is 1 (no false success); with no true positive frame, recall is 1."""
    pred, labels = np.asarray(probs) >= threshold, np.asarray(labels, bool)
    tp = int(np.sum(pred & labels))
    return Metrics(tp / max(int(pred.sum()), 1) if pred.any() else 1.0,
                   tp / max(int(labels.sum()), 1) if labels.any() else 1.0, int(labels.size), int(labels.sum()))


def choose_threshold(probs: np.ndarray, labels: np.ndarray, min_precision: float = 0.95) -> float:
    """The lowest threshold in (0, 1) with precision >= min_precision on (probs, labels) (the highest
    recall among those); if none reaches it, the one with the best F1. Thresholds lie halfway between
    consecutive distinct probabilities, so a frame never sits exactly on one."""
    p = np.unique(np.clip(np.asarray(probs, np.float64), 0.0, 1.0))
    candidates = np.unique(np.clip(np.r_[(p[:-1] + p[1:]) / 2, p[-1] + 1e-6, 0.5], 1e-6, 1 - 1e-6))
    scores = [precision_recall(probs, labels, t) for t in candidates]
    ok = [t for t, m in zip(candidates, scores) if m.precision >= min_precision and m.recall > 0]
    if ok:
        return float(min(ok))
    f1 = [2 * m.precision * m.recall / max(m.precision + m.recall, 1e-9) for m in scores]
    return float(candidates[int(np.argmax(f1))])


class SuccessHead(nn.Module):
    """(N, n) features -> (N,) success logits: standardization (mean, std: (n,)) then a one-hidden-layer MLP."""

    def __init__(self, n: int, hidden: int, dropout: float):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(n, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("std", torch.ones(n))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.mlp((feats - self.mean) / self.std)[:, 0]

    def fit(self, feats: np.ndarray, labels: np.ndarray, epochs: int, lr: float, weight_decay: float) -> float:
        """Full-batch AdamW on class-balanced binary cross-entropy (a few thousand frames of a few hundred
        features fit in one batch). feats (N, n) float32, labels (N,) bool. Returns the last loss."""
        x = torch.as_tensor(feats, dtype=torch.float32)
        y = torch.as_tensor(labels, dtype=torch.float32)
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp_min(1e-3))
        pos_weight = (y.numel() - y.sum()) / y.sum()
        opt = torch.optim.AdamW(self.mlp.parameters(), lr=lr, weight_decay=weight_decay)
        self.requires_grad_(True).train()
        for _ in range(epochs):
            loss = F.binary_cross_entropy_with_logits(self(x), y, pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.requires_grad_(False).eval()
        return float(loss.detach())


class RewardClassifier(nn.Module):
    """Frames of `cameras` -> probability of success. See the module docstring.

    backbone: the frozen keypoint backbone; heads: `members` SuccessHeads on the (C * F,) features,
    whose probabilities are averaged; threshold: the decision threshold, None until trained.
    """

    def __init__(self, backbone: KeypointBackbone, cameras: list[str], image_shape: tuple[int, int, int],
                 hidden: int = 256, encoder_weights: str = "", dropout: float = 0.5, members: int = 1):
        super().__init__()
        if members < 1:
            raise ValueError(f"members: a classifier needs at least one head, got {members}")
        self.backbone = backbone.eval().requires_grad_(False)
        self.cameras = list(cameras)
        self.image_shape = tuple(int(x) for x in image_shape)
        self.encoder_weights = str(encoder_weights)
        self.hidden, self.dropout = int(hidden), float(dropout)
        n = backbone.out_dim * len(self.cameras)
        self.heads = nn.ModuleList(SuccessHead(n, self.hidden, self.dropout) for _ in range(members))
        self.threshold: float | None = None
        self.metrics: dict[str, Any] = {}
        self.info: dict[str, Any] = {}   # where the training frames came from (task, episodes, ...)

    # ------------------------------------------------------------------------------------ using
    def features(self, frames: Mapping[str, np.ndarray]) -> np.ndarray:
        """{camera: uint8 (N, H, W, 3)} -> (N, C * F) float32 backbone features, cameras in order."""
        return np.concatenate([self.backbone.features(frames[c]) for c in self.cameras], axis=-1)

    @torch.no_grad()
    def probabilities_from_features(self, feats: np.ndarray) -> np.ndarray:
        """(N, C * F) features -> (N,) probabilities of success (the mean over the heads)."""
        x = torch.as_tensor(feats, dtype=torch.float32)
        return torch.stack([torch.sigmoid(h(x)) for h in self.heads]).mean(0).numpy()

    def probabilities(self, frames: Mapping[str, np.ndarray]) -> np.ndarray:
        """{camera: uint8 (N, H, W, 3)} -> (N,) probabilities of success."""
        return self.probabilities_from_features(self.features(frames))

    def success_probability(self, obs: Mapping[str, np.ndarray]) -> float:
        """One observation (unbatched dict with the cameras) -> probability of success."""
        # One frame is too little work for a second thread (see encoders.FrameFeatures).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return float(self.probabilities({c: np.asarray(obs[c])[None] for c in self.cameras})[0])
        finally:
            torch.set_num_threads(threads)

    def check_observation_space(self, space: Any, where: str = "the env") -> None:
        """Refuse an observation space without the classifier's cameras or with other image shapes."""
        keys = list(getattr(space, "spaces", {}) or {})
        for cam in self.cameras:
            if cam not in keys:
                raise ClassifierError(f"cameras: the classifier reads camera {cam!r}, but {where}'s observation "
                                      f"has only {keys}")
            shape = tuple(space[cam].shape)
            if shape != self.image_shape:
                raise ClassifierError(f"image_shape: the classifier was trained on {self.image_shape} frames, "
                                      f"but {where}'s camera {cam!r} gives {shape}")

    # ------------------------------------------------------------------------------ persistence
    def meta(self) -> dict[str, Any]:
        return {"cameras": self.cameras, "image_shape": list(self.image_shape), "hidden": self.hidden,
                "dropout": self.dropout, "members": len(self.heads),
                "encoder_weights": self.encoder_weights, "encoder_sha256": backbone_sha256(self.backbone),
                "feature_dim": self.backbone.out_dim, "threshold": self.threshold, "metrics": self.metrics,
                "info": self.info}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save({"format": FORMAT, "meta": self.meta(), "heads": [h.state_dict() for h in self.heads]}, tmp)
        tmp.replace(path)
        return path


def load_reward_classifier(path: str | Path, observation_space: Any = None,
                           encoder_weights: str | None = None, require_trained: bool = True) -> RewardClassifier:
    """The classifier saved at `path`, checked (see the module docstring). encoder_weights: the backbone to
    run (default: the one recorded in the file); observation_space: refuse it unless it has the cameras."""
    path = Path(path)
    blob = load_torch_file(path, FORMAT, "reward classifier", ClassifierError)
    meta = blob["meta"]
    for key in ("cameras", "image_shape", "encoder_sha256", "encoder_weights", "threshold", "hidden"):
        if key not in meta:
            raise ClassifierError(f"{key}: reward classifier {path} has no {key!r} in its metadata")
    threshold = meta["threshold"]
    if require_trained and (threshold is None or not 0.0 < float(threshold) < 1.0):
        raise ClassifierError(f"threshold: reward classifier {path} is untrained (threshold {threshold!r}); "
                              f"train it with `roboloop classifier train`")
    weights = meta["encoder_weights"] if encoder_weights is None else encoder_weights
    backbone = load_backbone(weights)
    digest = backbone_sha256(backbone)
    if digest != meta["encoder_sha256"]:
        raise ClassifierError(f"encoder_sha256: reward classifier {path} was trained on the features of encoder "
                              f"{meta['encoder_sha256'][:12]}, but the encoder weights "
                              f"{weights or '(shipped)'} are {digest[:12]}; retrain the classifier on them")
    if "heads" in blob:
        states = blob["heads"]
    else:   # one head, its standardization stored beside it
        states = [{**{f"mlp.{k}": v for k, v in blob.get("head", {}).items()}, "mean": blob.get("mean"),
                   "std": blob.get("std")}]
    if not isinstance(states, list) or not states:
        raise ClassifierError(f"heads: reward classifier {path} has no classifier heads")
    clf = RewardClassifier(backbone, list(meta["cameras"]), tuple(meta["image_shape"]), int(meta["hidden"]), weights,
                           float(meta.get("dropout", 0.0)), len(states))
    try:
        for head, state in zip(clf.heads, states):
            head.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, AttributeError) as e:
        raise ClassifierError(f"head: reward classifier {path} does not fit its metadata: {e}") from None
    clf.threshold = None if threshold is None else float(threshold)
    clf.metrics, clf.info = dict(meta.get("metrics", {})), dict(meta.get("info", {}))
    if observation_space is not None:
        clf.check_observation_space(observation_space)
    return clf.eval()


def split_episodes(episodes: np.ndarray, held_out: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, held out) over frames, splitting whole episodes: `held_out` of them (at
    least one) go to the held-out side."""
    ids = np.unique(episodes)
    if len(ids) < 2:
        raise ValueError(f"need frames of at least 2 episodes to hold some out, got {len(ids)}")
    rng = np.random.default_rng(seed)
    n = min(len(ids) - 1, max(1, int(round(held_out * len(ids)))))
    out = rng.choice(ids, size=n, replace=False)
    mask = np.isin(episodes, out)
    return ~mask, mask


def fold_episodes(episodes: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    """`folds` boolean masks over frames, each holding out one group of whole episodes; the groups
    (dealt at random, sizes differing by at most one) cover every episode once."""
    ids = np.unique(episodes)
    if folds < 2 or len(ids) < folds:
        raise ValueError(f"folds: need at least 2 folds and as many episodes as folds, got {folds} folds of "
                         f"{len(ids)} episodes")
    ids = np.random.default_rng(seed).permutation(ids)
    return [np.isin(episodes, ids[k::folds]) for k in range(folds)]


def train_classifier(frames: Mapping[str, np.ndarray], labels: np.ndarray, episodes: np.ndarray,
                     cameras: list[str] | None = None, encoder_weights: str = "", hidden: int = 256,
                     dropout: float = 0.5, folds: int = 5, held_out: float = 0.3, min_precision: float = 0.98,
                     epochs: int = 500, lr: float = 3e-3, weight_decay: float = 0.1, seed: int = 0,
                     log=print) -> RewardClassifier:
    """Fit a classifier on recorded frames. frames: {camera: uint8 (N, H, W, 3)}; labels: (N,) bool
    (success); episodes: (N,) int, the episode of each frame. folds >= 2: an ensemble of `folds` heads,
    the threshold chosen on their out-of-fold probabilities; folds = 1: one head, the threshold chosen
    on the `held_out` share of the episodes (see the module docstring). Returns it trained, its
    threshold chosen and its held-out precision/recall measured."""
    labels = np.asarray(labels, bool)
    episodes = np.asarray(episodes)
    cameras = list(cameras or frames)
    for c in cameras:
        if c not in frames:
            raise ValueError(f"no frames of camera {c!r}; recorded: {list(frames)}")
    shapes = {tuple(frames[c].shape[1:]) for c in cameras}
    if len(shapes) != 1:
        raise ValueError(f"cameras {cameras} have different frame shapes {sorted(shapes)}")
    if labels.all() or not labels.any():
        raise ValueError(f"need both success and failure frames, got {int(labels.sum())} of {labels.size} successes")
    if folds < 1:
        raise ValueError(f"folds: need 1 (one held-out share) or more folds, got {folds}")
    outs = fold_episodes(episodes, folds, seed) if folds > 1 else [split_episodes(episodes, held_out, seed)[1]]
    for out in outs:
        if not labels[~out].any() or labels[~out].all():
            raise ValueError("the training episodes need both success and failure frames; record more episodes")
    torch.manual_seed(seed)
    clf = RewardClassifier(load_backbone(encoder_weights), cameras, shapes.pop(), hidden, encoder_weights, dropout,
                           len(outs))
    feats = clf.features(frames)
    probs, losses = np.zeros(labels.size), []
    for head, out in zip(clf.heads, outs):
        losses.append(head.fit(feats[~out], labels[~out], epochs, lr, weight_decay))
        with torch.no_grad():
            probs[out] = torch.sigmoid(head(torch.as_tensor(feats[out]))).numpy()
    test = np.any(outs, axis=0)
    clf.threshold = choose_threshold(probs[test], labels[test], min_precision)
    m = precision_recall(probs[test], labels[test], clf.threshold)
    clf.metrics = {"held_out": m.as_dict(), "held_out_episodes": int(len(np.unique(episodes[test]))),
                   "folds": int(folds), "train_frames": int((~outs[0]).sum()), "train_loss": float(np.mean(losses))}
    how = f"{folds}-fold out-of-fold" if folds > 1 else "held-out"
    fitted = np.ones(labels.size, bool) if folds > 1 else ~outs[0]   # the frames some head fitted
    log(f"trained {len(outs)} head(s) on {int(fitted.sum())} frames ({int(labels[fitted].sum())} success); threshold "
        f"{clf.threshold:.3f} chosen on {m.frames} {how} frames ({m.positives} success): precision "
        f"{m.precision:.3f}, recall {m.recall:.3f}")
    return clf.eval()


def classifier_reward(env, path: str | Path, terminate: bool = True):
    """`env` with its reward from the classifier at `path` (roboloop.wrappers.reward.DetectorReward); `env`
    itself when `path` is "". The classifier is checked against the env's observation space."""
    if not path:
        return env
    return DetectorReward(env, load_reward_classifier(path, env.observation_space), terminate)
