"""The pipeline's stages as subflows: ``ingest`` -> ``calibrate`` -> ``mosaic`` -> ``publish``.

Every top-level flow (ingest-sol, reprocess-sol, build-mosaics) runs the same four subflows through
:func:`run_sol`, so each shows up in the Prefect UI as its own run with its own task runs.

Caching (see :mod:`rovercam.cachekey`): each task's cache key is computed here from content
(product files' sha256), the configuration sections the stage depends on, and the code version.
Results are persisted under the storage root. Work whose result is already in the store is not
even submitted; ``refresh`` names the stages to recompute regardless.

Failure policy: a product that fails ingest is quarantined; one that fails calibration, or a
mosaic that fails, is reported with the stage and the reason; the rest go on.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Iterator

from prefect import flow, get_run_logger, unmapped
from prefect.utilities.annotations import quote
from prefect.futures import as_completed

from rovercam import cachekey, layout
from rovercam.config import Settings
from rovercam.ingest import IngestResult
from rovercam.mosaic.grouping import group_records, mosaic_name, split_by_bands

from rovercam_tasks import artifacts
from rovercam_tasks._runtime import catalog_for, result_storage_for, store_for
from rovercam_tasks._stage import FRAME_FILE, FrameRef, frame_bands
from rovercam_tasks.calibrate import calibrate, calibrate_batch
from rovercam_tasks.color import color
from rovercam_tasks.debayer import debayer
from rovercam_tasks.decompand import decompand
from rovercam_tasks.flat import flat
from rovercam_tasks.ingest import ingest_product
from rovercam_tasks.mosaic import MOSAIC_FILE, build_mosaic
from rovercam_tasks.publish import publish
from rovercam_tasks.undistort import undistort

#: Stages in order; ``reprocess-sol --stages`` names them (chain stage names mean "calibrate").
STAGES = ("ingest", "calibrate", "mosaic", "publish")
CHAIN_STAGES = ("decompand", "debayer", "flat", "color", "undistort")


def stages_to_refresh(stages: Iterable[str] | None, *, force: bool = False) -> set[str]:
    """The stages to recompute: every stage from the earliest one named (or all with ``force``).

    Raises
    ------
    ValueError
        An unknown stage name (the message lists the known ones).
    """
    if force:
        return set(STAGES)
    wanted = set()
    for s in stages or ():
        s = "calibrate" if s in CHAIN_STAGES else s
        if s not in STAGES:
            raise ValueError(f"unknown stage {s!r}; stages: {', '.join(STAGES + CHAIN_STAGES)}")
        wanted.add(s)
    if not wanted:
        return set()
    first = min(STAGES.index(s) for s in wanted)
    return set(STAGES[first:])


@dataclass
class SolReport:
    """What a sol run did (returned by the flows; small and JSON-friendly)."""

    sol: int
    flow: str = ""
    run_id: str = ""
    products_found: int = 0
    ingested: list[str] = field(default_factory=list)
    quarantined: list[dict[str, str]] = field(default_factory=list)
    duplicates: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    published: list[dict[str, Any]] = field(default_factory=list)
    reused: dict[str, int] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    storage_root: str = ""
    fetched: list[str] = field(default_factory=list)
    products: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def stage_timer(seconds: dict[str, float]) -> Callable[[str], None]:
    """``timed(stage)`` records in ``seconds`` the wall time since the previous call (or creation)."""
    clock = time.perf_counter()

    def timed(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = round(now - clock, 3)
        clock = now

    return timed


def outcome(fut: Any) -> tuple[Any, str | None]:
    """(result, None) of a finished future, or (None, reason) when its task failed."""
    try:
        return fut.result(), None
    except Exception as exc:  # the task's own exception, re-raised by result()
        return None, str(exc) or type(exc).__name__


def _unwalked(settings: Settings) -> Any:
    """``settings`` as a task parameter Prefect does not walk: Prefect visits every field of a
    parameter to find futures, ~5 ms a task for the camera registry. ``quote`` is undone only
    by the local engine, so the Dask runner (which pickles parameters) gets them as they are."""
    return quote(settings) if settings.prefect.task_runner == "threads" else settings


@contextlib.contextmanager
def subflow_settings() -> Iterator[None]:
    """Settings for the stage subflows: no heartbeat thread of their own.

    A subflow runs inside its parent's run, whose heartbeat already tells the server the process
    is alive; a subflow's own heartbeat thread only adds up to a second at its exit (Prefect
    joins it after a 1 s sleep), which is most of a stage subflow's overhead on a reused sol.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def _task_runner(settings: Settings) -> Any:
    """The configured task runner for mapped work (threads, or Dask)."""
    from prefect.task_runners import ThreadPoolTaskRunner

    if settings.prefect.task_runner == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError as e:  # pragma: no cover - depends on the optional extra
            raise RuntimeError("[prefect] task_runner = 'dask' needs `pip install rovercam[dask]`") from e
        if settings.prefect.dask_address:
            # remote workers report to the PREFECT_API_URL of their own environment
            return DaskTaskRunner(address=settings.prefect.dask_address)
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:  # the server this process reports to
            api_url = str(client.api_url)
        return DaskTaskRunner(cluster_class="rovercam_tasks._dask_worker.local_cluster", cluster_kwargs={
            "n_workers": settings.prefect.dask_workers, "threads_per_worker": 1, "processes": True,
            "dashboard_address": None,
            "env": {
                # one thread per worker process: OpenCV and BLAS must not oversubscribe the cores
                "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                # the same Prefect server as the flow: without it, each worker of a local run would
                # start a temporary server of its own and its task runs would not be seen
                "PREFECT_API_URL": api_url,
            },
            "preload": ["rovercam_tasks._dask_worker"],
        })
    return ThreadPoolTaskRunner(max_workers=settings.prefect.max_workers)


