"""The message schema, one class of hostile input at a time: each is refused with a WireError naming the
field (never another exception), and an actor ignores what a learner should never send."""
from __future__ import annotations

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from roboloop.policies.transport.actor import ActorClient
from roboloop.policies.transport.batch import Layout
from roboloop.policies.transport.schema import TO_ACTOR, TO_LEARNER, SchemaError, check
from roboloop.policies.transport.wire import MAX_ARRAYS, Message, WireError, decode, encode

from .fuzz import anything, batch

LAYOUT = Layout({"state": (13,)}, {"state": np.dtype(np.float32)}, 4)
SESSION = "0123456789abcdef" * 2


def refused(msg: Message, direction=TO_LEARNER) -> SchemaError:
    with pytest.raises(SchemaError) as e:
        check(decode(encode(msg)), LAYOUT, direction)
    return e.value


@pytest.mark.parametrize("meta, field", [
    ({"actor": "a", "stats": "queue_depth=3"}, "meta.stats"),
    ({"actor": "a", "stats": [1, 2]}, "meta.stats"),
    ({"actor": "a", "stats": {"queue_depth": "3"}}, "meta.stats.queue_depth"),
    ({"actor": "a", "stats": {"queue_depth": float("inf")}}, "meta.stats.queue_depth"),
    ({"actor": ["a"]}, "meta.actor"),
    ({"actor": "a" * 65}, "meta.actor"),
    ({"actor": "a", "stats": {}, "session": 5}, "meta.session"),
    ({"actor": "a", "surprise": 1}, "meta.surprise"),
])
def test_a_ping_with_a_field_of_the_wrong_type_is_refused_naming_it(meta, field):
    assert refused(Message("ping", meta)).field == field


@pytest.mark.parametrize("change, field", [
    (dict(episodes=7), "meta.episodes"),
    (dict(episodes=[{"return": "high", "success": True}]), "meta.episodes[0].return"),
    (dict(episodes=[{"return": float("nan"), "success": True}]), "meta.episodes[0].return"),
    (dict(episodes=[{"return": 1.0}]), "meta.episodes[0].success"),
    (dict(seq=-1), "meta.seq"),
    (dict(seq=True), "meta.seq"),
    (dict(seq=1 << 60), "meta.seq"),
    (dict(session=None), "meta.session"),
    (dict(version="1"), "meta.version"),
])
def test_a_batch_with_meta_of_the_wrong_type_is_refused_naming_it(change, field):
    meta = {"actor": "a", "seq": 0, "session": SESSION, "episodes": [], "version": 0, **change}
    assert refused(batch(meta)).field == field


@pytest.mark.parametrize("name", ["obs/state", "final_obs/state", "action", "reward"])
@pytest.mark.parametrize("value", [np.nan, np.inf, 1e30])
def test_no_array_of_a_batch_may_hold_a_non_finite_or_huge_value(name, value):
    msg = batch({"actor": "a", "seq": 0, "session": SESSION})
    msg.arrays[name] = msg.arrays[name].copy()
    msg.arrays[name].reshape(-1)[-1] = value
    assert name in str(refused(msg))


def test_a_0d_array_where_a_vector_belongs_is_refused():
    msg = batch({"actor": "a", "seq": 0, "session": SESSION}, n=1)
    msg.arrays["reward"] = np.array(0.5, np.float32)
    assert "reward" in str(refused(msg))


def test_an_env_spec_with_non_string_keys_or_too_deep_is_refused():
    head = msgpack.packb({"proto": "roboloop", "v": 1, "type": "hello", "meta": {"actor": "a", "env_spec": {1: 2}},
                          "arrays": []})
    with pytest.raises(WireError):
        check(decode([head]), LAYOUT)
    deep: dict = {}
    node = deep
    for _ in range(20):
        node["x"] = {}
        node = node["x"]
    assert refused(Message("hello", {"actor": "a", "env_spec": deep})).field.startswith("meta.env_spec")
    assert refused(Message("hello", {"actor": "a", "env_spec": {"k": list(range(5000))}})).field == "meta.env_spec"


