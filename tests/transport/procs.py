"""Real processes for the transport tests: `roboloop learn` / `roboloop act` started with subprocess,
killed with real signals. Every wait polls with a generous deadline (a loaded 2-core machine)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

# Small networks and frequent checkpoints: these tests exercise the transport, not the learning.
FAST = ["--set", "sac.hidden_dims=[32, 32]", "--set", "sac.batch_size=32", "--set", "learning_starts=100",
        "--set", "eval_every=0", "--set", "eval_episodes=1", "--set", "checkpoint_every=200",
        "--set", "transport.peer_timeout_s=3", "--set", "transport.ack_timeout_s=2"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}) while waiting for {what}:\n"
                                 + (log.read_text()[-3000:] if log else ""))
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f":\n{log.read_text()[-3000:]}" if log else ""))


def status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


class Procs:
    """Starts roboloop subcommands with their output in a log file; kills what is left at teardown."""

    def __init__(self, root: Path):
        self.root, self.procs = root, []

    def start(self, name: str, *args: str) -> tuple[subprocess.Popen, Path]:
        log = self.root / f"{name}.log"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        f = open(log, "w")
        p = subprocess.Popen([sys.executable, "-m", "roboloop.cli", *args], stdout=f, stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        return p, log

    def kill9(self, p: subprocess.Popen) -> None:
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)

    def cleanup(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)


