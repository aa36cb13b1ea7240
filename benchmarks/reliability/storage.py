"""Storage faults: S3 answering errors or nothing during fetch and publish, and a disk that fills up.

Part of ``rovercam bench reliability`` (docs/operations.md, "Storage faults"). Machinery:
:func:`rovercam.testing.fault_proxy` (a proxy in front of a moto S3 server answering a seeded
fraction of requests with HTTP 500 ``InternalError``, 503 ``SlowDown`` or no answer at all, in
equal parts), :func:`rovercam.testing.tmpfs_command` (a real tmpfs of a few megabytes, when this
machine lets us mount one) or else :func:`rovercam.testing.disk_budget` (an injected ENOSPC).
The S3 client runs with botocore's default retries (5 attempts) and a 1 s read timeout (the
proxy holds an unanswered request for 2 s); the store with ``[storage] retries`` and
``retry_delay_s`` of the default configuration; the source with its default retries.

Figures:

- ``s3_fault_rate``: the fraction of requests failed (0.10);
- ``s3_runs``, ``s3_runs_completed``: runs through the faulty endpoint, and how many finished.
  A full run is a generated sol (the ``tiny`` profile: 8 products and a truncated one) on an S3
  prefix, fetched by the S3 source, ingested (the truncated product quarantined into the store),
  calibrated, mosaicked and published into an S3 store: the flow's stages as plain calls. Quick
  mode publishes a small mosaic and a second version of it instead;
- ``s3_requests``, ``s3_faults_injected``: requests the proxy saw in those runs, and how many it
  failed (500 + 503 + timeouts);
- ``s3_partial_outputs``: after every run, problems :func:`rovercam.publish.audit_published`
  finds (with uncommitted version folders checked) plus :func:`rovercam.testing.leftovers`
  (staging left, uncommitted versions or claims); target 0;
- ``s3_run_s``: median seconds of a run at the fault rate;
- ``s3_outlasting_failed_clearly``, ``s3_outlasting_partial_outputs``: a run whose requests are
  all answered 500 from the publish stage on (the sol's fetch and ingest, or the first version,
  at the fault rate): faults outlasting every retry (in quick mode one retry per layer, to be
  quick) ends with a ``RovercamError`` naming what failed (True),
  and what it left (as above; target 0);
- ``disk_full_method``: ``"tmpfs"`` (a real size-limited file system) or ``"injected"``;
- ``disk_full_trials``: publishes of sample mosaics (2.3 MB each) into a store whose disk fills
  up at a different point of the third publish each time (:func:`rovercam.testing.publish_until_full`);
  ``disk_full_failed_at``: the file being written when the disk was full;
- ``disk_full_clear_error``: trials that ended with a ``StorageError`` naming the output and
  saying "no space left on device";
- ``disk_full_partial_outputs``: what those trials left: leftovers, audit problems, and catalog
  rows beyond the versions published (target 0).
"""
from __future__ import annotations

import json
import logging
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["run"]

log = logging.getLogger(__name__)

FAULT_RATE = 0.10
#: The S3 client's read timeout in these runs (s) and how long the proxy holds a "timeout".
READ_TIMEOUT_S, HANG_S = 1.0, 2.0
SOL = 100


def _settings(root: str, options: dict[str, Any], sol_dir: Path | None) -> Any:
    from rovercam.config import load

    overrides: dict[str, Any] = {"storage": {"root": root, "options": options}}
    if sol_dir is not None:
        overrides["calibration"] = {"search_path": [str(sol_dir / "calibration")]}
    return load(environ={}, overrides=overrides)


def _sol_run(settings: Any, source_url: str, workdir: Path, catalog_url: str,
             before_publish: Callable[[], None]) -> int:
    """Fetch, ingest, calibrate, mosaic and publish one sol; returns the mosaics published.
    ``before_publish()`` is called once the frames are calibrated."""
    from rovercam import chain, ingest
    from rovercam.bands import band_count
    from rovercam.catalog import Catalog
    from rovercam.errors import RovercamError
    from rovercam.mosaic.build import build_mosaic
    from rovercam.mosaic.grouping import group_records, mosaic_name, split_by_bands
    from rovercam.products import Limits, read_product
    from rovercam.publish import publish_mosaic
    from rovercam.sources import open_source
    from rovercam.storage import Store

    src = open_source(source_url, settings=settings)
    fetched = src.fetch(src.list(SOL), workdir / "incoming")
    if not fetched.ok:
        raise RovercamError(f"fetch failed: {[(p.name, p.reason) for p in fetched.failed]}")
    store = Store.from_settings(settings)
    limits = Limits(**settings.limits.model_dump())
    published = 0
    with Catalog(catalog_url) as catalog:
        results = [ingest.ingest_one(p.path, limits=limits, store=store, catalog=catalog, sol_hint=SOL)
                   for p in fetched.products]
        ok = {r.product_id: r for r in results if r.state == "ingested"}
        frames = {pid: chain.process_product(read_product(r.path, limits=limits), settings, sha256=r.sha256)
                  for pid, r in ok.items()}
        before_publish()
        fields = settings.mosaic.group_by
        for key, members in group_records(list(frames), fields, describe=lambda pid: ok[pid]).items():
            for bands, pids in split_by_bands(members, lambda pid: band_count(frames[pid].image)):
                if len(pids) >= settings.mosaic.min_frames:
                    name = mosaic_name(key, fields, settings.mosaic.projection, bands=bands)
                    mosaic = build_mosaic(name, [lambda p=p: frames[p] for p in pids], settings)
                    publish_mosaic(mosaic, store=store, catalog=catalog)
                    published += 1
    return published


