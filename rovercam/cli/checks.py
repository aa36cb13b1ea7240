"""Checks of command-line parameters, made before anything starts (a Prefect server, a flow).

A wrong stage, camera, sol or path is reported as one line naming the problem and the valid
choices (for sols and cameras: the ones the catalog holds); ``main`` turns it into exit status 2.
Readers open the storage root and catalog with :func:`open_catalog`, which never creates them.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from rovercam.catalog import Catalog, open_existing
from rovercam.errors import ParameterError

__all__ = ["ParameterError", "sol_number", "storage_overrides", "open_catalog", "check_input",
           "check_stages", "check_reprocess"]


def sol_number(text: str) -> int:
    """``argparse`` type of ``--sol``: a whole number >= 0."""
    try:
        sol = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a sol is a whole number >= 0, got {text!r}") from None
    if sol < 0:
        raise argparse.ArgumentTypeError(f"a sol is a whole number >= 0, got {sol}")
    return sol


def storage_overrides(out: str | None) -> dict[str, Any] | None:
    """Configuration overrides for ``--out`` (the storage root), or None."""
    return {"storage": {"root": str(Path(out).resolve())}} if out else None


def open_catalog(settings: Any) -> Catalog:
    """The catalog of ``settings``, opened for reading (:func:`rovercam.catalog.open_existing`)."""
    return open_existing(settings.catalog_url, settings.storage_root)


def check_input(source: str, sol: int | None = None) -> str:
    """A ``run --input`` source: a URL as given, or an existing local folder, made absolute.

    For a local folder and a given ``sol``, the folder must hold products of that sol (the
    message lists the sols it holds). Remote sources are listed by the flow, not here.
    """
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
    instruments = sorted({r.instrument for r in rows if r.sol == sol and r.instrument})
    unknown = [c for c in cameras or () if not any(i.upper().startswith(c.upper()) for i in instruments)]
    if unknown:
        raise ParameterError(f"--cameras: sol {sol} has no camera {', '.join(map(repr, unknown))}; "
                             f"cameras: {', '.join(instruments)}")


def _ranges(values: Sequence[int]) -> str:
    """Sorted ``[1, 2, 3, 7]`` as ``"1-3, 7"``."""
    spans: list[list[int]] = []
    for v in values:
        if spans and v == spans[-1][1] + 1:
            spans[-1][1] = v
        else:
            spans.append([v, v])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
