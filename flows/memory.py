"""The C allocator of a process that runs sol after sol: few arenas, and freed memory handed back.

A long-lived process that runs sol after sol (``rovercam serve``, a worker, the reliability
soak) frees nearly everything a run allocated: the Python heap and the memory glibc's
``malloc`` has in use come back to the same size after each sol. What ``malloc`` does with the
freed memory is the problem. Each thread allocates from an arena of its own, up to 8 arenas per
core, and a heap gives pages back to the operating system only from its top. The threads a run
starts (the task runner's, the stereo and mosaic stages' worker threads) come and go, and each
new one allocates frame-sized temporaries in whichever arena it is handed, so the freed memory
kept across the arenas, and resident memory with it, grows sol after sol although nothing leaks.

Measured in the soak (docs/reliability.md, "Soak"; ``tiny`` sols, stereo stage on, 2 cores),
from sol 5 to sol 14: the Python heap (``tracemalloc``) grew by 2 MB and the memory ``malloc``
had in use stayed at 86-88 MB, while the free memory it kept rose from 263 to 342 MB and
resident memory from 613 to 686 MB (the stereo stage's threads make the difference: without the
stage, free memory stayed at 215 MB from sol 6). Over 30 sols resident memory grew 18.8 % from
sol 5. ``malloc_trim(0)`` after each sol alone gave back what was free at the time, but the
arenas' heaps spread further each sol: +14.0 % (549 to 626 MB). With at most 2 arenas from the
start as well, resident memory stayed at 364-389 MB for all 30 sols (-0.7 % from sol 5; 379 to
376 MB), at the same 8.8 s per sol. The cap must come before the worker threads have taken
arenas of their own: set only at the first sol's start, resident memory still grew 23.9 %.

So the arenas are capped when :mod:`rovercam_flows.stages` is imported, and again at the start
of every :func:`rovercam_flows.stages.run_sol` (:func:`limit_malloc_arenas`,
:data:`MALLOC_ARENAS`), and every sol run ends by returning free pages
(:func:`release_freed_memory`); each call costs microseconds to milliseconds. A cap set in the
environment (``MALLOC_ARENA_MAX``, or ``glibc.malloc.arena_max`` in ``GLIBC_TUNABLES``) is left
as it is. The other ``malloc`` tunables (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``)
are not touched: setting them turns off the dynamic mmap threshold and makes every array over
128 KiB a fresh ``mmap``, which slows the frame chain severalfold
(:mod:`rovercam_tasks._dask_worker`); the arena cap does not (mallopt(3)).

Elsewhere than Linux with glibc (musl, macOS, Windows) both functions do nothing.
"""
from __future__ import annotations

import ctypes
import os
import sys
from typing import Any

__all__ = ["MALLOC_ARENAS", "limit_malloc_arenas", "release_freed_memory"]

#: The most ``malloc`` arenas a process running sols allocates from (glibc's default: 8 per core).
MALLOC_ARENAS = 2

_M_ARENA_MAX = -8  # mallopt's parameter number (<malloc.h>)


def _glibc_function(name: str) -> Any:
    """A function of the C library this process runs on, or None (not Linux with glibc)."""
    if not sys.platform.startswith("linux"):
        return None
    return getattr(ctypes.CDLL(None), name, None)  # the process's own symbols; glibc only, not musl


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Let threads that start from now on share at most ``arenas`` ``malloc`` arenas (glibc's
    ``mallopt(M_ARENA_MAX, arenas)``); arenas already made stay in use, so call it before the
    process starts worker threads.

    Parameters
    ----------
    arenas : int
        The cap, >= 1.

    Returns
    -------
    bool
        True when the cap was set; False when the environment sets one already
        (``MALLOC_ARENA_MAX``, ``GLIBC_TUNABLES``), or the C library is not glibc.

    Raises
    ------
    ValueError
        ``arenas`` < 1.
    """
    if isinstance(arenas, bool) or not isinstance(arenas, int) or arenas < 1:
        raise ValueError(f"arenas must be an integer >= 1, got {arenas!r}")
    if "MALLOC_ARENA_MAX" in os.environ or "arena_max" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    mallopt = _glibc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))


def release_freed_memory() -> bool:
    """Return the pages ``malloc`` holds free, in every arena, to the operating system
    (glibc's ``malloc_trim(0)``).

    Returns
    -------
    bool
        True when memory was returned; False when there was none to return, or the C library
        is not glibc (nothing is done).
    """
    trim = _glibc_function("malloc_trim")
    if trim is None:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return bool(trim(0))
