"""ZMQ CURVE keys and the rule for plain TCP.

`roboloop keys DIR` writes (zmq.auth certificate files, Z85 text):

    DIR/learner.key          learner public key      -> copy to every actor machine
    DIR/learner.key_secret   learner secret key      -> stays on the learner machine
    DIR/actor.key            actor public key        -> the learner's list of allowed actors
    DIR/actor.key_secret     actor secret key        -> copy to every actor machine
    DIR/authorized/actor.key the learner accepts exactly the public keys in this folder

More actors: `roboloop keys DIR --name arm2` adds arm2.key / arm2.key_secret and authorizes arm2.
An actor is told which keys to use with `--keys DIR [--key-name arm2]`.

Without keys, traffic is plain TCP, allowed only on loopback (or ipc://) unless the user passes
`--insecure`: nothing on the network is trusted by default.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


class SecurityError(ValueError):
    """Missing key files, or a non-loopback plain-TCP endpoint without --insecure."""


def create_keys(folder: str | Path, name: str = "actor", overwrite: bool = False) -> list[Path]:
    """Create the learner key pair (if missing) and an actor key pair `name`; returns the files written."""
    folder = Path(folder)
    (folder / "authorized").mkdir(parents=True, exist_ok=True)
    written = []
    for who in ("learner", name):
        if (folder / f"{who}.key_secret").exists() and not overwrite:
            if who == name:
                raise SecurityError(f"{folder / (who + '.key_secret')} exists; pass --overwrite to replace it")
            continue
        pub, sec = zmq.auth.create_certificates(str(folder), who)
        Path(sec).chmod(0o600)
        written += [Path(pub), Path(sec)]
    shutil.copy(folder / f"{name}.key", folder / "authorized" / f"{name}.key")
    written.append(folder / "authorized" / f"{name}.key")
    return written


def _load(path: Path, secret: bool) -> tuple[bytes, bytes | None]:
    if not path.exists():
        raise SecurityError(f"key file {path} does not exist (create keys with `roboloop keys {path.parent}`)")
    try:
        pub, sec = zmq.auth.load_certificate(str(path))
    except Exception as e:
        raise SecurityError(f"key file {path} could not be read: {e}") from None
    if secret and sec is None:
        raise SecurityError(f"{path} holds no secret key")
    return pub, sec


def is_loopback(endpoint: str) -> bool:
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    host = urlsplit(endpoint).hostname or ""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def check_endpoint(endpoint: str, keys: str | Path | None, insecure: bool) -> None:
    if not endpoint.startswith(("tcp://", "ipc://", "inproc://")):
        raise SecurityError(f"endpoint {endpoint!r} must look like tcp://HOST:PORT (or ipc://PATH)")
    if keys is None and not insecure and not is_loopback(endpoint):
        raise SecurityError(f"{endpoint} is not a loopback address and no CURVE keys were given: pass "
                            f"--keys DIR (create them with `roboloop keys DIR`) or, on a trusted network only, "
                            f"--insecure")


def secure_server(ctx: zmq.Context, sock: zmq.Socket, keys: str | Path,
                  log: Callable[[str], None]) -> ThreadAuthenticator:
    """Make `sock` a CURVE server that admits only the public keys in keys/authorized/."""
    keys = Path(keys)
    _, secret = _load(keys / "learner.key_secret", secret=True)
    allowed = keys / "authorized"
    if not allowed.is_dir() or not any(allowed.glob("*.key")):
        raise SecurityError(f"{allowed} holds no actor public keys (create them with `roboloop keys {keys}`)")
    known = {_load(p, secret=False)[0] for p in allowed.glob("*.key")}
    refused: set[bytes] = set()

    class _Keys:  # zmq.auth's credentials provider: called by the ZAP thread for every handshake
        def callback(self, domain: str, key: bytes) -> bool:
            if key not in known:
                if key not in refused:   # a refused peer retries every 100 ms: name each key once
                    refused.add(key)
                    log(f"refused an actor with an unknown CURVE key {key.decode()} (not in {allowed})")
                return False
            return True

    logging.getLogger("zmq.auth").setLevel(logging.WARNING)
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve_callback("*", credentials_provider=_Keys())
    sock.curve_secretkey = secret
    sock.curve_publickey = zmq.curve_public(secret)
    sock.curve_server = True
    return auth


def secure_client(sock: zmq.Socket, keys: str | Path, name: str = "actor") -> None:
    """Make `sock` a CURVE client that trusts only the learner's public key."""
    keys = Path(keys)
    server_pub, _ = _load(keys / "learner.key", secret=False)
    pub, sec = _load(keys / f"{name}.key_secret", secret=True)
    sock.curve_serverkey = server_pub
    sock.curve_publickey = pub
    sock.curve_secretkey = sec
