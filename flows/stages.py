"""The pipeline's stages as subflows: ``ingest`` -> ``calibrate`` -> ``stereo`` -> ``mosaic`` -> ``publish``.

Every top-level flow (ingest-sol, reprocess-sol, build-mosaics) runs the same five subflows through
:func:`run_sol`, so each shows up in the Prefect UI as its own run with its own task runs.

What to run is not decided here: each stage asks a :class:`rovercam.pipeline.Planner` (cache keys
from :mod:`rovercam.cachekey`, the store, the stages asked to be recomputed), submits the tasks
the plan says to compute, and takes the rest from the store. A task's Prefect cache key is its
unit's key, and results are persisted under the storage root.

Failure policy: a product that fails ingest is quarantined; one that fails calibration, a stereo
pair or terrain that fails, or a mosaic that fails, is reported with the stage and the reason; the
rest go on. Frames of stereo cameras that find no partner are listed in the report (``unpaired``).
"""
from __future__ import annotations

import contextlib
import json
import math
import time
import uuid
from dataclasses import replace
from typing import Any, Callable, Iterator

from prefect import flow, get_run_logger, unmapped
from prefect.futures import as_completed
from prefect.utilities.annotations import quote

from rovercam import cachekey
from rovercam.catalog import hold_sol, sol_holder
from rovercam.config import Settings
from rovercam.errors import MosaicError
from rovercam.ingest import IngestResult
from rovercam.pipeline import (STAGES, CalibrateResult, Decision, Failure, FrameRef, MosaicRef, MosaicResult,
                               Planner, PreviousRun, PublishResult, SolReport, StereoResult, TerrainRef,
                               previous_run, stages_to_refresh, summarize)
from rovercam.pipeline.plan import RESULTS_PREFIX
from rovercam.pipeline.stereo import find_pairs, mosaic_terrains, terrain_groups

from rovercam_flows.memory import limit_malloc_arenas, release_freed_memory
from rovercam_tasks import artifacts
from rovercam_tasks._runtime import catalog_for, result_storage_for, store_for
from rovercam_tasks.calibrate import calibrate, calibrate_batch
from rovercam_tasks.color import color
from rovercam_tasks.debayer import debayer
from rovercam_tasks.decompand import decompand
from rovercam_tasks.flat import flat
from rovercam_tasks.ingest import ingest_product
from rovercam_tasks.mosaic import build_mosaic
from rovercam_tasks.publish import publish
from rovercam_tasks.stereo import stereo, terrain
from rovercam_tasks.undistort import undistort

# Before any worker thread takes an arena of its own: a cap set once threads have made theirs
# hardly holds (rovercam_flows.memory); run_sol sets it again for whoever imported this late.
limit_malloc_arenas()

__all__ = ["STAGES", "SolReport", "run_sol", "sol_lock", "stages_to_refresh", "ingest_stage", "calibrate_stage",
           "stereo_stage", "mosaic_stage", "publish_stage", "dask_batch_size"]


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


def task_runner_for(settings: Settings) -> Any:
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


def _planner(settings: Settings, stage: str, refresh: bool, previous: PreviousRun | None) -> Planner:
    """The planner of one stage subflow (``refresh``: recompute the stage regardless)."""
    return Planner(settings, store_for(settings), refresh={stage} if refresh else set(), previous=previous)


def _recorded(settings: Settings, plan: list[Decision]) -> dict[int, Any]:
    """The task results that ``reuse`` decisions point to, by plan index: what the task recorded
    under its cache key (a record that no longer reads is left out: its task is submitted)."""
    from prefect.results import ResultStore

    reuse = [(i, d) for i, d in enumerate(plan) if d.reuse]
    if not reuse:
        return {}
    results = ResultStore(result_storage=result_storage_for(settings), cache_result_in_memory=False)
    out = {}
    for i, d in reuse:
        try:
            out[i] = results.read(d.stored.removeprefix(f"{RESULTS_PREFIX}/")).result
        except Exception as exc:  # an unreadable record is recomputed, as Prefect would
            get_run_logger().warning("%s %s: recorded result unreadable (%s); recomputing", d.stage, d.unit, exc)
    return out


