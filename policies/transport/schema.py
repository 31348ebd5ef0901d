"""The message schema of the actor-learner transport, checked in one place.

`wire.decode` proves a message is well framed; `check(msg, layout)` proves it means something before
anything acts on it. Every meta field of every message type is typed and bounded, unknown fields are
refused, and every array is finite and within its declared limits. A failure is a `SchemaError` whose
`field` names the offending field (`meta.stats.queue_depth`, `final_obs/state`), so the learner can
answer with an `error` that says exactly what to fix.

    to the learner                      to an actor
    hello        actor, env_spec?, session?   welcome  transport, env, env_spec, actor, version,
                                                       run, session
    ping         actor, stats?, session?      ack      seqs, version
    transitions  actor, seq, session,         pong     version, run
                 episodes?, version?          weights  version, updates  + numeric arrays
                 + the batch arrays           error    reason, seq?, field?
                                              stop     reason

Limits are generous for any real robot and small enough that no field can cost the learner more
than a few kilobytes of work: names of at most 64 printable characters, at most 64 stats, 1,024
episode summaries per batch, spec trees of at most 4,096 nodes and depth 8, and float values of at
most 1e6 in magnitude (observations, rewards, actions, weights); a finite 1e30 is as poisonous to
training as an infinity.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from roboloop.policies.transport.batch import Layout, check_batch
from roboloop.policies.transport.wire import Message, WireError, short_repr

MAX_NAME = 64
MAX_TEXT = 2_000
MAX_SEQ = 1 << 53
MAX_STATS = 64
MAX_EPISODES = 1_024
MAX_ACK_SEQS = 65_536
MAX_TREE_NODES = 4_096
MAX_TREE_DEPTH = 8
MAX_ABS = 1e6
SESSION_CHARS = 32          # a session token: lowercase hex (see peers.Sessions)

TO_LEARNER = ("hello", "ping", "transitions")
TO_ACTOR = ("welcome", "ack", "pong", "weights", "error", "stop")


class SchemaError(WireError):
    """A decoded message whose content breaks the schema; `field` names the offending field."""

    def __init__(self, field: str, problem: str):
        self.field = field
        super().__init__(f"{field}: {problem}")


# ------------------------------------------------------------------------------------ field types
Check = Callable[[Any, str], None]


def _int(lo: int, hi: int) -> Check:
    def check(v: Any, field: str) -> None:
        if type(v) is not int or not lo <= v <= hi:
            raise SchemaError(field, f"expected an integer in {lo}..{hi}, got {short_repr(v)}")
    return check


def _float(lo: float = -MAX_ABS, hi: float = MAX_ABS) -> Check:
    def check(v: Any, field: str) -> None:
        if type(v) not in (int, float) or not (math.isfinite(v) and lo <= v <= hi):
            raise SchemaError(field, f"expected a finite number in [{lo:g}, {hi:g}], got {short_repr(v)}")
    return check


def _bool(v: Any, field: str) -> None:
    if type(v) is not bool:
        raise SchemaError(field, f"expected true or false, got {short_repr(v)}")


def _text(limit: int) -> Check:
    def check(v: Any, field: str) -> None:
        if type(v) is not str or len(v) > limit:
            raise SchemaError(field, f"expected a string of at most {limit} characters, got {short_repr(v)}")
    return check


def _name(v: Any, field: str) -> None:
    if type(v) is not str or not 1 <= len(v) <= MAX_NAME or not v.isprintable():
        raise SchemaError(field, f"expected a name of 1..{MAX_NAME} printable characters, got {short_repr(v)}")


def _session(v: Any, field: str) -> None:
    if type(v) is not str or len(v) != SESSION_CHARS or any(c not in "0123456789abcdef" for c in v):
        raise SchemaError(field, f"expected a session token of {SESSION_CHARS} hex digits from the learner's "
                                 f"welcome, got {short_repr(v)}")


def _optional(inner: Check) -> Check:
    def check(v: Any, field: str) -> None:
        if v is not None:
            inner(v, field)
    return check


def _tree(v: Any, field: str) -> None:
    """A JSON-like tree (str keys; str, bool, finite numbers, None; lists and maps), bounded in size."""
    nodes = 0

    def walk(x: Any, where: str, depth: int) -> None:
        nonlocal nodes
        nodes += 1
        if nodes > MAX_TREE_NODES:
            raise SchemaError(field, f"more than {MAX_TREE_NODES} entries")
        if depth > MAX_TREE_DEPTH:
            raise SchemaError(where, f"nested deeper than {MAX_TREE_DEPTH} levels")
        if isinstance(x, dict):
            for k, y in x.items():
                if type(k) is not str or len(k) > 256:
                    raise SchemaError(where, f"keys must be strings of at most 256 characters, got {short_repr(k)}")
                walk(y, f"{where}.{k}", depth + 1)
        elif isinstance(x, list):
            for i, y in enumerate(x):
                walk(y, f"{where}[{i}]", depth + 1)
        elif type(x) is float and not math.isfinite(x):
            raise SchemaError(where, f"non-finite number {x}")
        elif x is not None and type(x) not in (str, bool, int, float):
            raise SchemaError(where, f"unexpected value {short_repr(x)}")
        elif type(x) is str and len(x) > MAX_TEXT:
            raise SchemaError(where, f"string of {len(x)} characters (limit {MAX_TEXT})")

    if not isinstance(v, dict):
        raise SchemaError(field, f"expected a map, got {short_repr(v)}")
    walk(v, field, 0)


def _stats(v: Any, field: str) -> None:
    """An actor's counters: name -> number, bool or None (what ActorClient.stats() sends)."""
    if not isinstance(v, dict) or len(v) > MAX_STATS:
        raise SchemaError(field, f"expected a map of at most {MAX_STATS} counters, got {short_repr(v)}")
    for k, x in v.items():
        if type(k) is not str or not 1 <= len(k) <= MAX_NAME or not k.isidentifier():
            raise SchemaError(field, f"counter names must be identifiers of at most {MAX_NAME} characters, "
                                     f"got {short_repr(k)}")
        if x is not None and type(x) is not bool:
            if type(x) not in (int, float) or not math.isfinite(x) or abs(x) > 1e15:
                raise SchemaError(f"{field}.{k}", f"expected a finite number, got {short_repr(x)}")


