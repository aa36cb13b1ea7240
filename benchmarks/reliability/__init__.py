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

Each part runs in a fresh Python process of its own (``python -m
rovercam_benchmarks.reliability PART``), so one part's memory, threads and open files cannot
colour the next part's figures (the soak measures growth from its own start), and a part that
dies does not take the campaign with it. A part that raises or dies is reported as
``<part>_error`` and the other parts still run. ``<part>_s`` is each part's wall time. The
targets (docs/reliability.md, "The campaign") are: ``duplicate_rows``,
``lost_versions``, ``written_outside_staging`` and ``catalog_verify_errors`` 0; every hostile
case refused; ``server_kill_recovered`` = ``server_kill_trials``; S3 runs complete at a 10 %
fault rate; ``soak_rss_growth_pct`` < 10.
"""
from __future__ import annotations

import importlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["run", "run_part", "PARTS"]

log = logging.getLogger(__name__)

#: The campaign's parts, in the order they run (module names in this package).
PARTS: tuple[str, ...] = ("parameters", "sources", "storage", "concurrency", "orchestrator", "soak")


def run(*, quick: bool = False, parts: tuple[str, ...] = PARTS, isolate: bool = True) -> dict[str, object]:
    """Run the campaign's ``parts`` and return their figures merged (one flat mapping).

    Parameters
    ----------
    quick : bool
        Smallest sizes of every part (a smoke run; what CI runs).
    parts : tuple of str
        Which parts to run, a subset of :data:`PARTS`.
    isolate : bool
        Run each part in a fresh Python process (the default); False runs them in this one.

    Returns
    -------
    dict
        Every part's figures, plus ``<part>_s`` (wall seconds) and, for a part that raised or
        died, ``<part>_error`` (one line).
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
            result = _in_process(part, quick, workdir) if isolate else run_part(part, quick=quick, workdir=workdir)
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


def run_part(part: str, *, quick: bool, workdir: Path) -> dict[str, Any]:
    """One part's figures, measured in this process."""
    if part not in PARTS:
        raise ValueError(f"unknown reliability part {part!r}; known: {', '.join(PARTS)}")
    return importlib.import_module(f"{__name__}.{part}").run(quick=quick, workdir=workdir)


def _in_process(part: str, quick: bool, workdir: Path) -> dict[str, Any]:
    """:func:`run_part` in a fresh interpreter; its log goes to our stderr, its figures come back
    as one JSON document on its stdout."""
    cmd = [sys.executable, "-m", __name__, part, str(workdir), *(["--quick"] if quick else [])]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {part} part's process ended with status {done.returncode}")
    return json.loads(done.stdout)
