"""`roboloop` command line: train, eval, bench, export, teleop, record, mcap2demos, tasks, launch, learn, act, keys."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from roboloop.checkpoint import CheckpointError
from roboloop.config import ConfigError, build_train_config, deep_merge, load_yaml, parse_override
from roboloop.hardware.gamepad.pygame_pad import GamepadError


def _cmd_tasks(args: argparse.Namespace) -> int:
    from roboloop.envs import env_spec, make_env, task_ids
    for tid in task_ids():
        try:
            env = make_env(tid)
        except ValueError as e:  # a user-arm task without arm=, or an arm whose description is not installed
            print(f"{tid:32s} ({e})")
            continue
        spec = env_spec(env)
        obs = ", ".join(f"{k}{tuple(v['shape'])}" for k, v in spec["observation"].items())
        print(f"{tid:32s} obs: {obs}; action{tuple(spec['action']['shape'])} "
              f"[{', '.join(spec['action']['names'])}]; {spec['control_hz']} Hz, "
              f"{spec['max_episode_steps']} steps")
        env.close()
    return 0


def _demos_arg(value: str | None) -> tuple[int | None, str | None]:
    """--demos N_OR_FILE -> (scripted demo episodes, demo file)."""
    return (int(value), None) if (value or "").isdigit() else (None, value)


def _cmd_train(args: argparse.Namespace) -> int:
    from roboloop.policies.train_loop import Trainer
    if args.async_:
        return _train_async(args)
    if args.resume:
        trainer = Trainer.resume(args.resume, steps=args.steps, progress=not args.no_progress)
    else:
        demos, demo_file = _demos_arg(args.demos)
        cfg = build_train_config(args.task, args.config, args.overrides, steps=args.steps, seed=args.seed,
                                 demos=demos, demo_file=demo_file, run_dir=args.run_dir, teleop=args.teleop)
        trainer = Trainer(cfg, run_dir=args.out, progress=not args.no_progress)
        print(f"training {cfg.task} for {cfg.steps} steps (seed {cfg.seed}, demos {cfg.demos}) -> {trainer.run_dir}")
    result = trainer.run()
    print(f"eval success rate: {result.final_eval.success_rate:.2f}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from roboloop.checkpoint import load_checkpoint
    from roboloop.config import from_dict
    from roboloop.envs import env_spec, make_env
    from roboloop.gym_adapter import SuccessRule
    from roboloop.policies.evaluate import evaluate
    from roboloop.policies.train_loop import load_actor
    ckpt = load_checkpoint(args.checkpoint, load_replay=False)  # read and verified once
    task = args.task or ckpt.meta["config"]["task"]
    env_kwargs = ckpt.meta["config"].get("env", {})
    for o in args.env:
        env_kwargs = deep_merge(env_kwargs, parse_override(o))
    extra = parse_override(f"success={args.success}")["success"] if args.success else {}
    if not isinstance(extra, dict):
        raise ConfigError(f"--success must be a mapping such as '{{min_return: -200}}', got {args.success!r}")
    success = from_dict(SuccessRule, deep_merge(ckpt.meta["config"].get("success", {}), extra), prefix="success.")
    env = make_env(task, env_kwargs, ckpt.meta["config"].get("wrappers", []), training=False, success=success,
                   render_mode="rgb_array" if args.video else None)
    actor = load_actor(ckpt, env_spec(env))   # the policy alone: no critics, no optimizers
    frames: list | None = [] if args.video else None
    result = evaluate(lambda o: actor.act(o, deterministic=True), env, args.episodes, args.seed, frames)
    print(f"{task}: {result}")
    print(f"eval success rate: {result.success_rate:.2f}")
    if args.video:
        import imageio.v2 as imageio
        Path(args.video).parent.mkdir(parents=True, exist_ok=True)
        imageio.mimwrite(args.video, frames, fps=env_spec(env)["control_hz"] or 30)
        print(f"video: {args.video} ({len(frames)} frames)")
    return 0


# ------------------------------------------------------------------ actor-learner split
def _cmd_keys(args: argparse.Namespace) -> int:
    from roboloop.policies.transport.security import create_keys
    for path in create_keys(args.folder, args.name, args.overwrite):
        print(f"wrote {path}")
    print(f"learner: roboloop learn --keys {args.folder} ...; actor machines need "
          f"{args.folder}/learner.key and {args.folder}/{args.name}.key_secret (+ .key)")
    return 0


def _cmd_learn(args: argparse.Namespace) -> int:
    from roboloop.config import from_dict, TrainConfig
    from roboloop.policies.transport.learner import Learner
    if args.resume:
        run_dir = Path(args.resume)
        if not (run_dir / "config.yaml").exists():
            raise ConfigError(f"{run_dir} is not a learner run folder (no config.yaml)")
        data = load_yaml(run_dir / "config.yaml")
        if args.steps is not None:
            data["steps"] = args.steps
        cfg = from_dict(TrainConfig, data)
    else:
        base = None
        if args.init:   # fine-tuning: the trained run's config, then the flags and --set on top
            from roboloop.checkpoint import load_checkpoint
            base = load_checkpoint(args.init, load_replay=False).meta["config"]
        demos, demo_file = _demos_arg(args.demos)
        cfg = build_train_config(args.task, args.config, args.overrides, base=base, steps=args.steps, seed=args.seed,
                                 demos=demos, demo_file=demo_file, run_dir=args.run_dir)
        run_dir = Path(args.out) if args.out else Path(cfg.run_dir) / \
            f"{cfg.task}-s{cfg.seed}-learner-{time.strftime('%Y%m%d-%H%M%S')}"
    from roboloop.policies.transport.store import StoreError
    try:
        learner = Learner(cfg, run_dir, args.bind, args.keys, args.insecure, resume=bool(args.resume),
                          progress=not args.no_progress, init=args.init)
    except StoreError as e:
        raise ValueError(str(e)) from None
    try:
        result = learner.run()
    finally:
        learner.close()
    print(f"eval success rate: {result.final_eval.success_rate:.2f}")
    return 0


def _cmd_act(args: argparse.Namespace) -> int:
    from roboloop.policies.transport.actor import ConnectError, run_actor
    try:
        run_actor(args.connect, args.task, args.steps, args.rate_hz, args.seed, args.keys, args.key_name,
                  args.insecure, args.name, args.deterministic, args.status_file, args.connect_timeout)
    except ConnectError as e:
        raise ValueError(str(e)) from None
    return 0


def _train_async(args: argparse.Namespace) -> int:
    """`train --async`: a learner process and --actors actor processes on loopback; returns the learner's code."""
    import subprocess
    if args.resume:
        raise ConfigError("train --async cannot resume a checkpoint; use `roboloop learn --resume RUN_DIR`")
    demos, demo_file = _demos_arg(args.demos)
    cfg = build_train_config(args.task, args.config, args.overrides, steps=args.steps, seed=args.seed,
                             demos=demos, demo_file=demo_file, run_dir=args.run_dir)  # fails here, not in a child, on bad keys
    out = Path(args.out) if args.out else Path(cfg.run_dir) / f"{cfg.task}-s{cfg.seed}-async-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "learner.endpoint").unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "roboloop.cli"]
    learn = [*cmd, "learn", "--bind", "tcp://127.0.0.1:*", "--out", str(out), "--task", cfg.task]
    for flag, value in (("--steps", args.steps), ("--seed", args.seed), ("--config", args.config),
                        ("--demos", args.demos)):
        if value is not None:
            learn += [flag, str(value)]
    for o in args.overrides:
        learn += ["--set", o]
    if args.no_progress:
        learn.append("--no-progress")
    learner = subprocess.Popen(learn)
    actors: list[subprocess.Popen] = []
    try:
        endpoint_file = out / "learner.endpoint"
        while not endpoint_file.exists():   # the learner binds a free port and writes it here
            if learner.poll() is not None:
                return learner.returncode
            time.sleep(0.1)
        endpoint = endpoint_file.read_text().strip()
        for i in range(args.actors):
            with open(out / f"actor-{i}.log", "w") as f:
                actors.append(subprocess.Popen(
                    [*cmd, "act", "--connect", endpoint, "--name", f"actor-{i}", "--seed", str(cfg.seed + 1000 * i),
                     "--rate-hz", str(args.actor_hz), "--status-file", str(out / f"actor-{i}.json")],
                    stdout=f, stderr=subprocess.STDOUT))
        print(f"learner pid {learner.pid} at {endpoint}, {args.actors} actor(s); logs in {out}")
        return learner.wait()
    finally:
        for a in actors:   # actors exit on the learner's 'stop'; this is only the deadline
            try:
                a.wait(timeout=15)
            except subprocess.TimeoutExpired:
                a.terminate()
                a.wait(timeout=10)
        if learner.poll() is None:
            learner.terminate()
            learner.wait(timeout=30)



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
        if not err <= 1e-5:   # NaN (diverged weights) fails this too
            raise ValueError(f"exported graph differs from torch by {err:.2e} (> 1e-5); not trusting {exp.path}")
    return 0