def _publish_set(settings: Any, catalog_url: str, before_publish: Callable[[], None]) -> int:
    """Quick mode's run: a small mosaic published, then (after ``before_publish()``) a second
    version of it."""
    from rovercam.catalog import Catalog
    from rovercam.publish import publish_mosaic
    from rovercam.storage import Store
    from rovercam.testing import sample_mosaic

    store = Store.from_settings(settings)
    with Catalog(catalog_url) as catalog:
        for seed in (0, 1):
            if seed:
                before_publish()
            publish_mosaic(sample_mosaic(seed, name="FAULTS", width=160, height=60), store=store,
                           catalog=catalog)
    return 2


def _partial(settings: Any, catalog_url: str) -> list[str]:
    """Audit problems and leftovers of one run's store and catalog (read without faults)."""
    from rovercam.catalog import Catalog
    from rovercam.publish import audit_published
    from rovercam.storage import Store
    from rovercam.testing import leftovers

    store = Store.from_settings(settings)
    with Catalog(catalog_url) as catalog:
        return audit_published(store, catalog, uncommitted="check") + leftovers(store)


def _s3_part(quick: bool, workdir: Path) -> dict[str, object]:
    from rovercam.errors import RovercamError
    from rovercam.testing import even_rates, fault_proxy, moto_s3

    runs = 1 if quick else 5
    sol_dir = None
    if not quick:
        from rovercam.synth import generate_sol

        sol_dir = workdir / "sol"
        generate_sol(sol_dir, sol=SOL, profile="tiny", seed=3)
    figures: dict[str, object] = {"s3_fault_rate": FAULT_RATE, "s3_runs": runs,
                                  "s3_run_kind": "publish set" if quick else "tiny sol fetch+publish"}
    with moto_s3(bucket=f"faults-{uuid.uuid4().hex[:8]}") as s3, \
            fault_proxy(s3["endpoint_url"], seed=18, hang_s=HANG_S) as proxy:
        source_url = ""
        if sol_dir is not None:
            import s3fs

            fs = s3fs.S3FileSystem(**s3["storage_options"])
            source_url = f"{s3['root']}/source/m2020"
            for p in sorted((sol_dir / "raw").iterdir()):
                fs.put_file(str(p), f"{source_url.removeprefix('s3://')}/DATA/SOL{SOL:05d}/{p.name}")
        options = {**proxy.storage_options(s3["storage_options"]),
                   "config_kwargs": {"read_timeout": READ_TIMEOUT_S, "connect_timeout": READ_TIMEOUT_S}}

        def one_run(name: str, rates: dict[Any, float], *, then: dict[Any, float] | None = None,
                    few_retries: bool = False) -> tuple[bool, str, list[str], float]:
            """One run at ``rates``, switched to ``then`` before the (last) publish."""
            settings = _settings(f"{s3['root']}/{name}", options, sol_dir)
            if few_retries:
                settings = settings.with_overrides({"storage": {"retries": 1, "options": {
                    **options, "config_kwargs": {**options["config_kwargs"], "retries": {"max_attempts": 2}}}}})
            catalog_url = f"sqlite:///{workdir / f'{name}.db'}"
            proxy.set_rates(rates)
            t0, error = time.perf_counter(), ""
            try:
                switch = (lambda: proxy.set_rates(then)) if then is not None else (lambda: None)
                if sol_dir is not None:
                    _sol_run(settings, source_url, workdir / name, catalog_url, switch)
                else:
                    _publish_set(settings, catalog_url, switch)
            except RovercamError as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.warning("storage faults: %s ended with %s", name, error)
            elapsed = time.perf_counter() - t0
            proxy.set_rates({})
            return not error, error, _partial(settings, catalog_url), elapsed

        proxy.reset_counts()
        done, partial, times = 0, [], []
        for i in range(runs):
            ok, _, problems, elapsed = one_run(f"run{i}", even_rates(FAULT_RATE))
            done += ok
            partial += problems
            times.append(elapsed)
        counts = proxy.counts
        figures.update(s3_runs_completed=done, s3_requests=counts["requests"],
                       s3_faults_injected=counts["injected"], s3_partial_outputs=len(partial),
                       s3_run_s=round(statistics.median(times), 2))
        for problem in partial:
            log.warning("storage faults: partial output: %s", problem)
        ok, error, problems, _ = one_run("outlasting", even_rates(FAULT_RATE), then={500: 1.0},
                                         few_retries=quick)
        figures.update(s3_outlasting_failed_clearly=not ok and bool(error) and "Traceback" not in error,
                       s3_outlasting_error=error, s3_outlasting_partial_outputs=len(problems))
    return figures


