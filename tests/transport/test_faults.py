"""Fault tests with real processes on loopback: kill -9 and restart the learner (no acknowledged
transition lost), kill and restart an actor, garbage frames, wrong CURVE keys."""
from __future__ import annotations

import time

import numpy as np
import zmq

from roboloop.policies.transport.store import TransitionStore
from roboloop.policies.transport.wire import Message, decode, encode, record_to_frames

from .procs import FAST, free_port, status, wait_for


def stored(run) -> dict[str, dict[int, int]]:
    """{actor: {seq: transitions}} of every record in the learner's store (opened as --resume would)."""
    out: dict[str, dict[int, int]] = {}
    for payload in TransitionStore(run / "transitions.rlog", log=lambda m: None):
        msg = decode(record_to_frames(payload))
        seqs = out.setdefault(msg.meta["actor"], {})
        assert msg.meta["seq"] not in seqs, "a resent batch was stored twice"
        seqs[msg.meta["seq"]] = len(msg.arrays["reward"])
    return out


def acked_seqs(st: dict) -> set[int]:
    return {s for lo, hi in st["acked_seqs"] for s in range(lo, hi + 1)}


def test_learner_kill9_and_resume_loses_no_acknowledged_transition(procs, tmp_path):
    run, port = tmp_path / "run", free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    learn = ["learn", "--task", "Reach", "--steps", "1000000", "--seed", "0", "--bind", endpoint, "--no-progress", *FAST]
    learner, llog = procs.start("learner", *learn, "--out", str(run))
    a_status = tmp_path / "a.json"
    actor_a, alog = procs.start("actor_a", "act", "--connect", endpoint, "--name", "A", "--rate-hz", "100",
                                "--status-file", str(a_status))
    wait_for(lambda: (run / "checkpoint" / "meta.json").exists() and status(a_status).get("version", 0) > 0,
             240, "a checkpoint and the first weights at the actor", learner, llog)

    procs.kill9(learner)
    steps_at_kill = status(a_status)["steps"]
    # the actor keeps stepping while the learner is dead, holding what was not acknowledged
    wait_for(lambda: status(a_status).get("steps", 0) > steps_at_kill + 150 and not status(a_status)["connected"],
             120, "the actor to keep stepping with the learner dead", actor_a, alog)
    acked_at_kill = status(a_status)["acked"]   # nothing can be acknowledged after the kill

    learner, llog = procs.start("learner2", *learn, "--resume", str(run))
    wait_for(lambda: status(a_status).get("acked", 0) > acked_at_kill + 300, 240,
             "acknowledgements from the restarted learner", learner, llog)
    assert "resumed" in llog.read_text()
    updates_at_resume = int(llog.read_text().split(" updates, weights")[0].rsplit(", ", 1)[1])

    # kill the actor; a new one joins and the learner keeps going
    procs.kill9(actor_a)
    a_final = status(a_status)
    b_status = tmp_path / "b.json"
    actor_b, blog = procs.start("actor_b", "act", "--connect", endpoint, "--name", "B", "--rate-hz", "100",
                                "--status-file", str(b_status))
    wait_for(lambda: status(b_status).get("acked", 0) > 300, 240, "the learner to take a new actor's data", actor_b, blog)
    ckpt_updates = lambda: __import__("json").loads((run / "checkpoint" / "meta.json").read_text())["counters"]["updates"]
    wait_for(lambda: ckpt_updates() > updates_at_resume, 120, "training to continue after the resume", learner, llog)
    assert "actor A silent" in llog.read_text() and learner.poll() is None
    actor_b.terminate()   # SIGTERM: B flushes, waits for its acknowledgements, exits 0
    assert actor_b.wait(timeout=60) == 0
    procs.kill9(learner)

    # count them: every transition an actor saw acknowledged is in the store, exactly once
    store = stored(run)
    for name, st in (("A", a_final), ("B", status(b_status))):
        seqs = acked_seqs(st)
        assert seqs <= set(store[name]), f"actor {name}: acknowledged batches missing from the store"
        assert sum(store[name][s] for s in seqs) == st["acked"] > 0
    assert status(b_status)["unacked"] == 0 and status(b_status)["dropped_steps"] == 0