def test_a_dimension_numpy_cannot_index_is_a_wire_error():
    head = msgpack.packb({"proto": "roboloop", "v": 1, "type": "ping", "meta": {"actor": "a"},
                          "arrays": [["x", "float32", [0, (1 << 64) - 1], "raw", 0]]})
    with pytest.raises(WireError, match="cannot be built"):
        decode([head, b""])


def test_the_message_wide_limit_counts_every_frame_together():
    frames = encode(Message("ping", {"actor": "a"}, {f"x{i}": np.zeros(20_000, np.uint8) for i in range(100)}))
    with pytest.raises(WireError, match="exceeds the limit"):
        decode(frames, max_bytes=50_000)   # each frame is far under it, together they are not
    with pytest.raises(WireError, match="frames"):
        decode([frames[0]] + [b""] * (MAX_ARRAYS + 5))


@pytest.mark.parametrize("kind", TO_ACTOR)
def test_the_learner_refuses_what_only_an_actor_takes(kind):
    assert refused(Message(kind, {})).field == "type"


@pytest.mark.parametrize("msg, field", [
    (Message("welcome", {"transport": {}, "env": {}, "env_spec": {}, "actor": {}, "version": 0, "run": "r",
                         "session": "x"}), "meta.session"),
    (Message("ack", {"seqs": "0,1", "version": 1}), "meta.seqs"),
    (Message("ack", {"seqs": [0, -4], "version": 1}), "meta.seqs[1]"),
    (Message("pong", {"version": "7"}), "meta.version"),
    (Message("weights", {"version": 1, "updates": 0}, {"actor.w": np.full(3, np.nan, np.float32)}), "actor.w"),
    (Message("error", {"reason": ["x"]}), "meta.reason"),
    (Message("stop", {}), "meta.reason"),
    (Message("hello", {"actor": "a"}), "type"),
])
def test_an_actor_refuses_a_malformed_learner_message(msg, field):
    assert refused(msg, TO_ACTOR).field == field


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(TO_ACTOR), meta=st.dictionaries(st.sampled_from(
    ["transport", "env", "actor", "env_spec", "version", "run", "session", "seqs", "updates", "reason", "seq",
     "field"]), anything,
    max_size=6), nan_weights=st.booleans())
def test_an_actor_survives_any_learner_message(kind, meta, nan_weights):
    client = ActorClient("tcp://127.0.0.1:9", name="probe", log=lambda m: None)
    try:
        arrays = {"actor.w": np.full(2, np.nan if nan_weights else 1.0, np.float32)} if kind == "weights" else {}
        try:
            frames = encode(Message(kind, meta, arrays))
        except (TypeError, ValueError, OverflowError):
            return   # not even encodable
        client._receive(frames)   # must not raise
        assert isinstance(client.learner_version, int) and client.tcfg.batch_steps >= 1
        assert client._pending_weights is None or np.isfinite(client._pending_weights.arrays["actor.w"]).all()
    finally:
        client.close()


def test_an_actor_moves_unacknowledged_batches_into_the_session_a_new_learner_gives_it():
    from roboloop.policies.config import TrainConfig
    from roboloop.policies.transport.batch import Step
    from roboloop.policies.transport.learner import welcome_meta
    client = ActorClient("tcp://127.0.0.1:9", name="A", log=lambda m: None)
    try:
        client.session = "a" * 32
        obs = {"state": np.zeros(13, np.float32)}
        for _ in range(3):
            client.push(Step(obs, np.zeros(4, np.float32), 0.0, obs, False, False))
            client._make_batch(1)
        welcome = Message("welcome", {**welcome_meta(TrainConfig(), {}), "version": 0, "run": "r",
                                      "session": "b" * 32})
        client._receive(encode(welcome))
        assert client.session == "b" * 32
        metas = [decode(b[0]).meta for b in client.unacked.values()]
        assert [m["seq"] for m in metas] == [0, 1, 2] and {m["session"] for m in metas} == {"b" * 32}
    finally:
        client.close()
