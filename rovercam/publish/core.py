"""The one publish path: a named set of files, versioned and atomic in the store, with one STAC item
and one catalog row.

Order of effects, and why it is safe to kill at any point::

    encode (by the kind's module) -> store.publish (staged, verified, committed, LATEST last)
                                  -> catalog.record_output (one DB transaction with the lineage)

A reader of the store sees a version only once ``LATEST`` names it; a catalog row never
names files that are not there (storage commits first). A crash between the two leaves a
published version without a catalog row: re-running finds identical content, reuses the
version (nothing written) and records the row. Encoders are deterministic, so identical
outputs give identical bytes and re-publishing is a no-op.

Every output, whatever its kind, gets from here:

- its store prefix ``sol<sol:05d>/<kind>s/<name>/`` and version folders ``v<N>/``
  (:func:`rovercam.layout.published_prefix`);
- its id ``<mission>-sol<sol:05d>-<name>-v<N>``, the same for the STAC item and the catalog row
  (:func:`rovercam.catalog.stac.item_id`);
- its STAC item ``<name>.stac.json`` (:func:`rovercam.catalog.stac.output_item`): common
  properties, ``rovercam:provenance``, the processing fields, one asset per file with its
  ``file:checksum`` (sha2-256 multihash) and ``file:size``;
- its catalog row: storage keys, checksums of every file (item included), lineage
  (``provenance.inputs``), the run, the time span, and the calibration level and units of
  ``provenance.level`` (None when the values were never calibrated through the frame chain).
"""
from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rovercam import layout
from rovercam.catalog.db import Catalog
from rovercam.catalog.stac import (
    AssetSpec,
    item_file_name,
    item_id,
    item_to_bytes,
    output_item,
)
from rovercam.errors import CatalogError, RovercamError
from rovercam.provenance import Provenance
from rovercam.storage.store import Data, PublishedVersion, Store
from rovercam.storage.transaction import hash_data

__all__ = ["OutputFile", "PublishedProduct", "publish_output", "publish_files", "check_name",
           "COG_MEDIA_TYPE"]

log = logging.getLogger(__name__)

#: Media type of a Cloud-Optimized GeoTIFF.
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One file of an output: its content and how the STAC item describes it.

    Attributes
    ----------
    spec : AssetSpec
        File name in the version folder, roles, media type, title.
    content : bytes, tuple of bytes-like, or Path
        What to write (:data:`rovercam.storage.store.Data`); a Path is a local file, streamed.
    """

    spec: AssetSpec
    content: Data


@dataclass(frozen=True, slots=True)
class PublishedProduct:
    """Where a published output version lives.

    Attributes
    ----------
    output_id : str
        Catalog output id, equal to the STAC item id (``M2020-sol00100-NAME-v1``).
    kind : str
        Catalog output kind (``"mosaic"``, ``"cube"``, ``"sequence"``, ``"ortho"``, ``"event"``,
        ``"contact-sheet"``).
    version : int
    reused : bool
        True when identical content was already the latest version (nothing written).
    keys : dict of str -> str
        STAC asset key (``"data"``, ``"thumbnail"``...) and ``"item"`` -> store key.
    paths : dict of str -> Path or None
        The same keys -> local file (None on object stores).
    published : PublishedVersion
        The storage record (all keys and sha256s).
    """

    output_id: str
    kind: str
    version: int
    reused: bool
    keys: dict[str, str]
    paths: dict[str, Path | None]
    published: PublishedVersion


def check_name(name: str) -> None:
    """Raise :class:`~rovercam.errors.RovercamError` unless ``name`` is a plain file name."""
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise RovercamError(f"product name must be a plain file name, got {name!r}")


def _check_kind(kind: str) -> None:
    if not isinstance(kind, str) or not kind or not kind.replace("-", "").isalnum():
        raise RovercamError(f"output kind must be a plain word, got {kind!r}")


def _size(content: Data) -> int:
    """Bytes of a file's content (bytes, a tuple of bytes-like chunks, or a local Path)."""
    if isinstance(content, Path):
        return content.stat().st_size
    if isinstance(content, tuple):
        return sum(memoryview(c).nbytes for c in content)
    return memoryview(content).nbytes


def _utc(t: _dt.datetime) -> _dt.datetime:
    return t.replace(tzinfo=_dt.timezone.utc) if t.tzinfo is None else t.astimezone(_dt.timezone.utc)


