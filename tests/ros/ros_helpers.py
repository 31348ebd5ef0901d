"""Helpers of the ROS 2 tests (see conftest.py for the fixtures and the DDS isolation)."""
import os
import subprocess
import sys
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = sys.executable

def wait_for(cond, timeout: float, what, interval: float = 0.02):
    """Poll `cond()` until truthy (returned) or fail naming `what` (a string, or a callable giving one
    when it fails: e.g. a child's output by then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what() if callable(what) else what}")


def node_stats(diag, node: str) -> dict[str, str]:
    """The key/values of the newest status of the node named `node` (actor, safety, ...) in `diag` (received
    /diagnostics arrays), or {}."""
    return next(({kv.key: kv.value for kv in d.status[0].values} for d in reversed(diag)
                 if d.status[0].name.endswith(node)), {})


def actor_stats(diag) -> dict[str, str]:
    """The key/values of the actor's newest status in `diag`, or {}."""
    return node_stats(diag, "actor")


def start_learner(spawn, checkpoint, run, steps: int, learning_starts: int, *overrides: str,
                  bind_timeout: float = 120):
    """`roboloop learn --init checkpoint` on loopback for `steps` env steps, CPU-cheap (no compile, no evals,
    no demos): returns (its Proc, its endpoint) once it has bound. `overrides`: more config keys, key=value."""
    sets = [f"learning_starts={learning_starts}", "demos=0", "eval_every=0", "eval_episodes=1",
            "sac.compile=false", *overrides]
    learner = spawn(PY, "-m", "roboloop.cli", "learn", "--init", str(checkpoint), "--bind", "tcp://127.0.0.1:*",
                    "--out", str(run), "--steps", str(steps), "--no-progress",
                    *[arg for kv in sets for arg in ("--set", kv)])
    wait_for(lambda: (run / "learner.endpoint").exists(), bind_timeout,
             lambda: f"the learner to bind:\n{learner.output}")
    return learner, (run / "learner.endpoint").read_text().strip()


class Proc:
    """A child process whose output is collected (for assertions and failure messages)."""

    def __init__(self, args, **kw):
        self.lines: list[str] = []
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  cwd=REPO, **kw)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            self.lines.append(line.rstrip())

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self, sig=2, timeout=30.0) -> int:  # the launcher may take 3 x grace_s (5 s) to stop its nodes
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode
