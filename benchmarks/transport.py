"""Actor-learner transport, side by side with the way agentlace (SERL's transport) does it.

1. transitions/s actor -> learner, state-only (Reach) and 2x128x128 camera transitions (PickCubeVision):
   ours          = real `roboloop learn` process (decode, validate, append to the store, fsync, add to
                   replay, acknowledge) fed by a real ActorClient as fast as it can;
   ours no fsync = the same with `transport.fsync=false` (acknowledged = in the OS page cache);
   REQ/REP       = agentlace's pattern: the actor sends a batch of transition dicts (pickle, lz4) on a REQ
                   socket and waits for the reply; the learner's REP socket decompresses, unpickles,
                   inserts every transition into a replay buffer (its data store) and replies;
   PUSH/PULL     = a floor: batches of transition dicts unpickled from a PULL socket, no reply, no store.
   The baselines send batches of 16 transitions.
2. weight-broadcast latency, learner send -> new policy usable in the actor, for the default networks:
   ours  = actor + encoder tensors in the wire format, loaded into a policy copy by the sender thread;
   base  = the whole agent's state_dict through torch.save / pickle, torch.load at the actor.
3. actor control-loop jitter at 10 Hz and 50 Hz (a real `roboloop act`), with the learner training flat
   out on the same machine (transport.updates_per_step=0) versus with the learner idle.

    .venv/bin/python benchmarks/transport.py            # ~4 min on 2 cores
    .venv/bin/python benchmarks/transport.py --quick    # shorter runs, noisier figures
"""
from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import pickle
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import zmq

from roboloop.config import build_train_config, to_dict
from roboloop.envs import env_spec, make_env, obs_layout
from roboloop.policies.train_loop import build_agent
from roboloop.policies.transport.actor import ActorClient
from roboloop.policies.transport.batch import Step
from roboloop.policies.transport.learner import actor_weights, welcome_meta
from roboloop.policies.transport.wire import Message, encode

CLI = [sys.executable, "-m", "roboloop.cli"]


def fake_steps(task: str, n: int) -> list[Step]:
    env = make_env(task)
    shapes, dtypes, act_dim = obs_layout(env)
    env.close()
    rng = np.random.default_rng(0)
    obs = [{k: (rng.integers(0, 255, s, dtype=np.uint8) if dtypes[k] == np.uint8 else rng.normal(size=s).astype(dtypes[k]))
            for k, s in shapes.items()} for _ in range(n + 1)]
    return [Step(obs[i], rng.uniform(-1, 1, act_dim).astype(np.float32), 0.0, obs[i + 1], False, i % 50 == 49)
            for i in range(n)]


# ------------------------------------------------------------------------------- 1. throughput
def ours_throughput(task: str, seconds: float, tmp: Path, fsync: bool = True) -> float:
    port_file = tmp / f"tp-{task}-{fsync}" / "learner.endpoint"
    learner = subprocess.Popen([*CLI, "learn", "--task", task, "--bind", "tcp://127.0.0.1:*", "--out", str(port_file.parent),
                                "--no-progress", "--steps", "100000000", "--set", "learning_starts=1000000000",
                                "--set", "eval_every=0", "--set", "checkpoint_every=1000000000",
                                "--set", "replay_capacity=20000", "--set", f"transport.fsync={str(fsync).lower()}"],
                               stdout=subprocess.DEVNULL)
    try:
        while not port_file.exists():
            time.sleep(0.1)
        client = ActorClient(port_file.read_text().strip(), log=lambda m: None)
        client.connect(timeout_s=120)
        steps = fake_steps(task, 256)
        t0, i = time.monotonic(), 0
        start_acked = 0
        while time.monotonic() - t0 < seconds:
            if client.stats()["queue_depth"] < 2_000:   # keep the pipe full without dropping
                for _ in range(64):
                    client.push(steps[i % 256])
                    i += 1
            else:
                time.sleep(0.001)
            if start_acked == 0 and client.acked > 0:
                t0, start_acked = time.monotonic(), client.acked   # measure from the first ack on
        rate = (client.acked - start_acked) / (time.monotonic() - t0)
        client.close()
        return rate
    finally:
        learner.kill()
        learner.wait()


BASE_BATCH = 16


def _transition_dicts(task: str) -> list[dict]:
    return [dict(obs=s_.obs, action=s_.action, reward=s_.reward, next_obs=s_.next_obs, done=s_.terminated)
            for s_ in fake_steps(task, BASE_BATCH)]


