"""UI artifacts for the Prefect dashboard: per-sol summary, product table, progress, previews.

Plain functions (not tasks) called from flows; artifact keys are lowercase with dashes, so the
UI groups each sol's artifacts across runs (``sol-00100-summary`` ...).
"""
from __future__ import annotations

import base64
import time
from typing import Any

from prefect.artifacts import (create_image_artifact, create_markdown_artifact, create_progress_artifact,
                               create_table_artifact, update_progress_artifact)


class Progress:
    """A progress artifact (0-100 %) updated as work completes, at most every ``every_s`` seconds
    (and at the end), so a sol of thousands of frames does not make thousands of API calls."""

    def __init__(self, key: str, description: str, *, total: int, done: int = 0, every_s: float = 2.0):
        self.total, self.done, self.every_s = max(total, 1), done, every_s
        self._id = create_progress_artifact(progress=self._pct(), key=key, description=description)
        self._last = time.monotonic()

    def _pct(self) -> float:
        return round(100.0 * self.done / self.total, 1)

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.done >= self.total or now - self._last >= self.every_s:
            update_progress_artifact(self._id, progress=self._pct())
            self._last = now


def summary_markdown(report: Any) -> str:
    """The per-sol summary: counts, timings, problems with reasons, published outputs."""
    reused = ", ".join(f"{k} {v}" for k, v in report.reused.items()) or "none"
    lines = [
        f"# Sol {report.sol} ({report.flow})",
        f"- run {report.status or 'running'}" + (f": {report.reason}" if report.reason else ""),
        f"- products found: {report.products_found}; ingested: {len(report.ingested)}; "
        f"quarantined: {len(report.quarantined)}; duplicates skipped: {len(report.duplicates)}; "
        f"failed: {len(report.failed)}",
        f"- fetched from the source this run: {len(report.fetched)}",
        f"- results reused from earlier runs: {reused}",
        f"- mosaics published: {len(report.published)}",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {k} | {v:.2f} |" for k, v in report.stage_seconds.items()],
    ]
    if report.quarantined or report.failed:
        lines += ["", "## Problems", "", "| product | stage | reason |", "|---|---|---|"]
        lines += [f"| {q['path'].rsplit('/', 1)[-1]} | ingest | {_cell(q['reason'])} |" for q in report.quarantined]
        lines += [f"| {f['product_id']} | {f['stage']} | {_cell(f['reason'])} |" for f in report.failed]
    if report.published:
        lines += ["", "## Published", "", "| mosaic | size | coverage | version | COG |", "|---|---|---|---|---|"]
        lines += [f"| {p.get('name')} | {p.get('width')}x{p.get('height')} | {100 * p.get('coverage', 0):.0f}% "
                  f"| v{p.get('version')}{' (unchanged)' if p.get('reused') else ''} | {p.get('cog_key')} |"
                  for p in report.published]
    stereo, unpaired = getattr(report, "stereo", []), getattr(report, "unpaired", [])
    if stereo or unpaired:
        lines += ["", "## Stereo", "", f"- pairs published: {len(stereo)}; terrains: {len(report.terrain)}; "
                  f"unpaired frames: {len(unpaired)}"]
        lines += ["", "| pair | XYZ | output |", "|---|---|---|"] if stereo else []
        lines += [f"| {p['name']} | {100 * p.get('valid_fraction', 0):.0f}% | {p['output_id']} |" for p in stereo]
        lines += ["", "| unpaired frame | reason |", "|---|---|"] if unpaired else []
        lines += [f"| {u['product_id']} | {_cell(u['reason'])} |" for u in unpaired]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def sol_artifacts(report: Any, store: Any) -> None:
    """Summary, product table and one preview image per published mosaic."""
    sol = report.sol
    create_markdown_artifact(key=f"sol-{sol:05d}-summary", markdown=summary_markdown(report),
                             description=f"{report.flow} summary for sol {sol}")
    if report.products:
        create_table_artifact(key=f"sol-{sol:05d}-products", table=report.products,
                              description=f"products of sol {sol} and what became of each")
    for p in report.published:
        key = p.get("thumbnail_key")
        if not key:
            continue
        url = "data:image/png;base64," + base64.b64encode(store.read_bytes(key)).decode()
        slug = "".join(c if c.isalnum() else "-" for c in str(p["name"]).lower()).strip("-")
        create_image_artifact(image_url=url, key=f"sol-{sol:05d}-{slug}"[:80],
                              description=f"{p['name']} v{p['version']} ({p['width']}x{p['height']})")


def edl_summary_markdown(report: Any) -> str:
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


def edl_artifacts(report: Any) -> None:
    """The per-sol EDL summary artifact."""
    create_markdown_artifact(key=f"sol-{report.sol:05d}-edl-summary", markdown=edl_summary_markdown(report),
                             description=f"process-edl summary for sol {report.sol}")