def _log_plan(stage: str, plan: list[Decision]) -> None:
    get_run_logger().info("%s plan: %s", stage, summarize(plan))


# --- ingest ---------------------------------------------------------------------------------------

@flow(name="ingest", flow_run_name="ingest-sol{sol}", description="Validate and catalog product files.")
def ingest_stage(paths: list[str], settings: Settings, sol: int, refresh: bool = False,
                 shas: list[str] | None = None, previous: PreviousRun | None = None) -> list[IngestResult]:
    """Ingest ``paths`` (mapped, cached by file content); returns one result per path.

    ``shas`` are the products' content digests when the caller has them
    (:func:`rovercam.cachekey.product_content_sha256`).
    """
    shas = shas or [cachekey.product_content_sha256(p) for p in paths]
    plan = _planner(settings, "ingest", refresh, previous).ingest(sol, list(zip(paths, shas)))
    _log_plan("ingest", plan)
    results = _recorded(settings, plan)
    todo = [i for i in range(len(plan)) if i not in results]
    if todo:
        task = ingest_product.with_options(result_storage=result_storage_for(settings), refresh_cache=refresh)
        futures = task.map([paths[i] for i in todo], unmapped(_unwalked(settings)), unmapped(sol),
                           [plan[i].key for i in todo])
        results.update((i, f.result()) for i, f in zip(todo, futures))
    return [replace(results[i], content_sha256=sha) for i, sha in enumerate(shas)]


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


def _submit_calibration(todo: list[tuple[IngestResult, Decision]], settings: Settings, refresh: bool
                        ) -> dict[Any, list[IngestResult]]:
    """Submit the chain for ``todo``: one task per product (threads), batches on Dask, or the
    five stage tasks (``chain_tasks = "per-stage"``); returns future -> its products."""
    if settings.prefect.chain_tasks == "per-stage":
        return {_per_stage(item, settings): [item] for item, _ in todo}
    storage = result_storage_for(settings)
    task = calibrate.with_options(result_storage=storage, refresh_cache=refresh)
    batch_task = calibrate_batch.with_options(result_storage=storage, refresh_cache=refresh)
    batch = dask_batch_size(len(todo), settings) if settings.prefect.task_runner == "dask" else 1
    pending: dict[Any, list[IngestResult]] = {}
    for i in range(0, len(todo), batch):
        group = todo[i:i + batch]
        if batch == 1:
            pending[task.submit(group[0][0], _unwalked(settings), group[0][1].key)] = [group[0][0]]
        else:
            keys = [d.key for _, d in group]
            pending[batch_task.submit([it for it, _ in group], _unwalked(settings), keys,
                                      cachekey.digest(keys))] = [it for it, _ in group]
    return pending


def calibrate_frames(items: list[IngestResult], settings: Settings, sol: int, refresh: bool = False,
                     previous: PreviousRun | None = None) -> CalibrateResult:
    """The calibrate stage's body: plan, submit what the plan computes, collect (the benchmark
    times it inside a flow of its own)."""
    logger = get_run_logger()
    plan = _planner(settings, "calibrate", refresh, previous).calibrate(items)
    _log_plan("calibrate", plan)
    refs = {item.product_id: FrameRef(item.product_id, d.stored, "undistort")
            for item, d in zip(items, plan) if d.reuse}
    started = time.perf_counter()  # the task runner (threads or a Dask cluster) is already up
    pending = _submit_calibration([(item, d) for item, d in zip(items, plan) if not d.reuse], settings, refresh)
    reused = len(refs)
    failed: list[Failure] = []
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
                failed.append(Failure(pid, "calibrate", why))
                logger.error("%s: calibration failed: %s", pid, why)
        progress.advance(len(members))
    computed = sum(len(m) for m in pending.values()) - len(failed)
    logger.info("calibrate: %d frame(s) reused, %d computed, %d failed", reused, computed, len(failed))
    keys = {item.product_id: d.key for item, d in zip(items, plan)}
    ordered = tuple(refs[i.product_id] for i in items if i.product_id in refs)
    return CalibrateResult(ordered, {r.product_id: keys[r.product_id] for r in ordered}, tuple(failed),
                           reused, computed, time.perf_counter() - started)