def _pull_receiver(port: int, ready, count) -> None:
    ctx = zmq.Context()
    s = ctx.socket(zmq.PULL)
    s.connect(f"tcp://127.0.0.1:{port}")
    ready.set()
    while True:
        batch = pickle.loads(s.recv())   # never do this with an untrusted peer
        with count.get_lock():
            count.value += len(batch)


def _reqrep_server(task: str, port: int, ready, count) -> None:
    """agentlace's learner side: REP socket, lz4 + pickle, every transition into a data store, a reply."""
    import lz4.frame
    env = make_env(task)
    shapes, dtypes, act_dim = obs_layout(env)
    env.close()
    from roboloop.policies.replay import ReplayBuffer
    store = ReplayBuffer(shapes, dtypes, act_dim, 20_000)
    ctx = zmq.Context()
    s = ctx.socket(zmq.REP)
    s.connect(f"tcp://127.0.0.1:{port}")
    ready.set()
    while True:
        batch = pickle.loads(lz4.frame.decompress(s.recv()))   # never do this with an untrusted peer
        for t in batch:
            store.add(t["obs"], t["action"], t["reward"], t["next_obs"], t["done"], False)
        with count.get_lock():
            count.value += len(batch)
        s.send(lz4.frame.compress(pickle.dumps({"success": True})))


def base_throughput(task: str, seconds: float, pattern: str) -> float:
    """Transitions/s through the PUSH/PULL floor or the REQ/REP pattern (see the module docstring)."""
    import lz4.frame
    with zmq.Context() as ctx:
        s = ctx.socket(zmq.PUSH if pattern == "pushpull" else zmq.REQ)
        port = s.bind_to_random_port("tcp://127.0.0.1")
        spawn = mp.get_context("spawn")   # a fresh interpreter: forking a process with live ZMQ threads is unsafe
        ready, count = spawn.Event(), spawn.Value("q", 0)
        target, args = (_pull_receiver, (port, ready, count)) if pattern == "pushpull" else \
            (_reqrep_server, (task, port, ready, count))
        p = spawn.Process(target=target, args=args, daemon=True)
        p.start()
        ready.wait()
        batch = _transition_dicts(task)
        s.sndhwm = 64
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            if pattern == "pushpull":
                s.send(pickle.dumps(batch))
            else:
                s.send(lz4.frame.compress(pickle.dumps(batch)))
                pickle.loads(lz4.frame.decompress(s.recv()))   # the reply, before the next batch
        rate = count.value / (time.monotonic() - t0)
        p.kill()
        s.close(linger=0)
        return rate


# ------------------------------------------------------------------------------- 2. weight latency
def weight_latency(task: str, repeats: int) -> tuple[float, float, int, int]:
    cfg = build_train_config(task)
    env = make_env(task, cfg.env)
    agent = build_agent(cfg, env)
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    client = ActorClient(f"tcp://127.0.0.1:{port}", log=lambda m: None)
    client._hello = Message("hello", {"actor": "bench"})
    client._thread.start()
    ident, _ = router.recv_multipart()[:2]
    # the welcome and weights messages as a learner sends them (the actor refuses anything less)
    router.send_multipart([ident, *encode(Message("welcome", {**welcome_meta(cfg, env_spec(env)), "version": 0,
                                                              "run": "bench", "session": secrets.token_hex(16)}))])
    if not client._welcomed.wait(30):
        raise RuntimeError("the actor client did not take the benchmark's welcome within 30 s")
    client.set_policy_template(agent.pi)

    def drain():
        while router.poll(0):
            router.recv_multipart()

    ours = []
    for v in range(1, repeats + 1):
        t0 = time.perf_counter()
        router.send_multipart([ident, *encode(Message("weights", {"version": v, "updates": v},
                                                      actor_weights(agent)))], copy=False)
        while client.policy()[0] < v:
            drain()
            time.sleep(0.0002)
            if time.perf_counter() - t0 > 30:
                raise RuntimeError(f"the actor client did not apply weights version {v} within 30 s")
        ours.append(time.perf_counter() - t0)
    our_bytes = sum(a.nbytes for a in actor_weights(agent).values())
    client.close()

    # baseline: the full agent state_dict, pickled by torch.save, to a receiver that torch.loads it
    pull = ctx.socket(zmq.PULL)
    p2 = pull.bind_to_random_port("tcp://127.0.0.1")
    push = ctx.socket(zmq.PUSH)
    push.connect(f"tcp://127.0.0.1:{p2}")
    base = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        buf = io.BytesIO()
        torch.save(agent.state_dict(), buf)
        push.send(buf.getvalue())
        state = torch.load(io.BytesIO(pull.recv()), weights_only=False)
        agent.load_actor_state({k: state[k] for k in agent.pi.state_dict()})
        base.append(time.perf_counter() - t0)
    base_bytes = len(buf.getvalue())
    for s in (router, pull, push):
        s.close(linger=0)
    ctx.term()
    return float(np.median(ours)), float(np.median(base)), our_bytes, base_bytes


