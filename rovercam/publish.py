"""Publish a mosaic: COG + PNG preview + thumbnail + STAC item, atomically, then the catalog row.

Order of effects, and why it is safe to kill at any point::

    encode (memory only) -> store.publish (staged, verified, committed, LATEST written last)
                         -> catalog.record_output (one DB transaction with the lineage)

A reader of the store sees a version only once ``LATEST`` names it; a catalog row never
names files that are not there (storage commits first). A crash between the two leaves a
published version without a catalog row: re-running finds identical content, reuses the
version (nothing written) and records the row. Encoders are deterministic, so identical
mosaics give identical bytes and re-publishing is a no-op.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from rovercam import layout
from rovercam.catalog.db import Catalog
from rovercam.provenance import CalibrationLevel
from rovercam.catalog.stac import item_id, item_to_bytes, mosaic_file_names, mosaic_item
from rovercam.mosaic.model import Mosaic
from rovercam.provenance import sha256_bytes
from rovercam.storage.raster import thumbnail, write_cog, write_png
from rovercam.errors import StorageError
from rovercam.storage.store import PublishedVersion, Store

__all__ = ["publish_mosaic", "PublishedMosaic", "audit_published", "RADIANCE_UNIT"]

log = logging.getLogger(__name__)

#: Unit of mosaic pixel values (linear sRGB radiance).
RADIANCE_UNIT = "W m-2 sr-1 nm-1"


@dataclass(frozen=True, slots=True)
class PublishedMosaic:
    """Where a published mosaic version lives.

    Attributes
    ----------
    output_id : str
        Catalog output id, equal to the STAC item id (``M2020-sol00100-NAME-v2``).
    version : int
    reused : bool
        True when identical content was already the latest version (nothing written).
    cog_key, png_key, thumbnail_key, stac_key : str
        Store keys.
    cog_path, png_path, thumbnail_path, stac_path : Path or None
        Local files for a local store, else None.
    published : PublishedVersion
        The storage record (all keys and sha256s).
    """

    output_id: str
    version: int
    reused: bool
    cog_key: str
    png_key: str
    thumbnail_key: str
    stac_key: str
    cog_path: Path | None
    png_path: Path | None
    thumbnail_path: Path | None
    stac_path: Path | None
    published: PublishedVersion


#: COG band descriptions by band count.
_BAND_DESCRIPTIONS = {1: ("GRAY",), 3: ("R", "G", "B")}


def _display_white(mosaic: Mosaic) -> tuple[float, str]:
    """The radiance shown as preview white and where it comes from: the camera's display white,
    else the :data:`~rovercam.radiometry.WHITE_PERCENTILE` percentile of the mosaic's finite values."""
    from rovercam.radiometry import WHITE_PERCENTILE, percentile_white

    if mosaic.display_white_radiance is not None:
        return float(mosaic.display_white_radiance), "camera"
    try:
        white = percentile_white(mosaic.image, percentile=WHITE_PERCENTILE)
    except ValueError as exc:
        raise ValueError(f"{mosaic.name}: no display white for the previews: {exc}") from None
    return white, f"percentile {WHITE_PERCENTILE:g} of finite values"


def _level_tags(level: CalibrationLevel | None) -> dict[str, str]:
    """CALIBRATION_LEVEL, UNITS, CALIBRATION_MISSING; "unknown" for a mosaic whose frames did not
    come through the frame chain (its provenance has no level)."""
    if level is None:
        return {"CALIBRATION_LEVEL": "unknown", "UNITS": "unknown", "CALIBRATION_MISSING": "unknown"}
    return level.tags()


def _cog_tags(mosaic: Mosaic, white: tuple[float, str]) -> dict[str, str]:
    tags = dict(mosaic.projection.to_tags())
    tags.update(
        MOSAIC_NAME=mosaic.name,
        SOL=str(int(mosaic.sol)),
        INSTRUMENT_ID=mosaic.instrument,
        **_level_tags(mosaic.provenance.level),
        # the radiance shown as display white in the previews (viewers use it for their tiles)
        DISPLAY_WHITE_RADIANCE=repr(white[0]),
        DISPLAY_WHITE_SOURCE=white[1],
        ROVERCAM_PROVENANCE=json.dumps(mosaic.provenance.to_dict(), sort_keys=True),
    )
    if mosaic.start_time is not None:
        tags["START_TIME"] = mosaic.start_time.isoformat()
    if mosaic.stop_time is not None:
        tags["STOP_TIME"] = mosaic.stop_time.isoformat()
    return tags


