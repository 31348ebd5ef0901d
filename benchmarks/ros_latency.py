"""Observation-to-command latency through the ROS 2 graph, and late commands over a long run.

For each control rate (10 and 50 Hz) two graphs run for `--seconds`, each with real DDS between real
processes, started with `roboloop launch`:
  ours      sim_robot -> actor_node (policy, interventions, transitions) -> safety_node -> sim_robot
  baseline  sim_robot -> an echo node in this script (answers each state with a stop, no policy, no
            safety) -> sim_robot: the floor that rclpy and Fast DDS alone set on this machine.
The actor stamps each command with the time its observation arrived and the safety node keeps the
stamp, so sim_robot measures observation -> command at the robot (p50/p99 from its /diagnostics) and
counts the misses: commands that arrived after the tick following the observation they answer (the
robot ran a tick on the previous command). Its own ticks that overran their period are counted apart
(tick overruns). The script reports the ratio ours / baseline.

    python benchmarks/ros_latency.py [--seconds 60] [--checkpoint runs/demo/sim/checkpoint]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))   # its own DDS domain
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"

CLI = [sys.executable, "-m", "roboloop.cli"]


def checkpoint(path: str | None) -> str:
    if path:
        return path
    from roboloop.config import build_train_config
    from roboloop.policies.train_loop import Trainer
    cfg = build_train_config("PickCube", None, ["sac.compile=false"], steps=0, seed=0)
    return str(Trainer(cfg, run_dir=tempfile.mkdtemp(), progress=False, log=lambda s: None).save())


def measure(hz: float, seconds: float, ckpt: str | None) -> dict:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import TwistStamped
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import Float32MultiArray

    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node(f"latency_bench_{os.getpid()}", context=ctx)
    diag: list = []
    node.create_subscription(DiagnosticArray, "/diagnostics",
                             lambda m: diag.append(m) if m.status[0].name.endswith("sim_robot") else None, 10)
    if ckpt is None:   # the baseline echo: a stop, stamped with when the state arrived
        pub = node.create_publisher(TwistStamped, "/cmd_vel", 10)

        def echo(_msg):
            t = TwistStamped()
            t.header.stamp = node.get_clock().now().to_msg()
            pub.publish(t)
        node.create_subscription(Float32MultiArray, "/observation/state", echo, 10)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    spinner = threading.Thread(target=ex.spin, daemon=True)
    spinner.start()
    args = [*CLI, "launch", "sim.launch.xml", f"control_hz:={hz}", "task:=roboloop/PickCube-v0", "cameras:=false"]
    args += [f"checkpoint:={ckpt}"] if ckpt else ["actor:=false"]
    launcher = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        time.sleep(seconds)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not diag:
            time.sleep(0.1)
    finally:
        launcher.send_signal(2)
        launcher.wait(60)
        ex.shutdown()
        spinner.join(5)   # a spin thread alive at exit aborts the interpreter (std::terminate)
        node.destroy_node()
        rclpy.shutdown(context=ctx)
    if not diag:
        raise SystemExit("no diagnostics from sim_robot")
    v = {kv.key: kv.value for kv in diag[-1].status[0].values}
    return {"p50": float(v.get("command_latency_p50_ms", "nan")), "p99": float(v.get("command_latency_p99_ms", "nan")),
            "n": int(v.get("command_latency_n", 0)), "ticks": int(v["ticks"]), "late": int(v["late_commands"]),
            "overruns": int(v["deadline_misses"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--checkpoint", help="policy to run (default: an untrained PickCube agent, same network)")
    args = ap.parse_args()
    ckpt = checkpoint(args.checkpoint)
    print(f"machine: {os.cpu_count()} CPUs; {args.seconds:.0f} s per run; latency = observation received by the "
          f"actor -> command received by sim_robot")
    for hz in (10.0, 50.0):
        ours, base = measure(hz, args.seconds, ckpt), measure(hz, args.seconds, None)
        for name, r in (("ours (actor + safety)", ours), ("baseline (echo)", base)):
            print(f"  {hz:4.0f} Hz {name:22s} p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  misses (after the next "
                  f"tick) {r['late']}/{r['n']} commands ({r['late'] / max(r['n'], 1):.1%})  "
                  f"tick overruns {r['overruns']}/{r['ticks']}")
        print(f"  {hz:4.0f} Hz ratio ours/baseline: p50 {ours['p50'] / base['p50']:.2f}x, p99 {ours['p99'] / base['p99']:.2f}x")


if __name__ == "__main__":
    main()
