"""Process memory settings for batch runs: freed memory is kept for reuse instead of handed back to the kernel.

A batch forecast allocates and frees the same large arrays many times (a chunk of windows, a model call's
activations, arrow buffers while reading). By default glibc returns large blocks to the kernel at once (mmap)
and arrow keeps its own allocator, so each new block is fresh pages that the kernel must fault in and zero:
a 10,000-series forecast on a 2-core machine spent 0.4–1.3 s of its CPU time in the kernel.
:func:`keep_freed_memory` makes glibc keep freed blocks of up to 32 MiB in the heap for reuse (mmap threshold at
glibc's maximum, trim threshold 1 GiB; larger blocks are still mapped and unmapped) and gives arrow the same
allocator. The cost: memory freed stays in the process until it exits, so resident memory stays near its peak,
and the peak can grow where freed blocks do not fit later requests.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

import pyarrow as pa

log = logging.getLogger("forecast")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's largest mmap threshold on 64-bit
_TRIM_THRESHOLD = 1 << 30
_applied: list[bool] = []


def keep_freed_memory() -> bool:
    """Apply the settings once per process (Linux with glibc; elsewhere nothing is changed). True if applied."""
    if _applied:
        return _applied[0]
    ok = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            ok = all(libc.mallopt(p, v) == 1 for p, v in ((_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX),
                                                           (_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)))
        except (OSError, AttributeError):  # not glibc (musl has no mallopt): leave the allocator as it is
            ok = False
        if ok:
            pa.set_memory_pool(pa.system_memory_pool())
    if not ok:
        log.debug("memory: allocator settings left as they are (not Linux with glibc)")
    _applied.append(ok)
    return ok
