"""Shared, session-scoped artefacts of the export tests: one trained Reach actor (2x64 hidden units),
its ONNX graph, 1000+ recorded observations, and the generated C (float32, int8) built for the host."""
import os
import shutil

import numpy as np
import pytest

from roboloop.config import build_train_config

# A 2x64 actor (the microcontroller size the issue reports on) with 128x128 critics; float32 matmuls so
# the PyTorch policy is the exact float32 function that is exported. Reach reaches 100% by ~4k steps.
REACH_ACTOR = ["sac.actor_hidden_dims=[64, 64]", "sac.hidden_dims=[128, 128]", "sac.matmul_precision=float32",
               "stop_at_success=0.9", "eval_every=500", "eval_episodes=10", "checkpoint_every=100000",
               "torch_threads=1"]  # one thread: faster than two on this loaded 2-core machine
EVAL_SEED, EVAL_EPISODES = 20_000, 20

ARM_TOOLS = ("arm-none-eabi-gcc", "qemu-system-arm")


def require_tools(*names: str) -> None:
    """Skip when a tool is missing from PATH; under CI=true fail instead, since CI installs the toolchain
    (`make install`) and a silent skip there would hide that the firmware was never tested."""
    missing = [n for n in names if shutil.which(n) is None]
    if not missing:
        return
    msg = f"{', '.join(missing)} not on PATH: run `make toolchain` (installs the Cortex-M toolchain from Debian)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{msg}; CI=true, so a missing toolchain is a failure, not a skip")
    pytest.skip(msg)


@pytest.fixture(scope="session")
def arm_toolchain():
    """arm-none-eabi-gcc and qemu-system-arm, or a skip (a failure under CI=true)."""
    require_tools(*ARM_TOOLS)


needs_arm = pytest.mark.usefixtures("arm_toolchain")


@pytest.fixture(scope="session")
def reach_checkpoint(tmp_path_factory):
    """A trained Reach actor's checkpoint folder (trained once per session, seeded)."""
    from roboloop.policies.train_loop import Trainer
    cfg = build_train_config("Reach", None, REACH_ACTOR, steps=8_000, seed=0)
    result = Trainer(cfg, run_dir=tmp_path_factory.mktemp("reach64"), progress=False, log=lambda s: None).run()
    assert max(rate for _, rate in result.evals) >= 0.9, f"the Reach actor did not learn: {result.evals}"
    return result.checkpoint


@pytest.fixture(scope="session")
def onnx_export(reach_checkpoint, tmp_path_factory):
    from roboloop.policies.export.onnx_export import export_onnx
    return export_onnx(reach_checkpoint, tmp_path_factory.mktemp("onnx") / "actor.onnx")


@pytest.fixture(scope="session")
def recorded_obs(reach_checkpoint):
    """>= 1000 observations the trained policy really visits, plus extreme ones that saturate tanh."""
    from roboloop.policies.export.onnx_export import record_observations
    obs = record_observations(reach_checkpoint, 1000, seed=123)
    assert len(obs["state"]) >= 1000
    return obs


@pytest.fixture(scope="session")
def ort_actions(onnx_export, recorded_obs):
    from roboloop.policies.export.onnx_export import run_onnxruntime
    return run_onnxruntime(onnx_export.path, recorded_obs)


@pytest.fixture(scope="session")
def calibration_obs(reach_checkpoint):
    """Observations for int8 rounding, from other episodes (seed) than the ones the parity tests use."""
    from roboloop.policies.export.onnx_export import record_observations
    return record_observations(reach_checkpoint, 1000, seed=7)["state"]


@pytest.fixture(scope="session")
def c_policies(onnx_export, calibration_obs, tmp_path_factory):
    """{"none": (dir, HostPolicy), "int8": (dir, HostPolicy)}: the generated C compiled by the host gcc."""
    from roboloop.policies.export.c_codegen import export_c
    from roboloop.policies.export.host_run import HostPolicy
    out = {}
    for quant in ("none", "int8"):
        d = tmp_path_factory.mktemp(f"c_{quant}")
        export_c(onnx_export.path, d, "stm32f405", quant, calibration=calibration_obs if quant == "int8" else None)
        out[quant] = (d, HostPolicy(d / "policy.c"))
    return out


def max_err(a, b) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())
