"""Hypothesis strategies over the whole message schema: every message type, each example broken in
one way (a field of the wrong type, missing, extra, oversized, a non-finite or out-of-range array, a
session that is not the sender's), plus valid batches at the edges of what is allowed.

What counts as valid is restated here from the protocol's description, independently of
roboloop/policies/transport/schema.py, so a schema that accepts too much fails these tests.
"""
from __future__ import annotations

import math

import msgpack
import numpy as np
from hypothesis import assume, strategies as st

from roboloop.policies.transport.batch import Step, pack_batch
from roboloop.policies.transport.wire import Message, encode

OBS_DIM, ACT_DIM = 13, 4   # the Reach task

# ---------------------------------------------------------------- what the protocol allows, restated
def ok_name(v) -> bool:
    return type(v) is str and 1 <= len(v) <= 64 and v.isprintable()


def ok_seq(v) -> bool:
    return type(v) is int and 0 <= v <= 1 << 53


def ok_session(v) -> bool:
    return type(v) is str and len(v) == 32 and all(c in "0123456789abcdef" for c in v)


def ok_stats(v) -> bool:
    return v is None or (isinstance(v, dict) and len(v) <= 64 and all(
        type(k) is str and k.isidentifier() and len(k) <= 64
        and (x is None or type(x) is bool or (type(x) in (int, float) and math.isfinite(x) and abs(x) <= 1e15))
        for k, x in v.items()))


def ok_episodes(v) -> bool:
    return v is None or (isinstance(v, list) and len(v) <= 1024 and all(
        isinstance(e, dict) and set(e) == {"return", "success"} and type(e["success"]) is bool
        and type(e["return"]) in (int, float) and math.isfinite(e["return"]) and abs(e["return"]) <= 1e6
        for e in v))


FIELD_OK = {"actor": ok_name, "seq": ok_seq, "session": ok_session, "stats": ok_stats, "episodes": ok_episodes,
            "version": ok_seq}

# ------------------------------------------------------------------------------------ raw values
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(1 << 63), (1 << 64) - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40), st.binary(max_size=20),
    st.sampled_from([1 << 63, -1, 2 ** 53 + 1, float("nan"), float("inf"), "", "x" * 5000, "0" * 32, "\x00\n"]))
anything = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.one_of(st.text(max_size=8), st.integers(0, 9)), inner, max_size=5)),
    max_leaves=20)


def steps(rng: np.random.Generator, n: int, scale: float = 1.0) -> list[Step]:
    out = []
    for i in range(n):
        obs = {"state": (rng.uniform(-1, 1, OBS_DIM) * scale).astype(np.float32)}
        nxt = {"state": (rng.uniform(-1, 1, OBS_DIM) * scale).astype(np.float32)}
        out.append(Step(obs, rng.uniform(-1, 1, ACT_DIM).astype(np.float32), float(rng.uniform(-1, 1) * scale), nxt,
                        False, i == n - 1 and bool(rng.integers(2))))
    return out


def batch(meta: dict, n: int = 4, seed: int = 0, scale: float = 1.0) -> Message:
    return pack_batch(steps(np.random.default_rng(seed), n, scale), meta)


# -------------------------------------------------------------------------------------- examples
class Example:
    """A message to send and what the learner must answer: `reply` type, and for errors the field
    its reason must name (a substring)."""

    def __init__(self, what: str, frames: list, reply: str, field: str = ""):
        self.what, self.frames, self.reply, self.field = what, frames, reply, field

    def __repr__(self) -> str:
        return f"Example({self.what!r}, reply={self.reply!r}, field={self.field!r})"


def base_meta(kind: str, ctx: dict, seq: int) -> dict:
    if kind == "hello":
        return {"actor": "fuzzer", "env_spec": None}
    if kind == "ping":
        return {"actor": "fuzzer", "stats": {"queue_depth": 3, "connected": True}, "session": ctx["session"]}
    return {"actor": "fuzzer", "seq": seq, "session": ctx["session"], "episodes": [{"return": 1.5, "success": False}],
            "version": 0}


def message(kind: str, meta: dict, seed: int = 0, arrays: dict | None = None) -> Message:
    if kind == "transitions":
        msg = batch(meta, seed=seed)
        if arrays is not None:
            msg.arrays = arrays
        return msg
    return Message(kind, meta, arrays or {})


def _non_str_keys(v) -> bool:
    """msgpack maps with non-string keys fail to decode at all: the refusal then names no field."""
    if isinstance(v, dict):
        return any(type(k) is not str or _non_str_keys(x) for k, x in v.items())
    return isinstance(v, list) and any(_non_str_keys(x) for x in v)


@st.composite
def examples(draw, ctx: dict) -> Example:
    """ctx: {"session": the fuzzer's session token, "next_seq": a counter of seqs}."""
    ex = draw(_examples(ctx))
    if _non_str_keys(msgpack.unpackb(bytes(ex.frames[0]), raw=False, strict_map_key=False)):
        ex.field = ""
    return ex


