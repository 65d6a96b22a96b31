"""Process memory settings for rendering on the CPU.

A decoder frame allocates and frees tensors of 0.1-3 MB (sample grids, the window tables, the
frame). glibc's malloc serves blocks of that size with mmap and returns them to the kernel on
free, or trims the heap's top once 128 KB of it lie free, so every frame faulted its pages back
in: ~650 page faults and ~2.5 ms of a 14 ms frame's CPU (one stream, batch 1, 512x512, one
thread). Raising both thresholds keeps those blocks in the heap for the next frame.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

# mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 16 << 20  # larger blocks (a batch of 8 float frames) still use mmap
TRIM_THRESHOLD_BYTES = 64 << 20  # free memory kept at the heap's top, at most

_lock = threading.Lock()
_done: bool | None = None


def keep_freed_memory() -> bool:
    """Once per process, where the C library is glibc: keep freed blocks up to
    MMAP_THRESHOLD_BYTES in the heap, and up to TRIM_THRESHOLD_BYTES free at its top. True
    where set (now or before). A MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ in the
    environment is the operator's choice, and is left as it is."""
    global _done
    with _lock:
        if _done is not None:
            return _done
        _done = False
        if any(k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
            return _done
        try:
            if not os.confstr("CS_GNU_LIBC_VERSION"):
                return _done
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        except (ValueError, OSError, AttributeError):  # not glibc, or no such library
            return _done
        mallopt = libc.mallopt
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        _done = bool(
            mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
            and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
        )
        return _done