def test_garbage_and_truncated_frames_are_rejected_and_the_learner_keeps_running(procs, tmp_path):
    port = free_port()
    learner, llog = procs.start("learner", "learn", "--task", "Reach", "--steps", "1000000",
                                "--bind", f"tcp://127.0.0.1:{port}", "--out", str(tmp_path / "run"), "--no-progress", *FAST)
    wait_for(lambda: "listening" in llog.read_text(), 120, "the learner to listen", learner, llog)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(f"tcp://127.0.0.1:{port}")

    def ask(frames) -> Message:
        sock.send_multipart(frames)
        assert sock.poll(30_000), "the learner did not answer"
        return decode(sock.recv_multipart())

    good = encode(Message("ping", {"actor": "probe"}))
    assert ask(good).type == "pong"
    batch = encode(Message("transitions", {"actor": "probe", "seq": 0},
                           {"action": np.zeros((2, 4), np.float32), "reward": np.zeros(2, np.float32)}))
    bad = {
        "garbage": [b"\x00\xffgarbage" * 10],
        "truncated array frame": [*encode(Message("ping", {"actor": "p"}, {"x": np.zeros(64)}))[:1], b"\0" * 10],
        "missing frame": encode(Message("ping", {"actor": "p"}, {"x": np.zeros(4)}))[:1],
        "wrong version": [b"\x84\xa5proto\xa8roboloop\xa1v\x09\xa4type\xa4ping\xa4meta\x80", ],
        "batch that does not fit the task": batch,
    }
    for what, frames in bad.items():
        reply = ask(frames)
        assert reply.type == "error" and reply.meta["reason"], what
    assert "version 9" in llog.read_text() and "do not match this task" in llog.read_text()
    assert ask(good).type == "pong" and learner.poll() is None   # still serving
    sock.close()
    ctx.term()


def test_wrong_curve_keys_can_neither_inject_nor_read_weights(procs, tmp_path):
    keys, other = tmp_path / "keys", tmp_path / "other"
    for folder in (keys, other):
        p, log = procs.start(f"keys-{folder.name}", "keys", str(folder))
        assert p.wait(timeout=60) == 0, log.read_text()
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    run = tmp_path / "run"
    learner, llog = procs.start("learner", "learn", "--task", "Reach", "--steps", "1000000", "--bind", endpoint,
                                "--keys", str(keys), "--out", str(run), "--no-progress", *FAST)
    wait_for(lambda: "listening" in llog.read_text(), 120, "the learner to listen", learner, llog)
    assert "CURVE" in llog.read_text()

    # an actor with a key pair the learner never authorized, and one that trusts the wrong learner key
    (tmp_path / "intruder").mkdir()
    (tmp_path / "spoofed").mkdir()
    for folder, sources in (("intruder", {"learner.key": keys, "actor.key": other, "actor.key_secret": other}),
                            ("spoofed", {"learner.key": other, "actor.key": keys, "actor.key_secret": keys})):
        for f, src in sources.items():
            (tmp_path / folder / f).write_bytes((src / f).read_bytes())
    intruder, ilog = procs.start("intruder", "act", "--connect", endpoint, "--keys", str(tmp_path / "intruder"),
                                 "--connect-timeout", "8")
    spoofed, slog = procs.start("spoofed", "act", "--connect", endpoint, "--keys", str(tmp_path / "spoofed"),
                                "--connect-timeout", "8")
    plain, plog = procs.start("plain", "act", "--connect", endpoint, "--connect-timeout", "8")
    for p, log in ((intruder, ilog), (spoofed, slog), (plain, plog)):
        assert p.wait(timeout=120) == 2, log.read_text()
        assert "no learner answered" in log.read_text()
    assert "unknown CURVE key" in llog.read_text() and "refused a connection" in llog.read_text()
    assert not (run / "transitions.rlog").exists() or stored(run) == {}

    # the right keys work
    good_status = tmp_path / "good.json"
    good, glog = procs.start("good", "act", "--connect", endpoint, "--keys", str(keys), "--steps", "150",
                             "--status-file", str(good_status))
    assert good.wait(timeout=180) == 0, glog.read_text()
    assert status(good_status)["acked"] == 150 and len(stored(run)) == 1
    assert learner.poll() is None


def test_plain_tcp_off_loopback_needs_opt_in(procs, tmp_path):
    p, log = procs.start("learner", "learn", "--task", "Reach", "--bind", "tcp://0.0.0.0:5999",
                         "--out", str(tmp_path / "r"))
    assert p.wait(timeout=120) == 2
    assert "not a loopback address and no CURVE keys" in log.read_text()
