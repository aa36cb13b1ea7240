"""Ingest: find a sol's products, validate each, record it in the catalog, quarantine the bad.

The one boundary where a bad product stops being an exception: :func:`ingest_one` catches
:class:`~rovercam.errors.ProductError` (and nothing broader; a bug must fail loudly), copies the
offending file into the store's ``quarantine/`` area with its reason, and records the reason in
the catalog. Inputs are never moved or modified.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from rovercam.errors import ProductError
from rovercam.products import Limits, read_product
from rovercam.provenance import sha256_file

__all__ = ["IngestResult", "discover", "ingest_one", "quarantine_key"]

log = logging.getLogger(__name__)

_DATA_SUFFIXES = {".img", ".dat", ".vic"}
_LABEL_SUFFIXES = {".lbl"}


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Outcome of ingesting one product file (small: it crosses Prefect task boundaries)."""

    path: str
    sha256: str
    state: Literal["ingested", "quarantined"]
    product_id: str | None = None
    reason: str | None = None
    sol: int | None = None
    instrument: str | None = None
    product_type: str | None = None
    site: int | None = None
    drive: int | None = None
    sequence_id: str | None = None
    start_time: str | None = None
    quarantine_key: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "ingested"

    def to_dict(self) -> dict:
        return asdict(self)


def discover(input_dir: str | Path) -> list[Path]:
    """Product files under ``input_dir`` (recursive), sorted, one entry per product.

    A detached label (``.LBL``) stands for itself and its data file; an attached-label file
    (``.IMG``) stands alone unless a label of the same stem exists beside it.

    Raises
    ------
    FileNotFoundError
        ``input_dir`` does not exist or is not a folder.
    """
    root = Path(input_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"input folder not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    labels = {(p.parent, p.stem.lower()) for p in files if p.suffix.lower() in _LABEL_SUFFIXES}
    out = []
    for p in files:
        suffix = p.suffix.lower()
        if suffix in _LABEL_SUFFIXES:
            out.append(p)
        elif suffix in _DATA_SUFFIXES and (p.parent, p.stem.lower()) not in labels:
            out.append(p)
    return out


def quarantine_key(sol: int | None, path: str | Path, sha256: str) -> str:
    """Store prefix of a quarantined file: ``quarantine/sol00100/<name>-<sha12>``."""
    sol_part = f"sol{sol:05d}" if sol is not None else "unknown-sol"
    return f"quarantine/{sol_part}/{Path(path).name}-{sha256[:12]}"


def ingest_one(path: str | Path, *, limits: Limits, store, catalog, sol_hint: int | None = None) -> IngestResult:
    """Validate one product and record it; a bad product is quarantined, not raised.

    Parameters
    ----------
    path : path
        A product file (attached label, or detached label next to its data).
    limits : Limits
        Size limits checked before any allocation.
    store : rovercam.storage.Store
        Where quarantined files are preserved.
    catalog : rovercam.catalog.Catalog
    sol_hint : int, optional
        The sol being ingested, used to file quarantined products whose label is unreadable.
    """
    path = Path(path)
    sha = sha256_file(path)
    try:
        product = read_product(path, pixels=True, limits=limits)
    except ProductError as exc:
        reason = str(exc)
        log.warning("quarantined %s", reason)
        prefix = quarantine_key(sol_hint, path, sha)
        with store.transaction(prefix) as txn:
            txn.put(path.name, path)
            txn.put("reason.json", json.dumps({
                "path": str(path), "sha256": sha, "reason": reason, "error": type(exc).__name__,
                "quarantined_at": _dt.datetime.now(_dt.timezone.utc).isoformat(),
            }, indent=2).encode())
        catalog.record_quarantine(str(path), sha, reason, sol=sol_hint)
        return IngestResult(path=str(path), sha256=sha, state="quarantined", reason=reason,
                            sol=sol_hint, quarantine_key=prefix)
    start = product.start_time.isoformat() if product.start_time else None
    catalog.record_product(
        product_id=product.product_id, sol=product.sol, instrument=product.instrument,
        product_type=product.product_type, path=str(path), sha256=sha, state="ingested",
        sclk=product.sclk, start_time=product.start_time,
    )
    log.info("%s: ingested (%s)", product.product_id, path.name)
    return IngestResult(
        path=str(path), sha256=sha, state="ingested", product_id=product.product_id, sol=product.sol,
        instrument=product.instrument, product_type=product.product_type, site=product.site,
        drive=product.drive, sequence_id=product.sequence_id, start_time=start,
    )