def _cmd_export_c(args: argparse.Namespace) -> int:
    import warnings

    from roboloop.policies.export.c_codegen import export_c
    source = Path(args.source)
    if args.distill:
        from roboloop.policies.distill import distill_checkpoint, parse_hidden
        hidden = parse_hidden(args.distill)
        if not source.is_dir():
            raise ValueError(f"--distill needs a checkpoint folder (the teacher runs in its task), got {source}")
        print(f"distilling {source} into a {'x'.join(map(str, hidden))} student (DAgger: {args.distill_rounds} "
              f"rounds of {args.distill_episodes} episodes)", flush=True)
        env_kwargs: dict = {}
        for o in args.env:
            env_kwargs = deep_merge(env_kwargs, parse_override(o))
        rep = distill_checkpoint(source, Path(args.out) / "student", hidden, rounds=args.distill_rounds,
                                 episodes=args.distill_episodes, eval_episodes=args.distill_eval,
                                 updates=args.distill_updates, task=args.task, env=env_kwargs,
                                 log=lambda s: print("  " + s, flush=True))
        print(f"closed-loop success on {rep.episodes} held-out episodes (seeds {rep.eval_seed}..."
              f"{rep.eval_seed + rep.episodes - 1}): teacher {rep.teacher_success:.0%}, "
              f"student {rep.student_success:.0%}; student checkpoint {rep.checkpoint}", flush=True)
        source = rep.checkpoint
    with warnings.catch_warnings(record=True):  # printed below, once
        src, msgs = export_c(source, args.out, args.target, args.quant, args.name)
    kind = "float32" if src.quant == "none" else "int8"
    dims = " -> ".join(str(d) for d in [src.mlp.obs_dim] + [d.n_out for d in src.mlp.dense])
    print(f"wrote {Path(args.out) / (src.name + '.c')} and .h: {kind} MLP {dims}, "
          f"~{src.flash_bytes} bytes flash, {src.ram_bytes} bytes RAM (estimate; see `make bench` for measured)")
    for m in msgs:
        print(f"warning: {m}", file=sys.stderr)
    if msgs:
        print(f"roboloop export c: the actor does not fit {args.target}. Distil it into a small student first: "
              f"roboloop export c {args.source} --distill 64x64 --target {args.target} --quant {args.quant}"
              + ("" if source.is_dir() else " (from the checkpoint folder, not the .onnx)"), file=sys.stderr)
        return 1
    print(f"fits {args.target}")
    return 0


