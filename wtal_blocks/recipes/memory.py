"""Keep freed memory in the process, so that large CPU tensors are not page-faulted in anew.

With glibc's default settings every allocation above a threshold (at most 32 MB) is a fresh
memory mapping, returned to the system when freed. A batch of 16 THUMOS'14 videos makes
activations of ~100 MB, so every forward (and every training step) maps them again and the
kernel zeroes them page by page: on 2 cores, evaluating UM on 210 videos took 1.6M page faults
and 7.5-7.9 s of forward, against 0.26M and 5.9-6.3 s with freed memory kept for reuse (the
official batch-1 code, whose tensors stay under the threshold, takes 5.8-6.4 s). This is what
the PyTorch performance guides obtain by preloading jemalloc or tcmalloc; here it is two
``mallopt`` calls, made by the command-line tools at start-up.

The memory a process keeps is bounded by its peak use. On a C library other than glibc
nothing is changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["reuse_freed_memory", "reusing_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_TRIM_THRESHOLD = 1 << 30  # give memory back to the system only above 1 GiB of free heap

_applied = False


def reuse_freed_memory() -> bool:
    """Have the C allocator keep freed memory for reuse (glibc only); True when applied.

    Large allocations then come from the heap instead of fresh mappings, and freed memory is
    returned to the system only when more than 1 GiB of it is free. Call it once, early, in a
    process that runs batched CPU work; it changes nothing elsewhere.
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; both settings or none
    if mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1 and mallopt(_M_MMAP_MAX, 0) == 1:
        _applied = True
    return _applied


def reusing_freed_memory() -> bool:
    """Whether :func:`reuse_freed_memory` has been applied in this process."""
    return _applied
