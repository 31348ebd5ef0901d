"""`roboloop learn`: the learner server. One ROUTER socket serves every actor.

    actor --hello-->        learner --welcome (transport settings, env, env spec, actor architecture,
                                       session)--> actor   (+ the current weights)
    actor --transitions-->  learner: check, append to the store, fsync, add to replay --ack--> actor
    actor --ping (stats)--> learner --pong (weight version)--> actor
    learner --weights (version, the agent's actor_state())--> every live actor, every publish_every updates
    learner --stop--> actors, when training is over

Training is the same loop as `roboloop train` (policies/training.py), fed by the socket instead of an
env: single-threaded, it drains the socket, makes one SAC update when the update budget allows
(updates_per_step per received transition), and publishes weights. Demos, demo files, interventions
(steps flagged `intervened` go to the demo buffer too), --init and --resume behave as in `train`. Every
message is decoded and checked against the schema (transport/schema.py) before anything acts on it; one
that fails is answered with an 'error' naming the field, counted and logged (rate limited); it never
stops the learner. Batches are de-duplicated per actor session (transport/peers.py), so a restarted
actor under the same name never collides with its predecessor. Acknowledgements go out only after the
store's fsync (group commit), so an
acknowledged transition survives kill -9; `roboloop learn --resume RUN` rebuilds the replay from the
store and continues from the last checkpoint's networks.
"""
from __future__ import annotations

import os
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import yaml
import zmq
from zmq.utils.monitor import recv_monitor_message

from roboloop.checkpoint import CheckpointError, check_spec, find_checkpoint, load_checkpoint, save_checkpoint
from roboloop.envs import env_spec, make_env, obs_layout
from roboloop.policies.allocator import retain_freed_memory
from roboloop.policies.callbacks import (Callback, CheckpointCallback, EvalCallback, ProgressCallback,
                                         TensorBoardCallback)
from roboloop.policies.config import TrainConfig, to_dict
from roboloop.policies.evaluate import EvalResult
from roboloop.policies.sac import actor_arch
from roboloop.policies.training import Layout, TrainingLoop, load_agent_state
from roboloop.policies.transport.batch import add_to_replay
from roboloop.policies.transport.peers import PeerTable, RateLimitedLog, Sessions, read_or_create_key
from roboloop.policies.transport.schema import TO_LEARNER, SchemaError, check as check_message
from roboloop.policies.transport.security import check_endpoint, secure_server
from roboloop.policies.transport.store import TransitionStore
from roboloop.policies.transport.wire import (MAX_ARRAYS, MAX_HEADER_BYTES, Message, WireError, decode, encode,
                                              frames_to_record, record_to_frames)

STORE_FILE = "transitions.rlog"
ENDPOINT_FILE = "learner.endpoint"
INIT_FILE = "init_checkpoint"   # the checkpoint a fine-tuning run started from (`--init`)
SESSION_KEY_FILE = "sessions.key"


def actor_weights(agent) -> dict[str, np.ndarray]:
    """What an actor needs to act, as arrays: the agent's actor_state() (no critics, no target networks,
    no temperature)."""
    return {k: v.cpu().numpy() for k, v in agent.actor_state().items()}


def welcome_meta(cfg: TrainConfig, spec: dict) -> dict:
    """What an actor needs from the learner: the transport settings, how to make the env, the env
    spec, and the actor's architecture (not the training config)."""
    return {"transport": to_dict(cfg.transport),
            "env": {"task": cfg.task, "env": cfg.env, "wrappers": cfg.wrappers, "success": to_dict(cfg.success),
                    "reward_classifier": cfg.reward_classifier},
            "env_spec": spec, "actor": actor_arch(cfg.sac).to_dict()}


@dataclass
class LearnResult:
    run_dir: Path
    checkpoint: Path
    final_eval: EvalResult
    received: int
    updates: int
    rejected: int
    evals: list[tuple[int, float]]


def _dedup_key(meta: dict) -> str:
    """Stored batches are unique per (session, seq); batches stored before sessions existed, per actor name."""
    return meta.get("session") or f"name:{meta['actor']}"


