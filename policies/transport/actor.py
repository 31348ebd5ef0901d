"""`roboloop act`: the actor. A control loop that never waits on the network, and a sender thread.

    control loop (main thread)                    sender thread (owns the DEALER socket)
    obs -> policy -> env.step -> push(step)  --->  queue -> batches every N steps / T ms -> learner
    swap in the newest policy between steps  <---  weights: decoded and loaded into a fresh copy here

The policy is an `Actor` (policies/actor.py) built from the learner's env spec and actor architecture
(its welcome); weights are the agent's `actor_state()`.

The sender keeps every batch until the learner acknowledges it (= on the learner's disk), resends what
is not acknowledged within ack_timeout_s or after the learner comes back, and keeps at most
max_unacked batches (the oldest drop, counted) so a long outage cannot exhaust memory. Pings every
heartbeat_s carry the actor's stats (queue depth, drops, weight-version lag) to the learner's logs.
"""
from __future__ import annotations

import copy
import json
import os
import signal
import threading
import time
import uuid
from collections import OrderedDict, deque
from pathlib import Path
from typing import Callable

import msgpack
import numpy as np
import torch
import zmq

from roboloop.gym_adapter import SuccessRule
from roboloop.policies.actor import Actor, ActorArch
from roboloop.policies.actor_loop import ActorLoop
from roboloop.policies.reward_classifier import classifier_reward
from roboloop.policies.config import from_dict
from roboloop.policies.transport.batch import Step, pack_batch
from roboloop.policies.transport.peers import RateLimitedLog
from roboloop.policies.transport.schema import TO_ACTOR, check as check_message
from roboloop.policies.transport.security import check_endpoint, secure_client
from roboloop.policies.transport.settings import TransportConfig
from roboloop.policies.transport.wire import Message, WireError, decode, encode


class ConnectError(RuntimeError):
    """No learner answered the actor's hello in time."""


def welcome_actor(welcome: dict) -> Actor:
    """The actor a learner's welcome describes (its env spec and actor architecture), untrained."""
    try:
        return Actor.from_spec(welcome["env_spec"], ActorArch.from_dict(welcome["actor"]))
    except (KeyError, TypeError, ValueError) as e:
        raise ConnectError(f"the learner's welcome does not describe an actor ({e!r}); "
                           f"is it a roboloop learner of another version?") from None


def _ranges(seqs: list[int]) -> list[list[int]]:
    """[0, 1, 2, 5, 6] -> [[0, 2], [5, 6]] (inclusive ranges, for status files)."""
    out: list[list[int]] = []
    for s in sorted(seqs):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


