"""The learner fuzz suite (tests/transport/test_fuzz_learner.py) run longer than CI allows: a real
`roboloop learn` process takes N hypothesis examples of broken messages over a real zmq socket while a
real `roboloop act` feeds it, then its weights and its store are checked for non-finite values.

    .venv/bin/python benchmarks/fuzz_learner.py                    # 5,000 examples (~10 min on 2 cores)
    .venv/bin/python benchmarks/fuzz_learner.py --examples 50000   # an overnight run

Prints the examples run, the time taken and examples/s; exits non-zero on the first failure, with
hypothesis's shrunk example.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=5_000, help="hypothesis examples (default 5000; CI runs 150)")
    args = p.parse_args()
    env = dict(os.environ, ROBOLOOP_FUZZ_EXAMPLES=str(args.examples), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    t0 = time.monotonic()
    rc = subprocess.call([sys.executable, "-m", "pytest", "tests/transport/test_fuzz_learner.py", "-x", "-q",
                          "-p", "no:cacheprovider", "--hypothesis-show-statistics", "-o", "timeout=0"],
                         cwd=ROOT, env=env)
    dt = time.monotonic() - t0
    print(f"fuzz_learner: {args.examples} examples in {dt:.0f} s ({args.examples / dt:.1f} examples/s, "
          f"including the learner and actor start-up): {'passed' if rc == 0 else 'FAILED'}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
