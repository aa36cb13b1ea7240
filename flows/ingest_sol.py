"""The ``ingest-sol`` flow: find new products for a sol (or the latest sols) at a source, fetch them
into the storage root, then ingest -> calibrate -> mosaic -> publish.

The source is a local folder, an S3 prefix (``s3://bucket/prefix``) or an HTTP archive laid out
like a PDS volume or a raw-image feed (see :mod:`rovercam.sources`). Products are fetched into
``<root>/incoming/sol<NNNNN>/`` first, so a sol can be reprocessed later from the store alone.
"""
from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from rovercam.config import load
from rovercam.pipeline import SolReport, with_calibration
from rovercam.sources import source_calibration

from rovercam_flows.console import quiet_expected_tracebacks
from rovercam_flows.liveness import begin_run
from rovercam_flows.parameters import ConfigFile, Latest, Overrides, SolOrLatest, Source
from rovercam_flows.stages import run_sol, sol_lock
from rovercam_tasks._runtime import catalog_for
from rovercam_tasks.fetch import fetch_new, find_sols, incoming_paths


@flow(name="ingest-sol", description="Find new products for a sol at a source, then ingest, calibrate, "
      "mosaic and publish.")
def ingest_sol(source: Source, sol: SolOrLatest = None, latest: Latest = 1, config_file: ConfigFile = None,
               overrides: Overrides = None) -> list[dict[str, Any]]:
    """Process ``sol`` from ``source`` (or the ``latest`` sols the source has, when ``sol`` is None).

    Returns one report per sol (counts, quarantined and failed products with reasons, published
    outputs, timings). A sol whose source has nothing new still runs: everything already done is
    reused, so the reports stay complete.
    """
    quiet_expected_tracebacks()
    begin_run()
    settings = load(config_file, overrides=overrides)
    travelling = source_calibration(source)  # the source's own calibration (a generated sol's) comes first
    settings = with_calibration(settings, travelling)
    if travelling:
        get_run_logger().info("%s: calibration from %s first", source, ", ".join(travelling))
    sols = [sol] if sol is not None else find_sols(source, settings, latest)
    if not sols:
        get_run_logger().warning("%s: no sols found", source)
    reports = []
    for s in sols:
        with sol_lock(s, settings, flow_name="ingest-sol") as run_id:  # one run per sol at a time
            reports.append(_ingest_one(source, s, settings, SolReport(sol=s, run_id=run_id, calibration=travelling)))
    return reports


def _ingest_one(source: str, sol: int, settings: Any, report: SolReport) -> dict[str, Any]:
    """Fetch ``sol`` from ``source``, then run it (``report`` remembers the calibration folders,
    so that reprocessing the sol searches the same ones)."""
    fetch = fetch_new.with_options(timeout_seconds=settings.prefect.fetch_timeout_s)
    try:
        fetched = fetch.submit(source, sol, settings).result()
    except Exception as exc:  # recorded as a failed run of the sol; the error goes on up
        catalog = catalog_for(settings)
        report.start(catalog, flow="ingest-sol", settings=settings)
        report.abort(catalog, f"fetch failed: {exc}")
        raise
    report.fetched = fetched["fetched"]
    report.quarantined += fetched["refused"]
    report.failed += fetched["failed"]
    paths = incoming_paths(sol, settings)
    return run_sol(sol, paths, settings, flow_name="ingest-sol", report=report).to_dict()