class ActorClient:
    """The actor's connection to one learner. push() and policy() are safe to call from the control loop."""

    def __init__(self, endpoint: str, keys: str | Path | None = None, key_name: str = "actor",
                 insecure: bool = False, name: str | None = None, log: Callable[[str], None] = print):
        check_endpoint(endpoint, keys, insecure)
        self.endpoint, self.log = endpoint, log
        self.name = name or f"actor-{uuid.uuid4().hex[:6]}"
        self.tcfg = TransportConfig()           # replaced by the learner's settings on welcome
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.immediate = True              # no queueing into a connection that does not exist yet
        self.sock.setsockopt(zmq.MAXMSGSIZE, self.tcfg.max_message_mb << 20)
        self.sock.rcvhwm = 100
        if keys:
            secure_client(self.sock, keys, key_name)
        self.sock.connect(endpoint)
        self._steps: deque[Step] = deque()
        self._episodes: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.welcome: dict | None = None
        self._welcomed = threading.Event()
        self._template: Actor | None = None
        self._policy: tuple[int, Actor] | None = None
        self._pending_weights: Message | None = None
        self.learner_stopped = False
        self.learner_version = 0
        self.seq = 0
        self.unacked: OrderedDict[int, list] = OrderedDict()   # seq -> [frames, n, last sent or None]
        self.acked_seqs: list[int] = []
        self.acked = self.dropped_steps = self.dropped_batches = self.rejected = 0
        self.connected = False
        self.extra_stats: dict = {}
        self.session: str | None = None         # the learner's token for this process; batches are numbered in it
        self._awaiting_welcome = False           # after a reconnect: hold batches until the learner re-welcomes
        self._log_malformed = RateLimitedLog(log)
        self._thread = threading.Thread(target=self._run, name="roboloop-sender", daemon=True)

    # ----------------------------------------------------------------------- control-loop side
    def connect(self, env_spec: dict | None = None, timeout_s: float = 60.0) -> dict:
        """Start the sender and wait for the learner's welcome (see `welcome_actor` for what it holds)."""
        self._hello = Message("hello", {"actor": self.name, "env_spec": env_spec})
        self._thread.start()
        if not self._welcomed.wait(timeout_s):
            self.close()
            raise ConnectError(f"no learner answered at {self.endpoint} within {timeout_s:.0f}s (is `roboloop learn` "
                               f"running there, and do the CURVE keys match?)")
        if self._error:
            self.close()
            raise ConnectError(f"the learner at {self.endpoint} refused this actor: {self._error}")
        return self.welcome

    def set_policy_template(self, policy: Actor) -> None:
        self._template = copy.deepcopy(policy)

    def push(self, step: Step, episode: dict | None = None) -> None:
        """Queue one step (never blocks). Beyond queue_steps the oldest queued step is dropped and counted."""
        with self._lock:
            if len(self._steps) >= self.tcfg.queue_steps:
                self._steps.popleft()
                self.dropped_steps += 1
            self._steps.append(step)
            if episode is not None:
                self._episodes.append(episode)

    def policy(self) -> tuple[int, Actor | None]:
        """(weights version, policy) of the newest weights; (0, None) before the first arrive."""
        p = self._policy
        return (0, None) if p is None else p

    def stats(self) -> dict:
        version = self.policy()[0]
        return {"queue_depth": len(self._steps), "unacked": len(self.unacked), "acked": self.acked,
                "dropped_steps": self.dropped_steps,
                "dropped_batches": self.dropped_batches, "rejected": self.rejected, "version": version,
                "learner_version": self.learner_version, "version_lag": max(0, self.learner_version - version),
                "connected": self.connected, **self.extra_stats}

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued step is acknowledged (or the deadline); True if nothing is left."""
        self._flush_now = True
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and (self._steps or self.unacked) and not self.learner_stopped:
            time.sleep(0.02)
        return not (self._steps or self.unacked)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        self.sock.close(linger=0)
        self.ctx.term()

    # --------------------------------------------------------------------------- sender thread
    _error: str | None = None
    _flush_now = False

    def _send(self, frames: list) -> bool:
        try:
            self.sock.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
            return True
        except zmq.Again:
            return False   # not connected (immediate mode) or the pipe is full: retried later

    def _hello_frames(self) -> list:
        """hello, offering this process's session (if it has one) so the learner keeps numbering in it."""
        return encode(Message("hello", {**self._hello.meta, "session": self.session}))

    def _run(self) -> None:
        t = self.tcfg
        last_heard = last_ping = last_hello = time.monotonic()
        batch_started: float | None = None
        self._send(self._hello_frames())
        while not self._stop.is_set():
            now = time.monotonic()
            if self.sock.poll(5):
                for _ in range(100):
                    try:
                        frames = self.sock.recv_multipart(zmq.NOBLOCK, copy=False)
                    except zmq.Again:
                        break
                    last_heard = now = time.monotonic()
                    if not self.connected:
                        self.connected = True
                        if self._welcomed.is_set():
                            self.log(f"learner back at {self.endpoint}; resending {len(self.unacked)} batches")
                            self._send(self._hello_frames())
                            self._awaiting_welcome, last_hello = True, now
                            for b in self.unacked.values():
                                b[2] = None
                    self._receive([f.buffer for f in frames])
            if self._pending_weights is not None and self._template is not None:
                self._load_weights(self._pending_weights)
                self._pending_weights = None
            t = self.tcfg
            if not self._welcomed.is_set():
                if now - last_ping > 1.0:
                    last_ping = now
                    self._send(self._hello_frames())
                continue
            if self._awaiting_welcome:   # batches wait for the session the learner confirms
                if now - last_hello > 1.0:
                    last_hello = now
                    self._send(self._hello_frames())
                continue
            # batch the queued steps: every batch_steps steps or batch_ms milliseconds
            if self._steps and batch_started is None:
                batch_started = now
            if self._steps and (len(self._steps) >= t.batch_steps or self._flush_now
                                or now - batch_started >= t.batch_ms / 1e3):
                self._make_batch(t.batch_steps)
                batch_started = now if self._steps else None
            self._send_unacked(now)
            if now - last_ping >= t.heartbeat_s:
                last_ping = now
                self._send(encode(Message("ping", {"actor": self.name, "stats": self.stats(),
                                                   "session": self.session})))
            if self.connected and now - last_heard > t.peer_timeout_s:
                self.connected = False
                self.log(f"learner at {self.endpoint} silent for {t.peer_timeout_s:.0f}s; still stepping, "
                         f"holding {len(self.unacked)} unacknowledged batches")

    def _make_batch(self, max_steps: int) -> None:
        with self._lock:
            steps = [self._steps.popleft() for _ in range(min(max_steps, len(self._steps)))]
            episodes, self._episodes = self._episodes, []
        msg = pack_batch(steps, {"actor": self.name, "seq": self.seq, "session": self.session, "episodes": episodes,
                                 "version": self.policy()[0]})
        images = [k for k in msg.arrays if msg.arrays[k].ndim == 4] if self.tcfg.compress_images else []
        self.unacked[self.seq] = [encode(msg, compress=images), len(steps), None]
        self.seq += 1
        while len(self.unacked) > self.tcfg.max_unacked:
            self.unacked.popitem(last=False)
            self.dropped_batches += 1

    def _send_unacked(self, now: float) -> None:
        """Send batches in order: never-sent ones and those whose ack is overdue, keeping send_window in flight."""
        in_flight = 0
        for b in self.unacked.values():
            if in_flight >= self.tcfg.send_window:
                return
            if b[2] is not None and now - b[2] < self.tcfg.ack_timeout_s:
                in_flight += 1
                continue
            if not self._send(b[0]):
                return
            b[2] = now
            in_flight += 1

    def _receive(self, frames: list) -> None:
        try:
            msg = check_message(decode(frames, self.tcfg.max_message_mb << 20), direction=TO_ACTOR)
        except WireError as e:
            self._log_malformed(f"ignored a malformed message from the learner: {e}")
            return
        m = msg.meta
        if msg.type == "welcome":
            try:
                tcfg = from_dict(TransportConfig, m["transport"])
            except Exception as e:  # a learner of another version: keep our defaults, say so
                tcfg = self.tcfg
                self.log(f"could not read the learner's transport settings ({e}); using defaults")
            if self.session is not None and m["session"] != self.session:
                self._retag(m["session"])
            self.welcome, self.tcfg, self.session = m, tcfg, m["session"]
            self.learner_version = int(m.get("version", 0))
            self._awaiting_welcome = False
            self._welcomed.set()
        elif msg.type == "ack":
            for seq in m.get("seqs", []):
                b = self.unacked.pop(seq, None)
                if b is not None:
                    self.acked += b[1]
                    self.acked_seqs.append(seq)
            self.learner_version = max(self.learner_version, int(m.get("version", 0)))
        elif msg.type == "pong":
            self.learner_version = max(self.learner_version, int(m.get("version", 0)))
        elif msg.type == "weights":
            self._pending_weights = msg
            self.learner_version = max(self.learner_version, int(m.get("version", 0)))
        elif msg.type == "error":
            self.log(f"learner refused: {m.get('reason')}")
            if not self._welcomed.is_set():
                self._error = str(m.get("reason"))
                self._welcomed.set()
            elif m.get("field") == "meta.session":   # a learner of another run: ask for a session, keep the data
                self._awaiting_welcome = True
                self._send(self._hello_frames())
            elif m.get("seq") in self.unacked:   # a batch it will never take: resending would loop forever
                self.unacked.pop(m["seq"])
                self.rejected += 1
        elif msg.type == "stop":
            self.log(f"learner stopped: {m.get('reason')}")
            self.learner_stopped = True

    def _retag(self, session: str) -> None:
        """Move the batches still waiting for an acknowledgement into a new session (their seqs stay)."""
        for b in self.unacked.values():
            head = msgpack.unpackb(b[0][0], raw=False)
            head["meta"]["session"] = session
            b[0] = [msgpack.packb(head), *b[0][1:]]
            b[2] = None

    def _load_weights(self, msg: Message) -> None:
        """Load weights into a copy of the policy here, so the control loop only swaps a reference."""
        version = int(msg.meta.get("version", 0))
        if version <= self.policy()[0]:
            return
        policy = copy.deepcopy(self._template)
        try:
            policy.load_actor_state(msg.arrays)
        except ValueError as e:
            self.log(f"ignored weights v{version} that do not fit this actor's networks: {e}")
            return
        self._policy = (version, policy)