class Learner:
    """A learner server for one run folder (config.yaml, transitions.rlog, checkpoint/, tb/)."""

    in_process = False   # as a source of the training loop: transitions come from actors over the socket

    def __init__(self, cfg: TrainConfig, run_dir: str | Path, bind: str, keys: str | Path | None = None,
                 insecure: bool = False, resume: bool = False, progress: bool = True,
                 log: Callable[[str], None] = print, init: str | Path | None = None):
        check_endpoint(bind, keys, insecure)
        self.cfg, self.run_dir, self.progress, self.log = cfg, Path(run_dir), progress, log
        self.tcfg = cfg.transport
        # 0 = leave one core to the actors: on a shared machine two OpenMP threads fighting an actor for
        # two cores run SAC updates ~3x slower than one thread does.
        torch.set_num_threads(cfg.torch_threads or max(1, (os.cpu_count() or 1) - 1))
        retain_freed_memory()   # an eager update otherwise page-faults on most of its tensors
        if self.tcfg.learner_nice > 0:
            os.nice(self.tcfg.learner_nice)   # idle CPU still goes to the learner; a control loop goes first
        self.eval_env = make_env(cfg.task, cfg.env, cfg.wrappers, training=False, success=cfg.success)
        self.spec = env_spec(self.eval_env)
        self.layout = Layout(*obs_layout(self.eval_env))
        # actors flag the steps a person drove; the demo buffer keeps room for them
        self.loop = TrainingLoop(cfg, self.spec, self.layout, interventions=True,
                                 updates_per_step=self.tcfg.updates_per_step, log=log, progress=progress)
        self.version = self.rejected = self.episodes = self.refused = 0
        self._refused_logged = -1e9
        self._ended: list[dict] = []     # episodes reported by actors since the last round
        self.seen: dict[str, set[int]] = defaultdict(set)    # session -> seqs already stored: resends are re-acked
        self.peers = PeerTable(self.tcfg.max_peers, self.tcfg.peer_timeout_s, 6 * self.tcfg.peer_timeout_s)
        self.log_rejected = RateLimitedLog(log)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.sessions = Sessions(read_or_create_key(self.run_dir / SESSION_KEY_FILE))
        (self.run_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
        self.store = TransitionStore(self.run_dir / STORE_FILE, fsync=self.tcfg.fsync, log=log)
        if resume:
            self._resume()
        elif init is not None:
            self._init_from(init)
        elif self.store.records:
            raise ValueError(f"{self.run_dir} already holds {self.store.records} stored batches; continue it with "
                             f"`roboloop learn --resume {self.run_dir}` or choose a new --out")
        self.eval_cb = EvalCallback(self.eval_env, cfg.eval_every, cfg.eval_episodes, cfg.seed + 500_000,
                                    cfg.stop_at_success, after_first_update=True)
        self.ckpt_cb = CheckpointCallback(self.save, cfg.checkpoint_every)
        self.eval_cb.start_after(self.received)
        self.ckpt_cb.start_after(self.received)
        self.tb_cb = TensorBoardCallback(self.run_dir / "tb", perf_every_s=2.0)
        self.loop.callbacks = [self.eval_cb, _Broadcast(self), self.tb_cb,
                               ProgressCallback(f"learn {cfg.task}", progress, log), self.ckpt_cb]

        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.linger = 0
        self.sock.setsockopt(zmq.MAXMSGSIZE, self.tcfg.max_message_mb << 20)  # refused before allocation
        self.sock.sndhwm = 1_000
        self.auth = secure_server(self.ctx, self.sock, keys, log) if keys else None
        self.monitor = self.sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH
                                                    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                                                    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        try:
            self.sock.bind(bind)
        except zmq.ZMQError as e:
            self.close()
            raise ValueError(f"cannot bind the learner to {bind}: {e}") from None
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        (self.run_dir / ENDPOINT_FILE).write_text(self.endpoint + "\n")
        self.run_id = uuid.uuid4().hex[:8]

    # the loop's state: received env steps are its steps
    agent = property(lambda self: self.loop.agent)
    online = property(lambda self: self.loop.online)
    demo = property(lambda self: self.loop.demo)
    rng = property(lambda self: self.loop.rng)
    evals = property(lambda self: self.loop.evals)
    prior_demos = property(lambda self: self.loop.prior_demos)
    received = property(lambda self: self.loop.step, lambda self, n: setattr(self.loop, "step", n))
    updates = property(lambda self: self.loop.updates, lambda self, n: setattr(self.loop, "updates", n))

    # ---------------------------------------------------------------------------------- resume
    def _init_from(self, path: str | Path, networks: bool = True) -> None:
        """Start from a trained agent (fine-tuning a sim-trained policy on the robot): its networks,
        temperature and optimizer state, and its replay buffers as prior data (its online transitions
        in the online buffer, its demos in the demo buffer), so the first updates on a few hundred robot
        steps do not overwrite what the sim run learned. The path is kept in the run folder, so
        `--resume` reloads the same prior data."""
        ckpt = load_checkpoint(path)
        counts = self.loop.init_from(ckpt, networks)
        (self.run_dir / INIT_FILE).write_text(str(ckpt.path.resolve()) + "\n")
        self.log(f"{'networks and ' if networks else ''}prior data from {ckpt.path} (fine-tuning): "
                 + ", ".join(f"{n} {name} transitions" for name, n in counts.items()))

    def _resume(self) -> None:
        # the newest complete checkpoint, also when a save was interrupted between its renames
        ckpt_path = find_checkpoint(self.run_dir / "checkpoint")
        if ckpt_path is None and (self.run_dir / "checkpoint").exists():
            load_checkpoint(self.run_dir / "checkpoint")   # raises, naming what is wrong with it
        ckpt_path = ckpt_path or self.run_dir / "checkpoint"
        if (self.run_dir / INIT_FILE).exists():   # a fine-tuning run: the same prior data again
            self._init_from((self.run_dir / INIT_FILE).read_text().strip(), networks=not ckpt_path.exists())
        if ckpt_path.exists():
            ckpt = load_checkpoint(ckpt_path, load_replay=False)
            if ckpt.path.name != "checkpoint":
                self.log(f"a checkpoint save was interrupted; resuming from its newest complete copy {ckpt.path}")
            check_spec(ckpt.meta["env_spec"], self.spec)
            load_agent_state(self.agent, ckpt.model, ckpt.path)
            c = ckpt.meta["counters"]
            self.updates, self.version = c["updates"], c["version"]
            self.evals[:] = [tuple(e) for e in ckpt.meta.get("evals", [])]
        # the demos (scripted, demo file) are made again, as they were, before the stored transitions
        self.loop.fill_demos()
        for payload in self.store:
            msg = decode(record_to_frames(payload))
            self.received += add_to_replay(self.online, msg, self.demo)
            self.seen[_dedup_key(msg.meta)].add(msg.meta["seq"])
        if ckpt_path.exists() and self.received < c["received"]:
            raise CheckpointError(
                f"{self.store.path} holds {self.received} transitions but the checkpoint {ckpt_path} was saved after "
                f"{c['received']} were received: the store was cut or replaced. Restore it, or start a new run "
                f"(--out) from the checkpoint with --init {ckpt_path}")
        self.log(f"resumed {self.run_dir}: {self.received} stored transitions in {self.store.records} batches, "
                 f"{self.updates} updates, weights version {self.version}"
                 + ("" if ckpt_path.exists() else " (no checkpoint yet: networks start fresh)"))

    def save(self) -> Path:
        meta = {"config": to_dict(self.cfg), "env_spec": self.spec, "evals": self.evals,
                "counters": {"received": self.received, "updates": self.updates, "version": self.version,
                             "step": self.received}}
        model = {"agent": self.agent.state_dict(), "optim": self.agent.optimizer_state(),
                 "torch_rng": torch.get_rng_state()}
        return save_checkpoint(self.run_dir / "checkpoint", meta, model)   # replay lives in the store

    # ------------------------------------------------------------------------------- messaging
    def _send(self, identity: bytes, msg: Message | list) -> None:
        frames = msg if isinstance(msg, list) else encode(msg)
        try:
            self.sock.send_multipart([identity, *frames], flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            pass  # that actor's queue is full (it is not reading): it will resend / re-ask

    def _reject(self, identity: bytes, reason: str, seq: int | None = None, field: str | None = None) -> None:
        self.rejected += 1
        self.log_rejected(f"rejected a message from peer {identity.hex()[:32]}: {reason} ({self.rejected} rejected)")
        self._send(identity, Message("error", {"reason": reason[:2_000], "seq": seq, "field": field}))

    def _weights_frames(self) -> list:
        return encode(Message("weights", {"version": self.version, "updates": self.updates},
                              actor_weights(self.agent)))

    def _handle(self, identity: bytes, frames: list, acks: dict[bytes, list[int]]) -> None:
        try:
            msg = decode(frames, self.tcfg.max_message_mb << 20)
        except WireError as e:
            return self._reject(identity, str(e))
        try:
            check_message(msg, self.layout, TO_LEARNER)
        except SchemaError as e:   # the seq, when it is one, tells the actor to stop resending that batch
            seq = msg.meta.get("seq") if isinstance(msg.meta, dict) else None
            return self._reject(identity, str(e), seq if type(seq) is int and seq >= 0 else None, e.field)
        actor, session = msg.meta["actor"], msg.meta.get("session")
        if msg.type == "hello":
            if msg.meta.get("env_spec") is not None:
                try:
                    check_spec(self.spec, msg.meta["env_spec"])
                except CheckpointError as e:
                    return self._reject(identity, f"actor {actor}'s task differs from the learner's: {e}")
            if not self.sessions.valid(session, actor):   # a new actor process: a new session, seqs from 0
                session = self.sessions.issue(actor)
            peer, back = self.peers.touch(actor, session, identity)
            self.log(f"actor {actor} connected")
            self._send(identity, Message("welcome", {**welcome_meta(self.cfg, self.spec),
                                                     "version": self.version, "run": self.run_id,
                                                     "session": session}))
            if self.version > 0:
                self._send(identity, self._weights_frames())
            return
        if session is not None and not self.sessions.valid(session, actor):
            return self._reject(identity, f"{msg.type} from {actor}: meta.session was not issued to {actor} by this "
                                          f"learner's run (say hello again)", msg.meta.get("seq"), "meta.session")
        if session is not None:
            peer, back = self.peers.touch(actor, session, identity)
            if back:
                self.log(f"actor {actor} is back")
        if msg.type == "ping":
            if session is not None:
                peer.stats = msg.meta.get("stats") or {}
            self._send(identity, Message("pong", {"version": self.version, "run": self.run_id}))
        elif msg.type == "transitions":
            seq = msg.meta["seq"]
            if seq not in self.seen[session]:   # a resend of a stored batch is only acknowledged again
                self.store.append(frames_to_record(frames))
                self.seen[session].add(seq)
                self.received += add_to_replay(self.online, msg, self.demo)
                for ep in msg.meta.get("episodes") or []:
                    self.episodes += 1
                    self._ended.append(ep)
            acks[identity].append(seq)

    def _poll(self, timeout_ms: int) -> None:
        """Drain the socket (waiting up to timeout_ms for the first message), persist, then acknowledge."""
        acks: dict[bytes, list[int]] = defaultdict(list)
        if self.sock.poll(timeout_ms):
            for _ in range(1_000):
                try:
                    identity, frames, problem = self._receive()
                except zmq.Again:
                    break
                if problem:
                    self._reject(identity, problem)
                else:
                    self._handle(identity, frames, acks)
        if acks:
            self.store.sync()   # group commit: one fsync covers every batch acknowledged below
            for identity, seqs in acks.items():
                self._send(identity, Message("ack", {"seqs": seqs, "version": self.version}))
        while self.monitor.poll(0):
            event = recv_monitor_message(self.monitor)["event"]
            self.rejected += 1
            self.refused += 1
            now = time.monotonic()
            if now - self._refused_logged > 10.0:   # a refused peer retries every 100 ms: log, not flood
                self._refused_logged = now
                reason = {zmq.EVENT_HANDSHAKE_FAILED_AUTH: "its key is not authorized",
                          zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "it does not hold this learner's public key, "
                                                               "or speaks no CURVE"}.get(event, "handshake failed")
                self.log(f"refused a connection: {reason} ({self.refused} refused so far)")

    def _receive(self) -> tuple[bytes, list, str]:
        """One message, frame by frame: (identity, frames, problem). Past the message-wide limits (frame
        count, total bytes) the rest is drained without being kept, and `problem` says why."""
        identity = self.sock.recv(zmq.NOBLOCK, copy=False).bytes
        frames, size, problem = [], 0, ""
        limit = (self.tcfg.max_message_mb << 20) + MAX_HEADER_BYTES
        while self.sock.getsockopt(zmq.RCVMORE):
            frame = self.sock.recv(copy=False)
            if problem:
                continue
            size += len(frame.buffer)
            if len(frames) > MAX_ARRAYS:
                problem = f"more than {MAX_ARRAYS + 1} frames in one message"
            elif size > limit:
                problem = f"message exceeds the limit of {limit} bytes (frames together)"
            else:
                frames.append(frame.buffer)
        if problem:
            frames = []
        elif not frames:
            problem = "empty message"
        return identity, frames, problem

    def _publish(self) -> None:
        self.version += 1
        frames = self._weights_frames()
        for peer in self.peers.live():
            self._send(peer.identity, frames)

    def _check_peers(self) -> None:
        for peer in self.peers.sweep():
            self.log(f"actor {peer.name} silent for {self.tcfg.peer_timeout_s:.0f}s; training goes on without it")

    # -------------------------------------------------------------------------------- learning
    def collect(self, loop: TrainingLoop, wait_ms: int) -> list[dict]:
        """The training loop's source: drain the socket (stored, acknowledged, into the buffers)."""
        self._poll(wait_ms)
        ended, self._ended = self._ended, []
        episodes = []
        for ep in ended:   # actors' episode summaries, as far as they are numbers
            try:
                episodes.append({"return": float(ep.get("return", 0.0)), "success": bool(ep.get("success"))})
            except (TypeError, ValueError):
                self.log(f"ignored an episode summary that is not numbers: {ep!r}")
        return episodes

    def next_round(self, loop: TrainingLoop) -> None:
        pass

    def run(self) -> LearnResult:
        cfg = self.cfg
        self.log(f"learner for {cfg.task} listening on {self.endpoint} "
                 f"({'CURVE' if self.auth else 'plain TCP'}); store {self.store.path}")
        final_eval = self.loop.run(self)
        for peer in self.peers.live():
            self._send(peer.identity, Message("stop", {"reason": "training finished"}))
        self.log(f"{cfg.task}: {self.received} transitions, {self.updates} updates, {self.rejected} rejected; "
                 f"eval {final_eval}")
        self.log(f"checkpoint: {self.loop.checkpoint}")
        return LearnResult(self.run_dir, self.loop.checkpoint, final_eval, self.received, self.updates, self.rejected,
                           list(self.evals))

    def close(self) -> None:
        if self.auth is not None:
            self.auth.stop()
        self.sock.disable_monitor()
        self.monitor.close(linger=0)
        self.sock.close(linger=100)   # lets the final 'stop' messages leave
        self.ctx.term()
        self.store.close()


class _Broadcast(Callback):
    """The learner's part of each round: weights to the actors, actor liveness and stats, status lines."""

    def __init__(self, learner: Learner):
        self.learner = learner
        self.last_perf = self.last_log = time.monotonic()

    def on_update(self, loop: TrainingLoop, metrics: dict) -> None:
        if loop.updates % (self.learner.tcfg.publish_every * loop.cfg.sac.utd_ratio) == 0:
            self.learner._publish()

    def on_step(self, loop: TrainingLoop) -> None:
        ln = self.learner
        if ln.version == 0 and loop.updates > 0 and not loop.updates < loop.update_budget():
            ln._publish()   # the first weights, before publish_every updates when data comes slowly
        now = time.monotonic()
        if now - self.last_perf >= 2.0:
            self.last_perf = now
            for peer in ln.peers.live():   # live peers only: the table forgets, so does TensorBoard
                for k in ("queue_depth", "unacked", "dropped_steps", "dropped_batches", "version_lag", "steps_per_s"):
                    if isinstance(peer.stats.get(k), (int, float)):
                        ln.tb_cb.scalar(f"actors/{peer.name}/{k}", float(peer.stats[k]), loop.step)
            ln._check_peers()
            loop.status = {"tps": f"{loop.perf.get('steps_per_s', 0.0):.0f}", "actors": str(len(ln.peers.live()))}
        if not ln.progress and now - self.last_log >= 10.0:
            self.last_log = now
            lag = {p.name: p.stats.get("version_lag") for p in ln.peers.live()}
            ln.log(f"received {loop.step} transitions, {loop.updates} updates "
                   f"({loop.perf.get('updates_per_s', 0.0):.0f} updates/s, "
                   f"{loop.perf.get('steps_per_s', 0.0):.0f} transitions/s), weights v{ln.version}, "
                   f"actors {lag or '-'} (version lag), rejected {ln.rejected}")
