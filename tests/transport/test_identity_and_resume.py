"""Identity and durability with real processes: a restarted actor under the same name loses nothing,
no peer can pre-empt another's sequence numbers, the peer table is bounded, a learner killed while it
checkpoints resumes from the newest complete checkpoint with every acknowledged transition, and a
store that contradicts its checkpoint is refused."""
from __future__ import annotations

import shutil
import time
from collections import defaultdict

import numpy as np
import pytest
import zmq

from roboloop.checkpoint import CheckpointError, load_checkpoint
from roboloop.config import build_train_config
from roboloop.policies.transport.learner import Learner
from roboloop.policies.transport.peers import PeerTable, RateLimitedLog
from roboloop.policies.transport.store import TransitionStore
from roboloop.policies.transport.wire import Message, decode, encode, record_to_frames

from .fuzz import batch
from .procs import FAST, free_port, status, wait_for

NO_TRAINING = [*FAST, "--set", "sac.compile=false", "--set", "learning_starts=1000000", "--set",
               "transport.learner_nice=0"]


def stored(run) -> dict[tuple[str, str], dict[int, int]]:
    """{(actor, session): {seq: transitions}} of every record in the store."""
    out: dict = {}
    for payload in TransitionStore(run / "transitions.rlog", log=lambda m: None):
        msg = decode(record_to_frames(payload))
        seqs = out.setdefault((msg.meta["actor"], msg.meta.get("session")), {})
        assert msg.meta["seq"] not in seqs, "a batch was stored twice"
        seqs[msg.meta["seq"]] = len(msg.arrays["reward"])
    return out


def acked_seqs(st: dict) -> set[int]:
    return {s for lo, hi in st["acked_seqs"] for s in range(lo, hi + 1)}


class Raw:
    """A hand-driven DEALER socket: what a hostile or buggy peer can send."""

    def __init__(self, endpoint: str):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(endpoint)

    def ask(self, msg: Message) -> Message:
        self.sock.send_multipart(encode(msg))
        while True:
            assert self.sock.poll(30_000), "the learner did not answer"
            reply = decode(self.sock.recv_multipart())
            if reply.type != "weights":
                return reply

    def close(self):
        self.sock.close()
        self.ctx.term()


def test_a_restarted_actor_under_the_same_name_has_every_acknowledged_transition_stored(procs, tmp_path):
    run, endpoint = tmp_path / "run", f"tcp://127.0.0.1:{free_port()}"
    learner, llog = procs.start("learner", "learn", "--task", "Reach", "--steps", "1000000", "--bind", endpoint,
                                "--out", str(run), "--no-progress", *NO_TRAINING)
    wait_for(lambda: "listening" in llog.read_text(), 120, "the learner to listen", learner, llog)
    finals = []
    for i in range(2):   # the same --name twice: a restarted actor process; both number their batches from 0
        st_file = tmp_path / f"a{i}.json"
        p, log = procs.start(f"actor{i}", "act", "--connect", endpoint, "--name", "A", "--steps", "200",
                             "--seed", str(i), "--status-file", str(st_file))
        assert p.wait(timeout=180) == 0, log.read_text()
        finals.append(status(st_file))
    assert finals[0]["session"] != finals[1]["session"] and all(0 in acked_seqs(f) for f in finals)

    # a peer holding neither session cannot pre-empt the next seq of either
    raw = Raw(endpoint)
    for token in (finals[1]["session"], "0" * 32):
        nxt = max(acked_seqs(finals[1])) + 1
        reply = raw.ask(batch({"actor": "A" if token == "0" * 32 else "B", "seq": nxt, "session": token}))
        assert reply.type == "error" and "meta.session" in reply.meta["reason"]
    raw.close()
    assert learner.poll() is None
    procs.kill9(learner)

    store = stored(run)
    for f in finals:
        seqs = store[("A", f["session"])]
        assert acked_seqs(f) <= set(seqs) and sum(seqs[s] for s in acked_seqs(f)) == f["acked"] == 200
    assert sum(len(s) for (name, _), s in store.items() if name != "A") == 0


def test_the_peer_table_is_bounded_and_forgets_silent_peers():
    table = PeerTable(max_peers=3, timeout_s=1.0, forget_s=5.0)
    for i in range(10):
        table.touch(f"actor{i}", f"{i:032x}", b"id", now=float(i) * 0.1)
    assert len(table) == 3 and table.evicted == 7
    assert [p.name for p in table] == ["actor7", "actor8", "actor9"]   # the most recently heard stay
    gone = table.sweep(now=2.0)
    assert {p.name for p in gone} == {"actor7", "actor8", "actor9"} and table.live() == []
    peer, back = table.touch("actor9", f"{9:032x}", b"id2", now=2.5)
    assert back and peer.identity == b"id2" and [p.name for p in table.live()] == ["actor9"]
    table.sweep(now=8.0)   # silent for more than forget_s: forgotten
    assert len(table) == 0


def test_rejection_logs_are_rate_limited_and_cut():
    lines = []
    log = RateLimitedLog(lines.append, burst=3, window_s=60.0, width=50)
    for i in range(1000):
        log(f"rejected {i}: " + "x" * 10_000)
    assert len(lines) == 3 and all(len(line) < 100 for line in lines)


