"""The ``process-sol`` flow: ingest -> decompand -> debayer -> flat -> color -> undistort ->
mosaic -> publish, for every product of one sol.

A bad product never fails the sol: ingest quarantines unreadable products, and a product whose
chain fails at any stage is reported with the stage and the reason while the rest go on.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact

import rovercam
from rovercam.config import Settings, load
from rovercam.mosaic.grouping import group_records, mosaic_name

from tasks._runtime import catalog_for
from tasks.color import color
from tasks.debayer import debayer
from tasks.decompand import decompand
from tasks.flat import flat
from tasks.ingest import discover_products, ingest_product
from tasks.mosaic import build_mosaic
from tasks.publish import publish
from tasks.undistort import undistort


@dataclass
class SolReport:
    """What a sol run did (returned by the flow; small and JSON-friendly)."""

    sol: int
    run_id: str = ""
    products_found: int = 0
    ingested: list[str] = field(default_factory=list)
    quarantined: list[dict[str, str]] = field(default_factory=list)
    duplicates: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    published: list[dict[str, Any]] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    storage_root: str = ""

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@task(name="open-run")
def open_run(sol: int, settings: Settings) -> str:
    return catalog_for(settings).start_run(
        flow="process-sol", sol=sol, config_hash=settings.config_hash, software_version=rovercam.__version__
    )


@task(name="close-run")
def close_run(run_id: str, report: dict, settings: Settings) -> None:
    # failed products are listed in the summary; the run itself completed
    catalog_for(settings).finish_run(run_id, status="completed", summary=report)


def _survivors(stage: str, futures, report: SolReport, key=lambda x: x) -> list:
    """Results of a mapped stage; failures are logged and reported, never raised."""
    logger = get_run_logger()
    ok = []
    for item, fut in futures:
        fut.wait()
        state = fut.state
        if state.is_completed():
            ok.append(fut.result())
        else:
            reason = str(fut.result(raise_on_failure=False))
            report.failed.append({"product_id": key(item), "stage": stage, "reason": reason})
            logger.error("%s: %s failed: %s", key(item), stage, reason)
    logger.info("stage %-9s %d ok, %d failed so far", stage, len(ok), len(report.failed))
    return ok


@flow(name="process-sol", description="Ingest, calibrate, mosaic and publish one sol.")
def process_sol(sol: int, input_dir: str, config_file: str | None = None,
                overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    settings = load(config_file, overrides=overrides)
    report = SolReport(sol=sol, storage_root=settings.storage_root)
    report.run_id = open_run(sol, settings)
    clock = time.perf_counter()

    def timed(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        report.stage_seconds[stage] = round(now - clock, 3)
        clock = now

    paths = discover_products(input_dir)
    report.products_found = len(paths)
    results = ingest_product.map(paths, unmapped(settings), unmapped(sol)).result()
    ingested = [r for r in results if r.state == "ingested"]
    report.ingested = [r.product_id for r in ingested]
    report.quarantined = [{"path": r.path, "reason": r.reason} for r in results if r.state == "quarantined"]
    report.duplicates = [{"path": r.path, "duplicate_of": r.duplicate_of} for r in results if r.state == "duplicate"]
    timed("ingest")

    frames = ingested
    pid = lambda x: x.product_id  # noqa: E731  (IngestResult and FrameRef both carry it)
    for stage in (decompand, debayer, flat, color, undistort):
        futures = stage.map(frames, unmapped(settings))
        frames = _survivors(stage.name, list(zip(frames, futures)), report, key=pid)
        timed(stage.name)

    by_id = {r.product_id: r for r in ingested}
    fields = settings.mosaic.group_by
    groups = group_records(frames, fields, describe=lambda ref: by_id[ref.product_id])
    mosaics = []
    for key, refs in groups.items():
        if len(refs) < settings.mosaic.min_frames:
            get_run_logger().info("group %s: %d frame(s), no mosaic", key, len(refs))
            continue
        mosaics.append((mosaic_name(key, fields, settings.mosaic.projection), refs))
    mosaic_futures = [build_mosaic.submit(name, refs, settings, sol) for name, refs in mosaics]
    mosaic_keys = _survivors("mosaic", list(zip([m[0] for m in mosaics], mosaic_futures)), report)
    timed("mosaic")

    published = publish.map(mosaic_keys, unmapped(settings), unmapped(report.run_id))
    report.published = _survivors("publish", list(zip(mosaic_keys, published)), report)
    timed("publish")

    close_run(report.run_id, report.to_dict(), settings)
    create_markdown_artifact(key=f"sol-{sol:05d}-summary", markdown=summary_markdown(report),
                             description=f"process-sol summary for sol {sol}")
    return report.to_dict()


def summary_markdown(report: SolReport) -> str:
    """The per-sol summary shown in the Prefect UI."""
    lines = [
        f"# Sol {report.sol}",
        f"- products found: {report.products_found}; ingested: {len(report.ingested)}; "
        f"quarantined: {len(report.quarantined)}; duplicates skipped: {len(report.duplicates)}; "
        f"failed in the chain: {len(report.failed)}",
        f"- mosaics published: {len(report.published)}",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {k} | {v:.2f} |" for k, v in report.stage_seconds.items()],
    ]
    if report.quarantined or report.failed:
        lines += ["", "## Problems", "", "| product | stage | reason |", "|---|---|---|"]
        lines += [f"| {q['path']} | ingest | {q['reason']} |" for q in report.quarantined]
        lines += [f"| {f['product_id']} | {f['stage']} | {f['reason']} |" for f in report.failed]
    if report.published:
        lines += ["", "## Published", "", "| mosaic | version | COG |", "|---|---|---|"]
        lines += [f"| {p.get('name')} | {p.get('version')} | {p.get('cog_key')} |" for p in report.published]
    return "\n".join(lines)
