"""``rovercam bench flows``: orchestration figures on a generated sol.

Figures (seconds are wall time on this machine; the Prefect server is started before timing):

- ``first_run_s``, ``rerun_s``, ``rerun_speedup``: ``ingest-sol`` on a fresh storage root, then
  again on the unchanged sol (everything reused);
- ``corrupted``, ``corrupted_quarantined``, ``sol_completed``: products damaged on purpose
  (about 5 %, :func:`rovercam.synth.corrupt.corrupt_products`, plus the generator's own truncated
  product), how many the run quarantined with a reason, and whether the sol still completed;
- ``plain_s``, ``flow_1w_s``, ``overhead_pct``: the same sol through plain function calls
  (ingest_one, run_chain, build_mosaic, publish_mosaic, one after another) and through the flows
  with one worker thread, each on a fresh root; overhead = flow / plain - 1;
- ``dask_1w_frames_per_s``, ``dask_2w_frames_per_s``, ``dask_speedup_2w``: the calibrate stage
  on the Dask task runner with a LocalCluster of one, then two single-threaded worker processes,
  recomputing every frame (cluster start-up excluded), on full-size Mastcam-Z frames (the
  ``mastcamz-pan`` profile, generated once into the temporary folder: several minutes the first
  time) -- navcam-pan's quarter-size frames take ~60 ms each, too little work to measure scaling.
"""
from __future__ import annotations

import logging
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from flows.demo import generated_sol_settings

__all__ = ["run"]

log = logging.getLogger(__name__)


def _plain(sol: int, raw: Path, root: Path, sol_dir: Path) -> float:
    """The pipeline as plain function calls, no orchestration: seconds."""
    from rovercam import chain, ingest
    from rovercam.catalog import Catalog
    from rovercam.mosaic.build import build_mosaic
    from rovercam.mosaic.grouping import group_records, mosaic_name
    from rovercam.products import Limits, read_product
    from rovercam.publish import publish_mosaic
    from rovercam.storage import Store

    settings, _ = generated_sol_settings(root, sol_dir)
    t0 = time.perf_counter()
    store, catalog = Store.from_settings(settings), Catalog(settings.catalog_url)
    limits = Limits(**settings.limits.model_dump())
    results = [ingest.ingest_one(p, limits=limits, store=store, catalog=catalog, sol_hint=sol)
               for p in ingest.discover(raw)]
    ok = [r for r in results if r.state == "ingested"]
    frames = {}
    for r in ok:
        frames[r.product_id] = chain.process_product(read_product(r.path, limits=limits), settings, sha256=r.sha256)
    by_id = {r.product_id: r for r in ok}
    fields = settings.mosaic.group_by
    for key, pids in group_records(list(frames), fields, describe=lambda pid: by_id[pid]).items():
        if len(pids) >= settings.mosaic.min_frames:
            name = mosaic_name(key, fields, settings.mosaic.projection)
            mosaic = build_mosaic(name, [lambda p=p: frames[p] for p in pids], settings)
            publish_mosaic(mosaic, store=store, catalog=catalog)
    return time.perf_counter() - t0


def _dask_sol(quick: bool) -> tuple[Path, int] | None:
    """The sol for the Dask figures: full-size Mastcam-Z frames (the ``mastcamz-pan`` profile, 102
    frames of 1648x1200), generated once into the temporary folder and reused (it takes minutes)."""
    if quick:
        return None
    from rovercam.config import load
    from rovercam.synth import generate_sol

    sol_dir = Path(tempfile.gettempdir()) / "rovercam-bench-flows" / "mastcamz-pan-400"
    if not (sol_dir / "truth" / "manifest.json").is_file():
        shutil.rmtree(sol_dir, ignore_errors=True)
        generate_sol(sol_dir, sol=400, profile="mastcamz-pan", seed=0, settings=load())
    return sol_dir, 400


