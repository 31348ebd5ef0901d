"""Loopback is decided by what an endpoint resolves to, not by its spelling; secret key files are
never readable by others, not even while they are being written."""
from __future__ import annotations

import os
import stat

import pytest
import zmq.auth

from roboloop.policies.transport import security
from roboloop.policies.transport.security import SecurityError, check_endpoint, create_keys, is_loopback


@pytest.mark.parametrize("endpoint, loopback", [
    ("tcp://127.0.0.1:5555", True), ("tcp://127.3.2.1:5555", True), ("tcp://localhost:5555", True),
    ("tcp://[::1]:5555", True), ("tcp://127.0.0.1:*", True), ("ipc:///tmp/learner", True),
    ("tcp://127.evil.example.com:5555", False),   # a name that merely starts like a loopback address
    ("tcp://0.0.0.0:5555", False), ("tcp://*:5555", False),
    ("tcp://10.1.2.3:5555", False), ("tcp://[::]:5555", False), ("tcp://:5555", False),
])
def test_loopback_is_decided_by_resolving_the_address_not_by_its_spelling(endpoint, loopback):
    assert is_loopback(endpoint) is loopback


def test_plain_tcp_to_a_lookalike_host_needs_keys_or_insecure():
    with pytest.raises(SecurityError, match="not a loopback address"):
        check_endpoint("tcp://127.evil.example.com:5555", None, insecure=False)
    check_endpoint("tcp://127.evil.example.com:5555", None, insecure=True)   # the user's explicit choice


def test_secret_key_files_are_created_0600_from_the_first_byte(tmp_path, monkeypatch):
    opened = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *a, **kw):
        opened.append((str(path), flags, mode))
        return real_open(path, flags, mode, *a, **kw)
    monkeypatch.setattr(security.os, "open", spy)
    old_umask = os.umask(0)   # even with a permissive umask
    try:
        written = create_keys(tmp_path / "keys", "arm2")
    finally:
        os.umask(old_umask)
    secrets = [p for p in written if p.name.endswith(".key_secret")]
    assert {p.name for p in secrets} == {"learner.key_secret", "arm2.key_secret"}
    for p in secrets:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
        created = [(f, m) for path, f, m in opened if path.startswith(str(p))]
        assert created and all(f & os.O_CREAT and f & os.O_EXCL and m == 0o600 for f, m in created), created
        public, secret = zmq.auth.load_certificate(str(p))
        assert secret is not None and len(public) == 40
    assert not list((tmp_path / "keys").glob("*.part"))
