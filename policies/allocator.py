"""Keep freed memory in the process instead of handing it back to the OS after every tensor.

An eager SAC update at batch 256 allocates and frees a few dozen 256 KiB-512 KiB activation and
gradient tensors. With glibc's default thresholds many of them come from fresh mmap'd or trimmed heap
pages, and every first touch of a page is a page fault: about 1,500-3,600 minor faults per update,
a quarter of an eager update's CPU time on a 2-core VM. Raising the mmap and trim thresholds lets
glibc reuse the same pages update after update (tens of faults per update). A learner process calls
this once at start-up; memory held back is bounded by the trim threshold.
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # mallopt parameter numbers (glibc <malloc.h>)


def retain_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 128 << 20) -> bool:
    """Serve allocations under `mmap_threshold` bytes from the heap and keep up to `trim_threshold`
    bytes of freed heap in the process. Returns False (and changes nothing) where the C library is not
    glibc. Larger allocations (e.g. replay storage) are still mmap'd, so they stay lazily zeroed."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))