def _cmd_record(args: argparse.Namespace) -> int:
    from roboloop.record import drive, record
    common = dict(seed=args.seed, pad=args.pad, view=not args.no_view)
    if args.command == "teleop":
        drive(args.task, args.input, args.episodes, **common)
    else:
        record(args.out, args.task, args.input, args.episodes, fmt=args.format, **common)
    return 0


def _parse_env_options(items: list[str]) -> dict:
    import yaml
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--env takes KEY=VALUE, got {item!r}")
        out[key] = yaml.safe_load(value)
    return out


def _cmd_classifier(args: argparse.Namespace) -> int:
    from roboloop.reward_frames import load_frames, merge_frames, record_frames, save_frames
    if args.classifier_command == "record":
        data = record_frames(args.task, args.input, args.episodes, seed=args.seed,
                             env_kwargs=_parse_env_options(args.env), gap=args.gap, randomize=args.randomize,
                             after_success=args.after_success,
                             pad=args.pad)
        path = save_frames(args.out, data)
        print(f"saved {len(data['label'])} frames of {args.episodes} episodes ({int(data['label'].sum())} success) "
              f"to {path}")
        return 0
    from roboloop.policies.reward_classifier import load_reward_classifier, precision_recall, train_classifier
    if args.classifier_command == "train":
        data = merge_frames([load_frames(f) for f in args.frames])
        clf = train_classifier(data["frames"], data["label"], data["episode"],
                               cameras=args.cameras.split(",") if args.cameras else None,
                               encoder_weights=args.encoder_weights, folds=args.folds, held_out=args.held_out,
                               min_precision=args.min_precision, seed=args.seed)
        clf.info = {"frames": [str(f) for f in args.frames], "task": data["meta"].get("task"),
                    "source": data["meta"].get("source")}
        print(f"saved the classifier to {clf.save(args.out)}")
        return 0
    clf = load_reward_classifier(args.classifier)
    for f in args.frames:
        data = load_frames(f)
        m = precision_recall(clf.probabilities(data["frames"]), data["label"], clf.threshold)
        gap = data["meta"].get("gap") or "nominal"
        print(f"{f} ({gap}, {len(set(data['episode'].tolist()))} episodes): precision {m.precision:.3f}, "
              f"recall {m.recall:.3f} at threshold {clf.threshold:.3f} ({m.frames} frames, {m.positives} success)")
    return 0


