"""The embedded demo, end to end on one machine (`make demo`):

  1. train PickCube in MuJoCo (RLPD with scripted demos), in process;
  2. measure it on the "real" robot: the reality-gap sim robot (PickCubeGap, heavy cube by default);
  3. fine-tune through ROS 2: `roboloop learn --init` (from the sim checkpoint) + `roboloop launch
     sim.launch.xml` (sim_robot with the gap physics, actor, safety, teleop, and a scripted person who
     corrects the policy through an SDL virtual gamepad), real DDS between real processes;
  4. measure the fine-tuned policy on the same robot, and print success before and after;
  5. export the fine-tuned actor to ONNX and to C (float32 and int8).

Every step is a `roboloop` command a user could type; they are printed as they run.

    python -m roboloop.demo [--out runs/demo] [--sim-steps 10000] [--finetune-steps 8000]
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

CLI = [sys.executable, "-m", "roboloop.cli"]


def run(args: list[str], **kw) -> str:
    print("\n$ roboloop " + " ".join(shlex.quote(a) for a in args[len(CLI):]), flush=True)
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    print(p.stdout[-3000:], end="", flush=True)
    if p.returncode != 0:
        raise SystemExit(f"demo: the command above failed (exit {p.returncode})")
    return p.stdout


def success(ckpt: Path, variant: str, episodes: int) -> float:
    out = run([*CLI, "eval", str(ckpt), "--task", "PickCubeGap", "--env", f"variant={variant}",
               "--episodes", str(episodes), "--seed", "50000"])
    return float(re.findall(r"eval success rate: ([0-9.]+)", out)[-1])


def finetune(out: Path, ckpt: Path, variant: str, steps: int, rtf: float) -> Path:
    """Learner + ROS 2 graph until the learner has trained on `steps` robot steps; returns its checkpoint."""
    run_dir = out / "finetune"
    learn = [*CLI, "learn", "--init", str(ckpt), "--bind", "tcp://127.0.0.1:*", "--out", str(run_dir),
             "--steps", str(steps), "--no-progress", "--set", "eval_every=0",
             # --init also brings the sim run's replay as prior data: from empty buffers, the first updates
             # on a few hundred robot steps wrecked the sim policy (measured: 23% -> 0%).
             "--set", "learning_starts=500", "--set", f"checkpoint_every={steps}"]
    print("\n$ roboloop " + " ".join(shlex.quote(a) for a in learn[len(CLI):]) + "   (in the background)", flush=True)
    (run_dir / "learner.endpoint").unlink(missing_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    learner_log = open(run_dir / "learner.log", "w")
    learner = subprocess.Popen(learn, stdout=learner_log, stderr=subprocess.STDOUT)
    launcher = None
    try:
        while not (run_dir / "learner.endpoint").exists():
            if learner.poll() is not None:
                raise SystemExit(f"demo: the learner exited ({learner.returncode}); see {run_dir}/learner.log")
            time.sleep(0.2)
        endpoint = (run_dir / "learner.endpoint").read_text().strip()
        launch = [*CLI, "launch", "sim.launch.xml", f"checkpoint:={ckpt}", f"learner:={endpoint}",
                  "task:=roboloop/PickCubeGap-v0", f"env:=variant={variant}", "scripted_person:=true",
                  f"real_time_factor:={rtf}", "cameras:=false"]
        print("$ roboloop " + " ".join(shlex.quote(a) for a in launch[len(CLI):]) + "   (until the learner is done)",
              flush=True)
        env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
        env.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))   # this demo's own DDS domain
        launcher = subprocess.Popen(launch, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        t0 = time.monotonic()

        def progress() -> None:   # reads the graph's output to the end (a full pipe would stall it)
            for line in launcher.stdout:
                if "]: episode " in line:   # the actor's episode log is the demo's progress report
                    print(f"  [{time.monotonic() - t0:5.0f} s] " + line.split("]: ", 1)[-1].rstrip(), flush=True)
        threading.Thread(target=progress, daemon=True).start()
        learner.wait()
        if learner.returncode != 0:
            raise SystemExit(f"demo: the learner failed ({learner.returncode}); see {run_dir}/learner.log")
    finally:
        if launcher is not None and launcher.poll() is None:
            launcher.send_signal(2)
            try:
                launcher.wait(30)
            except subprocess.TimeoutExpired:
                launcher.kill()
        if learner.poll() is None:
            learner.terminate()
            learner.wait(30)
        learner_log.close()
    return run_dir / "checkpoint"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/demo")
    ap.add_argument("--sim-steps", type=int, default=10_000, help="env steps of sim training")
    ap.add_argument("--finetune-steps", type=int, default=8_000, help="robot steps of fine-tuning through ROS 2")
    ap.add_argument("--variant", default="heavy_cube", help="the robot's reality gap (PickCubeGap variant)")
    ap.add_argument("--real-time-factor", type=float, default=3.0, help="sim robot speed-up during fine-tuning")
    ap.add_argument("--episodes", type=int, default=40, help="eval episodes before and after")
    args = ap.parse_args(argv)
    out = Path(args.out)
    t0 = time.time()
    print(f"== 1. train PickCube in sim ({args.sim_steps} steps)", flush=True)
    run([*CLI, "train", "--task", "PickCube", "--seed", "0", "--steps", str(args.sim_steps), "--out", str(out / "sim"),
         "--no-progress", "--set", "stop_at_success=0"])
    sim_ckpt = out / "sim" / "checkpoint"
    print(f"\n== 2. the sim policy on the robot (PickCubeGap {args.variant})", flush=True)
    before = success(sim_ckpt, args.variant, args.episodes)
    print(f"\n== 3. fine-tune through ROS 2 against the sim robot ({args.finetune_steps} steps, "
          f"a scripted person at a virtual pad)", flush=True)
    tuned = finetune(out, sim_ckpt, args.variant, args.finetune_steps, args.real_time_factor)
    print("\n== 4. the fine-tuned policy on the robot", flush=True)
    after = success(tuned, args.variant, args.episodes)
    print("\n== 5. export the fine-tuned actor", flush=True)
    run([*CLI, "export", "onnx", str(tuned), "--out", str(out / "actor.onnx")])
    run([*CLI, "export", "c", str(tuned), "--quant", "none", "--out", str(out / "c_float32")])
    run([*CLI, "export", "c", str(tuned), "--quant", "int8", "--out", str(out / "c_int8")])
    print(f"\n== demo done in {(time.time() - t0) / 60:.1f} min. Success on PickCubeGap {args.variant} "
          f"({args.episodes} episodes): sim-trained {before:.0%} -> fine-tuned through ROS 2 {after:.0%}.\n"
          f"   checkpoints: {sim_ckpt}, {tuned}; exports: {out}/actor.onnx, {out}/c_float32, {out}/c_int8", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