class Jitter:
    """Control-period timing: how late each step starts against a fixed-rate schedule (ms)."""

    def __init__(self, window: int = 100_000):
        self.late_ms: deque[float] = deque(maxlen=window)   # the most recent steps only: bounded memory
        self.overruns = 0

    def summary(self) -> dict:
        if not self.late_ms:
            return {}
        a = np.abs(np.array(self.late_ms))
        return {"jitter_p50_ms": float(np.percentile(a, 50)), "jitter_p99_ms": float(np.percentile(a, 99)),
                "jitter_max_ms": float(a.max()), "overruns": self.overruns}


def run_actor(endpoint: str, task: str | None = None, steps: int = 0, rate_hz: float = 0.0, seed: int = 0,
              keys: str | None = None, key_name: str = "actor", insecure: bool = False, name: str | None = None,
              deterministic: bool = False, status_file: str | None = None, connect_timeout_s: float = 60.0,
              log: Callable[[str], None] = print) -> dict:
    """Step a sim env with the shared actor loop (roboloop.policies.actor_loop) and stream its transitions
    to the learner at `endpoint`; returns the final stats.

    steps: stop after this many env steps (0 = until the learner says stop, or SIGTERM / Ctrl-C).
    rate_hz: fixed control rate (0 = as fast as the sim runs); jitter is measured against it.
    Before the first weights arrive the actor takes uniform random actions (as learning_starts does).
    """
    from roboloop.checkpoint import check_spec
    from roboloop.envs import env_spec, make_env

    torch.set_num_threads(1)   # the actor shares the machine with the learner
    client = ActorClient(endpoint, keys, key_name, insecure, name, log)
    spec = None
    if task is not None:
        env = make_env(task)
        spec = env_spec(env)
    welcome = client.connect(spec, connect_timeout_s)
    how = welcome["env"]
    env = make_env(task or how["task"], how["env"], how["wrappers"], success=SuccessRule(**how["success"]))
    env = classifier_reward(env, how.get("reward_classifier", ""))
    check_spec(welcome["env_spec"], env_spec(env))
    template = welcome_actor(welcome)
    template.act(env.observation_space.sample())   # torch's one-time kernel setup (~0.5 s) before the loop, not in it
    client.set_policy_template(template)
    log(f"{client.name}: connected to {endpoint}, task {task or how['task']}" + (f", {rate_hz:g} Hz" if rate_hz else ""))

    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rng = np.random.default_rng(seed)
    jitter, period = Jitter(), (1.0 / rate_hz if rate_hz > 0 else 0.0)
    t0 = time.monotonic()
    clock = {"tick": t0 + period, "status": t0, "log": t0}

    def act(obs, det):
        policy = client.policy()[1]
        return (rng.uniform(-1.0, 1.0, env.action_space.shape).astype(np.float32) if policy is None
                else policy.act(obs, det))

    def write_status(final: bool = False) -> dict:
        n = loop.steps
        st = {**client.stats(), "actor": client.name, "session": client.session, "steps": n,
              "episodes": loop.episodes, "steps_per_s": n / max(1e-9, time.monotonic() - t0),
              "success_rate": loop.success_rate, **jitter.summary(), "acked_seqs": _ranges(client.acked_seqs),
              "final": final}
        client.extra_stats = {"steps_per_s": st["steps_per_s"], "steps": n}   # rides on the learner pings
        if status_file:
            tmp = f"{status_file}.tmp"
            Path(tmp).write_text(json.dumps(st))
            os.replace(tmp, status_file)
        return st

    def after_step(loop: ActorLoop) -> None:
        now = time.monotonic()
        if now - clock["status"] >= 1.0:
            st = write_status()
            if now - clock["log"] >= 10.0:
                clock["log"] = now
                log(f"{client.name}: {loop.steps} steps ({st['steps_per_s']:.0f}/s), weights v{client.policy()[0]} "
                    f"(lag {st['version_lag']}), queue {st['queue_depth']}, unacked {st['unacked']}, "
                    f"acked {st['acked']}, dropped {st['dropped_steps']} steps / {st['dropped_batches']} batches")
            clock["status"] = now
        if period:   # a fixed control rate; lateness is measured at the start of the next step
            delay = clock["tick"] - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = time.monotonic()
            jitter.late_ms.append((now - clock["tick"]) * 1e3)
            if now - clock["tick"] > period:
                jitter.overruns += 1
                clock["tick"] = now   # do not try to catch up on missed periods: keep the rate from here
            clock["tick"] += period

    loop = ActorLoop(env, act, client.push, deterministic, seed=seed, on_step=after_step)
    try:
        loop.run(steps, stop=lambda: stop.is_set() or client.learner_stopped)
        if not client.learner_stopped and not client.flush(timeout_s=10.0):
            log(f"{client.name}: {len(client.unacked)} batches were not acknowledged before exit")
    except KeyboardInterrupt:
        pass
    finally:
        st = write_status(final=True)
        client.close()
        env.close()
    n, episodes = loop.steps, loop.episodes
    log(f"{client.name}: done after {n} steps, {episodes} episodes; acked {st['acked']} transitions")
    return st