def _episodes(v: Any, field: str) -> None:
    """Episode summaries that ended in a batch: [{"return": float, "success": bool}, ...]."""
    if not isinstance(v, list) or len(v) > MAX_EPISODES:
        raise SchemaError(field, f"expected a list of at most {MAX_EPISODES} episode summaries, got {short_repr(v)}")
    for i, ep in enumerate(v):
        _fields(ep, f"{field}[{i}]", {"return": _float(), "success": _bool}, {})


def _seqs(v: Any, field: str) -> None:
    if not isinstance(v, list) or len(v) > MAX_ACK_SEQS:
        raise SchemaError(field, f"expected a list of at most {MAX_ACK_SEQS} sequence numbers, got {short_repr(v)}")
    seq = _int(0, MAX_SEQ)
    for i, s in enumerate(v):
        seq(s, f"{field}[{i}]")


def _fields(meta: Any, where: str, required: dict[str, Check], optional: dict[str, Check]) -> None:
    """Required fields present, no unknown ones, every value of its type (in the order listed)."""
    if not isinstance(meta, dict):
        raise SchemaError(where, f"expected a map, got {short_repr(meta)}")
    for k in meta:
        if k not in required and k not in optional:
            name = k if type(k) is str and len(k) <= 40 and k.isprintable() else short_repr(k, 40)
            raise SchemaError(f"{where}.{name}", f"unknown field (allowed: {', '.join([*required, *optional])})")
    for k, check in required.items():
        if k not in meta:
            raise SchemaError(f"{where}.{k}", "missing")
        check(meta[k], f"{where}.{k}")
    for k, check in optional.items():
        if k in meta:
            check(meta[k], f"{where}.{k}")


# ------------------------------------------------------------------------------- message types
_SEQ, _VERSION = _int(0, MAX_SEQ), _int(0, MAX_SEQ)
META: dict[str, tuple[dict[str, Check], dict[str, Check]]] = {   # type -> (required, optional)
    "hello": ({"actor": _name}, {"env_spec": _optional(_tree), "session": _optional(_session)}),
    "ping": ({"actor": _name}, {"stats": _optional(_stats), "session": _optional(_session)}),
    "transitions": ({"actor": _name, "seq": _SEQ, "session": _session},
                    {"episodes": _optional(_episodes), "version": _VERSION}),
    "welcome": ({"transport": _tree, "env": _tree, "env_spec": _tree, "actor": _tree, "version": _VERSION,
                 "run": _text(MAX_NAME),
                 "session": _session}, {}),
    "ack": ({"seqs": _seqs, "version": _VERSION}, {}),
    "pong": ({"version": _VERSION}, {"run": _text(MAX_NAME)}),
    "weights": ({"version": _VERSION, "updates": _int(0, MAX_SEQ)}, {}),
    "error": ({"reason": _text(MAX_TEXT)}, {"seq": _optional(_SEQ), "field": _optional(_text(256))}),
    "stop": ({"reason": _text(MAX_TEXT)}, {}),
}


def _finite(name: str, a: np.ndarray) -> None:
    if a.dtype.kind == "f" and a.size:
        with np.errstate(invalid="ignore", over="ignore"):
            if not np.isfinite(a).all():
                raise SchemaError(name, "holds NaN or infinite values")
            if np.abs(a).max() > MAX_ABS:
                raise SchemaError(name, f"holds values beyond +-{MAX_ABS:g}")


def check(msg: Message, layout: Layout | None = None, direction: tuple[str, ...] = TO_LEARNER) -> Message:
    """Check a decoded message against the schema; returns it, or raises SchemaError naming the field.

    direction: the message types this side takes (TO_LEARNER or TO_ACTOR). layout: the task's
    observation/action layout, which a learner's transitions must match exactly.
    """
    if msg.type not in direction:
        raise SchemaError("type", f"{'the learner' if direction is TO_LEARNER else 'an actor'} does not take "
                                  f"{msg.type!r} messages")
    required, optional = META[msg.type]
    if msg.type == "transitions":
        # who and which batch first, then the arrays (the costly part), then the rest of the meta
        _fields({k: msg.meta[k] for k in ("actor", "seq") if k in msg.meta} if isinstance(msg.meta, dict)
                else msg.meta, "meta", {"actor": _name, "seq": _SEQ}, {})
        if layout is not None:
            try:
                check_batch(msg, layout)
            except SchemaError:
                raise
            except WireError as e:
                raise SchemaError("arrays", str(e)) from None
        for name, a in msg.arrays.items():
            _finite(name, a)
    elif msg.type == "weights":
        for name, a in msg.arrays.items():
            if a.dtype.kind not in "fiu":
                raise SchemaError(name, f"weights are numeric arrays, got {a.dtype}")
            _finite(name, a)
    elif msg.arrays:
        raise SchemaError(f"arrays.{short_repr(next(iter(msg.arrays)), 40)}", f"{msg.type} messages carry no arrays")
    _fields(msg.meta, "meta", required, optional)
    return msg
