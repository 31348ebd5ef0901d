"""The deterministic actor of a checkpoint as an ONNX graph, checked against onnxruntime.

Exported graph (batch B first, names fixed so robot code can rely on them):
    inputs   "state" float32 (B, D)            and, for vision actors, one uint8 (B, H, W, 3) per camera
    output   "action" float32 (B, A)           = low + (tanh(mu(obs_normalized)) + 1) / 2 * (high - low)
With a grasp critic (sac.grasp_critic), tanh(mu) covers the first A-1 dims and the last is the greedy
gripper command ArgMax_k Q_g(obs, k) - 1 in {-1 open, 0 stay, +1 close}, before the same scaling.
The log-std half of the actor head and the critics are left out. Observation normalization, when the
checkpoint carries it (model["obs_norm"] = {"mean": (D,), "std": (D,)}), is folded into the first
layer's weights; action scaling is emitted only when the action space is not already [-1, 1].
Metadata (onnx metadata_props): roboloop_format, roboloop_version, task, env_spec (JSON), inputs,
obs_norm_folded, grasp_head ("true" when the last dim comes from a grasp critic's ArgMax).
The exported file acts again through `OnnxPolicy` (the policy interface, policies/policy.py).
"""
from __future__ import annotations

import copy
import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from roboloop.checkpoint import Checkpoint, load_checkpoint

FORMAT = "roboloop-actor"
VERSION = "1"
OPSET = 17


class ExportError(ValueError):
    """An actor or graph that cannot be exported (names what is wrong)."""


def fold_input_normalization(linear: nn.Linear, mean: torch.Tensor, std: torch.Tensor) -> nn.Linear:
    """W (x - mean) / std + b == W' x + b' with W' = W / std (per input column), b' = b - W' mean."""
    folded = nn.Linear(linear.in_features, linear.out_features)
    with torch.no_grad():
        w = linear.weight / std[None, :]
        folded.weight.copy_(w)
        folded.bias.copy_(linear.bias - w @ mean)
    return folded


class DeterministicActor(nn.Module):
    """The export graph of an `Actor` (policies/actor.py; or of the agent, which owns one):
    obs -> scaled tanh(mu(obs)) (with a grasp head: [tanh(mu(obs)), argmax_k Q_g(obs, k) - 1], scaled),
    plain float32 modules only.

    Built from copies of the actor's weights, so it runs without autocast and without the log-std head.
    """

    def __init__(self, source, obs_norm: dict | None = None, act_low: np.ndarray | None = None,
                 act_high: np.ndarray | None = None):
        super().__init__()
        source = getattr(source, "pi", source)   # the agent's Actor
        actor = source.actor
        linears = [m for m in actor.trunk if isinstance(m, nn.Linear)]
        act_dim, cont_dim = source.act_dim, getattr(source, "cont_dim", source.act_dim)
        head = nn.Linear(actor.head.in_features, cont_dim)
        with torch.no_grad():  # the first cont_dim rows of the head are mu; the rest are log-std
            head.weight.copy_(actor.head.weight[:cont_dim])
            head.bias.copy_(actor.head.bias[:cont_dim])
        self.grasp = copy.deepcopy(source.grasp) if cont_dim < act_dim else None
        if self.grasp is not None:
            self.grasp.low_precision = False
        self.image_keys = list(source.image_keys)
        self.encoder = copy.deepcopy(source.encoder) if self.image_keys else None
        if self.encoder is not None:
            self.encoder.low_precision = False  # the exported graph is float32 throughout
        if obs_norm is not None:
            if self.image_keys:
                raise ExportError("observation normalization folding is implemented for state-only actors")
            mean = torch.as_tensor(np.asarray(obs_norm["mean"], np.float32))
            std = torch.as_tensor(np.asarray(obs_norm["std"], np.float32))
            if mean.shape != (linears[0].in_features,) or std.shape != mean.shape:
                raise ExportError(f"obs_norm mean/std must have shape ({linears[0].in_features},), "
                                  f"got {tuple(mean.shape)} and {tuple(std.shape)}")
            if not torch.all(std > 0):
                raise ExportError("obs_norm std must be > 0 everywhere")
            if self.grasp is not None:
                self.grasp.hidden[0] = fold_input_normalization(self.grasp.hidden[0], mean, std)
            linears[0] = fold_input_normalization(linears[0], mean, std)
        layers: list[nn.Module] = []
        for lin in linears:
            layers += [_copy_linear(lin), nn.ReLU()]
        self.mlp = nn.Sequential(*layers, head, nn.Tanh())
        low = np.full(act_dim, -1.0, np.float32) if act_low is None else np.asarray(act_low, np.float32)
        high = np.full(act_dim, 1.0, np.float32) if act_high is None else np.asarray(act_high, np.float32)
        self.scaled = not (np.all(low == -1.0) and np.all(high == 1.0))
        self.register_buffer("act_half_range", torch.as_tensor((high - low) / 2.0))
        self.register_buffer("act_center", torch.as_tensor((high + low) / 2.0))
        self.eval()

    def forward(self, state: torch.Tensor, *images: torch.Tensor) -> torch.Tensor:
        feat = state
        if self.encoder is not None:
            feat = self.encoder({"state": state, **dict(zip(self.image_keys, images))})
        a = self.mlp(feat)
        if self.grasp is not None:   # ONNX ArgMax (first maximum on ties, as torch.argmax)
            a = torch.cat([a, self.grasp(feat).argmax(dim=-1, keepdim=True).float() - 1.0], dim=-1)
        return a * self.act_half_range + self.act_center if self.scaled else a