@flow(name="calibrate", flow_run_name="calibrate-sol{sol}",
      description="The frame chain on every ingested product (cached by content and configuration).")
def calibrate_stage(items: list[IngestResult], settings: Settings, sol: int, refresh: bool = False,
                    previous: PreviousRun | None = None) -> CalibrateResult:
    """Calibrated frame references for ``items`` and their cache keys, failures and how many
    were reused."""
    return calibrate_frames(items, settings, sol, refresh, previous)


# --- stereo ---------------------------------------------------------------------------------------

def _collect(futures: dict[Any, str], stage: str, done: dict[str, Any], failed: list[Failure],
             progress: artifacts.Progress) -> None:
    """Wait for ``futures`` (future -> unit name): results into ``done``, failures (with their
    reason, logged) into ``failed``."""
    for fut in as_completed(list(futures)):
        result, reason = outcome(fut)
        if reason is None:
            done[futures[fut]] = result
        else:
            failed.append(Failure(futures[fut], stage, reason))
            get_run_logger().error("%s: %s failed: %s", futures[fut], stage, reason)
        progress.advance()


def _intact(store: Any, recorded: dict[int, Any], plan: list[Decision]) -> dict[int, Any]:
    """The recorded results whose published files are all still in the store; the others are
    logged, and their tasks run again (their cached record refreshed)."""
    out = {}
    for i, record in recorded.items():
        missing = [k for k in record.get("keys", {}).values() if not store.exists(k)]
        if missing:
            get_run_logger().warning("%s %s: published file %s is missing; publishing again", plan[i].stage,
                                     plan[i].unit, missing[0])
        else:
            out[i] = record
    return out


@flow(name="stereo", flow_run_name="stereo-sol{sol}",
      description="Stereo pairs to XYZ, range, normals and meshes; each site and drive's terrain.")
