"""`roboloop` command line: train, eval, export, tasks, teleop, record, launch."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from roboloop.checkpoint import CheckpointError
from roboloop.config import ConfigError, build_train_config, deep_merge, parse_override
from roboloop.hardware.gamepad.pygame_pad import GamepadError


def _cmd_tasks(args: argparse.Namespace) -> int:
    from roboloop.envs import env_spec, make_env, task_ids
    for tid in task_ids():
        env = make_env(tid)
        spec = env_spec(env)
        obs = ", ".join(f"{k}{tuple(v['shape'])}" for k, v in spec["observation"].items())
        print(f"{tid:28s} obs: {obs}; action{tuple(spec['action']['shape'])} "
              f"[{', '.join(spec['action']['names'])}]; {spec['control_hz']} Hz, "
              f"{spec['max_episode_steps']} steps")
        env.close()
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from roboloop.policies.train_loop import Trainer
    if args.resume:
        trainer = Trainer.resume(args.resume, steps=args.steps, progress=not args.no_progress)
    else:
        demos, demo_file = (int(args.demos), None) if (args.demos or "").isdigit() else (None, args.demos)
        cfg = build_train_config(args.task, args.config, args.overrides, steps=args.steps, seed=args.seed,
                                 demos=demos, demo_file=demo_file, run_dir=args.run_dir, teleop=args.teleop)
        trainer = Trainer(cfg, run_dir=args.out, progress=not args.no_progress)
        print(f"training {cfg.task} for {cfg.steps} steps (seed {cfg.seed}, demos {cfg.demos}) -> {trainer.run_dir}")
    result = trainer.run()
    print(f"eval success rate: {result.final_eval.success_rate:.2f}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from roboloop.checkpoint import load_checkpoint
    from roboloop.envs import make_env
    from roboloop.policies.evaluate import evaluate
    from roboloop.policies.train_loop import load_agent
    ckpt = load_checkpoint(args.checkpoint, load_replay=False)  # read and verified once
    task = args.task or ckpt.meta["config"]["task"]
    env_kwargs = ckpt.meta["config"].get("env", {})
    for o in args.env:
        env_kwargs = deep_merge(env_kwargs, parse_override(o))
    env = make_env(task, env_kwargs, ckpt.meta["config"].get("wrappers", []), training=False,
                   render_mode="rgb_array" if args.video else None)
    agent, _, _ = load_agent(ckpt, env)
    frames: list | None = [] if args.video else None
    result = evaluate(lambda o: agent.act(o, deterministic=True), env, args.episodes, args.seed, frames)
    print(f"{task}: {result}")
    print(f"eval success rate: {result.success_rate:.2f}")
    if args.video:
        import imageio.v2 as imageio
        Path(args.video).parent.mkdir(parents=True, exist_ok=True)
        imageio.mimwrite(args.video, frames, fps=env.unwrapped.task_spec()["control_hz"])
        print(f"video: {args.video} ({len(frames)} frames)")
    return 0


def _cmd_export_onnx(args: argparse.Namespace) -> int:
    import numpy as np

    from roboloop.policies.export.onnx_export import export_onnx, record_observations, run_onnxruntime, run_torch
    out = args.out or str(Path(args.checkpoint).parent / "actor.onnx")
    exp = export_onnx(args.checkpoint, out)
    print(f"wrote {exp.path} (inputs {', '.join(exp.input_names)} -> action[{exp.act_dim}]; onnx.checker passed)")
    if args.check > 0:
        obs = record_observations(args.checkpoint, args.check)
        err = float(np.abs(run_onnxruntime(exp.path, obs) - run_torch(exp.module, obs)).max())
        n = len(obs["state"])
        print(f"onnxruntime vs torch on {n} recorded observations: max |error| {err:.2e}")
        if err > 1e-5:
            raise ValueError(f"exported graph differs from torch by {err:.2e} (> 1e-5); not trusting {exp.path}")
    return 0


def _cmd_export_c(args: argparse.Namespace) -> int:
    import warnings

    from roboloop.policies.export.c_codegen import export_c
    with warnings.catch_warnings(record=True):  # printed below, once
        src, msgs = export_c(args.source, args.out, args.target, args.quant, args.name)
    kind = "float32" if src.quant == "none" else "int8"
    dims = " -> ".join(str(d) for d in [src.mlp.obs_dim] + [d.n_out for d in src.mlp.dense])
    print(f"wrote {Path(args.out) / (src.name + '.c')} and .h: {kind} MLP {dims}, "
          f"~{src.flash_bytes} bytes flash, {src.ram_bytes} bytes RAM (estimate; see `make bench` for measured)")
    for m in msgs:
        print(f"warning: {m}", file=sys.stderr)
    return 0


def _cmd_record(args: argparse.Namespace) -> int:
    from roboloop.record import drive, record
    common = dict(seed=args.seed, pad=args.pad, view=not args.no_view)
    if args.command == "teleop":
        drive(args.task, args.input, args.episodes, **common)
    else:
        record(args.out, args.task, args.input, args.episodes, **common)
    return 0


def _cmd_launch(args: argparse.Namespace) -> int:
    import signal
    import threading

    from roboloop.launch import Launcher, load, parse_cli_args
    desc = load(args.file, parse_cli_args(args.launch_args))
    launcher = Launcher(desc)  # resolves every executable before starting any
    if args.dry_run:
        for spec, cmd in zip(desc.nodes, launcher.commands):
            print(f"{spec.label}: {' '.join(cmd)}")
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    launcher.start()
    try:
        return launcher.wait(stop)
    except KeyboardInterrupt:
        launcher.stop()
        return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="roboloop", description="Robot RL: train in MuJoCo, fine-tune, export.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train SAC / RLPD on a task")
    t.add_argument("--task", help="task name, e.g. Reach, PickCube, PickCubeVision (see `roboloop tasks`)")
    t.add_argument("--steps", type=int, help="env steps (training ends at the first episode end after this)")
    t.add_argument("--seed", type=int)
    t.add_argument("--config", help="YAML file with TrainConfig keys (see roboloop/configs/)")
    t.add_argument("--demos", metavar="N_OR_FILE",
                   help="N scripted-expert demo episodes, or a demo file from `roboloop record` (RLPD; 0 = plain SAC)")
    t.add_argument("--teleop", choices=["gamepad", "keyboard", "evdev"],
                   help="let a person intervene (hold the deadman) during training; see --set teleop_pad=...")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set sac.utd_ratio=4 --set env.control_hz=20")
    t.add_argument("--run-dir", help="parent folder of runs (default runs/)")
    t.add_argument("--out", help="exact run folder (default <run-dir>/<task>-s<seed>-<time>)")
    t.add_argument("--resume", metavar="CHECKPOINT", help="continue a run from its checkpoint folder")
    t.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("eval", help="evaluate a checkpoint's deterministic policy")
    e.add_argument("checkpoint", help="checkpoint folder (<run>/checkpoint)")
    e.add_argument("--episodes", type=int, default=20)
    e.add_argument("--seed", type=int, default=10_000)
    e.add_argument("--task", help="evaluate on another task with the same spec (default: the trained task)")
    e.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="task option on top of the checkpoint's, e.g. --task PickCubeGap --env variant=latency")
    e.add_argument("--video", help="write an mp4 of the episodes to this path")
    e.set_defaults(func=_cmd_eval)

    x = sub.add_parser("export", help="export a trained actor to ONNX or to C for microcontrollers")
    xs = x.add_subparsers(dest="format", required=True)
    xo = xs.add_parser("onnx", help="deterministic actor -> ONNX, checked against onnxruntime")
    xo.add_argument("checkpoint", help="checkpoint folder (<run>/checkpoint)")
    xo.add_argument("--out", help="output .onnx (default <run>/actor.onnx)")
    xo.add_argument("--check", type=int, default=1000, metavar="N",
                    help="compare onnxruntime with torch on N recorded observations (0 = skip; default 1000)")
    xo.set_defaults(func=_cmd_export_onnx)
    xc = xs.add_parser("c", help="MLP actor -> one dependency-free C99 .c/.h pair (policy_step)")
    xc.add_argument("source", help="an .onnx file or a checkpoint folder")
    xc.add_argument("--target", default="cortex-m4", help="host, cortex-m4, stm32f405 or cortex-m7 "
                    "(sets the flash/RAM budget that is checked; default cortex-m4)")
    xc.add_argument("--quant", choices=["none", "int8"], default="none", help="int8: per-channel int8 weights")
    xc.add_argument("--out", default="policy_c", help="output folder (default policy_c/)")
    xc.add_argument("--name", default="policy", help="C prefix: <name>_step, <name>.c (default policy)")
    xc.set_defaults(func=_cmd_export_c)

    for name, helptext in (("teleop", "drive a sim task from a gamepad or the keyboard (live camera view)"),
                           ("record", "record demonstrations to a dataset file (.npz) for `train --demos FILE`")):
        r = sub.add_parser(name, help=helptext)
        r.add_argument("--task", default="PickCube")
        r.add_argument("--input", default="gamepad", choices=["gamepad", "keyboard", "evdev", "expert"],
                       help="who drives: a pad (hold the deadman, RB on Xbox), the keyboard (space), or the scripted expert")
        r.add_argument("--pad", default="xbox", help="pad map: xbox, playstation, logitech_f310, logitech_f710 or a YAML file")
        r.add_argument("--episodes", type=int, default=10 if name == "record" else 1000)
        r.add_argument("--seed", type=int, default=0)
        r.add_argument("--no-view", action="store_true", help="no camera window (none is shown when headless anyway)")
        if name == "record":
            r.add_argument("--out", required=True, help="dataset file to write (.npz)")
        r.set_defaults(func=_cmd_record)

    la = sub.add_parser("launch", help="start ROS 2 nodes from a launch XML file (like `ros2 launch`)")
    la.add_argument("file", help="launch file path, or a name in roboloop_ros/launch (sim.launch.xml)")
    la.add_argument("launch_args", nargs="*", metavar="NAME:=VALUE", help="launch arguments")
    la.add_argument("--dry-run", action="store_true", help="print the node commands and exit")
    la.set_defaults(func=_cmd_launch)

    ls = sub.add_parser("tasks", help="list the registered tasks and their spaces")
    ls.set_defaults(func=_cmd_tasks)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, CheckpointError, ValueError, GamepadError) as e:
        print(f"roboloop {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