def _copy_linear(lin: nn.Linear) -> nn.Linear:
    out = nn.Linear(lin.in_features, lin.out_features)
    out.load_state_dict(lin.state_dict())
    return out


@dataclass
class OnnxExport:
    path: Path
    input_names: list[str]
    obs_dim: int
    act_dim: int
    module: DeterministicActor


def actor_from_checkpoint(source: str | Path | Checkpoint):
    """(actor, env, checkpoint) for a checkpoint folder: its `Actor`, built from the checkpoint's env spec
    and architecture (no critics), checked against its own task's env."""
    from roboloop.envs import env_spec, make_env
    from roboloop.policies.train_loop import load_actor
    ckpt = source if isinstance(source, Checkpoint) else load_checkpoint(source, load_replay=False)
    # with the run's shaping wrappers (which the checkpoint's spec names), none of its perturbations
    env = make_env(ckpt.meta["config"]["task"], ckpt.meta["config"].get("env", {}),
                   ckpt.meta["config"].get("wrappers", []), training=False)
    return load_actor(ckpt, env_spec(env)), env, ckpt


def export_onnx(source: str | Path | Checkpoint, out: str | Path) -> OnnxExport:
    """Write the deterministic actor of checkpoint `source` to `out` (.onnx) and check it with onnx.checker."""
    import onnx

    actor, env, ckpt = actor_from_checkpoint(source)
    spec = ckpt.meta["env_spec"]
    module = DeterministicActor(actor, ckpt.model.get("obs_norm"), env.action_space.low, env.action_space.high)
    obs_space = env.observation_space
    input_names = ["state"] + module.image_keys
    example = tuple(torch.as_tensor(obs_space[k].sample()[None]) for k in input_names)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of the dynamo one, which needs onnxscript and
        # takes ~10x longer; for these small fixed graphs both give the same ops.
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, buf, dynamo=False, opset_version=OPSET, input_names=input_names,
                          output_names=["action"],
                          dynamic_axes={n: {0: "batch"} for n in input_names + ["action"]})
    model = onnx.load_from_string(buf.getvalue())
    model.producer_name = "roboloop"
    model.doc_string = (f"deterministic SAC actor for {spec['task']}: tanh(mean), no log-std, no critics"
                        + ("; gripper = argmax of the grasp critic" if module.grasp is not None else ""))
    meta = {"roboloop_format": FORMAT, "roboloop_version": VERSION, "task": spec["task"],
            "env_spec": json.dumps(spec, sort_keys=True), "inputs": json.dumps(input_names),
            "obs_norm_folded": str(ckpt.model.get("obs_norm") is not None).lower(),
            "grasp_head": str(module.grasp is not None).lower()}
    onnx.helper.set_model_props(model, meta)
    onnx.checker.check_model(model, full_check=True)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, out)
    return OnnxExport(out, input_names, int(obs_space["state"].shape[0]), int(env.action_space.shape[0]), module)


def record_observations(source: str | Path | Checkpoint, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """At least `n` observations (stacked per key) recorded by running the deterministic actor in its task.

    These are the states the exported policy will really see, unlike samples from the observation box.
    """
    actor, env, _ = actor_from_checkpoint(source)
    obs_list: list[dict] = []
    ep = 0
    while len(obs_list) < n:
        obs, _ = env.reset(seed=seed + ep)
        done = False
        while not done:
            obs_list.append(obs)
            obs, _, terminated, truncated, _ = env.step(actor.act(obs, deterministic=True))
            done = terminated or truncated
        ep += 1
    env.close()
    return {k: np.stack([o[k] for o in obs_list]) for k in obs_list[0]}


def run_onnxruntime(path: str | Path, obs: dict[str, np.ndarray]) -> np.ndarray:
    """Actions (N, A) from onnxruntime for stacked observations {input name: (N, ...)}."""
    import onnxruntime as ort
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(["action"], {i.name: obs[i.name] for i in sess.get_inputs()})[0]


def run_torch(module: DeterministicActor, obs: dict[str, np.ndarray]) -> np.ndarray:
    names = ["state"] + module.image_keys
    with torch.no_grad():
        return module(*(torch.as_tensor(obs[k]) for k in names)).numpy()


def read_metadata(path: str | Path) -> dict[str, str]:
    import onnx
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


class OnnxPolicy:
    """An exported actor (.onnx from `export_onnx`) run by onnxruntime, behind the policy interface:
    act(obs) -> action (A,) float32. The graph holds only the mean action, so `deterministic` has no
    effect. The file's own metadata says which inputs it takes; a missing input is a ValueError."""

    def __init__(self, path: str | Path):
        import onnxruntime as ort
        self.path = Path(path)
        meta = read_metadata(self.path)
        if meta.get("roboloop_format") != FORMAT:
            raise ExportError(f"{self.path} is not a roboloop actor (format {meta.get('roboloop_format')!r})")
        self.env_spec = json.loads(meta["env_spec"])
        self.session = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def act(self, obs: dict[str, np.ndarray], deterministic: bool = False) -> np.ndarray:
        missing = [k for k in self.input_names if k not in obs]
        if missing:
            raise ValueError(f"observation has no {missing} (the exported actor takes {self.input_names})")
        feed = {k: np.asarray(obs[k])[None] for k in self.input_names}
        return self.session.run(["action"], feed)[0][0].astype(np.float32)