def stereo_stage(frames: list[FrameRef], frame_keys: dict[str, str], settings: Settings, sol: int,
                 run_id: str | None = None, refresh: bool = False, previous: PreviousRun | None = None
                 ) -> StereoResult:
    """Find the sol's stereo pairs among the calibrated ``frames`` and publish each pair's 3-D
    products and mesh, then the merged terrain of each site and drive (cached by the frames'
    calibrate keys, ``[stereo]``, ``[stereo_stage]`` and ``[publish]``). Nothing to do when
    ``[stereo_stage] enabled`` is off."""
    logger = get_run_logger()
    if not settings.stereo_stage.enabled:
        logger.info("stereo: [stereo_stage] enabled = false; no pairs looked for")
        return StereoResult()
    store = store_for(settings)
    pairing = find_pairs(store, frames, settings)
    for u in pairing.unpaired:
        logger.warning("%s: no stereo pair: %s", u.product_id, u.reason)
    planner = _planner(settings, "stereo", refresh, previous)
    plan = planner.stereo(pairing.pairs, frame_keys)
    _log_plan("stereo", plan)
    recorded = _intact(store, _recorded(settings, plan), plan)
    done = {plan[i].unit: r for i, r in recorded.items()}
    refs = {r.product_id: r for r in frames}
    progress = artifacts.Progress(f"sol-{sol:05d}-stereo", f"stereo pairs of sol {sol}",
                                  total=len(plan), done=len(done))
    task = stereo.with_options(result_storage=result_storage_for(settings),
                               timeout_seconds=settings.prefect.publish_timeout_s)
    pending = {task.with_options(refresh_cache=refresh or d.reuse).submit(
                   p, [refs[p.left], refs[p.right]], _unwalked(settings), sol, run_id, d.key): p.name
               for p, d in zip(pairing.pairs, plan) if p.name not in done}
    failed: list[Failure] = []
    _collect(pending, "stereo", done, failed, progress)
    reused = len(recorded)
    ok = [(p, d) for p, d in zip(pairing.pairs, plan) if p.name in done]
    published = [done[p.name] for p, _ in ok]
    terrains: list[dict[str, Any]] = []
    dems: list[TerrainRef] = []
    tplan = planner.terrain([p for p, _ in ok], [d for _, d in ok])
    if tplan:
        _log_plan("terrain", tplan)
        trecorded = _intact(store, _recorded(settings, tplan), tplan)
        tdone = {tplan[i].unit: r for i, r in trecorded.items()}
        groups = terrain_groups(published)
        ttask = terrain.with_options(result_storage=result_storage_for(settings),
                                     timeout_seconds=settings.prefect.publish_timeout_s)
        tprogress = artifacts.Progress(f"sol-{sol:05d}-terrain", f"terrain of sol {sol}", total=len(tplan),
                                       done=len(tdone))
        tpending = {ttask.with_options(refresh_cache=refresh or d.reuse).submit(
                        d.unit, list(groups[d.unit]), _unwalked(settings), sol, run_id, d.key): d.unit
                    for d in tplan if d.unit not in tdone}
        _collect(tpending, "terrain", tdone, failed, tprogress)
        terrains = [tdone[d.unit] for d in tplan if d.unit in tdone]
        dems = [TerrainRef(d.unit, d.key, tdone[d.unit]["keys"]["dem"]) for d in tplan
                if d.unit in tdone and "skipped" not in tdone[d.unit]]
        reused += len(trecorded)
    logger.info("stereo: %d pair(s) (%d reused), %d terrain(s) (%d without points in range), %d unpaired "
                "frame(s), %d failed", len(published), len(recorded), len(terrains),
                sum("skipped" in t for t in terrains), len(pairing.unpaired), len(failed))
    return StereoResult(tuple(published), tuple(terrains), tuple(u.to_dict() for u in pairing.unpaired),
                        tuple(failed), reused, tuple(dems))


# --- mosaic and publish ---------------------------------------------------------------------------

@flow(name="mosaic", flow_run_name="mosaic-sol{sol}", description="Group frames and build mosaics.")
def mosaic_stage(frames: list[FrameRef], frame_keys: dict[str, str], items: list[IngestResult],
                 settings: Settings, sol: int, refresh: bool = False,
                 previous: PreviousRun | None = None, dems: list[TerrainRef] | None = None) -> MosaicResult:
    """Build one mosaic per group of frames (cached by the frames' calibrate keys, ``frame_keys``
    as the calibrate stage returns them, and ``[mosaic]``). A group whose frames differ in band
    count (grayscale and colour) makes one mosaic per band count, named with a ``<B>BAND`` part.

    ``dems``: the stereo stage's published terrains (:attr:`StereoResult.dems`; None when it
    did not run). A ``[mosaic] surface = "terrain"`` mosaic is projected onto those of its
    frames' sites and drives, and keyed by them too; without them it fails, with the setting
    to change (:func:`rovercam.pipeline.stereo.mosaic_terrains`)."""
    logger = get_run_logger()
    by_id = {r.product_id: r for r in items}
    known = {t.name: t.key for t in dems or ()}
    plans = _planner(settings, "mosaic", refresh, previous).mosaics(sol, frames, frame_keys, by_id.__getitem__,
                                                                     terrain=known)
    _log_plan("mosaic", [p.decision for p in plans])
    task = build_mosaic.with_options(result_storage=result_storage_for(settings), refresh_cache=refresh)
    done: list[MosaicRef] = []
    pending: dict[Any, tuple[str, str]] = {}
    failed = []
    for p in plans:
        terrains = None
        if p.decision.action != "skip" and settings.mosaic.surface == "terrain":
            try:
                terrains = list(mosaic_terrains(p.name, p.terrain, dems, settings))
            except MosaicError as exc:
                failed.append(Failure(p.name, "mosaic", str(exc)))
                logger.error("%s: mosaic failed: %s", p.name, exc)
                continue
        if p.decision.action == "skip":
            logger.info("%s: %s, no mosaic", p.name, p.decision.reason)
        elif p.decision.reuse:
            done.append(MosaicRef(p.name, p.decision.stored, p.decision.key))
        else:
            fut = task.submit(p.name, list(p.refs), _unwalked(settings), sol, p.decision.key, terrains)
            pending[fut] = (p.name, p.decision.key)
    reused = len(done)
    for fut, (name, key) in pending.items():
        stored, reason = outcome(fut)
        if reason is None:
            done.append(MosaicRef(name, stored, key))
        else:
            failed.append(Failure(name, "mosaic", reason))
            logger.error("%s: mosaic failed: %s", name, reason)
    return MosaicResult(tuple(done), tuple(failed), reused)