def _validate(mosaic: Mosaic) -> None:
    image = mosaic.image
    p = mosaic.projection
    if (not isinstance(image, np.ndarray) or image.dtype != np.float32 or image.ndim != 3
            or image.shape[2] not in _BAND_DESCRIPTIONS):
        got = getattr(image, "shape", None), getattr(image, "dtype", None)
        raise ValueError(f"{mosaic.name}: image must be (H, W, 3) or (H, W, 1) float32 radiance, got {got}")
    if image.shape[:2] != (p.height, p.width):
        raise ValueError(
            f"{mosaic.name}: image (H, W) {image.shape[:2]} != projection {(p.height, p.width)}"
        )
    if not mosaic.name or "/" in mosaic.name or "\\" in mosaic.name or mosaic.name.startswith("."):
        raise ValueError(f"mosaic name must be a plain file name, got {mosaic.name!r}")


def publish_mosaic(
    mosaic: Mosaic,
    *,
    store: Store,
    catalog: Catalog,
    run_id: str | None = None,
    mission: str = "M2020",
    thumbnail_side: int = 512,
) -> PublishedMosaic:
    """Encode, publish and catalog one mosaic.

    Parameters
    ----------
    mosaic : Mosaic
        ``image`` (H, W, 3) or (H, W, 1) float32 radiance (W m-2 sr-1 nm-1), NaN where
        uncovered. ``display_white_radiance`` None: previews are scaled by a percentile.
    store : Store
        Files go to ``sol<sol:05d>/mosaics/<name>/v<N>/``.
    catalog : Catalog
        Gets the output row (id = STAC item id) with lineage from ``mosaic.provenance.inputs``.
    run_id : str, optional
        The catalog run that produced it (must exist in ``catalog``).
    mission : str
        Mission id for the STAC item id and platform.
    thumbnail_side : int
        Longest side of the thumbnail, pixels.

    Returns
    -------
    PublishedMosaic

    Raises
    ------
    ValueError
        The mosaic image does not match its projection, is not float32 with 1 or 3 bands, or
        (with no display white) has no positive finite values to scale the previews by.
    StorageError, CatalogError
        Writing failed; nothing partial is visible (see module notes).

    Notes
    -----
    Published files: ``<name>.tif`` (COG, float32, 3 bands or 1, NaN nodata, projection tags,
    ``DISPLAY_WHITE_RADIANCE`` and ``DISPLAY_WHITE_SOURCE`` and the ``ROVERCAM_PROVENANCE`` JSON
    tag), ``<name>_preview.png`` (8-bit sRGB via :func:`rovercam.radiometry.to_display`, RGBA,
    or gray + alpha for a 1-band mosaic; alpha = coverage), ``<name>_thumb.png`` (likewise) and
    ``<name>.stac.json``.
    """
    # Imported here: the radiometry package is large and only the preview needs it.
    from rovercam import radiometry

    _validate(mosaic)
    names = mosaic_file_names(mosaic.name)
    image = mosaic.image
    covered = np.isfinite(image).all(axis=2)
    white = _display_white(mosaic)

    cog = write_cog(
        None,
        image,
        nodata_mask=~covered,
        tags=_cog_tags(mosaic, white),
        band_descriptions=_BAND_DESCRIPTIONS[image.shape[2]],
        units=mosaic.provenance.level.units if mosaic.provenance.level else None,
    )
    display = radiometry.to_display(image, white_radiance=white[0])  # (H, W, 3) or (H, W, 1)
    display[~covered] = 0
    alpha = np.where(covered, 255, 0).astype(np.uint8)
    rgba = np.dstack([display, alpha])  # RGBA, or gray + alpha
    files: dict[str, bytes] = {
        names["data"]: cog,  # bytes: write_cog(None, ...) encodes in memory
        names["overview"]: write_png(rgba),
        names["thumbnail"]: write_png(thumbnail(rgba, max_side=thumbnail_side)),
    }
    data_sha = {name: sha256_bytes(data) for name, data in files.items()}
    prefix = layout.mosaic_prefix(mosaic.sol, mosaic.name)

    def render(version: int) -> dict[str, bytes]:
        # The item names its version, so the store renders it for each candidate version.
        draft = PublishedVersion(prefix, version, {}, dict(data_sha))
        item = mosaic_item(mosaic, draft, assets=names, mission=mission, display_white=white)
        return {names["item"]: item_to_bytes(item)}

    published = store.publish(prefix, files, render=render)

    output_id = item_id(mission, mosaic.sol, mosaic.name, published.version)
    level = mosaic.provenance.level
    catalog.record_output(
        output_id=output_id,
        name=mosaic.name,
        kind="mosaic",
        sol=mosaic.sol,
        instrument=mosaic.instrument,
        version=published.version,
        storage_keys=published.keys,
        stac_key=published.keys[names["item"]],
        lineage=mosaic.provenance.inputs,
        run_id=run_id,
        mission=mission,
        start_time=mosaic.start_time,
        end_time=mosaic.stop_time or mosaic.start_time,
        checksums=published.sha256,
        calibration_level=None if level is None else level.level,
        units=None if level is None else level.units,
    )
    log.info(
        "%s: sol %d %s v%d (%s)", mosaic.name, mosaic.sol, "reused" if published.reused else "published",
        published.version, output_id,
    )
    keys = published.keys
    return PublishedMosaic(
        output_id=output_id,
        version=published.version,
        reused=published.reused,
        cog_key=keys[names["data"]],
        png_key=keys[names["overview"]],
        thumbnail_key=keys[names["thumbnail"]],
        stac_key=keys[names["item"]],
        cog_path=store.local_path(keys[names["data"]]),
        png_path=store.local_path(keys[names["overview"]]),
        thumbnail_path=store.local_path(keys[names["thumbnail"]]),
        stac_path=store.local_path(keys[names["item"]]),
        published=published,
    )


