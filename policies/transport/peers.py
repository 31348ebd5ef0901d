"""Who the learner is talking to: actor sessions, a bounded peer table, and rate-limited logging.

Identity. An actor's name is only a label: two processes may share one (a restarted actor keeps its
`--name`). What the learner trusts is a *session* token it hands out in every `welcome`:

    session = nonce (16 hex) + HMAC-SHA256(run key, nonce | actor name)[:16 hex]

An actor tags every batch with its session and numbers batches from 0 within it, and the learner
de-duplicates resends by (session, seq). A new actor process has no session, so it gets a fresh one
and can never collide with its predecessor's sequence numbers; a peer cannot pre-empt another's
batches without its token (sent only to that peer); and because the run key lives in the run folder
(`sessions.key`, 0600), a learner resumed with `--resume` still recognises the sessions of actors
that kept running while it was down, so their resends are de-duplicated against the store.

Peers. One entry per session, holding the peer's ZMQ identity (for weights), its last stats and when
it was last heard. A peer silent for `timeout_s` counts as gone (no weights, no TensorBoard scalars);
one silent for `forget_s` is forgotten. The table holds at most `max_peers` entries; beyond that the
least recently heard peer is evicted. An evicted actor loses nothing: its session still verifies,
and its next ping or batch brings its entry back.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator


def read_or_create_key(path: Path) -> bytes:
    """The run's 32-byte session key; created 0600 from the first byte (O_EXCL, mode on open)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != 32:
            raise ValueError(f"{path} is not a session key (expected 32 bytes, found {len(key)}); "
                             f"delete it to start a new run") from None
        return key
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
        f.flush()
        os.fsync(f.fileno())
    return key


class Sessions:
    """Issues and verifies session tokens for one run (see the module docstring)."""

    def __init__(self, key: bytes):
        self.key = key

    def _mac(self, nonce: str, actor: str) -> str:
        return hmac.new(self.key, f"{nonce}|{actor}".encode(), hashlib.sha256).hexdigest()[:16]

    def issue(self, actor: str) -> str:
        nonce = secrets.token_hex(8)
        return nonce + self._mac(nonce, actor)

    def valid(self, session: str | None, actor: str) -> bool:
        return (isinstance(session, str) and len(session) == 32
                and hmac.compare_digest(session[16:], self._mac(session[:16], actor)))


@dataclass
class Peer:
    name: str
    session: str
    identity: bytes
    last_seen: float
    stats: dict = field(default_factory=dict)
    gone: bool = False


class PeerTable:
    """Live actor sessions, bounded in number and forgotten when silent (see the module docstring)."""

    def __init__(self, max_peers: int, timeout_s: float, forget_s: float):
        self.max_peers, self.timeout_s, self.forget_s = max(1, max_peers), timeout_s, forget_s
        self._peers: OrderedDict[str, Peer] = OrderedDict()   # session -> peer, least recently heard first
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._peers)

    def touch(self, name: str, session: str, identity: bytes, now: float | None = None) -> tuple[Peer, bool]:
        """The peer of a verified session, created if new; (peer, True if it was new or had gone)."""
        now = time.monotonic() if now is None else now
        peer = self._peers.pop(session, None)
        back = peer is None or peer.gone
        if peer is None:
            peer = Peer(name, session, identity, now)
        peer.identity, peer.last_seen, peer.gone = identity, now, False
        self._peers[session] = peer
        while len(self._peers) > self.max_peers:
            self._peers.popitem(last=False)
            self.evicted += 1
        return peer, back

    def live(self) -> list[Peer]:
        return [p for p in self._peers.values() if not p.gone]

    def __iter__(self) -> Iterator[Peer]:
        return iter(list(self._peers.values()))

    def sweep(self, now: float | None = None) -> list[Peer]:
        """Mark peers silent for timeout_s as gone (returned, to be logged) and forget those silent for forget_s."""
        now = time.monotonic() if now is None else now
        newly_gone = []
        for session, peer in list(self._peers.items()):
            silent = now - peer.last_seen
            if silent > self.forget_s:
                del self._peers[session]
            elif not peer.gone and silent > self.timeout_s:
                peer.gone = True
                newly_gone.append(peer)
        return newly_gone


class RateLimitedLog:
    """At most `burst` lines per `window_s` seconds; what is held back is counted and summarised, and
    every line is cut to `width` characters (a peer cannot make the log repeat a megabyte)."""

    def __init__(self, log: Callable[[str], None], burst: int = 5, window_s: float = 10.0, width: int = 300):
        self.log, self.burst, self.window_s, self.width = log, burst, window_s, width
        self._start, self._lines, self._held = -1e18, 0, 0

    def __call__(self, line: str) -> None:
        now = time.monotonic()
        if now - self._start >= self.window_s:
            if self._held:
                self.log(f"... and {self._held} more like it in the last {self.window_s:.0f}s (not shown)")
            self._start, self._lines, self._held = now, 0, 0
        if self._lines < self.burst:
            self._lines += 1
            self.log(line if len(line) <= self.width else line[:self.width] + f"... ({len(line)} characters)")
        else:
            self._held += 1
