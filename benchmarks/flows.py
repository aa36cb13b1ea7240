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
  recomputing every frame (cluster start-up and a warm-up pass excluded, median of 3 passes), on
  full-size Mastcam-Z frames (the ``mastcamz-pan`` profile, generated once into the temporary
  folder: several minutes the first time; navcam-pan's quarter-size frames are too little work
  per task to measure scaling); ``dask_batch_1w``/``_2w`` are the products per task;
- ``bare_1p_frames_per_s``, ``bare_2p_frames_per_s``, ``bare_speedup_2p``: the same frames
  through the same chain in one and two plain processes, no Prefect and no Dask: the ceiling of
  the Dask figures on this machine.
"""
from __future__ import annotations

import logging
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from rovercam_flows.demo import generated_sol_settings

__all__ = ["run"]

log = logging.getLogger(__name__)


def _plain(sol: int, raw: Path, root: Path, sol_dir: Path) -> float:
    """The pipeline as plain function calls, no orchestration: seconds."""
    from rovercam import ingest
    from rovercam.catalog import Catalog
    from rovercam.storage import Store
    from rovercam.testing.plain import plain_sol

    settings, _ = generated_sol_settings(root, sol_dir)
    t0 = time.perf_counter()
    with Catalog(settings.catalog_url) as catalog:
        plain_sol(ingest.discover(raw), sol, settings, store=Store.from_settings(settings), catalog=catalog)
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


def _ingested(sol: int, root: Path, sol_dir: Path) -> list[Any]:
    """Fetch and ingest the sol into ``root`` (through the ingest flow); the ingested results."""
    from prefect import flow

    from rovercam_flows.stages import ingest_stage
    from rovercam_tasks.fetch import fetch_sol, incoming_paths

    settings, _ = generated_sol_settings(root, sol_dir)

    @flow(name="bench-ingest")
    def ingest() -> list[Any]:
        fetch_sol(str(sol_dir / "raw"), sol, settings)
        return [r for r in ingest_stage(incoming_paths(sol, settings), settings, sol) if r.state == "ingested"]

    return ingest()


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _dask_rate(items: list[Any], sol: int, root: Path, sol_dir: Path, workers: int, passes: int = 3) -> float:
    """Frames per second of the calibrate stage on a LocalCluster of ``workers`` processes.

    The stage runs ``passes + 1`` times on the same cluster, recomputing every frame; the first
    pass warms the workers up (start-up and first imports are not counted) and the median rate of
    the others is returned.
    """
    from prefect import flow

    from rovercam_flows.stages import calibrate_frames, task_runner_for

    settings, _ = generated_sol_settings(root, sol_dir, task_runner="dask", dask_workers=workers)

    @flow(name="bench-dask-calibrate", task_runner=task_runner_for(settings))
    def measure() -> list[float]:
        calibrate_frames(items, settings, sol, refresh=True)  # warm the workers up
        return [out.computed / out.compute_s
                for out in (calibrate_frames(items, settings, sol, refresh=True) for _ in range(passes))]

    return _median(measure())


def _bare_worker(items: list[Any], settings: Any, passes: int, barrier: Any, times: Any) -> None:
    """One process of :func:`_bare_rate`: a warm-up pass over its share, then ``passes`` timed
    passes, each started with the others (``barrier``); puts the seconds of each on ``times``."""
    import cv2

    from rovercam_tasks.calibrate import calibrate_one

    cv2.setNumThreads(1)  # as on a Dask worker (tasks/_dask_worker.py)
    for n in range(passes + 1):
        barrier.wait()
        t0 = time.perf_counter()
        for item in items:
            calibrate_one(item, settings, "bare" + "0" * 60)  # rewritten each pass, as on Dask
        if n:
            times.put((n, time.perf_counter() - t0))


def _bare_rate(items: list[Any], root: Path, sol_dir: Path, processes: int, passes: int = 3) -> float:
    """Frames per second of the same frame chain (``calibrate_one``: read, chain, store) with no
    orchestration at all: ``processes`` plain processes, one OpenCV thread each, every process a
    fixed share of the frames. What this machine can give, to compare the Dask figures with."""
    import multiprocessing as mp

    settings, _ = generated_sol_settings(root, sol_dir)
    ctx = mp.get_context("spawn")
    barrier, times = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=_bare_worker, args=(items[i::processes], settings, passes, barrier, times))
             for i in range(processes)]
    for p in procs:
        p.start()
    per_pass: dict[int, float] = {}
    for _ in range(processes * passes):
        n, seconds = times.get(timeout=1800)
        per_pass[n] = max(per_pass.get(n, 0.0), seconds)  # a pass ends when its slowest process does
    for p in procs:
        p.join()
    return _median([len(items) / s for s in per_pass.values()])


def run(*, quick: bool = False) -> dict[str, object]:
    """Measure the figures in the module docstring (``quick``: the tiny profile)."""
    import os

    for k, v in {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
                 "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}.items():
        os.environ.setdefault(k, v)
    from prefect import flow

    from rovercam.synth import generate_sol
    from rovercam.synth.corrupt import corrupt_products

    from rovercam_flows.ingest_sol import ingest_sol

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

            from rovercam_flows.stages import dask_batch_size

            dask_dir, dask_sol = _dask_sol(quick) or (sol_dir, sol)
            res["dask_profile"] = "mastcamz-pan" if dask_dir != sol_dir else profile
            items = _ingested(dask_sol, tmp / "d", dask_dir)
            b1, b2 = (_bare_rate(items, tmp / "d", dask_dir, n) for n in (1, 2))
            r1, r2 = (_dask_rate(items, dask_sol, tmp / "d", dask_dir, n) for n in (1, 2))
            batch = [dask_batch_size(len(items), generated_sol_settings(tmp, dask_dir, task_runner="dask",
                                                                        dask_workers=n)[0]) for n in (1, 2)]
            res.update(dask_frames=len(items), dask_batch_1w=batch[0], dask_batch_2w=batch[1],
                       dask_1w_frames_per_s=round(r1, 2), dask_2w_frames_per_s=round(r2, 2),
                       dask_speedup_2w=round(r2 / r1, 2),
                       bare_1p_frames_per_s=round(b1, 2), bare_2p_frames_per_s=round(b2, 2),
                       bare_speedup_2p=round(b2 / b1, 2))
        except ImportError as e:
            log.warning("Dask figures skipped: %s", e)
            res.update(dask_speedup_2w=None, dask_note="pip install 'rovercam[dask]'")
    return res
