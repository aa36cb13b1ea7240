"""Checks of command-line parameters, made before anything starts (a Prefect server, a flow).

A wrong stage, camera, sol or path is reported as one line naming the problem and the valid
choices (for sols and cameras: the ones the catalog holds); ``main`` turns it into exit status 2.
Readers open the storage root and catalog with :func:`open_catalog`, which never creates them.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any, Sequence

from rovercam.catalog import Catalog, open_existing
from rovercam.errors import ParameterError
from rovercam.layout import MAX_SOL
from rovercam.sources import MAX_LATEST_SOLS

__all__ = ["ParameterError", "sol_number", "sol_range", "count", "latest_count", "storage_overrides",
           "open_catalog", "check_input", "check_stages", "check_reprocess"]

#: The most rows a listing returns (``catalog runs --limit``).
MAX_ROWS = 1_000_000


def _whole(text: str, what: str, lo: int, hi: int) -> int:
    """``text`` as a whole number in ``lo..hi``, or an ``argparse`` error naming ``what``."""
    digits = text.strip()
    if len(digits) > 20 or not re.fullmatch(r"[+-]?[0-9]+", digits):  # Python refuses int() of 5000 digits
        raise argparse.ArgumentTypeError(f"{what} is a whole number >= {lo} and <= {hi}, got {text[:40]!r}")
    value = int(digits)
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"{what} is a whole number >= {lo} and <= {hi}, got {value}")
    return value


def sol_number(text: str) -> int:
    """``argparse`` type of ``--sol``: a whole number 0 to :data:`rovercam.layout.MAX_SOL`."""
    return _whole(text, "a sol", 0, MAX_SOL)


def sol_range(text: str) -> tuple[int, int]:
    """``argparse`` type of ``--sols``: ``N`` or ``A-B`` (inclusive, ``A <= B``), sols as :func:`sol_number`."""
    lo, sep, hi = text.strip().partition("-")
    if not lo or (sep and not hi):
        raise argparse.ArgumentTypeError(f"sol range must be N or A-B, got {text[:40]!r}")
    sols = (sol_number(lo), sol_number(hi)) if sep else (sol_number(lo),) * 2
    if sols[0] > sols[1]:
        raise argparse.ArgumentTypeError(f"sol range A-B needs A <= B, got {text!r}")
    return sols


def count(text: str) -> int:
    """``argparse`` type of ``--limit``: a whole number 1 to :data:`MAX_ROWS`."""
    return _whole(text, "a count", 1, MAX_ROWS)


def latest_count(text: str) -> int:
    """``argparse`` type of ``run --latest``: 1 to :data:`rovercam.sources.MAX_LATEST_SOLS`."""
    return _whole(text, "--latest", 1, MAX_LATEST_SOLS)


def storage_overrides(out: str | None) -> dict[str, Any] | None:
    """Configuration overrides for ``--out`` (the storage root), or None."""
    return {"storage": {"root": str(Path(out).resolve())}} if out else None


def open_catalog(settings: Any) -> Catalog:
    """The catalog of ``settings``, opened for reading (:func:`rovercam.catalog.open_existing`)."""
    return open_existing(settings.catalog_url, settings.storage_root)


def check_input(source: str, sol: int | None = None, storage_root: str | None = None) -> str:
    """A ``run --input`` source: a URL as given, or an existing local folder, made absolute.

    The location must be one a run may read (:func:`rovercam.sources.check_source`: no system
    folder, no credentials in a URL, not the storage root nor inside what the pipeline writes).
    For a local folder and a given ``sol``, the folder must hold products of that sol (the
    message lists the sols it holds). Remote sources are listed by the flow, not here.
    """
    from rovercam.sources import check_source

    check_source(source, storage_root)
    if "://" in source:
        return source
    path = Path(source).resolve()
    if not path.is_dir():
        raise ParameterError(f"--input {path}: no such folder")
    if sol is not None:
        from rovercam.sources import open_source

        sols = open_source(str(path)).sols()
        if sol not in sols:
            raise ParameterError(f"--sol {sol}: no products of this sol in {path}; sols: {_ranges(sols) or 'none'}")
    return str(path)


def check_stages(stages: Sequence[str] | None) -> None:
    """Refuse a stage name that is not a pipeline or frame-chain stage."""
    from rovercam.pipeline import CHAIN_STAGES, STAGES

    known = (*STAGES, *CHAIN_STAGES)
    unknown = [s for s in stages or () if s not in known]
    if unknown:
        raise ParameterError(f"--stages: unknown stage {', '.join(map(repr, unknown))}; "
                             f"stages: {', '.join(known)}")


def check_reprocess(settings: Any, sol: int, cameras: Sequence[str] | None,
                    stages: Sequence[str] | None) -> None:
    """Check ``reprocess`` parameters against the catalog: the sol and cameras must exist there.

    Raises
    ------
    ParameterError
        An unknown stage, a sol without ingested products, a camera the sol does not have.
    StorageError, CatalogError
        No storage root or catalog.
    """
    check_stages(stages)
    with open_catalog(settings) as catalog:
        rows = [r for r in catalog.products() if r.state == "ingested"]
        sols = sorted({r.sol for r in rows if r.sol is not None})
        if sol not in sols:
            raise ParameterError(f"--sol {sol}: no ingested products for this sol in {settings.catalog_url}; "
                                 f"sols: {_ranges(sols) or 'none'}")
        from rovercam.pipeline import check_cameras

        try:
            check_cameras(catalog, sol, cameras)
        except ParameterError as exc:
            raise ParameterError(f"--{exc}") from None


def _ranges(values: Sequence[int]) -> str:
    """Sorted ``[1, 2, 3, 7]`` as ``"1-3, 7"``."""
    spans: list[list[int]] = []
    for v in values:
        if spans and v == spans[-1][1] + 1:
            spans[-1][1] = v
        else:
            spans.append([v, v])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