@flow(name="publish", flow_run_name="publish-sol{sol}", description="Publish mosaics atomically and catalog them.")
def publish_stage(mosaics: list[MosaicRef], settings: Settings, sol: int, run_id: str | None = None,
                  refresh: bool = False, previous: PreviousRun | None = None) -> PublishResult:
    """Publish each stored mosaic (COG, previews, STAC, catalog row); failures are reported."""
    plan = _planner(settings, "publish", refresh, previous).publish(mosaics)
    _log_plan("publish", plan)
    results: dict[int, tuple[Any, str | None]] = {i: (r, None) for i, r in _recorded(settings, plan).items()}
    todo = [i for i in range(len(plan)) if i not in results]
    if todo:
        task = publish.with_options(result_storage=result_storage_for(settings), refresh_cache=refresh,
                                    timeout_seconds=settings.prefect.publish_timeout_s)
        futures = task.map([mosaics[i].stored for i in todo], unmapped(_unwalked(settings)), unmapped(run_id),
                           [plan[i].key for i in todo])
        results.update((i, outcome(f)) for i, f in zip(todo, futures))
    published, failed = [], []
    for i, m in enumerate(mosaics):
        out, reason = results[i]
        if reason is None:
            published.append(out)
        else:
            failed.append(Failure(m.name, "publish", reason))
    return PublishResult(tuple(published), tuple(failed))


# --- one sol, end to end --------------------------------------------------------------------------

@contextlib.contextmanager
def sol_lock(sol: int, settings: Settings, *, flow_name: str) -> Iterator[str]:
    """Hold ``sol`` for one run (its lease in the catalog, :func:`rovercam.catalog.hold_sol`);
    yields the run id the lease names, for the run's :class:`SolReport`.

    Every flow that publishes a sol runs inside this, around everything it reads and writes of
    the sol (fetch included). A second run of the sol, from any process or Prefect server, waits
    up to ``[prefect] sol_lock_timeout_s`` for it, then plans from what this run finished.
    """
    catalog, run_id = catalog_for(settings), uuid.uuid4().hex
    holder = sol_holder(catalog, sol)
    if holder is not None:
        get_run_logger().warning("sol %d: held by %s; waiting up to %g s for it", sol, holder.describe(),
                                 settings.prefect.sol_lock_timeout_s)
    with hold_sol(catalog, sol, run_id=run_id, flow=flow_name, timeout_s=settings.prefect.sol_lock_timeout_s,
                  ttl_s=settings.prefect.sol_lock_ttl_s):
        yield run_id


