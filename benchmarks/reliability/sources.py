"""Hostile sources, a part of ``rovercam bench reliability``.

A generated tiny sol is served by :func:`rovercam.testing.hostile_server` (127.0.0.1) as an HTTP
volume and as a raw-image feed, each mixed with every attack of
:data:`rovercam.testing.HOSTILE_CASES` that applies to it: names escaping the staging folder
(``../``, absolute, NUL raw and ``%00``, 300 and 5000 bytes), a ``Content-Length`` shorter and
longer than the body, an endless and a dripping body, redirects to another host and to
``file://``, a gzip ``Content-Encoding`` bomb and a gzip file served as a product, 100 MB labels
(detached with and without a ``Content-Length``, attached without ``END``) and an oversized
metadata sidecar. Then:

1. both sources are fetched with :meth:`rovercam.sources.Source.fetch` into a staging folder;
2. the volume goes through the ``ingest-sol`` flow (Prefect; an ephemeral server when none is
   configured) into a fresh storage root.

The ``[fetch]`` settings of the campaign: ``max_product_bytes`` 64 MiB, ``deadline_s`` 2 s (1 s
quick), ``retries`` 1, ``backoff_s`` 0.05 s; the label limit is the default 4 MiB.

Figures:

- ``hostile_source_cases``: attacks served, counted per source (volume and feed);
- ``hostile_refused``: attacks refused with a reason: in ``FetchResult.refused`` or ``failed``
  (a body shorter than declared, after the retries) or, for the gzip file, refused by the reader
  without expanding it; a volume attack also needs the ``ingest-sol`` report to list it with a
  reason (quarantined or failed). Target: equal to ``hostile_source_cases``;
- ``written_outside_staging``: files or folders created or changed outside the staging folder
  (step 1) or the storage root (step 2), from snapshots of the folder around them. Target 0;
- ``good_products``: good products served (volume and feed); ``good_products_fetched``: of them,
  fetched in step 1; ``good_products_published``: products of the volume ingested
  by the ``ingest-sol`` run, 0 unless it published its mosaics; ``hostile_mosaics_published``;
- ``hostile_fetch_peak_rss_mb``, ``hostile_peak_rss_mb``: the process's peak resident memory
  during step 1, and during the whole campaign (Prefect and the pipeline loaded), from Linux's
  VmHWM reset at the start (the server's threads included); ``hostile_fetch_peak_alloc_mb``: the
  largest Python allocation total during step 1 (tracemalloc): a 100 MB body read whole would
  show in all three;
- ``hostile_fetch_s``, ``hostile_flow_s``: wall time of steps 1 and 2.
"""
from __future__ import annotations

import logging
import re
import resource
import time
import tracemalloc
from pathlib import Path
from typing import Any

__all__ = ["run"]

log = logging.getLogger(__name__)

SOL = 100


def _reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:  # "5": reset VmHWM (Linux >= 4.0)
            f.write("5")
    except OSError:
        pass


