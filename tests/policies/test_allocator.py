"""retain_freed_memory: freed tensors' pages are reused instead of page-faulted in again."""
import subprocess
import sys

import pytest

PROBE = """
import resource, numpy as np
from roboloop.policies.allocator import retain_freed_memory

def faults_per_cycle():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        a = np.ones(1 << 17, np.float32)   # 512 KiB, like one (2, 256, 256) activation
        b = np.ones(1 << 17, np.float32)
        del a, b
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50

assert retain_freed_memory(128 << 10, 128 << 10)   # glibc's static default thresholds
faults_per_cycle()
default = faults_per_cycle()
assert retain_freed_memory()
faults_per_cycle()
print(default, faults_per_cycle())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_retained_memory_stops_page_faults_on_reallocation():
    # A child process: allocator thresholds are process-wide and must not leak into other tests.
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    default, retained = (float(x) for x in out.stdout.split())
    assert default > 100, f"with 128 KiB thresholds each 512 KiB array should fault its pages in, got {default}"
    assert retained < 5, f"retained memory should be reused without faults, got {retained} per cycle"
