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
from prefect.artifacts import create_markdown_artifact

from rovercam.config import load
from rovercam.edl.sequence import DOWN_LOOKING
from rovercam.pipeline import Failure, SolReport

from rovercam_flows.stages import calibrate_stage, ingest_stage, outcome, stage_timer, subflow_settings
from rovercam_tasks._runtime import catalog_for
from rovercam_tasks.edl import edl_descent, edl_sequence, find_dem
from rovercam_tasks.ingest import discover_products


@flow(name="process-edl", description="Ingest and calibrate a sol's EDL frames; publish the landing-site "
      "orthomosaic, descent track, videos, contact sheets and events.")
def process_edl(sol: int, input_dir: str, config_file: str | None = None,
                overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Process one sol's EDL imagery; returns its report (:class:`rovercam.pipeline.SolReport`,
    with ``sequences``, ``descents``, ``videos`` and ``dem`` filled)."""
    logger = get_run_logger()
    settings = load(config_file, overrides=overrides)
    report = SolReport(sol=sol, dem=find_dem(input_dir))
    catalog = catalog_for(settings)
    report.start(catalog, flow="process-edl", settings=settings)
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

    instrument_of = {r.product_id: r.instrument or "" for r in ingested}
    sequences: dict[str, list] = {}
    for ref in cal.frames:
        sequences.setdefault(instrument_of[ref.product_id], []).append(ref)
    report.sequences = {k: len(v) for k, v in sorted(sequences.items())}
    futures = []
    for instrument, refs in sorted(sequences.items()):
        if len(refs) < 2:
            logger.info("%s: %d frame, no EDL product", instrument, len(refs))
            continue
        if instrument in DOWN_LOOKING:
            fut = edl_descent.submit(instrument, refs, settings, sol, report.run_id, report.dem)
        else:
            fut = edl_sequence.submit(instrument, refs, settings, sol, report.run_id)
        futures.append((instrument, fut))
    for instrument, fut in futures:
        out, reason = outcome(fut)
        if reason is None:
            (report.descents if instrument in DOWN_LOOKING else report.videos).append(out)
        else:
            report.record_failures([Failure(instrument, "edl", reason)])
            logger.error("%s: EDL products failed: %s", instrument, reason)
    timed("edl")

    report.finish(catalog)
    create_markdown_artifact(key=f"sol-{sol:05d}-edl-summary", markdown=summary_markdown(report),
                             description=f"process-edl summary for sol {sol}")
    return report.to_dict()


def summary_markdown(report: SolReport) -> str:
    """The per-sol EDL summary shown in the Prefect UI."""
    lines = [
        f"# Sol {report.sol}: EDL imagery",
        f"- products found: {report.products_found}; ingested: {len(report.ingested)}; "
        f"quarantined: {len(report.quarantined)}; failed: {len(report.failed)}",
        f"- ground: {'DEM ' + report.dem if report.dem else 'level plane through the touchdown point'}",
        "", "| camera | frames |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in report.sequences.items()],
    ]
    if report.descents:
        lines += ["", "## Orthomosaics", "", "| camera | output | levels (cell m) | frames skipped |",
                  "|---|---|---|---|"]
        for d in report.descents:
            cells = ", ".join(f"{lev['cell_m']:.3g}" for lev in d["levels"])
            lines.append(f"| {d['instrument']} | {d['output_id']} | {cells} | {len(d['skipped'])} |")
    if report.videos:
        lines += ["", "## Videos", "", "| camera | output | frames | events |", "|---|---|---|---|"]
        lines += [f"| {v['instrument']} | {v['video']} | {v['frames']} | {', '.join(v['events']) or '-'} |"
                  for v in report.videos]
    if report.quarantined or report.failed:
        lines += ["", "## Problems", "", "| item | stage | reason |", "|---|---|---|"]
        lines += [f"| {q['path']} | ingest | {q['reason']} |" for q in report.quarantined]
        lines += [f"| {f['product_id']} | {f['stage']} | {f['reason']} |" for f in report.failed]
    lines += ["", "| stage | seconds |", "|---|---|", *[f"| {k} | {v:.2f} |" for k, v in report.stage_seconds.items()]]
    return "\n".join(lines)