def audit_published(
    store: Store,
    catalog: Catalog | None = None,
    *,
    uncommitted: Literal["ignore", "check"] = "ignore",
) -> list[str]:
    """Every way a partial or inconsistent product is visible in storage or catalog.

    Checks, for every published prefix of ``store``:

    - ``LATEST`` names a committed version, and its checksums are that version's;
    - every committed version (its version record) has all its files, with those sha256s;
    - a STAC item in a version names that version in its id, and each asset's
      ``rovercam:sha256`` matches the file it points to;

    and for every output row of ``catalog``: its version is committed in ``store``, and its
    storage keys and checksums match the stored bytes.

    Parameters
    ----------
    store : Store
    catalog : Catalog, optional
    uncommitted : {"ignore", "check"}
        ``"check"`` also requires version folders *without* a commit record to be complete
        (true on local disk, where a version folder appears by one rename; on object stores a
        killed publisher may leave a partial folder that no reader is pointed to).

    Returns
    -------
    list of str
        One line per problem; empty when everything visible is complete.
    """
    problems: list[str] = []
    committed_by_prefix = {}
    for prefix in store.published_prefixes():
        committed = store.committed_versions(prefix)
        committed_by_prefix[prefix] = committed
        try:
            latest = store.latest(prefix)
        except StorageError as e:
            problems.append(f"{prefix}: {e}")
            latest = None
        if latest is not None and committed.get(latest.version) != latest.sha256:
            problems.append(f"{prefix}: LATEST names v{latest.version}, which is not committed with those files")
        folders = set(store.versions(prefix))
        for version in sorted(folders | set(committed)):
            files = committed.get(version)
            if files is None:
                if uncommitted == "check" and store.list(f"{prefix}/v{version}"):
                    problems.extend(_check_version_folder(store, prefix, version, None))
                continue
            problems.extend(_check_version_folder(store, prefix, version, files))
    if catalog is not None:
        for out in catalog.outputs():
            prefix = out.storage_keys and next(iter(out.storage_keys.values())).rsplit("/", 2)[0]
            committed = committed_by_prefix.get(prefix or "", {})
            if out.version not in committed:
                problems.append(f"catalog {out.output_id}: v{out.version} is not committed in {store!r}")
                continue
            for name, key in out.storage_keys.items():
                if not store.exists(key):
                    problems.append(f"catalog {out.output_id}: {key} is missing")
                elif out.checksums and out.checksums.get(name) != committed[out.version].get(name):
                    problems.append(f"catalog {out.output_id}: checksum of {name} differs from storage")
    return problems


def _check_version_folder(store: Store, prefix: str, version: int, files: dict[str, str] | None) -> list[str]:
    """Problems of one version folder; ``files`` = its commit record (None: judge by its STAC item)."""
    vprefix = f"{prefix}/v{version}"
    present = {k[len(vprefix) + 1:] for k in store.list(vprefix)}
    actual = {name: sha256_bytes(store.read_bytes(f"{vprefix}/{name}")) for name in present}
    problems = []
    if files is not None:
        if actual != files:
            problems.append(f"{vprefix}: files {sorted(actual)} do not match the commit record {sorted(files)}")
    items = [n for n in present if n.endswith(".stac.json")]
    if files is None and not items:
        problems.append(f"{vprefix}: uncommitted folder without a STAC item to check it against")
    for name in items:
        try:
            item = json.loads(store.read_bytes(f"{vprefix}/{name}"))
            item_version = item["id"].rsplit("-v", 1)[1]
            assets = item["assets"]
        except (ValueError, KeyError, IndexError) as e:
            problems.append(f"{vprefix}/{name}: unreadable STAC item ({e})")
            continue
        if item_version != str(version):
            problems.append(f"{vprefix}/{name}: item id {item['id']} names another version")
        expected = {Path(a["href"]).name: a.get("rovercam:sha256") for a in assets.values()}
        if set(expected) | {name} != present:
            problems.append(f"{vprefix}: files {sorted(present)} != item assets {sorted(expected)} + item")
        for fname, digest in expected.items():
            if fname in actual and digest != actual[fname]:
                problems.append(f"{vprefix}/{fname}: sha256 differs from the STAC item's")
    return problems
