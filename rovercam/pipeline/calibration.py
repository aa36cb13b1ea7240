"""The calibration a sol came with, remembered between runs.

A source may carry its own calibration folder (a generated sol keeps its LUTs, flats and camera
tables in ``<sol>/calibration``; :func:`rovercam.sources.source_calibration`). The run that
ingests the sol searches it first and records it in its report (``SolReport.calibration``, kept
in the catalog's run summary), so that a later ``reprocess-sol`` or ``build-mosaics`` of the same
sol, or ``rovercam reprocess --dry-run``, searches the same folders in the same order and finds
the same files, with no extra settings.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from rovercam.config import Settings

__all__ = ["remembered_calibration", "with_calibration"]


def remembered_calibration(catalog: Any, sol: int, *, limit: int = 200) -> list[str]:
    """The calibration folders the latest run of ``sol`` that recorded any came with.

    Parameters
    ----------
    catalog : rovercam.catalog.Catalog
    sol : int
    limit : int, keyword-only
        How many of the sol's latest runs to look through.

    Returns
    -------
    list of str
        Absolute folder paths in search order; empty when no run recorded any. Folders that no
        longer exist are left out.
    """
    for run in catalog.runs(sol=sol, limit=limit):
        folders = (run.summary or {}).get("calibration") or []
        if folders:
            return [f for f in folders if Path(f).is_dir()]
    return []


def with_calibration(settings: Settings, folders: Sequence[str]) -> Settings:
    """``settings`` with ``folders`` searched first (those already on ``[calibration] search_path``
    keep their place); ``settings`` itself when there is nothing to add."""
    configured = settings.calibration.search_path
    known = {str(Path(p).expanduser().resolve()) for p in configured}
    extra = [f for f in folders if str(Path(f).expanduser().resolve()) not in known]
    if not extra:
        return settings
    return settings.with_overrides({"calibration": {"search_path": [*extra, *configured]}})
