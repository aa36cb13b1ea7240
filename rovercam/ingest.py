"""Ingest: find a sol's products, validate each, record it in the catalog, quarantine the bad.

The one boundary where a bad product stops being an exception: :func:`ingest_one` catches
:class:`~rovercam.errors.ProductError` (and nothing broader; a bug must fail loudly), copies the
offending file into the store's ``quarantine/`` area with its reason, and records the reason in
the catalog. Inputs are never moved or modified: they are only opened for reading.

Sources are local folders or fsspec URLs (``s3://bucket/sol00100/``, ``memory://...``). A
remote product's files (label, data file, sidecar) are copied into a private temporary folder
and read there, so the readers' one-folder confinement still holds.

Discovery pairs labels with data files by the rules of :mod:`rovercam.products.files`
(:func:`discover`); content hashes (sha256 of the file a product is ingested from) make re-runs
idempotent and expose duplicates: the same content under a second name is not ingested again but
reported as ``state="duplicate"`` with ``duplicate_of``.
"""
from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import json
import logging
import os
import posixpath
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rovercam import layout
from rovercam.errors import ProductError
from rovercam.products import Limits, read_product
from rovercam.products.files import product_entries, product_members
from rovercam.storage.transaction import hash_data

if TYPE_CHECKING:  # pragma: no cover
    from rovercam.catalog import Catalog
    from rovercam.config import Settings
    from rovercam.storage import Store

__all__ = ["IngestResult", "discover", "ingest_one", "ingest_paths", "quarantine_report", "IngestState"]

log = logging.getLogger(__name__)

IngestState = Literal["ingested", "quarantined", "duplicate"]
Progress = Callable[[int, int, str], None]



@dataclass(frozen=True, slots=True)
class IngestResult:
    """Outcome of ingesting one product file (small: it crosses Prefect task boundaries).

    ``state`` is ``"ingested"``, ``"quarantined"`` (``reason`` and ``quarantine_key`` say why
    and where the file was preserved) or ``"duplicate"`` (same sha256 as ``duplicate_of``,
    which was ingested or quarantined instead; nothing new is recorded).
    """

    path: str
    sha256: str
    state: IngestState
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
    duplicate_of: str | None = None
    #: sha256 over all of the product's files (label + data, image + sidecar), when the caller
    #: computed it (:func:`rovercam.cachekey.product_content_sha256`); cache keys use it.
    content_sha256: str | None = None

    @property
    def ok(self) -> bool:
        """True when the product was ingested by this call."""
        return self.state == "ingested"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------------
# Discovery
def _is_url(source: str | os.PathLike[str]) -> bool:
    return isinstance(source, str) and "://" in source and not source.startswith("file://")


def discover(input_dir: str | os.PathLike[str], *,
             storage_options: dict[str, Any] | None = None) -> list[Any]:
    """Product files under ``input_dir`` (recursive), sorted, one entry per product.

    Per folder (the rules of :mod:`rovercam.products.files`): a detached label (``X.LBL``, MER
    ``x.img.lbl``) or a PDS4 label (``X.xml``) stands for itself and its data file (``X.IMG``/``.DAT``/``.VIC``, names compared
    case-insensitively); a raw-image-site product is its image (``X.png``/``.jpg``) when
    ``X-metadata.json`` is beside it (the sidecar alone when the image is missing); a data file
    no label covers stands alone (attached labels, pure VICAR). Other files (browse JPEGs
    without a sidecar, notes) are not products and are skipped. Hidden files are ignored.

    Parameters
    ----------
    input_dir : path or str
        A local folder, or an fsspec URL prefix (``s3://bucket/sol00100``).
    storage_options : dict, optional, keyword-only
        fsspec options for a URL.

    Returns
    -------
    list of Path (local) or list of str (URLs)

    Raises
    ------
    FileNotFoundError
        ``input_dir`` does not exist or is not a folder.
    """
    if _is_url(input_dir):
        import fsspec

        fs, root = fsspec.core.url_to_fs(str(input_dir), **(storage_options or {}))
        if not fs.isdir(root):
            raise FileNotFoundError(f"input prefix not found: {input_dir}")
        folders: dict[str, list[str]] = {}
        for key in fs.find(root):
            folder, name = posixpath.split(key)
            if not any(part.startswith(".") for part in
                       posixpath.relpath(key, root).split("/")):
                folders.setdefault(folder, []).append(name)
        return sorted(fs.unstrip_protocol(posixpath.join(folder, name))
                      for folder, names in folders.items() for name in product_entries(names))
    root_path = Path(input_dir)
    if not root_path.is_dir():
        raise FileNotFoundError(f"input folder not found: {root_path}")
    out: list[Path] = []
    for folder, dirs, files in os.walk(root_path):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        names = [f for f in files if not f.startswith(".") and os.path.isfile(
            os.path.join(folder, f))]
        out.extend(Path(folder) / name for name in product_entries(names))
    return sorted(out)