def _peak_rss_mb() -> float:
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    except (OSError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fetch_overrides(quick: bool) -> dict[str, Any]:
    return {"max_product_bytes": 64 << 20, "deadline_s": 1.0 if quick else 2.0, "retries": 1,
            "backoff_s": 0.05}


def _fetch_cases(server: Any, watched: Path, settings: Any) -> tuple[dict[tuple[str, str], bool],
                                                                      int, int, float]:
    """Step 1: ({(kind, case): refused with a reason}, good fetched, outside writes, peak MiB)."""
    from rovercam.errors import ProductError
    from rovercam.products import read_product
    from rovercam.sources import display_name, open_source
    from rovercam.testing import outside_writes, tree_snapshot

    refused: dict[tuple[str, str], bool] = {}
    good_ok = outside = 0
    tracemalloc.start()
    try:
        for kind, url in (("volume", server.volume_url), ("feed", server.feed_url)):
            src = open_source(url, kind="http-volume" if kind == "volume" else "feed",
                              settings=settings)
            dest = watched / "staging" / kind
            before = tree_snapshot(watched)
            result = src.fetch(src.list(SOL), dest)
            outside += len(outside_writes(before, tree_snapshot(watched), [dest]))
            problems = {p.name: p.reason for p in (*result.refused, *result.failed)}
            fetched = {p.name: p for p in result.products}
            for case, name in server.listed[kind].items():
                ok = bool(problems.get(display_name(name, 200)))
                if not ok and name in fetched:  # fetched: the reader must refuse it, unexpanded
                    try:
                        read_product(fetched[name].path)
                    except ProductError:
                        ok = Path(fetched[name].path).stat().st_size < 16 << 20
                refused[(kind, case)] = ok
            good_ok += sum(1 for n in server.good[kind] if n in fetched)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return refused, good_ok, outside, peak


def _flow(server: Any, watched: Path, raw: Path, calibration: Path,
          fetch: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Step 2: the ingest-sol report over the hostile volume, and the outside writes."""
    from rovercam_flows.ingest_sol import ingest_sol

    from rovercam.testing import outside_writes, tree_snapshot

    root = watched / "store"
    root.mkdir()
    before = tree_snapshot(watched)
    overrides = {"storage": {"root": str(root)}, "fetch": fetch,
                 "calibration": {"search_path": [str(calibration)]}}
    [report] = ingest_sol(source=server.volume_url, sol=SOL, overrides=overrides)
    return report, len(outside_writes(before, tree_snapshot(watched), [root]))


def _reported(report: dict[str, Any]) -> dict[str, str]:
    """{product name: reason} of everything the ingest-sol report refused or failed."""
    out: dict[str, str] = {}
    for q in report.get("quarantined", []):
        path = str(q.get("path", ""))
        name = path.split(": ", 1)[1] if "://" in path.split(": ", 1)[0] else Path(path).name
        out[name] = str(q.get("reason", ""))
    for f in report.get("failed", []):
        out[str(f.get("product_id", ""))] = str(f.get("reason", ""))
    return out


def run(*, quick: bool = False, workdir: Path) -> dict[str, object]:
    """Serve the hostile sol, fetch it directly and through ``ingest-sol``; the figures above."""
    from rovercam.config import load
    from rovercam.sources import display_name
    from rovercam.synth import generate_sol
    from rovercam.testing import hostile_server

    workdir = Path(workdir)
    gen = workdir / "gen"
    generate_sol(gen, sol=SOL, profile="tiny", seed=3, settings=load(environ={}))
    watched = workdir / "watched"
    watched.mkdir()
    fetch = _fetch_overrides(quick)
    settings = load(environ={}, overrides={"fetch": fetch})
    _reset_peak_rss()
    with hostile_server(gen / "raw", sol=SOL, escape_dir=watched,
                        bomb_bytes=(64 << 20) if quick else (1 << 30)) as server:
        t0 = time.perf_counter()
        refused, good_fetched, outside, alloc_peak = _fetch_cases(server, watched, settings)
        t1 = time.perf_counter()
        fetch_rss = _peak_rss_mb()
        report, outside_flow = _flow(server, watched, gen / "raw", gen / "calibration", fetch)
        t2 = time.perf_counter()
    reported = _reported(report)
    for case, name in server.listed["volume"].items():
        if not reported.get(display_name(name, 200)):
            log.warning("hostile case %s is not in the ingest-sol report", case)
            refused[("volume", case)] = False
    published = report.get("published", [])
    return {
        "hostile_source_cases": len(refused),
        "hostile_refused": sum(refused.values()),
        "hostile_not_refused": ", ".join(f"{k}:{c}" for (k, c), ok in refused.items() if not ok)
        or "-",
        "written_outside_staging": outside + outside_flow,
        "good_products": sum(len(v) for v in server.good.values()),
        "good_products_fetched": good_fetched,
        "good_products_published": len(report.get("ingested", [])) if published else 0,
        "hostile_mosaics_published": len(published),
        "hostile_fetch_peak_rss_mb": round(fetch_rss, 1),
        "hostile_peak_rss_mb": round(_peak_rss_mb(), 1),
        "hostile_fetch_peak_alloc_mb": round(alloc_peak, 1),
        "hostile_fetch_s": round(t1 - t0, 2),
        "hostile_flow_s": round(t2 - t1, 2),
    }
