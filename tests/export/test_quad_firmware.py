"""The quadrotor's flight actor on the emulated Crazyflie MCU (STM32F405, QEMU netduinoplus2): exported to
C (float32 and int8), built with arm-none-eabi-gcc, flying the MuJoCo quadrotor in closed loop through the
serial bridge at the control rate, and measured in instructions per inference.

The actor is a 2x64 SAC actor distilled from the scripted geometric controller (seconds, not minutes of
training); what is checked is that the chip flies exactly what PyTorch flies."""
import numpy as np
import pytest
import torch

from roboloop.config import build_train_config
from roboloop.envs import make_env
from roboloop.hardware.firmware_build import build_firmware
from roboloop.hardware.mcu_bridge import MCUBridge, MCUPolicy
from roboloop.hardware.qemu import QemuBoard

from .conftest import needs_arm

pytestmark = needs_arm
QUAD_ACTOR = ["sac.actor_hidden_dims=[64, 64]", "sac.hidden_dims=[64, 64]", "sac.compile=false",
              "sac.matmul_precision=float32", "torch_threads=1"]
FLIGHT_SEEDS = [30_000, 30_001]
CPU_HZ, CONTROL_HZ = 168e6, 100.0


@pytest.fixture(scope="module")
def quad_checkpoint(tmp_path_factory):
    from roboloop.policies.distill import collect_labels, distill_actor
    from roboloop.policies.train_loop import Trainer
    from roboloop.sim.quadrotor import HoverController
    cfg = build_train_config("QuadHover", None, QUAD_ACTOR, steps=1_000, seed=0)
    trainer = Trainer(cfg, run_dir=tmp_path_factory.mktemp("quad64"), progress=False, log=lambda s: None)
    states, labels = collect_labels(trainer.env, HoverController(), 4, seed=0)
    fit = distill_actor(trainer.agent, states, labels, updates=500)
    assert fit.final_mse < 1e-2, fit
    return trainer.save()


@pytest.fixture(scope="module")
def quad_firmware(quad_checkpoint, tmp_path_factory):
    from roboloop.policies.export.c_codegen import export_c
    from roboloop.policies.export.onnx_export import export_onnx, record_observations
    out = tmp_path_factory.mktemp("quadfw")
    onnx = export_onnx(quad_checkpoint, out / "actor.onnx")
    calibration = record_observations(quad_checkpoint, 1000, seed=7)["state"]
    fw = {}
    for quant in ("none", "int8"):
        export_c(onnx.path, out / quant, "stm32f405", quant, calibration=calibration if quant == "int8" else None)
        fw[quant] = build_firmware(out / quant / "policy.c", "netduinoplus2", out / quant / "build")
    return fw


def fly(env, policy, seeds):
    """Closed-loop episodes: per episode (observations (T, 29), actions (T, 4), final info)."""
    runs = []
    for seed in seeds:
        obs, info = env.reset(seed=seed)
        states, actions, done = [], [], False
        while not done:
            a = policy(obs)
            states.append(obs["state"])
            actions.append(a)
            obs, _, terminated, truncated, info = env.step(a)
            done = terminated or truncated
        runs.append((np.stack(states), np.stack(actions), info))
    return runs


def test_quadrotor_flies_the_same_from_the_emulated_stm32f405(quad_checkpoint, quad_firmware):
    from roboloop.checkpoint import load_checkpoint
    from roboloop.policies.train_loop import load_agent
    env_kwargs = load_checkpoint(quad_checkpoint, load_replay=False).meta["config"]["env"]
    env = make_env("QuadHover", {**env_kwargs, "episode_s": 3.0, "hold_s": 1.0})
    agent, _, _ = load_agent(quad_checkpoint, env)

    def torch_actor(o):
        return agent.act(o, deterministic=True)

    def torch_batch(states):
        with torch.no_grad():
            return agent.actor.deterministic(agent.encoder({"state": torch.as_tensor(states)})).numpy()
    reference = fly(env, torch_actor, FLIGHT_SEEDS)
    assert sum(len(s) for s, _, _ in reference) >= 200   # it flies for a while (1 s of 3 s), not a crash at once
    tolerance = {"none": 1e-4, "int8": 0.05}
    for quant, fw in quad_firmware.items():
        with QemuBoard(fw.elf, "netduinoplus2", icount=False) as url, MCUBridge(url) as bridge:
            runs = fly(env, MCUPolicy(bridge, expect_obs_dim=29, expect_act_dim=4), FLIGHT_SEEDS)
        for (ref_s, ref_a, ref_info), (s, a, info) in zip(reference, runs):
            # on the chip's own trajectory, the chip's actions are PyTorch's actions
            assert np.abs(a - torch_batch(s)).max() <= tolerance[quant], quant
            # and the flight ends the same way
            assert info["is_failure"] == ref_info["is_failure"], (quant, info, ref_info)
            assert info["is_success"] == ref_info["is_success"], (quant, info, ref_info)
            if quant == "none":
                assert len(s) == len(ref_s) and abs(info["pos_error"] - ref_info["pos_error"]) < 1e-3
            else:
                assert abs(info["pos_error"] - ref_info["pos_error"]) < 0.05


def test_flight_actor_instructions_per_inference_fit_the_control_period(quad_firmware):
    """QEMU -icount counts instructions, not cycles: on the real Cortex-M4 a float or flash-wait-stated
    instruction can take more than one cycle, so these are a lower bound on cycles."""
    budget = CPU_HZ / CONTROL_HZ     # cycles in one 10 ms control period at 168 MHz
    counts = {}
    for quant, fw in quad_firmware.items():
        with QemuBoard(fw.elf, "netduinoplus2", icount=True) as url, MCUBridge(url) as bridge:
            bench = bridge.bench(20)
            counts[quant] = bench["instructions"]
        print(f"{quant}: {bench}")
        assert fw.policy_size.flash <= 32 * 1024 and fw.policy_size.ram <= 1024, fw.policy_size
    # a 29-64-64-4 MLP is ~6k multiply-adds: about two instructions each in float32; int8 adds run-time
    # activation quantization per layer, so it saves flash, not instructions, at this size
    assert 6_000 < counts["none"] < 30_000 and 6_000 < counts["int8"] < 30_000, counts
    assert max(counts.values()) < 0.05 * budget, counts