# --- ingest ---------------------------------------------------------------------------------------

@flow(name="ingest", flow_run_name="ingest-sol{sol}", description="Validate and catalog product files.")
def ingest_stage(paths: list[str], settings: Settings, sol: int, refresh: bool = False,
                 shas: list[str] | None = None) -> list[IngestResult]:
    """Ingest ``paths`` (mapped, cached by file content); returns one result per path.

    ``shas`` are the products' content digests when the caller has them
    (:func:`rovercam.cachekey.product_content_sha256`).
    """
    shas = shas or [cachekey.product_content_sha256(p) for p in paths]
    keys = [cachekey.ingest_key(sha, settings, sol=sol) for sha in shas]
    task = ingest_product.with_options(result_storage=result_storage_for(settings), refresh_cache=refresh)
    futures = task.map(paths, unmapped(_unwalked(settings)), unmapped(sol), keys)
    return [replace(f.result(), content_sha256=sha) for f, sha in zip(futures, shas)]


# --- calibrate ------------------------------------------------------------------------------------

def _per_stage(item: IngestResult, settings: Settings) -> Any:
    """Submit the five stage tasks for one product, each waiting on the previous."""
    fut = decompand.submit(item, _unwalked(settings))
    for stage in (debayer, flat, color, undistort):
        fut = stage.submit(fut, _unwalked(settings))
    return fut


def dask_batch_size(products: int, settings: Settings) -> int:
    """Products per calibration task on Dask: ``[prefect] dask_batch``, or when that is 0 (auto)
    enough for about :data:`TASKS_PER_WORKER` tasks per worker.

    A Prefect task on Dask costs ~0.13 s of CPU (the flow serializes Prefect's settings context for
    it, the worker rebuilds them and a TLS context for its API client, the server records its
    states); a Mastcam-Z frame's chain is ~0.06 s. A few tasks per worker pay that a few times and
    still let a worker that finishes early take over queued work.
    """
    if settings.prefect.dask_batch:
        return settings.prefect.dask_batch
    return max(1, math.ceil(products / (TASKS_PER_WORKER * settings.prefect.dask_workers)))


