"""A real `roboloop learn` process, fuzzed over a real zmq socket with every kind of broken message
(tests/transport/fuzz.py), while a real `roboloop act` feeds it: the learner answers every broken
message with an error naming the field, stays alive, keeps serving the actor, and trains on no
non-finite value (the saved weights and every stored value are finite).

ROBOLOOP_FUZZ_EXAMPLES sets the number of examples (benchmarks/fuzz_learner.py runs it longer).
"""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
import torch
import zmq
from hypothesis import HealthCheck, given, settings

from roboloop.checkpoint import load_checkpoint
from roboloop.policies.transport.store import TransitionStore
from roboloop.policies.transport.wire import Message, decode, encode, record_to_frames

from .fuzz import examples
from .procs import FAST, Procs, free_port, status, wait_for

EXAMPLES = int(os.environ.get("ROBOLOOP_FUZZ_EXAMPLES", "150"))
LEARN = [*FAST, "--set", "sac.compile=false", "--set", "transport.learner_nice=0", "--set", "transport.max_peers=16"]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    procs = Procs(root)
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    run = root / "run"
    learner, llog = procs.start("learner", "learn", "--task", "Reach", "--steps", "1000000", "--seed", "0",
                                "--bind", endpoint, "--out", str(run), "--no-progress", *LEARN)
    a_status = root / "a.json"
    actor, alog = procs.start("actor", "act", "--connect", endpoint, "--name", "A", "--rate-hz", "100",
                              "--status-file", str(a_status))
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(endpoint)
    try:
        wait_for(lambda: status(a_status).get("acked", 0) > 0, 240, "the actor's first acknowledgement", learner, llog)
        yield dict(root=root, run=run, learner=learner, llog=llog, actor=actor, alog=alog, a_status=a_status,
                   sock=sock, procs=procs)
    finally:
        sock.close()
        ctx.term()
        procs.cleanup()


def ask(sock, frames, timeout_s: float = 30.0) -> Message:
    """Send, and return the first answer that is not a weights broadcast."""
    sock.send_multipart(frames)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sock.poll(100):
            reply = decode(sock.recv_multipart())
            if reply.type != "weights":
                return reply
    raise AssertionError("the learner did not answer")


def test_fuzzed_learner_stays_alive_serves_the_actor_and_trains_on_nothing_non_finite(fuzzed):
    sock, learner, llog, a_status = fuzzed["sock"], fuzzed["learner"], fuzzed["llog"], fuzzed["a_status"]
    welcome = ask(sock, encode(Message("hello", {"actor": "fuzzer"})))
    assert welcome.type == "welcome"
    ctx = {"session": welcome.meta["session"], "next_seq": 0}
    acked_before = status(a_status)["acked"]
    seen = {"error": 0, "ack": 0}
    t0 = time.monotonic()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(ex=examples(ctx))
    def one(ex):
        reply = ask(sock, ex.frames)
        assert reply.type == ex.reply, (ex, reply.meta)
        if ex.reply == "error" and ex.field:
            assert ex.field in reply.meta["reason"], (ex, reply.meta["reason"])
            assert len(reply.meta["reason"]) <= 2_000
        seen[reply.type] += 1
        assert learner.poll() is None, "the learner died"

    one()
    elapsed = time.monotonic() - t0
    assert seen["error"] > EXAMPLES // 2 and learner.poll() is None, seen
    assert ask(sock, encode(Message("ping", {"actor": "probe"}))).type == "pong"

    # the legitimate actor kept being served during the fuzzing, and still is
    wait_for(lambda: status(a_status)["acked"] > acked_before + 100, 120, "the actor's batches to keep being acked",
             learner, llog)
    log = llog.read_text()
    rejected_lines = log.count("rejected a message")
    assert rejected_lines <= 5 * (elapsed / 10 + 2), f"{rejected_lines} rejection lines in {elapsed:.0f}s: not rate limited"
    assert max(len(line) for line in log.splitlines()) < 1_000, "a log line repeats an attacker-sized value"

    # train on no non-finite value: a checkpoint written after the fuzzing holds finite weights
    received_now = status(a_status)["acked"]
    meta_path = fuzzed["run"] / "checkpoint" / "meta.json"
    wait_for(lambda: meta_path.exists() and json.loads(meta_path.read_text())["counters"]["received"] > received_now
             and json.loads(meta_path.read_text())["counters"]["updates"] > 0, 180,
             "a checkpoint after the fuzzing", learner, llog)
    fuzzed["procs"].kill9(learner)
    ckpt = load_checkpoint(fuzzed["run"] / "checkpoint", load_replay=False)
    for name, t in ckpt.model["agent"].items():
        assert torch.isfinite(t).all(), f"{name} is not finite"
    for payload in TransitionStore(fuzzed["run"] / "transitions.rlog", log=lambda m: None):
        msg = decode(record_to_frames(payload))
        for name, a in msg.arrays.items():
            assert a.dtype.kind != "f" or np.isfinite(a).all(), f"stored {name} from {msg.meta['actor']} is not finite"
    assert seen["ack"] == 0 or "fuzzer" in {decode(record_to_frames(p)).meta["actor"]
                                            for p in TransitionStore(fuzzed["run"] / "transitions.rlog",
                                                                     log=lambda m: None)}
