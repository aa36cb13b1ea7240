"""``rovercam bench reliability``: the reliability campaign (faults, concurrency, hostile input).

The campaign runs its parts one after another, each in its own temporary folder, and merges
their figures into one flat mapping. Every part injects something operations will meet and
measures what rovercam left behind:

=================  ===========================================================================
part               what it does (figures: the part module's docstring)
=================  ===========================================================================
``concurrency``    two runs of the same sol at once (scheduled ``ingest-sol`` and a forced
                   ``reprocess-sol``), on SQLite and on PostgreSQL when a server can be started
``orchestrator``   the Prefect server, then the flow-run process, killed mid-sol; reruns
``storage``        S3 answering 500/503 and timing out on a fraction of requests; a full disk
``sources``        a hostile HTTP source (escaping names, lying lengths, endless bodies,
                   redirects, gzip bombs, a 100 MB label) mixed with good products
``parameters``     hostile flow and CLI parameters; injection into catalog search and viewer
``soak``           many generated sols through ``ingest-sol`` in one process; leaks, then
                   ``rovercam catalog verify``
=================  ===========================================================================

``quick=True`` runs every part at its smallest size (what CI can afford: one or two trials, a
few soak sols); the full run is the benchmark (>= 5 kill trials, 30 soak sols).

A part that raises does not stop the campaign: its exception is reported as
``<part>_error`` and the other parts still run. ``<part>_s`` is each part's wall time. The
targets (docs/operations.md, "Reliability campaign") are: ``duplicate_rows``,
``lost_versions``, ``written_outside_staging`` and ``catalog_verify_errors`` 0; every hostile
case refused; ``server_kill_recovered`` = ``server_kill_trials``; S3 runs complete at a 10 %
fault rate; ``soak_rss_growth_pct`` < 10.
"""
from __future__ import annotations

import importlib
import logging
import shutil
import tempfile
import time
from pathlib import Path

__all__ = ["run", "PARTS"]

log = logging.getLogger(__name__)

#: The campaign's parts, in the order they run (module names in this package).
PARTS: tuple[str, ...] = ("parameters", "sources", "storage", "concurrency", "orchestrator", "soak")


def run(*, quick: bool = False, parts: tuple[str, ...] = PARTS) -> dict[str, object]:
    """Run the campaign's ``parts`` and return their figures merged (one flat mapping).

    Parameters
    ----------
    quick : bool
        Smallest sizes of every part (a smoke run; what CI runs).
    parts : tuple of str
        Which parts to run, a subset of :data:`PARTS`.

    Returns
    -------
    dict
        Every part's figures, plus ``<part>_s`` (wall seconds) and, for a part that raised,
        ``<part>_error`` (the exception, one line).
    """
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"unknown reliability parts {unknown}; known: {', '.join(PARTS)}")
    figures: dict[str, object] = {"quick": quick}
    for part in parts:
        workdir = Path(tempfile.mkdtemp(prefix=f"rovercam-reliability-{part}-"))
        started = time.perf_counter()
        log.info("reliability: %s", part)
        try:
            module = importlib.import_module(f"{__name__}.{part}")
            result = module.run(quick=quick, workdir=workdir)
            clash = sorted(set(result) & set(figures))
            if clash:
                raise RuntimeError(f"figure names already reported by another part: {clash}")
            figures.update(result)
        except Exception as exc:  # reported, and the campaign goes on
            log.exception("reliability part %s failed", part)
            figures[f"{part}_error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        finally:
            figures[f"{part}_s"] = round(time.perf_counter() - started, 2)
            shutil.rmtree(workdir, ignore_errors=True)
    return figures
