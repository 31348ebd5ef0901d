"""ONNX export of the deterministic actor: structure, metadata and parity with torch on recorded observations."""
import json

import numpy as np
import pytest
import onnx
import torch

from roboloop.policies.export.onnx_export import (DeterministicActor, export_onnx, fold_input_normalization,
                                                  read_metadata, run_onnxruntime, run_torch)
from roboloop.policies.train_loop import load_agent

from .conftest import max_err


def test_onnxruntime_matches_torch_on_1000_recorded_observations(onnx_export, recorded_obs, ort_actions,
                                                                  reach_checkpoint):
    assert len(recorded_obs["state"]) >= 1000
    torch_actions = run_torch(onnx_export.module, recorded_obs)
    assert max_err(ort_actions, torch_actions) <= 1e-5
    # The exported function is the agent's own deterministic policy (tanh of the mean), not a re-implementation.
    from roboloop.envs import make_env
    agent, _, _ = load_agent(reach_checkpoint, make_env("Reach", {"reward_type": "dense"}))
    acts = np.stack([agent.act({"state": s}, deterministic=True) for s in recorded_obs["state"][:200]])
    assert max_err(acts, ort_actions[:200]) <= 1e-5
    assert np.all(np.abs(ort_actions) <= 1.0) and ort_actions.std() > 0.05  # real, varied actions


def test_graph_is_the_deterministic_actor_only(onnx_export, reach_checkpoint):
    model = onnx.load(str(onnx_export.path))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["state"] and [o.name for o in model.graph.output] == ["action"]
    assert [n.op_type for n in model.graph.node] == ["Gemm", "Relu", "Gemm", "Relu", "Gemm", "Tanh"]
    shapes = [tuple(t.dims) for t in model.graph.initializer if len(t.dims) == 2]
    assert sorted(shapes) == sorted([(64, 13), (64, 64), (4, 64)])  # 2x64 hidden, mean head only (no log-std)
    meta = read_metadata(onnx_export.path)
    assert meta["roboloop_format"] == "roboloop-actor" and meta["task"] == "roboloop/Reach-v0"
    spec = json.loads(meta["env_spec"])
    assert spec["observation"]["state"]["shape"] == [13] and spec["action"]["names"][-1] == "gripper"


def test_observation_normalization_is_folded_into_the_first_layer():
    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 3)
    mean, std = torch.randn(5), torch.rand(5) + 0.5
    x = torch.randn(100, 5)
    folded = fold_input_normalization(lin, mean, std)
    assert torch.allclose(folded(x), lin((x - mean) / std), atol=1e-5)


@pytest.mark.parametrize("encoder", ["conv", "pretrained"])
def test_vision_actor_exports_and_matches_torch(tmp_path, encoder):
    """Image actors go to ONNX too (uint8 camera inputs); the C generator is for MLPs and says so."""
    import pytest

    from roboloop.config import build_train_config
    from roboloop.policies.export.c_codegen import export_c
    from roboloop.policies.export.mlp_graph import UnsupportedGraphError
    from roboloop.policies.train_loop import Trainer
    cfg = build_train_config("PickCubeVision", None, [f"sac.image_encoder={encoder}", "sac.hidden_dims=[32, 32]",
                                                      "sac.image_channels=8",
                                                      "env.image_size=48", "replay_capacity=100"], seed=0)
    trainer = Trainer(cfg, run_dir=tmp_path / "run", progress=False, log=lambda s: None)
    ckpt = trainer.save()
    exp = export_onnx(ckpt, tmp_path / "vision.onnx")
    assert exp.input_names == ["state", "front", "wrist"]
    rng = np.random.default_rng(0)
    obs = {"state": rng.normal(size=(8, 5)).astype(np.float32),
           "front": rng.integers(0, 256, (8, 48, 48, 3), dtype=np.uint8),
           "wrist": rng.integers(0, 256, (8, 48, 48, 3), dtype=np.uint8)}
    assert max_err(run_onnxruntime(exp.path, obs), run_torch(exp.module, obs)) <= 1e-5
    with pytest.raises(UnsupportedGraphError, match="not an MLP"):
        export_c(exp.path, tmp_path / "c")


def test_deterministic_actor_scales_to_a_non_normalized_action_space(reach_checkpoint):
    from roboloop.policies.export.onnx_export import actor_from_checkpoint
    agent, _, _ = actor_from_checkpoint(reach_checkpoint)
    low, high = np.array([0, -2, 0, 0], np.float32), np.array([1, 2, 10, 1], np.float32)
    scaled, plain = DeterministicActor(agent, act_low=low, act_high=high), DeterministicActor(agent)
    x = torch.randn(50, 13)
    with torch.no_grad():
        assert torch.allclose(scaled(x), torch.as_tensor(low) + (plain(x) + 1) / 2 * torch.as_tensor(high - low),
                              atol=1e-5)