@st.composite
def _examples(draw, ctx: dict) -> Example:
    ctx["next_seq"] += 1
    seq = ctx["next_seq"]
    kind = draw(st.sampled_from(["hello", "ping", "transitions"]))
    meta = base_meta(kind, ctx, seq)
    how = draw(st.sampled_from(["wrong type", "missing", "extra", "oversized", "non-finite array", "array shape",
                                "foreign session", "actor-bound type", "raw header", "valid edge"]))
    if how == "wrong type":
        field = draw(st.sampled_from([k for k in meta if k in FIELD_OK]))
        value = draw(anything)
        assume(not FIELD_OK[field](value) and not (field == "session" and value is None and kind != "transitions"))
        meta[field] = value
        return Example(f"{kind}.{field} = {value!r}"[:200], encode(message(kind, meta, seq)), "error", f"meta.{field}")
    if how == "missing":
        required = {"hello": ["actor"], "ping": ["actor"], "transitions": ["actor", "seq", "session"]}[kind]
        field = draw(st.sampled_from(required))
        del meta[field]
        return Example(f"{kind} without {field}", encode(message(kind, meta, seq)), "error", f"meta.{field}")
    if how == "extra":
        key = draw(st.text(min_size=1, max_size=20))
        assume(key not in ("actor", "seq", "session", "episodes", "version", "stats", "env_spec"))
        meta[key] = draw(anything)
        return Example(f"{kind} + meta[{key!r}]", encode(message(kind, meta, seq)), "error", "unknown field")
    if how == "oversized":
        field, value = draw(st.sampled_from([
            ("actor", "a" * 10_000), ("stats", {f"k{i}": i for i in range(500)}),
            ("episodes", [{"return": 0.0, "success": True}] * 5_000),
            ("env_spec", {"a" * 300: 1}), ("env_spec", {"x": [[[[[[[[[[1]]]]]]]]]]}),
            ("env_spec", {"x": list(range(10_000))})]))
        if field not in meta and field != "env_spec":
            kind, meta = ("ping" if field == "stats" else "transitions"), base_meta(
                "ping" if field == "stats" else "transitions", ctx, seq)
        if field == "env_spec":
            kind, meta = "hello", base_meta("hello", ctx, seq)
        meta[field] = value
        return Example(f"{kind}.{field} oversized", encode(message(kind, meta, seq)), "error", f"meta.{field}")
    if how == "non-finite array":
        msg = batch(base_meta("transitions", ctx, seq), seed=seq)
        name = draw(st.sampled_from(["obs/state", "final_obs/state", "action", "reward"]))
        bad = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e30, -3e38, 2.0 if name == "action" else 1e7]))
        a = msg.arrays[name].copy()
        a.reshape(-1)[draw(st.integers(0, a.size - 1))] = bad
        msg.arrays[name] = a
        return Example(f"{name} holds {bad}", encode(msg), "error", name if name != "action" else "action")
    if how == "array shape":
        msg = batch(base_meta("transitions", ctx, seq), seed=seq)
        name = draw(st.sampled_from(sorted(msg.arrays)))
        change = draw(st.sampled_from(["0-d", "dtype", "extra", "drop", "transpose"]))
        if change == "0-d":
            msg.arrays[name] = np.array(msg.arrays[name].reshape(-1)[0])
        elif change == "dtype":
            msg.arrays[name] = msg.arrays[name].astype(np.float64 if msg.arrays[name].dtype != np.float64 else np.int64)
        elif change == "extra":
            msg.arrays["obs/extra"] = np.zeros((4, 2), np.float32)
        elif change == "drop":
            del msg.arrays[name]
        else:
            msg.arrays[name] = np.ascontiguousarray(np.atleast_2d(msg.arrays[name]).T[..., :1].repeat(2, -1))
        return Example(f"{name}: {change}", encode(msg), "error", "")
    if how == "foreign session":
        token = draw(st.one_of(st.just(ctx["session"]), st.text("0123456789abcdef", min_size=32, max_size=32)))
        name = draw(st.sampled_from(["A", "other-actor", "fuzzer"]))
        assume(not (name == "fuzzer" and token == ctx["session"]))
        meta = dict(base_meta(draw(st.sampled_from(["ping", "transitions"])), ctx, seq), actor=name, session=token)
        kind = "transitions" if "seq" in meta else "ping"
        return Example(f"{kind} from {name} with a session not issued to it", encode(message(kind, meta, seq)),
                       "error", "meta.session")
    if how == "actor-bound type":
        kind = draw(st.sampled_from(["welcome", "ack", "pong", "weights", "error", "stop"]))
        meta = draw(st.dictionaries(st.text(max_size=8), anything, max_size=4))
        arrays = {"actor.w": np.full((2, 2), draw(st.sampled_from([np.nan, 1.0])), np.float32)} \
            if kind == "weights" else {}
        return Example(f"{kind} sent to the learner", encode(Message(kind, meta, arrays)), "error", "type")
    if how == "raw header":
        spec, data = draw(st.sampled_from([
            ([["x", "float32", [0, (1 << 64) - 1], "raw", 0]], b""),     # numpy cannot build it
            ([["x", "float32", [0, 1 << 40, 1 << 40], "raw", 0]], b""),
            ([["x", "float32", [1 << 62, 1 << 62], "raw", 0]], b""),
            ([["x", "uint8", [4], "raw", 4.0]], b"\0" * 4),
            ([["x", ["float32"], [4], "raw", 16]], b"\0" * 16),
            ([[{"n": 1}, "uint8", [4], "raw", 4]], b"\0" * 4),
        ]))
        head = msgpack.packb({"proto": "roboloop", "v": 1, "type": kind, "meta": meta, "arrays": spec})
        return Example(f"header arrays {spec!r}", [head, data], "error", "")
    # valid edge: a batch at the edges of what is allowed must be taken (and must not poison training)
    scale = draw(st.sampled_from([1.0, 1e3, 9e5]))
    msg = batch(base_meta("transitions", ctx, seq), n=draw(st.integers(1, 8)), seed=seq, scale=scale)
    return Example(f"valid batch at scale {scale}", encode(msg), "ack")
