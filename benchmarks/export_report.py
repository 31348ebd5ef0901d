"""Size, speed and parity report of the exported 2x64 Reach actor, float32 vs int8 side by side.

    python benchmarks/export_report.py [--checkpoint RUN/checkpoint] [--out runs/export_report]

Without --checkpoint it trains the same seeded Reach actor as tests/export (2x64 actor, ~1 min).
Sizes: arm-none-eabi-size of policy.o (Cortex-M4F, -O2). Instructions per policy_step: QEMU -icount shift=0
(1 instruction = 1 ns of virtual time), read through the firmware's SysTick over 100 calls, calibrated by a
loop of known length. float32 is the baseline of the ratio column.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np



def _test_settings():
    """The tests' actor recipe (tests/export/conftest.py), so the report measures the tested actor."""
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "tests" / "export" / "conftest.py"
    spec = importlib.util.spec_from_file_location("export_conftest", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.REACH_ACTOR, mod.EVAL_SEED


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint")
    ap.add_argument("--out", default="runs/export_report")
    ap.add_argument("--episodes", type=int, default=50)
    args = ap.parse_args()
    out = Path(args.out)

    from roboloop.config import build_train_config
    from roboloop.envs import make_env
    from roboloop.hardware.firmware_build import BOARDS, build_firmware
    from roboloop.hardware.mcu_bridge import MCUBridge, MCUPolicy
    from roboloop.hardware.qemu import QemuBoard
    from roboloop.policies.evaluate import evaluate
    from roboloop.policies.export.c_codegen import export_c
    from roboloop.policies.export.host_run import HostPolicy
    from roboloop.policies.export.onnx_export import export_onnx, record_observations, run_onnxruntime, run_torch
    from roboloop.policies.train_loop import Trainer, load_agent
    REACH_ACTOR, EVAL_SEED = _test_settings()

    ckpt = args.checkpoint
    if ckpt is None:
        cfg = build_train_config("Reach", None, REACH_ACTOR, steps=8_000, seed=0)
        ckpt = Trainer(cfg, run_dir=out / "reach64", progress=True).run().checkpoint
    exp = export_onnx(ckpt, out / "actor.onnx")
    obs = record_observations(ckpt, 1000, seed=123)
    ort = run_onnxruntime(exp.path, obs)
    print(f"\nparity on {len(obs['state'])} recorded observations (max |error|):")
    print(f"  onnxruntime vs torch      {np.abs(ort - run_torch(exp.module, obs)).max():.2e}")
    rows, host = [], {}
    calibration = record_observations(ckpt, 1000, seed=7)["state"]   # other episodes than the parity set
    for quant in ("none", "int8"):
        d = out / f"c_{quant}"
        export_c(exp.path, d, "stm32f405", quant, calibration=calibration if quant == "int8" else None)
        host[quant] = HostPolicy(d / "policy.c")(obs["state"])[0]
        print(f"  host C {quant:5s} vs onnxruntime {np.abs(host[quant] - ort).max():.2e}")
    env = make_env("Reach", {"reward_type": "dense"})
    agent, _, _ = load_agent(ckpt, env)
    torch_rate = evaluate(lambda o: agent.act(o, deterministic=True), env, args.episodes, EVAL_SEED).success_rate
    for quant in ("none", "int8"):
        for board in BOARDS:
            fw = build_firmware(out / f"c_{quant}" / "policy.c", board, out / f"fw_{quant}_{board}")
            with QemuBoard(fw.elf, board, icount=True) as url, MCUBridge(url) as bridge:
                qemu = np.stack([bridge.step(o)[0] for o in obs["state"][:200]])
                bench = bridge.bench(100)
                rate = (evaluate(MCUPolicy(bridge), env, args.episodes, EVAL_SEED).success_rate
                        if board == "netduinoplus2" else float("nan"))
            rows.append((quant, board, fw.policy_size, fw.image_size, bench["instructions"],
                         np.abs(qemu - host[quant][:200]).max(), rate))
    base = {r[1]: r for r in rows if r[0] == "none"}
    print(f"\nReach success over {args.episodes} episodes: PyTorch {torch_rate:.0%}")
    print("| variant | board | policy flash B | policy RAM B | firmware flash B | instructions/step | "
          "ratio to float32 | max |QEMU - host| | closed-loop success |")
    print("|---|---|---|---|---|---|---|---|---|")
    for quant, board, ps, im, insns, err, rate in rows:
        b = base[board]
        print(f"| {'float32' if quant == 'none' else 'int8'} | {board} | {ps.flash} | {ps.ram} | {im.flash} | "
              f"{insns:.0f} | {insns / b[4]:.2f}x instr, {ps.flash / b[2].flash:.2f}x flash | {err:.1e} | "
              f"{'' if np.isnan(rate) else f'{rate:.0%}'} |")
    print("\ngoals: float32 <= 25000 instructions and <= 24576 B flash; int8 <= 19000 instructions and <= 8192 B")


if __name__ == "__main__":
    main()
