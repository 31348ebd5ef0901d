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

import numpy as np
import torch
import zmq

from roboloop.policies.actor import Actor, ActorArch
from roboloop.policies.config import from_dict
from roboloop.policies.transport.batch import Step, pack_batch
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

    def _run(self) -> None:
        t = self.tcfg
        last_heard = last_ping = time.monotonic()
        batch_started: float | None = None
        self._send(encode(self._hello))
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
                            self._send(encode(self._hello))
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
                    self._send(encode(self._hello))
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
                self._send(encode(Message("ping", {"actor": self.name, "stats": self.stats()})))
            if self.connected and now - last_heard > t.peer_timeout_s:
                self.connected = False
                self.log(f"learner at {self.endpoint} silent for {t.peer_timeout_s:.0f}s; still stepping, "
                         f"holding {len(self.unacked)} unacknowledged batches")

    def _make_batch(self, max_steps: int) -> None:
        with self._lock:
            steps = [self._steps.popleft() for _ in range(min(max_steps, len(self._steps)))]
            episodes, self._episodes = self._episodes, []
        msg = pack_batch(steps, {"actor": self.name, "seq": self.seq, "episodes": episodes,
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
            msg = decode(frames, self.tcfg.max_message_mb << 20)
        except WireError as e:
            self.log(f"ignored a malformed message from the learner: {e}")
            return
        m = msg.meta
        if msg.type == "welcome":
            self.welcome = m
            try:
                self.tcfg = from_dict(TransportConfig, m["transport"])
            except Exception as e:  # a learner of another version: keep our defaults, say so
                self.log(f"could not read the learner's transport settings ({e}); using defaults")
            self.learner_version = int(m.get("version", 0))
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
            elif m.get("seq") in self.unacked:   # a batch it will never take: resending would loop forever
                self.unacked.pop(m["seq"])
                self.rejected += 1
        elif msg.type == "stop":
            self.log(f"learner stopped: {m.get('reason')}")
            self.learner_stopped = True

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
    """Step a sim env and stream its transitions to the learner at `endpoint`; returns the final stats.

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
    env = make_env(task or how["task"], how["env"], how["wrappers"])
    check_spec(welcome["env_spec"], env_spec(env))
    template = welcome_actor(welcome)
    template.act(env.observation_space.sample())   # torch's one-time kernel setup (~0.5 s) before the loop, not in it
    client.set_policy_template(template)
    log(f"{client.name}: connected to {endpoint}, task {task or how['task']}" + (f", {rate_hz:g} Hz" if rate_hz else ""))

    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    jitter, period = Jitter(), (1.0 / rate_hz if rate_hz > 0 else 0.0)
    n = episodes = 0
    ep_return, recent = 0.0, deque(maxlen=20)
    t0 = last_status = last_log = time.monotonic()
    tick = t0

    def write_status(final: bool = False) -> dict:
        st = {**client.stats(), "actor": client.name, "steps": n, "episodes": episodes,
              "steps_per_s": n / max(1e-9, time.monotonic() - t0),
              "success_rate": float(np.mean(recent)) if recent else 0.0, **jitter.summary(),
              "acked_seqs": _ranges(client.acked_seqs), "final": final}
        client.extra_stats = {"steps_per_s": st["steps_per_s"], "steps": n}   # rides on the learner pings
        if status_file:
            tmp = f"{status_file}.tmp"
            Path(tmp).write_text(json.dumps(st))
            os.replace(tmp, status_file)
        return st

    try:
        while not stop.is_set() and not client.learner_stopped and (steps <= 0 or n < steps):
            if period:
                now = time.monotonic()
                if n:
                    jitter.late_ms.append((now - tick) * 1e3)
                    if now - tick > period:
                        jitter.overruns += 1
                        tick = now   # do not try to catch up on missed periods: keep the rate from here
                tick += period
            version, policy = client.policy()
            action = (rng.uniform(-1.0, 1.0, env.action_space.shape).astype(np.float32) if policy is None
                      else policy.act(obs, deterministic))
            next_obs, reward, terminated, truncated, info = env.step(action)
            ep_return += float(reward)
            n += 1
            episode = None
            if terminated or truncated:
                episodes += 1
                recent.append(bool(info.get("is_success", False)))
                episode = {"return": ep_return, "success": recent[-1]}
            client.push(Step(obs, action, float(reward), next_obs, bool(terminated), bool(truncated)), episode)
            if terminated or truncated:
                obs, _ = env.reset()
                ep_return = 0.0
            else:
                obs = next_obs
            now = time.monotonic()
            if now - last_status >= 1.0:
                st = write_status()
                if now - last_log >= 10.0:
                    last_log = now
                    log(f"{client.name}: {n} steps ({st['steps_per_s']:.0f}/s), weights v{version} "
                        f"(lag {st['version_lag']}), queue {st['queue_depth']}, unacked {st['unacked']}, "
                        f"acked {st['acked']}, dropped {st['dropped_steps']} steps / {st['dropped_batches']} batches")
                last_status = now
            if period:
                delay = tick - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        if not client.learner_stopped and not client.flush(timeout_s=10.0):
            log(f"{client.name}: {len(client.unacked)} batches were not acknowledged before exit")
    except KeyboardInterrupt:
        pass
    finally:
        st = write_status(final=True)
        client.close()
        env.close()
    log(f"{client.name}: done after {n} steps, {episodes} episodes; acked {st['acked']} transitions")
    return st