def publish_output(
    files: Mapping[str, OutputFile],
    *,
    kind: str,
    name: str,
    sol: int,
    instrument: str,
    provenance: Provenance,
    start_time: _dt.datetime | None,
    stop_time: _dt.datetime | None = None,
    properties: Mapping[str, Any] | None = None,
    store: Store,
    catalog: Catalog,
    run_id: str | None = None,
    mission: str = "M2020",
    units: str | None = None,
) -> PublishedProduct:
    """Publish encoded files as the next version of an output, with its STAC item, then its row.

    Parameters
    ----------
    files : mapping of str -> OutputFile
        STAC asset key -> file; at least one, distinct file names, none named like the item.
    kind : str
        Catalog output kind, a plain word (hyphens allowed); files go to
        ``sol<sol:05d>/<kind>s/<name>/v<N>/``.
    name : str
        Plain file name of the output.
    sol : int
    instrument : str
        Instrument id (``"NAVCAM_LEFT"``).
    provenance : Provenance
        Lineage (``inputs``), STAC ``rovercam:provenance``, and the row's calibration level and
        units (``level``).
    start_time, stop_time : datetime
        Time span of the inputs (UTC if naive); the STAC ``datetime`` is ``start_time``;
        ``stop_time`` None means ``start_time``.
    properties : mapping, optional
        The kind's own STAC properties (JSON-ready).
    store, catalog
        Where the files and the output row go.
    run_id : str, optional
        The catalog run that produced it (must exist in ``catalog``).
    mission : str
        Mission id for the item id and platform.
    units : str, optional
        The row's units when ``provenance`` has no calibration level (geometry outputs: ``"m"``);
        a calibrated output's units are its level's.

    Returns
    -------
    PublishedProduct
        ``reused=True`` when the same bytes were already the latest version.

    Raises
    ------
    RovercamError
        A bad name or kind, no file, or clashing file names. Nothing is published.
    CatalogError
        No start time, or the stop time before it. Nothing is published.
    StorageError, CatalogError
        Writing failed; nothing partial is visible (module notes).
    """
    check_name(name)
    _check_kind(kind)
    if not files:
        raise RovercamError(f"{name}: nothing to publish")
    item_name = item_file_name(name)
    contents = {f.spec.file_name: f.content for f in files.values()}
    if len(contents) != len(files) or item_name in contents:
        raise RovercamError(f"{name}: file names clash: {sorted(f.spec.file_name for f in files.values())}")
    if start_time is None:
        raise CatalogError(f"{name}: no start_time; a STAC item needs a datetime")
    start = _utc(start_time)
    stop = _utc(stop_time) if stop_time is not None else start
    if stop < start:
        raise CatalogError(f"{name}: stop_time {stop} is before start_time {start}")
    specs = {key: f.spec for key, f in files.items()}
    data_sha = {fname: hash_data(content) for fname, content in contents.items()}
    sizes = {fname: _size(content) for fname, content in contents.items()}

    def render(version: int) -> dict[str, bytes]:
        # The item names its version, so the store renders it for each candidate version.
        item = output_item(mission=mission, sol=sol, instrument=instrument, name=name, version=version,
                           start=start, stop=stop, provenance=provenance, assets=specs, sha256=data_sha,
                           sizes=sizes, properties=properties)
        return {item_name: item_to_bytes(item)}

    published = store.publish(layout.published_prefix(sol, kind, name), contents, render=render)
    output_id = item_id(mission, sol, name, published.version)
    level = provenance.level
    catalog.record_output(
        output_id=output_id, name=name, kind=kind, sol=sol, instrument=instrument,
        version=published.version, storage_keys=published.keys, stac_key=published.keys[item_name],
        lineage=provenance.inputs, run_id=run_id, mission=mission, start_time=start, end_time=stop,
        checksums=published.sha256,
        calibration_level=None if level is None else level.level,
        units=units if level is None else level.units,
    )
    log.info("%s: sol %d %s %s v%d (%s)", name, sol, kind, "reused" if published.reused else "published",
             published.version, output_id)
    keys = {key: published.keys[spec.file_name] for key, spec in specs.items()}
    keys["item"] = published.keys[item_name]
    return PublishedProduct(
        output_id=output_id, kind=kind, version=published.version, reused=published.reused, keys=keys,
        paths={k: store.local_path(v) for k, v in keys.items()}, published=published,
    )


def publish_files(
    files: Mapping[str, tuple[Any, ...]],
    *,
    kind: str,
    name: str,
    sol: int,
    instrument: str,
    store: Store,
    catalog: Catalog,
    provenance: Provenance,
    start_time: _dt.datetime,
    stop_time: _dt.datetime | None = None,
    properties: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    mission: str = "M2020",
    units: str | None = None,
) -> PublishedProduct:
    """Publish already-encoded files of any output kind; the item records ``rovercam:kind``.

    Parameters
    ----------
    files : mapping of str -> (file name, content, roles, media type, title[, fields])
        STAC asset key -> what to write (content: bytes or a local path); ``fields``, a mapping
        of the asset's extension fields (``raster:bands``, ``proj:shape``...).
    kind : str
        Catalog output kind (``"cube"``, ``"ortho"``, ``"event"``, ``"contact-sheet"``...);
        files go to ``sol<sol:05d>/<kind>s/<name>/v<N>/``.
    name, sol, instrument, store, catalog, provenance, start_time, stop_time, run_id, mission, units
        As :func:`publish_output`.
    properties : mapping, optional
        Extra STAC item properties (JSON-ready).

    Returns
    -------
    PublishedProduct
        ``kind`` as given.

    Raises
    ------
    RovercamError
        A bad name or kind, or no file.
    StorageError, CatalogError
        Writing failed; nothing partial is visible.
    """
    check_name(name)
    _check_kind(kind)
    if not files:
        raise RovercamError(f"{name}: nothing to publish")
    out = {key: OutputFile(AssetSpec(f[0], tuple(f[2]), f[3], f[4], dict(f[5]) if len(f) > 5 else {}), f[1])
           for key, f in files.items()}
    return publish_output(
        out, kind=kind, name=name, sol=sol, instrument=instrument, provenance=provenance,
        start_time=start_time, stop_time=stop_time, properties={"rovercam:kind": kind, **(properties or {})},
        store=store, catalog=catalog, run_id=run_id, mission=mission, units=units,
    )