def _budgets(workdir: Path, fractions: list[float]) -> list[int]:
    """Disk sizes holding the first two sample publishes of :func:`publish_until_full` and
    ``fractions`` of the third, counted as a tmpfs counts them (whole 4 KiB pages per file)."""
    from rovercam.testing import publish_until_full

    publish_until_full(str(workdir / "sizes"), f"sqlite:///{workdir / 'sizes.db'}", limit=3)
    per = [0, 0, 0]
    for path in (workdir / "sizes").rglob("*"):
        m = re.search(r"FULL_(\d{3})", str(path))
        if m and path.is_file():
            per[int(m.group(1))] += -(-path.stat().st_size // 4096) * 4096
    return [per[0] + per[1] + int(f * per[2]) for f in fractions]


def _disk_part(quick: bool, workdir: Path) -> dict[str, object]:
    from rovercam.testing import CHILD, disk_budget, publish_until_full, tmpfs_available, tmpfs_command

    # the disk fills at different points of the third publish (the COG is ~70 % of its bytes)
    sizes = _budgets(workdir, [0.5] if quick else [0.3, 0.8, 0.97])
    method = "tmpfs" if tmpfs_available(workdir / "probe") else "injected"
    reports = []
    for i, size in enumerate(sizes):
        catalog_url = f"sqlite:///{workdir / f'full{i}.db'}"
        if method == "tmpfs":
            mount = workdir / f"full{i}"
            mount.mkdir()
            cmd = tmpfs_command(mount, size, [sys.executable, "-c", CHILD, str(mount / "store"), catalog_url])
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                log.warning("disk full trial %d: child failed: %s", i, proc.stderr[-2000:])
                reports.append({"error": proc.stderr[-300:], "leftovers": ["child failed"], "audit": []})
                continue
            reports.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        else:
            root = workdir / f"full{i}" / "store"
            with disk_budget(root, size):
                reports.append(publish_until_full(str(root), catalog_url))
    clear = sum(1 for r in reports if r.get("error_type") == "StorageError" and r.get("no_space")
                and r.get("names_key"))
    partial = sum(len(r.get("leftovers", [])) + len(r.get("audit", []))
                  + max(0, r.get("catalog_rows", 0) - r.get("published", 0)) for r in reports)
    for r in reports:
        log.info("disk full trial: %s", {k: r.get(k) for k in ("published", "error", "leftovers", "audit")})
    return {"disk_full_method": method, "disk_full_trials": len(reports), "disk_full_clear_error": clear,
            "disk_full_partial_outputs": partial,
            "disk_full_failed_at": [str(r.get("error") or "").split(": ", 2)[1].rsplit("/", 1)[-1]
                                    if r.get("no_space") else r.get("error") for r in reports],
            "disk_full_errors": [r.get("error") for r in reports]}


def run(*, quick: bool = False, workdir: Path) -> dict[str, object]:
    """The storage-fault figures (see the module docstring); ``quick`` for CI."""
    workdir = Path(workdir)
    for part in ("s3", "disk"):
        (workdir / part).mkdir(parents=True, exist_ok=True)
    figures: dict[str, object] = {}
    try:
        figures.update(_s3_part(quick, workdir / "s3"))
    except ImportError as exc:  # moto, boto3 or s3fs missing
        log.warning("S3 fault figures skipped: %s (pip install 'rovercam[s3]')", exc)
        figures.update(s3_fault_rate=FAULT_RATE, s3_runs=0, s3_runs_completed=None, s3_partial_outputs=None)
    figures.update(_disk_part(quick, workdir / "disk"))
    return figures