#: Tasks per Dask worker that ``[prefect] dask_batch = 0`` aims at.
TASKS_PER_WORKER = 4


def _calibrate_stage(items: list[IngestResult], settings: Settings, sol: int, refresh: bool = False
                     ) -> dict[str, Any]:
    logger = get_run_logger()
    store = store_for(settings)
    calibration = cachekey.calibration_fingerprint(settings)
    refs: dict[str, FrameRef] = {}
    pending: dict[Any, list[IngestResult]] = {}
    storage = result_storage_for(settings)
    task = calibrate.with_options(result_storage=storage, refresh_cache=refresh)
    batch_task = calibrate_batch.with_options(result_storage=storage, refresh_cache=refresh)
    started = time.perf_counter()  # the task runner (threads or a Dask cluster) is already up
    todo: list[tuple[IngestResult, str]] = []
    keys: dict[str, str] = {}
    for item in items:
        key = keys[item.product_id] = cachekey.calibrate_key(item.content_sha256 or item.sha256, settings,
                                                              calibration=calibration)
        stored = f"{layout.calibrated_prefix(item.sol, item.product_id, key)}/{FRAME_FILE}"
        if settings.prefect.chain_tasks == "per-stage":
            pending[_per_stage(item, settings)] = [item]
        elif not refresh and store.exists(stored):
            refs[item.product_id] = FrameRef(item.product_id, stored, "undistort")
        else:
            todo.append((item, key))
    batch = dask_batch_size(len(todo), settings) if settings.prefect.task_runner == "dask" else 1
    for i in range(0, len(todo), batch):
        group = todo[i:i + batch]
        if batch == 1:
            pending[task.submit(group[0][0], _unwalked(settings), group[0][1])] = [group[0][0]]
        else:
            member_keys = [k for _, k in group]
            pending[batch_task.submit([it for it, _ in group], _unwalked(settings), member_keys,
                                      cachekey.digest(member_keys))] = \
                [it for it, _ in group]
    reused = len(refs)
    failed: list[dict[str, str]] = []
    progress = artifacts.Progress(f"sol-{sol:05d}-calibrate", f"calibrating {len(items)} frames of sol {sol}",
                                  total=len(items), done=reused)
    for fut in as_completed(list(pending)):
        members = pending[fut]
        result, reason = outcome(fut)
        if reason is not None:
            outcomes = [(it.product_id, None, reason) for it in members]
        elif len(members) == 1 and isinstance(result, FrameRef):
            outcomes = [(members[0].product_id, result, None)]
        else:
            outcomes = result
        for pid, ref, why in outcomes:
            if why is None:
                refs[pid] = ref
            else:
                failed.append({"product_id": pid, "stage": "calibrate", "reason": why})
                logger.error("%s: calibration failed: %s", pid, why)
        progress.advance(len(members))
    computed = sum(len(m) for m in pending.values()) - len(failed)
    logger.info("calibrate: %d frame(s) reused, %d computed, %d failed", reused, computed, len(failed))
    ordered = [refs[i.product_id] for i in items if i.product_id in refs]
    return {"frames": ordered, "keys": {r.product_id: keys[r.product_id] for r in ordered}, "failed": failed,
            "reused": reused, "computed": computed, "compute_s": time.perf_counter() - started}


@flow(name="calibrate", flow_run_name="calibrate-sol{sol}",
      description="The frame chain on every ingested product (cached by content and configuration).")
def calibrate_stage(items: list[IngestResult], settings: Settings, sol: int, refresh: bool = False) -> dict[str, Any]:
    """Calibrated frame references for ``items`` and their cache keys (product id -> key), plus
    failures and how many were reused."""
    return _calibrate_stage(items, settings, sol, refresh)