# ------------------------------------------------------------------------------------------------
# One product
@contextlib.contextmanager
def _local_copy(source: str, storage_options: dict[str, Any] | None) -> Iterator[Path]:
    """A local path for ``source``: itself when local, else a private copy of it and of the
    other files of its product (its label or data file, its sidecar), removed on exit."""
    if not _is_url(source):
        yield Path(source.removeprefix("file://"))
        return
    import fsspec

    fs, key = fsspec.core.url_to_fs(source, **(storage_options or {}))
    folder, name = posixpath.split(key)
    with tempfile.TemporaryDirectory(prefix="rovercam-ingest-") as tmp:
        files = {posixpath.basename(e["name"].rstrip("/")): e["name"]
                 for e in fs.ls(folder, detail=True) if e.get("type") == "file"}
        for member in product_members(name, list(files)):
            if member in files:
                fs.get_file(files[member], os.path.join(tmp, member))
        local = Path(tmp) / name
        if not local.is_file():
            raise ProductError(source, "no such file")
        yield local


def _duplicate_of(catalog: "Catalog", sha: str, path: str) -> Any:
    """(product_id, path) of a catalogued product with this content under another path, if any."""
    for row in catalog.products(sha256=sha):
        if row.path and row.path != path:
            return row.product_id, row.path
    return None


def _label_sol(path: Path) -> int | None:
    """The sol a refused product's label states, when the label alone reads (to file it)."""
    try:
        return read_product(path, pixels=False).sol
    except ProductError:
        return None


def _quarantine(path: Path, source: str, sha: str, exc: ProductError, *, store: "Store",
                catalog: "Catalog", sol: int | None) -> IngestResult:
    reason = str(exc)
    log.warning("quarantined %s", reason)
    prefix = layout.quarantine_prefix(sol, source, sha)
    with store.transaction(prefix) as txn:
        txn.put(path.name, path)
        txn.put("reason.json", json.dumps({
            "path": source, "sha256": sha, "reason": reason, "error": type(exc).__name__,
            "quarantined_at": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        }, indent=2).encode())
    catalog.record_quarantine(source, sha, reason, sol=sol)
    return IngestResult(path=source, sha256=sha, state="quarantined", reason=reason, sol=sol,
                        quarantine_key=prefix)


def ingest_one(path: str | Path, *, limits: Limits, store: "Store", catalog: "Catalog",
               sol_hint: int | None = None, sha256: str | None = None,
               storage_options: dict[str, Any] | None = None) -> IngestResult:
    """Validate one product and record it; a bad product is quarantined, not raised.

    Parameters
    ----------
    path : path or str
        A product entry as :func:`discover` lists it: local path or fsspec URL.
    limits : Limits, keyword-only
        Size limits checked before any allocation.
    store : rovercam.storage.Store
        Where quarantined files are preserved (a copy; the input stays where it is).
    catalog : rovercam.catalog.Catalog
    sol_hint : int, optional
        The sol being ingested, used to file quarantined products whose label is unreadable.
    sha256 : str, optional
        The file's sha256 when the caller already has it (local files only).
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    IngestResult
        ``"duplicate"`` when the catalog already holds this content under another path.

    Raises
    ------
    rovercam.errors.StorageError, rovercam.errors.CatalogError, OSError
        Infrastructure failures are not the product's fault and propagate.
    """
    source = str(path)
    with _local_copy(source, storage_options) as local:
        if not local.is_file():
            raise ProductError(source, "no such file")
        sha = sha256 if sha256 is not None and not _is_url(source) else hash_data(local)
        dup = _duplicate_of(catalog, sha, source)
        if dup is not None:
            log.info("%s: duplicate of %s (sha256 %s)", source, dup[1], sha[:12])
            return IngestResult(path=source, sha256=sha, state="duplicate", product_id=dup[0],
                                duplicate_of=dup[1], reason=f"same content as {dup[1]}")
        try:
            product = read_product(local, pixels=True, limits=limits)
        except ProductError as exc:
            if _is_url(source):  # name the URL, not the private copy
                exc = copy.copy(exc)
                exc.path, exc.args = source, (source, *exc.args[1:])
            sol = sol_hint if sol_hint is not None else _label_sol(local)
            return _quarantine(local, source, sha, exc, store=store, catalog=catalog, sol=sol)
    start = product.start_time.isoformat() if product.start_time else None
    catalog.record_product(
        product_id=product.product_id, sol=product.sol, instrument=product.instrument,
        product_type=product.product_type, path=source, sha256=sha, state="ingested",
        sclk=product.sclk, start_time=product.start_time,
    )
    log.info("%s: ingested (%s)", product.product_id, posixpath.basename(source))
    return IngestResult(
        path=source, sha256=sha, state="ingested", product_id=product.product_id,
        sol=product.sol, instrument=product.instrument, product_type=product.product_type,
        site=product.site, drive=product.drive, sequence_id=product.sequence_id,
        start_time=start,
    )