# ------------------------------------------------------------------------------- 3. jitter
def jitter(rate_hz: float, seconds: float, busy: bool, tmp: Path, nice: int) -> dict:
    run = tmp / f"jit-{rate_hz}-{busy}"
    learn = [*CLI, "learn", "--task", "Reach", "--bind", "tcp://127.0.0.1:*", "--out", str(run), "--no-progress",
             "--steps", "100000000", "--set", "eval_every=0", "--set", "checkpoint_every=1000000000",
             "--set", "learning_starts=" + ("64" if busy else "1000000000"), "--set", "transport.updates_per_step=0",
             "--set", "torch_threads=2", "--set", f"transport.learner_nice={nice}"]   # flat out: as many threads as cores, no cap on updates per step
    learner = subprocess.Popen(learn, stdout=subprocess.DEVNULL)
    try:
        while not (run / "learner.endpoint").exists():
            time.sleep(0.1)
        st = run / "actor.json"
        subprocess.run([*CLI, "act", "--connect", (run / "learner.endpoint").read_text().strip(), "--rate-hz", str(rate_hz),
                        "--steps", str(int(rate_hz * seconds)), "--status-file", str(st)],
                       stdout=subprocess.DEVNULL, check=True, timeout=seconds * 5 + 120)
        return json.loads(st.read_text())
    finally:
        learner.kill()
        learner.wait()


def throughput(secs: float, tmp: Path) -> None:
    print("1. transitions/s, actor -> learner (ours: validated, on disk, acknowledged; REQ/REP: agentlace's "
          "pattern, pickle + lz4, a reply per batch of 16, into a replay buffer; PUSH/PULL: pickle, no reply, "
          "no store)")
    for task, label in (("Reach", "state (13 floats)"), ("PickCubeVision", "2x128x128x3 images + state")):
        ours, nosync = ours_throughput(task, secs, tmp), ours_throughput(task, secs, tmp, fsync=False)
        reqrep, pull = base_throughput(task, secs, "reqrep"), base_throughput(task, secs, "pushpull")
        print(f"   {label:28s} ours {ours:8.0f}/s   ours no fsync {nosync:8.0f}/s   REQ/REP {reqrep:8.0f}/s   "
              f"PUSH/PULL {pull:8.0f}/s   ours / REQ/REP {ours / reqrep:.2f}")


def latency(quick: bool) -> None:
    print("\n2. weight broadcast, learner send -> new policy usable at the actor (median)")
    for task in ("Reach", "PickCubeVision"):
        ours, base, ob, bb = weight_latency(task, 10 if quick else 30)
        print(f"   {task:16s} ours {ours * 1e3:7.2f} ms ({ob / 1e3:.0f} kB, actor+encoder)   "
              f"torch.save baseline {base * 1e3:7.2f} ms ({bb / 1e3:.0f} kB, whole agent)   ratio {ours / base:.2f}")


def jitters(secs: float, tmp: Path, nice: int) -> None:
    print(f"\n3. actor control-loop jitter (|start time - schedule|, ms), learner idle vs training flat out, learner_nice={nice}")
    for hz in (10.0, 50.0):
        idle, busy = jitter(hz, secs * 2, False, tmp, nice), jitter(hz, secs * 2, True, tmp, nice)
        for name, r in (("idle", idle), ("busy", busy)):
            print(f"   {hz:4.0f} Hz learner {name}: p50 {r['jitter_p50_ms']:6.2f}  p99 {r['jitter_p99_ms']:6.2f}  "
                  f"max {r['jitter_max_ms']:6.2f}  overruns {r['overruns']}/{r['steps']}  "
                  f"steps/s {r['steps_per_s']:.1f}")
        print(f"   {hz:4.0f} Hz p99 ratio busy/idle {busy['jitter_p99_ms'] / max(idle['jitter_p99_ms'], 1e-3):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--parts", default="123", help="which parts to run, e.g. 3")
    ap.add_argument("--nice", type=int, default=10, help="transport.learner_nice for the jitter runs")
    args = ap.parse_args()
    secs = 5.0 if args.quick else 15.0
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, pyzmq {zmq.__version__}\n")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if "1" in args.parts:
            throughput(secs, tmp)
        if "2" in args.parts:
            latency(args.quick)
        if "3" in args.parts:
            jitters(secs, tmp, args.nice)



if __name__ == "__main__":
    main()
