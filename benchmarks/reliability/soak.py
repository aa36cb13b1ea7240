"""Soak: many generated sols through ``ingest-sol`` back to back, in one process, one Prefect server.

What an unattended scheduler does for weeks, compressed: 30 sols (3 with ``quick``), each a small
generated sol (the ``tiny`` profile of :func:`rovercam.synth.generate_sol`: 8 NAVCAM frames and a
truncated product), generated first, then run one after the other
through the ``ingest-sol`` flow into one storage root and one catalog, in this process, against
one local Prefect server (a temporary one with its own database,
``prefect.testing.utilities.prefect_test_harness``, as the tests use).

Figures:

- ``soak_sols``: sols run;
- ``soak_rss_growth_pct``: resident memory of this process after the last sol against after sol 5
  (after sol 1 in quick mode: the first sols fill caches and pools that are meant to stay),
  percent; target < 10;
- ``soak_rss_mb_start``, ``soak_rss_mb_end``: those two readings, MiB (``/proc/self/status``,
  after a garbage collection);
- ``soak_rss_steady_growth_pct``: the same from sol 10 to sol 30 (sol 2 to 3 in quick mode),
  once the bounded caches are full (below);
- ``leaked_fds``: open file descriptors after the last sol minus after the reference sol
  (``/proc/self/fd``); target 0;
- ``leaked_threads``: operating-system threads of the process, same readings; target 0;
- ``soak_sols_completed``: sols whose run published its mosaics with no failed product;
- ``soak_s_per_sol``: mean wall time of one sol's run, s;
- ``catalog_verify_errors``: problems :func:`rovercam.publish.verify_catalog` finds between the
  catalog and the storage root at the end (``rovercam catalog verify``); target 0.

Every reading (RSS, descriptors, threads after each sol) is also written to
``<workdir>/soak-readings.json``, to tell a trend from noise.

The sols share one calibration folder, as a deployment's sols do: they are generated with one
seed (so their LUT, flats and camera tables are the same files) and the first sol's calibration is
put on ``[calibration] search_path`` for all of them. With each generated sol travelling with its
own copy (a first version of this soak), the bounded caches keyed by calibration file
(:mod:`rovercam.radiometry.calfile`, 32 files; the flat gain maps, 8) kept filling until about
sol 10: ``tracemalloc`` put the Python heap's growth from sol 5 to 16 at about 8 MB, all in those
caches, and RSS grew 14.7 % from sol 5 to 30 but 2.7 % from sol 10 to 30; the rest of the growth
was memory the C allocator keeps after it is freed (``malloc_trim(0)`` after each sol returned 30
to 40 MB of it).

The stereo stage runs here (4 pairs and one terrain per sol):
:func:`rovercam_flows.demo.generated_sol_settings` is given the shared folder, which has no truth
manifest, so it does not turn the stage off for the ``tiny`` world at infinity. Its worker threads,
started and ended by each run, made the C allocator's retained memory grow: RSS grew 18.8 and 23.9
% from sol 5 to 30 in two runs (620 to 737 MB in the first, 8.8 s per sol), while from sol 5 to 14
the Python heap grew 2 MB and the memory ``malloc`` had in use stayed at 86-88 MB and the free
memory it kept across its arenas (one per thread, up to 8 per core) rose from 263 to 342 MB;
nothing leaked. ``malloc_trim(0)`` after each sol alone left +14.0 %; with at most 2 arenas as well
(both set by :mod:`rovercam_flows.memory`), RSS stayed at 364-389 MB over the 30 sols: -0.7 % from
sol 5 (379 to 376 MB), +1.3 % from sol 10, 8.8 s per sol, no descriptor or thread left, the catalog
clean (a second run: 374 to 371 MB, -0.9 %).
"""
from __future__ import annotations

import gc
import json
import os
import shutil
import time
from pathlib import Path

__all__ = ["run"]


def _status(field: str) -> int:
    """A number from ``/proc/self/status`` (``VmRSS`` in KiB, ``Threads``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reading() -> dict[str, float]:
    gc.collect()
    return {"rss_mb": _status("VmRSS") / 1024, "fds": len(os.listdir("/proc/self/fd")),
            "threads": _status("Threads")}


def run(*, quick: bool = False, workdir: Path) -> dict[str, object]:
    """Run the soak in ``workdir`` and return the figures of the module notes."""
    for k, v in {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
                 "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}.items():
        os.environ.setdefault(k, v)
    from prefect.testing.utilities import prefect_test_harness

    from rovercam.catalog import Catalog
    from rovercam.layout import generated_sol_dir
    from rovercam.publish import verify_catalog
    from rovercam.storage import Store
    from rovercam.synth import generate_sol

    from rovercam_flows.demo import generated_sol_settings
    from rovercam_flows.ingest_sol import ingest_sol

    workdir = Path(workdir)
    n = 3 if quick else 30
    reference = 1 if quick else 5
    root = workdir / "root"
    sols = [200 + i for i in range(n)]
    runs = []
    shared = workdir / "deployment"  # the deployment's calibration, as operations would have one
    for sol in sols:  # generated before any measurement (the generator's memory is not the pipeline's)
        sol_dir = generated_sol_dir(workdir / "generated", sol)
        generate_sol(sol_dir, sol=sol, profile="tiny", seed=0)  # one seed: the same calibration files
        if sol == sols[0]:
            shared.mkdir(parents=True, exist_ok=True)
            shutil.move(str(sol_dir / "calibration"), str(shared / "calibration"))
        else:
            shutil.rmtree(sol_dir / "calibration")
        runs.append((sol, sol_dir, generated_sol_settings(root, shared)[1]))

    readings: dict[int, dict[str, float]] = {}
    completed, seconds = 0, 0.0
    with prefect_test_harness(server_startup_timeout=180):
        for k, (sol, sol_dir, overrides) in enumerate(runs, start=1):
            t0 = time.perf_counter()
            [report] = ingest_sol(source=str(sol_dir / "raw"), sol=sol, overrides=overrides)
            seconds += time.perf_counter() - t0
            completed += bool(report["published"]) and not report["failed"]
            readings[k] = _reading()
        first, last = readings[reference], readings[n]
        steady = readings[2 if quick else 10]
    (workdir / "soak-readings.json").write_text(json.dumps(readings, indent=1))  # per sol, to see a trend
    store = Store(str(root))
    with Catalog(root / "catalog.sqlite", create=False) as catalog:
        verification = verify_catalog(store, catalog)
    return {
        "soak_sols": n,
        "soak_sols_completed": completed,
        "soak_rss_growth_pct": round(100.0 * (last["rss_mb"] / first["rss_mb"] - 1.0), 2),
        "soak_rss_mb_start": round(first["rss_mb"], 1),
        "soak_rss_mb_end": round(last["rss_mb"], 1),
        "soak_rss_steady_growth_pct": round(100.0 * (last["rss_mb"] / steady["rss_mb"] - 1.0), 2),
        "leaked_fds": int(last["fds"] - first["fds"]),
        "leaked_threads": int(last["threads"] - first["threads"]),
        "soak_s_per_sol": round(seconds / n, 2),
        "catalog_verify_errors": len(verification.problems),
        "catalog_verify_outputs": verification.outputs,
    }