# --- mosaic and publish ---------------------------------------------------------------------------

@flow(name="mosaic", flow_run_name="mosaic-sol{sol}", description="Group frames and build mosaics.")
def mosaic_stage(frames: list[FrameRef], frame_keys: dict[str, str], items: list[IngestResult],
                 settings: Settings, sol: int, refresh: bool = False) -> dict[str, Any]:
    """Build one mosaic per group of frames (cached by the frames' calibrate keys, ``frame_keys``
    as the calibrate stage returns them, and ``[mosaic]``). A group whose frames differ in band
    count (grayscale and colour) makes one mosaic per band count, named with a ``<B>BAND`` part."""
    logger = get_run_logger()
    by_id = {r.product_id: r for r in items}
    fields = settings.mosaic.group_by
    groups = group_records(frames, fields, describe=lambda ref: by_id[ref.product_id])
    store = store_for(settings)
    task = build_mosaic.with_options(result_storage=result_storage_for(settings), refresh_cache=refresh)
    done: list[dict[str, str]] = []
    pending: dict[Any, tuple[str, str]] = {}
    for group, members in groups.items():
        for bands, refs in split_by_bands(members, lambda ref: frame_bands(ref, settings)):
            if len(refs) < settings.mosaic.min_frames:
                logger.info("group %s%s: %d frame(s), no mosaic", group,
                            f" ({bands} band)" if bands else "", len(refs))
                continue
            name = mosaic_name(group, fields, settings.mosaic.projection, bands=bands)
            key = cachekey.mosaic_key(name, [frame_keys[r.product_id] for r in refs], settings)
            stored = f"{layout.mosaic_work_prefix(sol, name, key)}/{MOSAIC_FILE}"
            if not refresh and store.exists(stored):
                done.append({"name": name, "mosaic_key": stored, "key": key})
            else:
                pending[task.submit(name, refs, _unwalked(settings), sol, key)] = (name, key)
    reused = len(done)
    failed = []
    for fut, (name, key) in pending.items():
        stored, reason = outcome(fut)
        if reason is None:
            done.append({"name": name, "mosaic_key": stored, "key": key})
        else:
            failed.append({"product_id": name, "stage": "mosaic", "reason": reason})
            logger.error("%s: mosaic failed: %s", name, failed[-1]["reason"])
    return {"mosaics": done, "failed": failed, "reused": reused}


@flow(name="publish", flow_run_name="publish-sol{sol}", description="Publish mosaics atomically and catalog them.")
def publish_stage(mosaics: list[dict[str, str]], settings: Settings, sol: int, run_id: str | None = None,
                  refresh: bool = False) -> dict[str, Any]:
    """Publish each stored mosaic (COG, previews, STAC, catalog row); failures are reported."""
    task = publish.with_options(result_storage=result_storage_for(settings), refresh_cache=refresh,
                                timeout_seconds=settings.prefect.publish_timeout_s)
    keys = [cachekey.publish_key(m["key"], settings) for m in mosaics]
    futures = task.map([m["mosaic_key"] for m in mosaics], unmapped(_unwalked(settings)), unmapped(run_id), keys)
    published, failed = [], []
    for m, fut in zip(mosaics, futures):
        out, reason = outcome(fut)
        if reason is None:
            published.append(out)
        else:
            failed.append({"product_id": m["name"], "stage": "publish", "reason": reason})
    return {"published": published, "failed": failed}


# --- one sol, end to end --------------------------------------------------------------------------

def _still_published(store: Any, published: list[dict[str, Any]]) -> bool:
    return all(store.exists(p[k]) for p in published for k in ("cog_key", "png_key", "stac_key") if p.get(k))


