"""Verify a catalog against its storage (``rovercam catalog verify``), read-only.

Both directions are checked:

- every output row of the catalog: its version is committed in the store, each of its files is
  there with the sha256 the row records (``checksums``) and the store's version record holds,
  its STAC item is there and carries the row's id;
- every version published in the store (a committed version record): all of its files and
  nothing else, with their recorded sha256s, ``LATEST`` at a committed version, STAC assets
  agreeing with the bytes (all of this is :func:`rovercam.publish.audit_published`), and a
  catalog row naming it;
- every product row: an ingested product staged inside the storage root is still there with a
  sha256 one of its rows records; a quarantined product has its copy under ``quarantine/``.

Nothing is written or repaired: problems are reported for an operator to act on
(docs/reliability.md, "Verifying a catalog against storage").
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rovercam import layout
from rovercam.catalog.db import Catalog, OutputRecord
from rovercam.publish.audit import audit_published
from rovercam.storage.store import Store
from rovercam.storage.transaction import hash_data

__all__ = ["verify_catalog", "Verification", "Problem"]



@dataclass(frozen=True, slots=True)
class Problem:
    """One disagreement: ``where`` (an output id, store key or product path) and what is wrong."""

    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Verification:
    """What :func:`verify_catalog` checked and found.

    Attributes
    ----------
    outputs : int
        Catalog output rows checked.
    files : int
        Published files checked against their sha256 (every file of every committed version).
    products : int
        Product rows checked.
    problems : list of Problem
        Empty when catalog and storage agree.
    """

    outputs: int
    files: int
    products: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary: the counts and every problem as ``{"where", "problem"}``."""
        return {"ok": self.ok, "outputs": self.outputs, "files": self.files, "products": self.products,
                "problems": [{"where": p.where, "problem": p.problem} for p in self.problems]}


def _prefix_version(out: OutputRecord) -> tuple[str, int] | None:
    """The store prefix and version a row's files lie in (``<prefix>/v<N>/<name>``), or None."""
    for key in out.storage_keys.values():
        prefix, folder, _ = key.rsplit("/", 2) if key.count("/") >= 2 else ("", "", "")
        if folder == f"v{out.version}":
            return prefix, out.version
    return None


def _stac_problems(store: Store, out: OutputRecord) -> list[Problem]:
    """The row's STAC item: recorded, stored, readable, with the row's id."""
    if not out.stac_key:
        return [Problem(out.output_id, "no STAC item recorded")]
    if not store.exists(out.stac_key):
        return [Problem(out.output_id, f"STAC item {out.stac_key} is missing")]
    try:
        item_id = json.loads(store.read_bytes(out.stac_key))["id"]
    except (ValueError, KeyError, TypeError) as exc:
        return [Problem(out.output_id, f"STAC item {out.stac_key} is unreadable ({exc})")]
    if item_id != out.output_id:
        return [Problem(out.output_id, f"STAC item {out.stac_key} has id {item_id!r}")]
    return []


def _product_problems(catalog: Catalog, store: Store) -> tuple[int, list[Problem]]:
    """Product rows against the files they name inside the storage root."""
    rows = catalog.products()
    root = Path(store.root) if store.is_local else None
    problems: list[Problem] = []
    shas: dict[str, set[str]] = {}
    for r in rows:
        if r.state == "quarantined":
            prefix = layout.quarantine_prefix(r.sol, r.path or r.product_id, r.sha256)
            if not store.list(prefix):
                problems.append(Problem(r.path or r.product_id, f"quarantined, but {prefix}/ holds no copy"))
        elif r.path and root is not None and Path(r.path).is_relative_to(root):
            shas.setdefault(r.path, set()).add(r.sha256)
    for path, recorded in sorted(shas.items()):
        p = Path(path)
        if not p.is_file():
            problems.append(Problem(path, "ingested product file is missing from the storage root"))
        elif hash_data(p) not in recorded:
            problems.append(Problem(path, "ingested product file's sha256 is none of its catalog rows'"))
    return len(rows), problems


def verify_catalog(store: Store, catalog: Catalog, *, products: bool = True) -> Verification:
    """Check that ``catalog`` and ``store`` describe the same published outputs (module notes).

    Parameters
    ----------
    store : Store
        The storage root the catalog's keys are relative to.
    catalog : Catalog
    products : bool, keyword-only
        Also check the product rows (reads every staged product file once).

    Returns
    -------
    Verification
        Counts and problems; ``.ok`` when they agree.

    Examples
    --------
    >>> report = verify_catalog(store, catalog)  # doctest: +SKIP
    >>> report.ok, report.outputs, report.files  # doctest: +SKIP
    (True, 2, 6)
    """
    problems = [Problem(*line.split(": ", 1)) if ": " in line else Problem("", line)
                for line in audit_published(store, catalog)]
    outputs = catalog.outputs()
    cataloged: set[tuple[str, int]] = set()
    for out in outputs:
        where = _prefix_version(out)
        if where is None:
            problems.append(Problem(out.output_id, f"storage keys name no v{out.version}/ folder"))
        else:
            cataloged.add(where)
        problems.extend(_stac_problems(store, out))
        missing = sorted(set(out.storage_keys) - set(out.checksums))
        if out.checksums and missing:
            problems.append(Problem(out.output_id, f"no checksum recorded for {', '.join(missing)}"))
    files = 0
    for prefix in store.published_prefixes():
        for version, names in store.committed_versions(prefix).items():
            files += len(names)
            if (prefix, version) not in cataloged:
                problems.append(Problem(f"{prefix}/v{version}", "published version has no catalog row"))
    n_products = 0
    if products:
        n_products, found = _product_problems(catalog, store)
        problems.extend(found)
    return Verification(len(outputs), files, n_products, problems)