def run_sol(sol: int, paths: list[str], settings: Settings, *, flow_name: str,
            refresh: set[str] | None = None, report: SolReport | None = None) -> SolReport:
    """Ingest -> calibrate -> stereo -> mosaic -> publish for ``paths``, with the run recorded in the catalog
    and the UI artifacts written. Called from inside a top-level flow.

    A sol whose products, configuration, calibration files and code are all unchanged since a
    completed run (:func:`rovercam.cachekey.sol_key`), and whose published files are all still in
    the store, is not run again: its recorded report is returned (``reused["sol"] == 1``).

    The run is recorded ``failed`` when nothing came of it (:meth:`SolReport.failure`) or when a
    step raised (the error goes on up); otherwise ``completed``, with its failures listed.

    The C allocator is kept from hoarding what the run frees (:mod:`rovercam_flows.memory`): its
    threads share at most ``MALLOC_ARENAS`` arenas, and at the end the free pages go back to the
    operating system; a process that runs sol after sol would otherwise grow.
    """
    limit_malloc_arenas()
    refresh = refresh or set()
    report = report or SolReport(sol=sol)
    catalog = catalog_for(settings)
    before = previous_run(catalog, sol)
    report.start(catalog, flow=flow_name, settings=settings)
    try:
        return _run_stages(sol, paths, settings, refresh, report, before)
    except Exception as exc:  # the run is recorded as failed, the error goes on up
        report.abort(catalog, str(exc) or type(exc).__name__)
        raise
    finally:  # what the run freed goes back to the system (rovercam_flows.memory)
        release_freed_memory()


def _run_stages(sol: int, paths: list[str], settings: Settings, refresh: set[str], report: SolReport,
                before: PreviousRun | None) -> SolReport:
    store, catalog = store_for(settings), catalog_for(settings)
    timed = stage_timer(report.stage_seconds)
    report.products_found = len(paths)
    shas = [cachekey.product_content_sha256(p) for p in paths]
    planner = Planner(settings, store, refresh=refresh, previous=before)
    report.fingerprint = planner.fingerprint(list(zip(paths, shas)))
    whole = planner.sol(sol, list(zip(paths, shas)), failures=len(report.failed))
    if whole.reuse:
        record = json.loads(store.read_bytes(whole.stored))
        report.reuse_run(record)
        timed("unchanged")
        get_run_logger().info("sol %d: unchanged since run %s; nothing to do", sol, record["run_id"])
        return _finish(report, catalog, store)
    get_run_logger().info("sol %d: %s", sol, whole)

    with subflow_settings():
        runner = task_runner_for(settings)
        results = ingest_stage(paths, settings, sol, refresh="ingest" in refresh, shas=shas, previous=before)
        ingested = report.record_ingest(results)
        timed("ingest")

        cal = calibrate_stage.with_options(task_runner=runner)(ingested, settings, sol, refresh="calibrate" in refresh,
                                                               previous=before)
        report.record_calibrate(cal)
        timed("calibrate")

        dems = None
        if settings.stereo_stage.enabled:  # off: no subflow at all (the demo's world at infinity)
            st = stereo_stage(list(cal.frames), dict(cal.keys), settings, sol, report.run_id,
                              refresh="stereo" in refresh, previous=before)
            report.record_stereo(st)
            dems = list(st.dems)
            timed("stereo")

        mos = mosaic_stage(list(cal.frames), dict(cal.keys), ingested, settings, sol, refresh="mosaic" in refresh,
                           previous=before, dems=dems)
        report.record_mosaics(mos)
        timed("mosaic")

        pub = publish_stage(list(mos.mosaics), settings, sol, report.run_id, refresh="publish" in refresh,
                            previous=before)
        report.record_publish(pub)
        timed("publish")

    report.record_products(results, (r.product_id for r in cal.frames))
    if not report.failed:  # only a clean run may stand in for later ones
        folder, name = whole.stored.rsplit("/", 1)
        with store.transaction(folder) as txn:
            txn.put(name, json.dumps(report.to_dict(), default=str).encode())
    return _finish(report, catalog, store)


def _finish(report: SolReport, catalog: Any, store: Any) -> SolReport:
    report.finish(catalog)
    artifacts.sol_artifacts(report, store)
    return report