def _cmd_mcap2demos(args: argparse.Namespace) -> int:
    from roboloop.mcap_log import mcap_to_demos
    path, episodes = mcap_to_demos(args.input, args.output)
    steps = sum(len(e.actions) for e in episodes)
    print(f"converted {len(episodes)} episodes ({steps} steps) from {args.input} to {path}")
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
    # A shell without job control starts background commands with SIGINT ignored, and children inherit
    # that: the launcher (and through it the nodes) would then never stop on Ctrl-C or a supervisor's SIGINT.
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    launcher.start()
    try:
        return launcher.wait(stop)
    except KeyboardInterrupt:
        launcher.stop()
        return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from roboloop.bench import report, run_bench
    if args.bench_command == "run":
        folder = run_bench(args.config, args.seeds, args.out, args.first_seed, args.overrides, args.task,
                           args.eval_every, args.eval_episodes, args.name)
        print(f"bench results: {folder / 'bench.json'} (report: roboloop bench report {folder})")
    else:
        out = args.out or (args.folders[0] if len(args.folders) == 1 else "bench/report")
        try:
            report(args.folders, out, args.bar, args.reps)
        except ImportError as e:   # the statistics need the bench extra
            raise ValueError(str(e)) from None
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="roboloop", description="Robot RL: train in MuJoCo, fine-tune, export.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train SAC / RLPD on a task")
    t.add_argument("--task", help="task name, e.g. Reach, PickCube, PickCubeVision (see `roboloop tasks`), any "
                   "Gymnasium id (Pendulum-v1; success from --set success.key=... or success.min_return=...) "
                   "or a module:Class entry point")
    t.add_argument("--steps", type=int, help="env steps (training ends at the first episode end after this)")
    t.add_argument("--seed", type=int, help="seed of the run (torch, numpy, env, demos; default 0)")
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
    t.add_argument("--async", dest="async_", action="store_true",
                   help="run a learner process and actor processes over pyzmq on loopback (roboloop learn/act)")
    t.add_argument("--actors", type=int, default=1, help="with --async: number of actor processes")
    t.add_argument("--actor-hz", type=float, default=0.0, help="with --async: actor control rate (0 = as fast as possible)")
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("eval", help="evaluate a checkpoint's deterministic policy")
    e.add_argument("checkpoint", help="checkpoint folder (<run>/checkpoint)")
    e.add_argument("--episodes", type=int, default=20, help="episodes to run")
    e.add_argument("--seed", type=int, default=10_000,
                   help="seed of the first episode (keep it apart from the seeds training evaluated on)")
    e.add_argument("--task", help="evaluate on another task with the same spec (default: the trained task)")
    e.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="task option on top of the checkpoint's, e.g. --task PickCubeGap --env variant=latency")
    e.add_argument("--success", metavar="RULE",
                   help="success rule on top of the checkpoint's, e.g. '{min_return: -200}' or '{key: succeed}'")
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
    xc.add_argument("--distill", metavar="WxH",
                    help="first distil the checkpoint's actor into a student with these hidden widths (e.g. 64x64) "
                         "by DAgger-style imitation, compare both in closed loop, and export the student "
                         "(its checkpoint goes to <out>/student)")
    xc.add_argument("--distill-rounds", type=int, default=3,
                    help="DAgger rounds: the teacher drives in the first, the student in the others (default 3)")
    xc.add_argument("--distill-episodes", type=int, default=20, help="episodes labelled per round (default 20)")
    xc.add_argument("--distill-updates", type=int, default=1500,
                    help="minibatch updates of the student after each round (default 1500)")
    xc.add_argument("--distill-eval", type=int, default=50,
                    help="held-out episodes on which student and teacher are compared (default 50)")
    xc.add_argument("--task", help="with --distill: the task to imitate and compare in (default the checkpoint's), "
                    "e.g. PickCubeGap for the robot")
    xc.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="with --distill: task option on top of the checkpoint's, e.g. --env variant=latency")
    xc.set_defaults(func=_cmd_export_c)

    for name, helptext in (("teleop", "drive a sim task from a gamepad or the keyboard (live camera view)"),
                           ("record", "record demonstrations to a file: .npz for `train --demos FILE`, or .mcap")):
        r = sub.add_parser(name, help=helptext)
        r.add_argument("--task", default="PickCube", help="task to drive (see `roboloop tasks`)")
        r.add_argument("--input", default="gamepad", choices=["gamepad", "keyboard", "evdev", "expert"],
                       help="who drives: a pad (hold the deadman, RB on Xbox), the keyboard (space), or the scripted expert")
        r.add_argument("--pad", default="xbox", help="pad map: xbox, playstation, logitech_f310, logitech_f710 or a YAML file")
        r.add_argument("--episodes", type=int, default=10 if name == "record" else 1000, help="episodes to run")
        r.add_argument("--seed", type=int, default=0, help="seed of the first episode")
        r.add_argument("--no-view", action="store_true", help="no camera window (none is shown when headless anyway)")
        if name == "record":
            r.add_argument("--out", required=True,
                           help="file to write: .npz dataset, or .mcap (ROS 2 messages, see `mcap2demos`)")
            r.add_argument("--format", choices=["npz", "mcap"],
                           help="output format (default: from the --out suffix)")
        r.set_defaults(func=_cmd_record)

    c = sub.add_parser("classifier", help="reward from pixels: record labelled frames, train and evaluate a "
                       "success classifier (use it with `--set reward_classifier=FILE`)")
    cs = c.add_subparsers(dest="classifier_command", required=True)
    cr = cs.add_parser("record", help="record camera frames labelled success/failure")
    cr.add_argument("--task", default="PickCubeVision", help="task with cameras (see `roboloop tasks`)")
    cr.add_argument("--input", default="expert", choices=["expert", "gamepad", "keyboard", "evdev"],
                    help="expert: the scripted expert drives, labels from the sim's success flag; a person: "
                    "frames are success while the success button is held, reset ends the episode")
    cr.add_argument("--pad", default="xbox", help="pad map: xbox, playstation, logitech_f310, logitech_f710 or a YAML file")
    cr.add_argument("--episodes", type=int, default=20, help="episodes to record (default 20)")
    cr.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    cr.add_argument("--gap", default="", help="sim only: a reality-gap variant's scene changes, e.g. shifted_camera")
    cr.add_argument("--randomize", type=float, default=0.0, metavar="SHARE",
                    help="sim only: share of the episodes (0-1) with randomized camera poses, zoom and lighting, "
                    "so a classifier tolerates cameras placed differently (default 0)")
    cr.add_argument("--after-success", type=int, default=10,
                    help="expert: steps to keep recording after the task succeeds (default 10)")
    cr.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="task option, e.g. image_size=96")
    cr.add_argument("--out", required=True, help="frames file to write (.npz)")
    ct = cs.add_parser("train", help="train a classifier on recorded frames; threshold chosen on held-out episodes")
    ct.add_argument("frames", nargs="+", help="frames files from `roboloop classifier record`")
    ct.add_argument("--out", required=True, help="classifier file to write (.pt)")
    ct.add_argument("--cameras", default="", help="comma-separated cameras to read (default: all recorded)")
    ct.add_argument("--encoder-weights", default="", help="backbone weights (.pt; default: the shipped encoder)")
    ct.add_argument("--folds", type=int, default=5,
                    help="an ensemble of this many heads, each holding out one group of episodes; the threshold "
                    "is chosen on their out-of-fold probabilities (default 5; 1: one head and --held-out)")
    ct.add_argument("--held-out", type=float, default=0.3,
                    help="with --folds 1: share of the episodes held out for the threshold (default 0.3)")
    ct.add_argument("--min-precision", type=float, default=0.98,
                    help="held-out precision the threshold must reach (default 0.98)")
    ct.add_argument("--seed", type=int, default=0, help="seed of the split and of the training")
    ce = cs.add_parser("eval", help="precision and recall of a classifier on recorded frames")
    ce.add_argument("classifier", help="classifier file (.pt)")
    ce.add_argument("frames", nargs="+", help="frames files from `roboloop classifier record` (other episodes)")
    c.set_defaults(func=_cmd_classifier)

    m = sub.add_parser("mcap2demos",
                       help="convert an MCAP recording to a demo dataset (.npz) for `train --demos`")
    m.add_argument("input", metavar="IN.mcap", help="MCAP file from `roboloop record --format mcap`")
    m.add_argument("output", metavar="OUT.npz", help="demo dataset file to write")
    m.set_defaults(func=_cmd_mcap2demos)

    la = sub.add_parser("launch", help="start ROS 2 nodes from a launch XML file (like `ros2 launch`)")
    la.add_argument("file", help="launch file path, or a name in roboloop_ros/launch (sim.launch.xml)")
    la.add_argument("launch_args", nargs="*", metavar="NAME:=VALUE", help="launch arguments")
    la.add_argument("--dry-run", action="store_true", help="print the node commands and exit")
    la.set_defaults(func=_cmd_launch)

    b = sub.add_parser("bench", help="multi-seed benchmark: held-out evaluations, IQM with bootstrap CIs, plots")
    bs = b.add_subparsers(dest="bench_command", required=True)
    br = bs.add_parser("run", help="train N seeds of a config (resumable: finished seeds are kept)")
    br.add_argument("config", help="YAML file with TrainConfig keys (as for train --config)")
    br.add_argument("--seeds", type=int, required=True, help="number of seeds")
    br.add_argument("--first-seed", type=int, default=0, help="seeds are first-seed .. first-seed+N-1 (default 0)")
    br.add_argument("--task", help="task, if not the config's")
    br.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config key, e.g. --set steps=5000")
    br.add_argument("--eval-every", type=int, help="env steps between held-out evaluations (default: the "
                    "config's eval_every, else a tenth of the steps)")
    br.add_argument("--eval-episodes", type=int, default=20, help="held-out episodes per evaluation (default 20)")
    br.add_argument("--name", help="algorithm name in reports (default: the config file's name)")
    br.add_argument("--out", help="bench folder (default bench/<name>)")
    bp = bs.add_parser("report", help="statistics and plots over one or more bench folders")
    bp.add_argument("folders", nargs="+", help="bench folders from `roboloop bench run` (one per algorithm and task)")
    bp.add_argument("--out", help="report folder (default: the bench folder if one, else bench/report)")
    bp.add_argument("--bar", type=float, default=0.8, help="success bar for 'env steps to bar' (default 0.8)")
    bp.add_argument("--reps", type=int, default=2000, help="bootstrap resamples (default 2000)")
    b.set_defaults(func=_cmd_bench)

    ls = sub.add_parser("tasks", help="list the registered tasks and their spaces")
    ls.set_defaults(func=_cmd_tasks)

    k = sub.add_parser("keys", help="create ZMQ CURVE key pairs for the learner and an actor")
    k.add_argument("folder", help="folder for the key files (learner.key*, <name>.key*, authorized/)")
    k.add_argument("--name", default="actor", help="actor key name (one per actor machine if you like)")
    k.add_argument("--overwrite", action="store_true", help="replace an existing key pair of that name")
    k.set_defaults(func=_cmd_keys)

    ln = sub.add_parser("learn", help="run the learner server (actors connect with `roboloop act`)")
    ln.add_argument("--task", help="task name (see `roboloop tasks`); actors make the same env")
    ln.add_argument("--steps", type=int, help="received env steps to train on")
    ln.add_argument("--seed", type=int, help="seed of the learner (torch, numpy, demos, evaluation)")
    ln.add_argument("--config", help="YAML file with TrainConfig keys")
    ln.add_argument("--demos", metavar="N_OR_FILE",
                    help="N scripted-expert demo episodes, or a demo file from `roboloop record` (RLPD), as in train; "
                         "steps a person drove on an actor arrive flagged and go to the demo buffer too")
    ln.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config key, e.g. --set transport.publish_every=50 --set sac.utd_ratio=4")
    ln.add_argument("--run-dir", help="parent folder of runs (default runs/)")
    ln.add_argument("--out", help="exact run folder")
    ln.add_argument("--resume", metavar="RUN_DIR", help="continue a learner run (its store and last checkpoint)")
    ln.add_argument("--bind", default="tcp://127.0.0.1:5555",
                    help="endpoint to listen on (tcp://127.0.0.1:* picks a free port, written to <run>/learner.endpoint)")
    ln.add_argument("--keys", help="CURVE key folder from `roboloop keys` (required off loopback)")
    ln.add_argument("--insecure", action="store_true", help="allow plain TCP on a non-loopback address")
    ln.add_argument("--no-progress", action="store_true", help="no progress bar (a status line every 10 s)")
    ln.add_argument("--init", metavar="CHECKPOINT",
                    help="fine-tune from a trained checkpoint: its config, networks, optimizers, and its replay as prior data")
    ln.set_defaults(func=_cmd_learn)

    a = sub.add_parser("act", help="run an actor: step the sim and stream transitions to a learner")
    a.add_argument("--connect", default="tcp://127.0.0.1:5555", help="the learner's endpoint")
    a.add_argument("--task", help="env to step (default: the learner's task); its spec must match the learner's")
    a.add_argument("--steps", type=int, default=0, help="stop after this many steps (0 = until the learner stops)")
    a.add_argument("--rate-hz", type=float, default=0.0, help="fixed control rate (0 = as fast as possible)")
    a.add_argument("--seed", type=int, default=0, help="seed of the actor's env and exploration")
    a.add_argument("--name", help="actor name in the learner's logs (default: random)")
    a.add_argument("--keys", help="CURVE key folder (learner.key and <key-name>.key_secret)")
    a.add_argument("--key-name", default="actor", help="this actor's key pair in --keys (<name>.key_secret)")
    a.add_argument("--insecure", action="store_true", help="allow plain TCP to a non-loopback address")
    a.add_argument("--deterministic", action="store_true", help="act with the mean action (no exploration)")
    a.add_argument("--status-file", help="write the actor's counters as JSON here every second")
    a.add_argument("--connect-timeout", type=float, default=60.0, help="seconds to wait for the learner's welcome")
    a.set_defaults(func=_cmd_act)
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
