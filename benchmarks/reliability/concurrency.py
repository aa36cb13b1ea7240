"""Concurrency part of ``rovercam bench reliability``: several runs of one sol at once.

Each scenario starts runs of the same sol at the same time while a run holding the sol is
killed (SIGKILL), then audits the catalog against the store
(:func:`rovercam.testing.concurrency.audit_sol`):

- **library** (always): ``concurrency_processes`` processes each take the sol's lease
  (:func:`rovercam.catalog.hold_sol`), record a run and publish two mosaics through
  :func:`rovercam.publish.publish_mosaic`; half of them publish the same content, so a correct
  result reuses versions rather than writing them again. On SQLite, then on PostgreSQL. The same
  race without the lease runs once as a control (``concurrency_unlocked_*``: what the lease
  prevents, such as the same result published as two versions; informative, it varies with
  timing).
- **flows** (full run only): a generated sol is ingested once; then a scheduled ``rovercam run``
  (ingest-sol) and a manual ``rovercam reprocess --force`` with another blend (new versions)
  start together, each with its own ephemeral Prefect server, while the run holding the sol is
  killed. On SQLite, then with the catalog on PostgreSQL.

Figures (sums over the scenarios that use the lease):

concurrent_runs
    Runs started on one sol at the same time (killed holders not counted).
duplicate_rows
    Extra catalog rows for one product (id, sha256) or one output version. Target 0.
lost_versions
    Versions committed in the store without a catalog row, rows without a committed version,
    and prefixes whose ``LATEST`` is not the highest committed version. Target 0.
versions_published_twice
    A version with the same files as the version before it (the STAC item aside). Target 0.
concurrency_version_gaps
    Version numbers skipped below the highest. Target 0.
leftover_staging
    Entries left in the store's ``.tmp/`` (half-written work area or outputs). Target 0.
concurrency_leases_left
    Sol leases still held after every run ended. Target 0.
concurrency_crashed_marked, concurrency_killed_holders
    Killed lease holders whose catalog run became ``crashed``, of those killed. Equal.
concurrency_failed_runs
    Runs that exited with an error. Target 0.
concurrency_postgres
    ``"ok"`` when the PostgreSQL scenarios ran, else why not (then they are left out).
concurrency_<scenario>_s
    Wall time of each scenario, seconds.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

from rovercam.testing.concurrency import SolAudit, audit_sol, hold_sol_process, rovercam_process, wait_for_text

__all__ = ["run"]

SOL = 77
_FIGURES = ("duplicate_rows", "lost_versions", "versions_published_twice", "version_gaps", "leftover_staging",
            "leases_held")


def _publish_run(catalog_url: str, root: str, seed: int, locked: bool, ready: Any) -> None:
    """One run of the sol through the library: lease, run record, two mosaics, finish."""
    from rovercam.catalog import Catalog, hold_sol
    from rovercam.publish import publish_mosaic
    from rovercam.storage import Store
    from rovercam.testing import sample_mosaic

    store, catalog = Store(root), Catalog(catalog_url)
    mosaics = [sample_mosaic(seed, sol=SOL, instrument=i, width=320, height=120)
               for i in ("NAVCAM_LEFT", "NAVCAM_RIGHT")]
    ready.wait()
    run_id = f"lib-{os.getpid()}"
    if locked:
        with hold_sol(catalog, SOL, run_id=run_id, flow="bench", timeout_s=600, ttl_s=30, poll_s=0.05):
            catalog.start_run("bench", sol=SOL, run_id=run_id)
            for m in mosaics:
                publish_mosaic(m, store=store, catalog=catalog, run_id=run_id)
            catalog.finish_run(run_id)
    else:
        catalog.start_run("bench", sol=SOL, run_id=run_id)
        for m in mosaics:
            publish_mosaic(m, store=store, catalog=catalog, run_id=run_id)
        catalog.finish_run(run_id)
    catalog.close()


def _library_race(workdir: Path, catalog_url: str, *, processes: int, locked: bool) -> tuple[SolAudit, dict]:
    from rovercam.catalog import Catalog
    from rovercam.publish import publish_mosaic  # noqa: F401 - imported once, before the fork
    from rovercam.testing import sample_mosaic  # noqa: F401

    root = workdir / "store"
    root.mkdir(parents=True, exist_ok=True)
    Catalog(catalog_url).close()  # migrated before the race
    holder = hold_sol_process(catalog_url, SOL, run_id="killed-holder") if locked else None
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    procs = [ctx.Process(target=_publish_run, args=(catalog_url, str(root), i % 2, locked, ready))
             for i in range(processes)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    ready.set()
    if holder is not None:
        time.sleep(1.0)  # the runs reach the lease and wait for the holder
        holder.kill()
        holder.wait(30)
    for p in procs:
        p.join(900)
    info = {"seconds": time.perf_counter() - started, "failed": sum(p.exitcode != 0 for p in procs),
            "killed": int(holder is not None), "runs": processes}
    return audit_sol(root, catalog_url, SOL), info


def _flow_race(workdir: Path, catalog_url: str | None) -> tuple[SolAudit, dict]:
    """The flows scenario: a first ingest, then a killed holder and two CLI runs at once."""
    from rovercam.config import load
    from rovercam.synth import generate_sol

    root, sol_dir = workdir / "store", workdir / "drop"
    generate_sol(sol_dir, sol=SOL, profile="tiny", seed=4, settings=load(environ={}))
    url = catalog_url or f"sqlite:///{root / 'catalog.sqlite'}"
    env = {"ROVERCAM_CATALOG__URL": url}
    ingest = ["run", "--input", str(sol_dir / "raw"), "--sol", str(SOL), "--out", str(root)]
    first = rovercam_process(ingest, workdir=workdir, name="first", env=env)
    failed = int(first.wait(1800) != 0)
    started = time.perf_counter()
    holder = hold_sol_process(url, SOL, run_id="killed-scheduled-run")
    runs = [rovercam_process(ingest, workdir=workdir, name="ingest", env=env),
            rovercam_process(["reprocess", "--sol", str(SOL), "--force", "--out", str(root)], workdir=workdir,
                             name="reprocess", env={**env, "ROVERCAM_MOSAIC__BLEND": "feather"})]
    try:
        waited = wait_for_text([workdir / "ingest.log", workdir / "reprocess.log"], f"sol {SOL}: held by", runs,
                               timeout_s=600)
        holder.kill()
        holder.wait(30)
        failed += sum(p.wait(1800) != 0 for p in runs)
    finally:
        for p in (holder, *runs):
            if p.poll() is None:
                p.kill()
                p.wait(30)
    info = {"seconds": time.perf_counter() - started, "failed": failed, "killed": 1, "runs": len(runs),
            "waited": int(waited)}
    return audit_sol(root, url, SOL), info


def _add(out: dict[str, Any], audit: SolAudit, info: dict) -> None:
    for name in _FIGURES:
        out[name] = out.get(name, 0) + getattr(audit, name)
    out["concurrent_runs"] = out.get("concurrent_runs", 0) + info["runs"]
    out["concurrency_killed_holders"] = out.get("concurrency_killed_holders", 0) + info["killed"]
    out["concurrency_crashed_marked"] = out.get("concurrency_crashed_marked", 0) + audit.runs.get("crashed", 0)
    out["concurrency_failed_runs"] = out.get("concurrency_failed_runs", 0) + info["failed"]
    out.setdefault("concurrency_problems", []).extend(audit.problems[:5])


def run(*, quick: bool = False, workdir: Path) -> dict[str, object]:
    """Run the concurrency scenarios under ``workdir``; returns the figures (module docstring)."""
    from rovercam.testing.postgres import PostgresUnavailable, create_database, postgres_server

    workdir = Path(workdir)
    processes = 4 if quick else 8
    out: dict[str, Any] = {"concurrency_processes": processes}
    audit, info = _library_race(workdir / "lib-sqlite", f"sqlite:///{workdir / 'lib-sqlite' / 'catalog.sqlite'}",
                                processes=processes, locked=True)
    _add(out, audit, info)
    out["concurrency_library_sqlite_s"] = round(info["seconds"], 2)
    control, control_info = _library_race(workdir / "lib-unlocked", f"sqlite:///{workdir / 'lib-unlocked' / 'catalog.sqlite'}",
                               processes=processes, locked=False)
    out["concurrency_unlocked_versions_published_twice"] = control.versions_published_twice
    out["concurrency_unlocked_duplicate_rows"] = control.duplicate_rows
    out["concurrency_unlocked_failed_runs"] = control_info["failed"]
    if not quick:
        audit, info = _flow_race(workdir / "flows-sqlite", None)
        _add(out, audit, info)
        out["concurrency_flows_sqlite_s"] = round(info["seconds"], 2)
        out["concurrency_flows_waited"] = info["waited"]
    try:
        with postgres_server() as port:
            audit, info = _library_race(workdir / "lib-postgres", create_database(port), processes=processes,
                                        locked=True)
            _add(out, audit, info)
            out["concurrency_library_postgres_s"] = round(info["seconds"], 2)
            if not quick:
                audit, info = _flow_race(workdir / "flows-postgres", create_database(port))
                _add(out, audit, info)
                out["concurrency_flows_postgres_s"] = round(info["seconds"], 2)
        out["concurrency_postgres"] = "ok"
    except PostgresUnavailable as e:
        out["concurrency_postgres"] = f"not run: {e}"
    out["concurrency_leases_left"] = out.pop("leases_held", 0)
    out["concurrency_version_gaps"] = out.pop("version_gaps", 0)
    out["concurrency_problems"] = "; ".join(out["concurrency_problems"]) or "none"
    return out


if __name__ == "__main__":  # python -m rovercam_benchmarks.reliability.concurrency [--quick]
    import json
    import tempfile

    print(json.dumps(run(quick="--quick" in sys.argv, workdir=Path(tempfile.mkdtemp(prefix="rovercam-conc-"))),
                     indent=1))
