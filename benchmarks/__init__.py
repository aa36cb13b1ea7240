"""Benchmarks behind ``rovercam bench NAME``.

Each benchmark is a module here exposing ``run(*, quick: bool = False) -> dict[str, object]``:
a flat mapping of figure name to value (numbers, or short strings for context such as the
baseline's name). Keys ending in ``_s`` are seconds, ``_mb`` megabytes, ``_per_s`` rates.
Benchmarks generate their own data, measure a baseline in the same run where they compare
against one, and never assert: they report.
"""
from __future__ import annotations

import importlib
import time
from typing import Callable

__all__ = ["BENCHMARKS", "get", "best_of"]

#: name -> module path; a module is imported only when its benchmark runs.
BENCHMARKS: dict[str, str] = {
    "camera": "rovercam_benchmarks.camera",
    "edl": "rovercam_benchmarks.edl",
    # orchestration figures live with the flows (rovercam itself never imports Prefect)
    "flows": "rovercam_benchmarks.flows",
    "frame": "rovercam_benchmarks.frame",
    "ingest": "rovercam_benchmarks.ingest",
    "mosaic": "rovercam_benchmarks.mosaic",
    "publish": "rovercam_benchmarks.publish",
    "reliability": "rovercam_benchmarks.reliability",
    "stereo": "rovercam_benchmarks.stereo",
    "synth": "rovercam_benchmarks.synth",
    "viewer": "rovercam_benchmarks.viewer",
}


def get(name: str) -> Callable[..., dict[str, object]]:
    """Return the ``run`` function of benchmark ``name`` (KeyError lists the known names)."""
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}")
    return importlib.import_module(BENCHMARKS[name]).run


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    """Shortest wall time of ``repeats`` calls, seconds (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