# ------------------------------------------------------------------------------------------------
# Many products
def _expand(paths: Iterable[str | os.PathLike[str]], storage_options: dict[str, Any] | None
            ) -> list[str]:
    out: list[str] = []
    for p in paths:
        text = str(p)
        if _is_url(text):
            import fsspec

            fs, key = fsspec.core.url_to_fs(text, **(storage_options or {}))
            out.extend(discover(text, storage_options=storage_options) if fs.isdir(key)
                       else [text])
        elif Path(text).is_dir():
            out.extend(str(x) for x in discover(text))
        else:
            out.append(text)
    return list(dict.fromkeys(out))  # the same path given twice is one input


def ingest_paths(paths: Iterable[str | os.PathLike[str]], *, settings: "Settings",
                 progress: Progress | None = None, sol_hint: int | None = None,
                 storage_options: dict[str, Any] | None = None) -> list[IngestResult]:
    """Ingest files and folders (local or fsspec URLs) into the configured catalog and store.

    Folders are expanded with :func:`discover`. Files with identical content are ingested
    once: the first (in sorted path order) is read; the others come back as ``"duplicate"``
    results naming it. Bad products are quarantined (see :func:`ingest_one`).

    Parameters
    ----------
    paths : iterable of path or str
    settings : rovercam.config.Settings, keyword-only
        Gives the store root, catalog URL and size limits.
    progress : callable (done, total, message), optional, keyword-only
        Called after each product.
    sol_hint : int, optional, keyword-only
        Sol used to file quarantined products whose label is unreadable.
    storage_options : dict, optional, keyword-only
        fsspec options for URLs.

    Returns
    -------
    list of IngestResult
        One per product entry, in input order.
    """
    from rovercam.catalog import Catalog
    from rovercam.storage import Store

    limits = Limits(**settings.limits.model_dump())
    store = Store.from_settings(settings)
    catalog = Catalog(settings.catalog_url)
    entries = _expand(paths, storage_options)
    results: list[IngestResult] = []
    first_by_sha: dict[str, str] = {}
    try:
        for done, entry in enumerate(entries, start=1):
            sha = None
            if not _is_url(entry) and Path(entry).is_file():
                sha = hash_data(Path(entry))
                if sha in first_by_sha:
                    original = first_by_sha[sha]
                    log.info("%s: duplicate of %s (sha256 %s)", entry, original, sha[:12])
                    results.append(IngestResult(path=entry, sha256=sha, state="duplicate",
                                                duplicate_of=original,
                                                reason=f"same content as {original}"))
                    if progress is not None:
                        progress(done, len(entries), f"duplicate {Path(entry).name}")
                    continue
                first_by_sha[sha] = entry
            result = ingest_one(entry, limits=limits, store=store, catalog=catalog,
                                sol_hint=sol_hint, sha256=sha, storage_options=storage_options)
            first_by_sha.setdefault(result.sha256, entry)
            results.append(result)
            if progress is not None:
                progress(done, len(entries), f"{result.state} {posixpath.basename(entry)}")
    finally:
        catalog.close()
    return results


def quarantine_report(catalog: "Catalog", sol: int | None = None) -> list[dict[str, Any]]:
    """Quarantined products with their reasons, for people: one dict per product.

    Parameters
    ----------
    catalog : rovercam.catalog.Catalog
    sol : int, optional
        Only this sol (products whose label was unreadable are filed under the sol hint they
        were ingested with, or none).

    Returns
    -------
    list of dict
        Keys ``path``, ``product_id``, ``sha256``, ``sol``, ``reason``, ``recorded_at`` (ISO
        8601 UTC), ordered by sol and path.
    """
    rows = catalog.products(sol=sol, state="quarantined")
    report = [{"path": r.path or r.product_id, "product_id": r.product_id, "sha256": r.sha256,
               "sol": r.sol, "reason": r.reason,
               "recorded_at": r.recorded_at.isoformat() if r.recorded_at else None}
              for r in rows]
    return sorted(report, key=lambda d: (d["sol"] is None, d["sol"] or 0, d["path"]))