def _dask_rate(sol: int, root: Path, sol_dir: Path, workers: int) -> tuple[float, int]:
    """Frames per second of the calibrate stage on a LocalCluster of ``workers`` processes.

    The stage runs twice on the same cluster, recomputing every frame; the second pass is timed,
    so worker start-up and first imports are not counted.
    """
    from prefect import flow

    from flows.stages import _calibrate_stage, _task_runner, ingest_stage
    from tasks.fetch import _fetch, incoming_paths

    settings, _ = generated_sol_settings(root, sol_dir, task_runner="dask", dask_workers=workers)
    items = []

    @flow(name="bench-ingest")
    def ingest() -> None:
        _fetch(str(sol_dir / "raw"), sol, settings)
        items.extend(r for r in ingest_stage(incoming_paths(sol, settings), settings, sol) if r.state == "ingested")

    @flow(name="bench-dask-calibrate", task_runner=_task_runner(settings))
    def measure() -> dict[str, Any]:
        _calibrate_stage(items, settings, sol, refresh=True)  # warm the workers up
        return _calibrate_stage(items, settings, sol, refresh=True)

    ingest()
    out = measure()
    return out["computed"] / out["compute_s"], out["computed"]


def run(*, quick: bool = False) -> dict[str, object]:
    """Measure the figures in the module docstring (``quick``: the tiny profile)."""
    import os

    for k, v in {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
                 "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}.items():
        os.environ.setdefault(k, v)
    from prefect import flow

    from rovercam.synth import generate_sol
    from rovercam.synth.corrupt import corrupt_products

    from flows.ingest_sol import ingest_sol

    profile, sol = ("tiny", 31) if quick else ("navcam-pan", 300)
    res: dict[str, object] = {"profile": profile}
    with tempfile.TemporaryDirectory(prefix="rovercam-bench-flows-") as tmp:
        tmp = Path(tmp)
        sol_dir = tmp / "sol"
        settings, _ = generated_sol_settings(tmp / "gen", sol_dir)
        manifest = generate_sol(sol_dir, sol=sol, profile=profile, seed=5, settings=settings)
        n_products = len(manifest.frames) + len(manifest.expected_bad)
        # 5 % of the products bad: the generator's own truncated one plus damaged ones
        extra = max(0, math.ceil(0.05 * n_products) - len(manifest.expected_bad))
        damaged = corrupt_products(sol_dir / "raw", count=extra, seed=1,
                                   exclude=[Path(b.path).name for b in manifest.expected_bad])
        res["products"] = n_products
        res["corrupted"] = len(damaged) + len(manifest.expected_bad)

        @flow(name="bench-warm-up")
        def warm_up() -> None:
            return None

        t0 = time.perf_counter()
        warm_up()  # starts the local Prefect server: not part of any figure below
        res["server_start_s"] = round(time.perf_counter() - t0, 2)

        _, overrides = generated_sol_settings(tmp / "a", sol_dir)
        t0 = time.perf_counter()
        [first] = ingest_sol(source=str(sol_dir / "raw"), sol=sol, overrides=overrides)
        res["first_run_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        [again] = ingest_sol(source=str(sol_dir / "raw"), sol=sol, overrides=overrides)
        res["rerun_s"] = round(time.perf_counter() - t0, 2)
        res["rerun_speedup"] = round(res["first_run_s"] / res["rerun_s"], 1)
        res["rerun_versions_unchanged"] = [p["version"] for p in first["published"]] == \
            [p["version"] for p in again["published"]]
        res["corrupted_quarantined"] = len(first["quarantined"])
        res["sol_completed"] = bool(first["published"]) and not first["failed"]

        res["plain_s"] = round(_plain(sol, sol_dir / "raw", tmp / "b", sol_dir), 2)
        _, overrides = generated_sol_settings(tmp / "c", sol_dir, max_workers=1)
        t0 = time.perf_counter()
        ingest_sol(source=str(sol_dir / "raw"), sol=sol, overrides=overrides)
        res["flow_1w_s"] = round(time.perf_counter() - t0, 2)
        res["overhead_pct"] = round(100.0 * (res["flow_1w_s"] / res["plain_s"] - 1.0), 1)

        try:
            import prefect_dask  # noqa: F401

            dask_dir, dask_sol = _dask_sol(quick) or (sol_dir, sol)
            res["dask_profile"] = "mastcamz-pan" if dask_dir != sol_dir else profile
            r1, n = _dask_rate(dask_sol, tmp / "d", dask_dir, 1)
            r2, _ = _dask_rate(dask_sol, tmp / "d", dask_dir, 2)
            res.update(dask_frames=n, dask_1w_frames_per_s=round(r1, 2), dask_2w_frames_per_s=round(r2, 2),
                       dask_speedup_2w=round(r2 / r1, 2))
        except ImportError as e:
            log.warning("Dask figures skipped: %s", e)
            res.update(dask_speedup_2w=None, dask_note="pip install 'rovercam[dask]'")
    return res
