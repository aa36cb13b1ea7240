"""The ``process-edl`` flow: ingest -> calibrate -> EDL products -> publish, for one sol's EDL
imagery.

Ingest and calibration are the pipeline's own subflows (:mod:`rovercam_flows.stages`); then one task per
camera sequence: down-look cameras (RDCAM, LCAM) give the landing-site orthomosaic (COG levels in
a local tangent plane of Mars), the descent track (GeoJSON) and the touchdown event; up-look and
rover-view cameras (PUCAM, RUCAM, DDCAM) give a stabilized MP4, a contact sheet and their
object-in-view events. Flagged frames (black, saturated, blurred) are skipped and reported. A
DEM is used when one is given with the products (``<input_dir>/dem/dem.json`` or
``<input_dir>/../dem/dem.json``), else a level plane through the touchdown point. EDL cameras
missing from the configuration are read from ``cameras/*.toml`` on the calibration search path.
"""
from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from rovercam.config import load
from rovercam.pipeline import Failure, SolReport
from rovercam.pipeline.edl import plan_edl

from rovercam_flows.console import quiet_expected_tracebacks
from rovercam_flows.liveness import begin_run
from rovercam_flows.parameters import ConfigFile, InputDir, Overrides, Sol
from rovercam_flows.stages import calibrate_stage, ingest_stage, outcome, sol_lock, stage_timer, subflow_settings
from rovercam_tasks import artifacts
from rovercam_tasks._runtime import catalog_for
from rovercam_tasks.edl import edl_descent, edl_sequence, find_dem
from rovercam_tasks.ingest import discover_products


@flow(name="process-edl", description="Ingest and calibrate a sol's EDL frames; publish the landing-site "
      "orthomosaic, descent track, videos, contact sheets and events.")
def process_edl(sol: Sol, input_dir: InputDir, config_file: ConfigFile = None,
                overrides: Overrides = None) -> dict[str, Any]:
    """Process one sol's EDL imagery; returns its report (:class:`rovercam.pipeline.SolReport`,
    with ``sequences``, ``descents``, ``videos`` and ``dem`` filled)."""
    quiet_expected_tracebacks()
    begin_run()
    settings = load(config_file, overrides=overrides)
    with sol_lock(sol, settings, flow_name="process-edl") as run_id:  # one run per sol at a time
        report = SolReport(sol=sol, run_id=run_id, dem=find_dem(input_dir))
        catalog = catalog_for(settings)
        report.start(catalog, flow="process-edl", settings=settings)
        try:
            return _process(sol, input_dir, settings, report)
        except Exception as exc:  # the run is recorded as failed, the error goes on up
            report.abort(catalog, str(exc) or type(exc).__name__)
            raise


def _process(sol: int, input_dir: str, settings: Any, report: SolReport) -> dict[str, Any]:
    logger = get_run_logger()
    catalog = catalog_for(settings)
    timed = stage_timer(report.stage_seconds)
    paths = discover_products(input_dir)
    report.products_found = len(paths)
    with subflow_settings():
        ingested = report.record_ingest(ingest_stage(paths, settings, sol))
    timed("ingest")

    with subflow_settings():
        cal = calibrate_stage(ingested, settings, sol)
    report.record_calibrate(cal)
    timed("calibrate")

    sequences = plan_edl(cal.frames, {r.product_id: r.instrument or "" for r in ingested})
    report.sequences = {q.instrument: len(q.frames) for q in sequences}
    futures = []
    for q in sequences:
        if q.product == "descent":
            futures.append((q, edl_descent.submit(q.instrument, list(q.frames), settings, sol, report.run_id,
                                                  report.dem)))
        elif q.product == "sequence":
            futures.append((q, edl_sequence.submit(q.instrument, list(q.frames), settings, sol, report.run_id)))
        else:
            logger.info("%s: %s", q.instrument, q.reason)
    for q, fut in futures:
        out, reason = outcome(fut)
        if reason is None:
            (report.descents if q.product == "descent" else report.videos).append(out)
        else:
            report.record_failures([Failure(q.instrument, "edl", reason)])
            logger.error("%s: EDL products failed: %s", q.instrument, reason)
    timed("edl")

    report.finish(catalog)
    artifacts.edl_artifacts(report)
    return report.to_dict()