def test_a_flood_of_names_keeps_the_learner_serving(procs, tmp_path):
    run, endpoint = tmp_path / "run", f"tcp://127.0.0.1:{free_port()}"
    learner, llog = procs.start("learner", "learn", "--task", "Reach", "--steps", "1000000", "--bind", endpoint,
                                "--out", str(run), "--no-progress", *NO_TRAINING, "--set", "transport.max_peers=8")
    wait_for(lambda: "listening" in llog.read_text(), 120, "the learner to listen", learner, llog)
    raw = Raw(endpoint)
    sessions = [raw.ask(Message("hello", {"actor": f"n{i}"})).meta["session"] for i in range(300)]
    assert len(set(sessions)) == 300
    # an evicted session still verifies: its data is taken, it is not pre-empted
    reply = raw.ask(batch({"actor": "n0", "seq": 0, "session": sessions[0]}))
    assert reply.type == "ack" and reply.meta["seqs"] == [0]
    # many frames, each tiny: refused by count as they arrive, before any is decoded
    raw.sock.send_multipart([encode(Message("ping", {"actor": "probe"}))[0]] + [b"x" * 100] * 400)
    assert raw.sock.poll(30_000)
    reply = decode(raw.sock.recv_multipart())
    assert reply.type == "error" and "frames" in reply.meta["reason"]
    assert raw.ask(Message("ping", {"actor": "probe"})).type == "pong" and learner.poll() is None
    raw.close()


def newest_complete(run) -> dict:
    """Counters of the newest (by generation) of the copies on disk that load without error."""
    metas = []
    for name in ("checkpoint", "checkpoint.tmp", "checkpoint.old"):
        try:
            metas.append(load_checkpoint(run / name, load_replay=False).meta)
        except CheckpointError:
            pass
    return max(metas, key=lambda m: m["generation"])["counters"]


def test_a_learner_killed_while_checkpointing_resumes_with_every_acknowledged_transition(procs, tmp_path):
    run, endpoint = tmp_path / "run", f"tcp://127.0.0.1:{free_port()}"
    learn = ["learn", "--task", "Reach", "--steps", "1000000", "--bind", endpoint, "--no-progress", *FAST,
             "--set", "sac.compile=false", "--set", "checkpoint_every=40", "--set", "transport.learner_nice=0"]
    learner, llog = procs.start("learner", *learn, "--out", str(run))
    a_status = tmp_path / "a.json"
    actor, alog = procs.start("actor", "act", "--connect", endpoint, "--name", "A", "--rate-hz", "100",
                              "--status-file", str(a_status))
    rng = np.random.default_rng(0)
    ckpt = run / "checkpoint"
    for round_ in range(2):
        wait_for(lambda: (ckpt / "meta.json").exists() and status(a_status).get("acked", 0) > 300 * (round_ + 1),
                 240, "checkpoints and acknowledgements", learner, llog)
        time.sleep(float(rng.uniform(0.0, 1.0)))   # checkpoints come every ~0.4 s: a random point among them
        procs.kill9(learner)
        if round_ == 0 and ckpt.exists():   # and as if the kill had hit between the two renames of a save
            shutil.rmtree(run / "checkpoint.tmp", ignore_errors=True)
            ckpt.rename(run / "checkpoint.tmp")
        saved = newest_complete(run)
        learner, llog = procs.start(f"learner{round_ + 2}", *learn, "--resume", str(run))
        wait_for(lambda: "resumed" in llog.read_text(), 120, "the resume", learner, llog)
        text = llog.read_text()
        assert "no checkpoint yet" not in text and f"{saved['updates']} updates" in text, text
        if round_ == 0:
            assert "interrupted" in text
    acked = status(a_status)["acked"]
    wait_for(lambda: status(a_status)["acked"] > acked + 200, 240, "acknowledgements after the resumes", learner, llog)
    actor.terminate()
    assert actor.wait(timeout=60) == 0
    procs.kill9(learner)
    final = status(a_status)
    store = stored(run)[("A", final["session"])]
    assert acked_seqs(final) <= set(store) and sum(store[s] for s in acked_seqs(final)) == final["acked"]


def test_a_store_cut_to_its_header_is_refused_against_its_checkpoint(tmp_path):
    cfg = build_train_config("Reach", None, ["sac.compile=false", "sac.hidden_dims=[32, 32]", "eval_every=0",
                                             "transport.learner_nice=0"], steps=1000, seed=0)
    first = Learner(cfg, tmp_path / "run", "tcp://127.0.0.1:*", progress=False, log=lambda s: None)
    try:
        session = first.sessions.issue("A")
        for seq in range(5):
            frames = encode(batch({"actor": "A", "seq": seq, "session": session}, n=8, seed=seq))
            first._handle(b"peer", frames, defaultdict(list))
        assert first.received == 40
        first.store.sync()
        first.save()
    finally:
        first.close()
    with open(tmp_path / "run" / "transitions.rlog", "r+b") as f:
        f.truncate(8)   # only the file magic is left
    with pytest.raises(CheckpointError, match=r"holds 0 transitions but the checkpoint .* after 40"):
        Learner(cfg, tmp_path / "run", "tcp://127.0.0.1:*", progress=False, log=lambda s: None, resume=True)
