"""Crash trials: publishing processes killed with SIGKILL at random moments leave nothing partial.

Each trial forks a publisher (``multiprocessing`` forkserver: the heavy imports happen once in
the server, so a trial's child starts in milliseconds and the kill lands inside publishing,
not inside ``import``), lets it publish a few synthetic mosaics (new versions each time), and
kills it with SIGKILL after a random delay drawn uniformly from 0 to 1.2 x the time an
uninterrupted publisher needs. Then:

1. :func:`rovercam.publish.audit_published` must find nothing partial in storage or catalog
   (on local disk, also no incomplete version folder at all);
2. a re-run of the same publishes in this process must complete, leave the audit clean, make
   ``LATEST`` name the re-run's content, and remove the dead child's staging.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import random
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = ["KillReport", "run_kill_trials"]

log = logging.getLogger(__name__)

_PRELOAD = ["rovercam.publish", "rovercam.testing.mosaic", "rovercam.mosaic.model", "rovercam.provenance",
            "rovercam.catalog", "rovercam.radiometry"]
_SIZE = (360, 150)  # mosaic width, height (pixels): ~0.1 s per publish on one core


@dataclass(frozen=True, slots=True)
class KillReport:
    """Outcome of :func:`run_kill_trials`.

    Attributes
    ----------
    trials : int
        Publisher processes started (each killed with SIGKILL unless it finished first).
    killed : int
        Trials where the kill landed before the publisher finished.
    partial_visible : int
        Trials after which the audit found a partial product in storage or catalog.
    rerun_ok : int
        Trials whose re-run completed with a clean audit.
    publish_s : float
        Time an uninterrupted publisher needs for its mosaics (the kill window), seconds.
    elapsed_s : float
        Wall time of all trials, seconds.
    problems : list of str
        Audit or re-run problems, prefixed with the trial number.
    """

    trials: int
    killed: int
    partial_visible: int
    rerun_ok: int
    publish_s: float
    elapsed_s: float
    problems: list[str] = field(default_factory=list)


def _mosaics(trial: int) -> list[Any]:
    from rovercam.testing.mosaic import sample_mosaic

    # Two cameras; the content changes with the trial, so every trial publishes new versions.
    # The calibration runs use the trial numbers after the last trial.
    return [sample_mosaic(10 * (trial + 1) + k, instrument=inst, width=_SIZE[0], height=_SIZE[1])
            for k, inst in enumerate(("NAVCAM_LEFT", "NAVCAM_RIGHT", "NAVCAM_LEFT"))]


def _publish_all(root: str, storage_options: dict[str, Any] | None, catalog_url: str, trial: int) -> list[Any]:
    from rovercam.catalog import Catalog
    from rovercam.publish import publish_mosaic
    from rovercam.storage import Store

    store = Store(root, storage_options=storage_options)
    with Catalog(catalog_url) as catalog:
        return [publish_mosaic(m, store=store, catalog=catalog) for m in _mosaics(trial)]


def _child(root: str, storage_options: dict[str, Any] | None, catalog_url: str, trial: int,
           ready: Connection) -> None:
    mosaics = _mosaics(trial)  # generated before "ready": the kill window is publishing only
    from rovercam.catalog import Catalog
    from rovercam.publish import publish_mosaic
    from rovercam.storage import Store

    store = Store(root, storage_options=storage_options)
    with Catalog(catalog_url) as catalog:
        ready.send(time.perf_counter())
        for m in mosaics:
            publish_mosaic(m, store=store, catalog=catalog)
    ready.send("done")


def run_kill_trials(
    root: str | os.PathLike[str],
    *,
    trials: int = 20,
    seed: int = 0,
    catalog_url: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> KillReport:
    """Kill publishing processes with SIGKILL at random moments and audit what is left.

    Parameters
    ----------
    root : path or URL
        Store root (local folder, or ``s3://...`` with ``storage_options``).
    trials : int
        Number of publisher processes to kill (>= 1).
    seed : int
        Seed of the kill delays.
    catalog_url : str, optional
        Default: an SQLite file next to a local root (``<root>/../catalog-kill.db``).
    storage_options : dict, optional
        fsspec options of a URL root.

    Returns
    -------
    KillReport
    """
    from rovercam.catalog import Catalog
    from rovercam.publish import audit_published
    from rovercam.storage import Store

    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    root = str(root)
    if catalog_url is None:
        if "://" in root:
            raise ValueError("catalog_url is required for a URL store root")
        catalog_url = f"sqlite:///{Path(root).resolve().parent / 'catalog-kill.db'}"
    store = Store(root, storage_options=storage_options)
    uncommitted = "check" if store.is_local else "ignore"
    rng = random.Random(seed)
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    t_start = time.perf_counter()

    # Calibration: uninterrupted publishers set the kill window. The catalog is created first
    # and the faster of two runs is taken, so one-time costs (schema migration, a cold disk
    # cache) do not widen the window until every kill lands after the publisher finished.
    Catalog(catalog_url).close()
    publish_s = min(_run_child(ctx, root, storage_options, catalog_url, trials + k, kill_after=None)[1]
                    for k in range(2))
    killed = partial = rerun_ok = 0
    problems: list[str] = []
    with Catalog(catalog_url) as catalog:
        for trial in range(trials):
            delay = rng.uniform(0.0, 1.2 * publish_s)
            was_killed, _ = _run_child(ctx, root, storage_options, catalog_url, trial, kill_after=delay)
            killed += was_killed
            found = audit_published(store, catalog, uncommitted=uncommitted)
            if found:
                partial += 1
                problems.extend(f"trial {trial} (kill at {delay:.3f} s): {p}" for p in found)
            try:
                results = _publish_all(root, storage_options, catalog_url, trial)
            except Exception as e:  # noqa: BLE001 - a failed re-run is a finding to report
                problems.append(f"trial {trial}: re-run failed: {e.__class__.__name__}: {e}")
                continue
            rerun = audit_published(store, catalog, uncommitted=uncommitted)
            last = {r.published.prefix: r for r in results}  # a prefix may get two versions
            for r in last.values():
                latest = store.latest(r.published.prefix)
                if latest is None or latest.sha256 != r.published.sha256:
                    rerun.append(f"{r.output_id}: LATEST does not name the re-run's content")
            leftovers = _staging(store)
            if leftovers:
                rerun.append(f"staging of dead publishers left: {leftovers}")
            problems.extend(f"trial {trial} re-run: {p}" for p in rerun)
            rerun_ok += not rerun
    return KillReport(trials, killed, partial, rerun_ok, publish_s, time.perf_counter() - t_start, problems)


def _run_child(ctx: Any, root: str, storage_options: dict[str, Any] | None, catalog_url: str, trial: int,
               *, kill_after: float | None) -> tuple[bool, float]:
    """Start a publisher; kill it ``kill_after`` s after it is ready. Returns (killed, its publish time)."""
    parent_end, child_end = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(root, storage_options, catalog_url, trial, child_end),
                       daemon=True)
    proc.start()
    child_end.close()
    try:
        try:
            if not parent_end.poll(120):
                raise EOFError
            parent_end.recv()
        except EOFError:
            raise RuntimeError(f"publisher for trial {trial} died before publishing "
                               f"(exit code {proc.exitcode})") from None
        t0 = time.perf_counter()
        if kill_after is None:
            if parent_end.poll(300):
                parent_end.recv()
            return False, time.perf_counter() - t0
        finished = parent_end.poll(kill_after)
        proc.kill()  # SIGKILL
        return not finished, time.perf_counter() - t0
    finally:
        proc.join(30)
        parent_end.close()


def _staging(store: Any) -> list[str]:
    """Names in the store's staging area (after a re-run: nothing of dead processes)."""
    try:
        return [os.path.basename(p.rstrip("/")) for p in store.fs.ls(f"{store.root}/.tmp", detail=False)]
    except FileNotFoundError:
        return []
