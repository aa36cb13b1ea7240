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
from rovercam.pipeline import SolReport
from rovercam.sources import source_calibration

from rovercam_flows.stages import run_sol
from rovercam_tasks.fetch import fetch_new, find_sols, incoming_paths


@flow(name="ingest-sol", description="Find new products for a sol at a source, then ingest, calibrate, "
      "mosaic and publish.")
def ingest_sol(source: str, sol: int | None = None, latest: int = 1, config_file: str | None = None,
               overrides: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Process ``sol`` from ``source`` (or the ``latest`` sols the source has, when ``sol`` is None).

    Returns one report per sol (counts, quarantined and failed products with reasons, published
    outputs, timings). A sol whose source has nothing new still runs: everything already done is
    reused, so the reports stay complete.
    """
    settings = load(config_file, overrides=overrides)
    travelling = [p for p in source_calibration(source) if p not in settings.calibration.search_path]
    if travelling:  # the source's own calibration (a generated sol's) comes first
        settings = settings.with_overrides(
            {"calibration": {"search_path": [*travelling, *settings.calibration.search_path]}})
        get_run_logger().info("%s: calibration from %s first", source, ", ".join(travelling))
    sols = [sol] if sol is not None else find_sols(source, settings, latest)
    if not sols:
        get_run_logger().warning("%s: no sols found", source)
    reports = []
    for s in sols:
        fetch = fetch_new.with_options(timeout_seconds=settings.prefect.fetch_timeout_s)
        fetched = fetch.submit(source, s, settings).result()
        report = SolReport(sol=s, fetched=fetched["fetched"])
        report.quarantined += fetched["refused"]
        report.failed += fetched["failed"]
        paths = incoming_paths(s, settings)
        reports.append(run_sol(s, paths, settings, flow_name="ingest-sol", report=report).to_dict())
    return reports
