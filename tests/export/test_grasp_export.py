"""A grasp-critic actor (sac.grasp_critic) exports to ONNX with its argmax, and the C export refuses it."""
import numpy as np
import onnx
import pytest
import torch

from roboloop.config import build_train_config
from roboloop.policies.export.c_codegen import export_c
from roboloop.policies.export.onnx_export import (ExportError, export_onnx, read_metadata, record_observations,
                                                  run_onnxruntime, run_torch)
from roboloop.policies.train_loop import Trainer, load_actor


@pytest.fixture(scope="module")
def grasp_checkpoint(tmp_path_factory):
    """A PickCube agent with the grasp critic, saved through the trainer; its grasp head's weights are
    spread out so that all three gripper commands occur on ordinary observations."""
    cfg = build_train_config("PickCube", None, ["sac.grasp_critic=true", "sac.hidden_dims=[32, 32]",
                                                "sac.compile=false", "sac.matmul_precision=float32"], seed=0)
    trainer = Trainer(cfg, run_dir=tmp_path_factory.mktemp("grasp"), progress=False, log=lambda s: None)
    torch.manual_seed(0)
    with torch.no_grad():
        trainer.agent.grasp.hidden[0].weight.normal_(0.0, 3.0)
        trainer.agent.grasp.head.weight.normal_(0.0, 3.0)
    return trainer.save()


def test_onnx_action_is_the_actor_with_the_grasp_critic_argmax(grasp_checkpoint, tmp_path):
    exp = export_onnx(grasp_checkpoint, tmp_path / "actor.onnx")
    model = onnx.load(str(exp.path))
    assert "ArgMax" in [n.op_type for n in model.graph.node]
    assert read_metadata(exp.path)["grasp_head"] == "true"
    obs = record_observations(grasp_checkpoint, 60, seed=0)
    rng = np.random.default_rng(0)   # and states around them, where the commands change
    obs = {"state": np.concatenate([obs["state"], obs["state"] + rng.normal(0.0, 0.5, obs["state"].shape)])
           .astype(np.float32)}
    ort = run_onnxruntime(exp.path, obs)
    assert np.abs(ort - run_torch(exp.module, obs)).max() <= 1e-5
    actor = load_actor(grasp_checkpoint)
    acts = np.stack([actor.act({"state": s}, deterministic=True) for s in obs["state"]])
    np.testing.assert_allclose(ort, acts, atol=1e-5)
    assert set(np.unique(ort[:, -1])) == {-1.0, 0.0, 1.0}   # every command occurs, and only these values


def test_c_export_refuses_a_grasp_critic_actor(grasp_checkpoint, tmp_path):
    with pytest.raises(ExportError, match="grasp critic"):
        export_c(grasp_checkpoint, tmp_path / "c")
    onnx_path = export_onnx(grasp_checkpoint, tmp_path / "actor.onnx").path
    with pytest.raises(ExportError, match="grasp critic"):
        export_c(onnx_path, tmp_path / "c")
    assert not (tmp_path / "c" / "policy.c").exists()
