"""Memory a sol run freed, handed back to the operating system at the end of the run.

A long-lived process that runs sol after sol (``rovercam serve``, a worker, the reliability
soak) frees nearly everything a run allocated: the Python heap and the C allocator's memory in
use come back to the same size after each sol. glibc's ``malloc`` keeps what is freed, though,
in the arena of the thread that allocated it, and returns a heap's pages to the operating
system only from its top. Each of the threads a run starts (the task runner's, the stereo and
mosaic stages' worker threads) allocates frame-sized temporaries in one of up to 8 arenas per
core, so the free memory held across those arenas keeps growing, for a dozen sols or so, before
it levels off: resident memory grows although nothing leaks.

Measured in the soak (docs/reliability.md, "Soak"; ``tiny`` sols with the stereo stage, 2
cores): from sol 5 to sol 14 the Python heap (``tracemalloc``) grew by 2 MB and the memory
``malloc`` had in use stayed at 86-88 MB, while the free memory it held rose from 263 to
342 MB, and resident memory with it (613 to 686 MB). ``malloc_trim(0)`` after each sol brought
resident memory down to 506 MB after sol 5 and 523 MB after sol 14; with a single arena
(``MALLOC_ARENA_MAX=1``) resident memory stayed near 415 MB.

:func:`release_freed_memory` is that ``malloc_trim(0)``; :func:`rovercam_flows.stages.run_sol`
calls it once at the end of every sol run (a few milliseconds). Tuning ``malloc`` instead
(``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``) would turn off its dynamic mmap
threshold and make every array over 128 KiB a fresh ``mmap``, which slows the frame chain
severalfold (:mod:`rovercam_tasks._dask_worker`); capping the arenas would make the worker
threads contend for one lock.
"""
from __future__ import annotations

import ctypes
import sys
from typing import Any

__all__ = ["release_freed_memory"]

_libc: Any = None


def release_freed_memory() -> bool:
    """Return the pages ``malloc`` holds free, in every arena, to the operating system
    (glibc's ``malloc_trim(0)``).

    Returns
    -------
    bool
        True when memory was returned; False when there was none to return, or the C library
        has no ``malloc_trim`` (not Linux with glibc: nothing is done).
    """
    global _libc
    if not sys.platform.startswith("linux"):
        return False
    if _libc is None:
        _libc = ctypes.CDLL(None)  # the process's own symbols: the C library it runs on
    trim = getattr(_libc, "malloc_trim", None)  # glibc only (not musl)
    if trim is None:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return bool(trim(0))