def run_sol(sol: int, paths: list[str], settings: Settings, *, flow_name: str,
            refresh: set[str] | None = None, report: SolReport | None = None) -> SolReport:
    """Ingest -> calibrate -> mosaic -> publish for ``paths``, with the run recorded in the catalog
    and the UI artifacts written. Called from inside a top-level flow.

    A sol whose products, configuration, calibration files and code are all unchanged since a
    completed run (:func:`rovercam.cachekey.sol_key`), and whose published files are all still in
    the store, is not run again: its recorded report is returned (``reused["sol"] == 1``).
    """
    refresh = refresh or set()
    report = report or SolReport(sol=sol)
    report.flow, report.storage_root = flow_name, settings.storage_root
    store, catalog = store_for(settings), catalog_for(settings)
    report.run_id = catalog.start_run(flow=flow_name, sol=sol, config_hash=settings.config_hash,
                                      software_version=cachekey.code_version())
    timed = stage_timer(report.stage_seconds)
    report.products_found = len(paths)
    shas = [cachekey.product_content_sha256(p) for p in paths]
    key = cachekey.sol_key([(p.rsplit("/", 1)[-1], sha) for p, sha in zip(paths, shas)], settings)
    record = layout.run_record_key(sol, key)
    if not refresh and store.exists(record):
        done = json.loads(store.read_bytes(record))
        if _still_published(store, done["published"]) and not report.failed:
            for f in ("ingested", "duplicates", "failed", "published", "products"):
                setattr(report, f, done[f])
            report.quarantined += [q for q in done["quarantined"] if q not in report.quarantined]
            report.reused = {"sol": 1}
            timed("unchanged")
            get_run_logger().info("sol %d: unchanged since run %s; nothing to do", sol, done["run_id"])
            return _finish(report, catalog, store)

    with subflow_settings():
        runner = _task_runner(settings)
        results = ingest_stage(paths, settings, sol, refresh="ingest" in refresh, shas=shas)
        ingested = [r for r in results if r.state == "ingested"]
        report.ingested = [r.product_id for r in ingested]
        report.quarantined += [{"path": r.path, "reason": r.reason} for r in results if r.state == "quarantined"]
        report.duplicates = [{"path": r.path, "duplicate_of": r.duplicate_of} for r in results if r.state == "duplicate"]
        timed("ingest")

        cal = calibrate_stage.with_options(task_runner=runner)(ingested, settings, sol, refresh="calibrate" in refresh)
        report.failed += cal["failed"]
        report.reused["calibrate"] = cal["reused"]
        timed("calibrate")

        mos = mosaic_stage(cal["frames"], cal["keys"], ingested, settings, sol, refresh="mosaic" in refresh)
        report.failed += mos["failed"]
        report.reused["mosaic"] = mos["reused"]
        timed("mosaic")

        pub = publish_stage(mos["mosaics"], settings, sol, report.run_id, refresh="publish" in refresh)
        report.published = pub["published"]
        report.failed += pub["failed"]
        report.reused["publish"] = sum(1 for p in pub["published"] if p.get("reused"))
        timed("publish")

    calibrated = {r.product_id for r in cal["frames"]}
    report.products = [
        {"product": r.product_id or "", "file": r.path.rsplit("/", 1)[-1], "instrument": r.instrument or "",
         "state": r.state if r.state != "ingested" else ("calibrated" if r.product_id in calibrated else "failed"),
         "reason": r.reason or ""}
        for r in results
    ]
    if not report.failed:  # only a clean run may stand in for later ones
        with store.transaction(record.rsplit("/", 1)[0]) as txn:
            txn.put(record.rsplit("/", 1)[1], json.dumps(report.to_dict(), default=str).encode())
    return _finish(report, catalog, store)


def _finish(report: SolReport, catalog: Any, store: Any) -> SolReport:
    catalog.finish_run(report.run_id, status="completed", summary=report.to_dict())
    artifacts.sol_artifacts(report, store)
    return report


__all__ = ["STAGES", "SolReport", "run_sol", "stages_to_refresh", "ingest_stage", "calibrate_stage",
           "mosaic_stage", "publish_stage"]
