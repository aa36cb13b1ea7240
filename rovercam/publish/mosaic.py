"""Publish a mosaic: COG + PNG preview + thumbnail, encoded in memory, then published with its
STAC item and catalog row by :func:`rovercam.publish.core.publish_output` (order of effects and
crash safety there).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rovercam.catalog.db import Catalog
from rovercam.catalog.stac import mosaic_assets, mosaic_file_names, mosaic_properties
from rovercam.mosaic.model import Mosaic
from rovercam.provenance import CalibrationLevel
from rovercam.publish.core import OutputFile, publish_output
from rovercam.storage.raster import thumbnail, write_cog, write_png
from rovercam.storage.store import PublishedVersion, Store

__all__ = ["publish_mosaic", "PublishedMosaic", "RADIANCE_UNIT"]

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
    CatalogError
        The mosaic has no start time (a STAC item needs a datetime).
    StorageError, CatalogError
        Writing failed; nothing partial is visible (:mod:`rovercam.publish.core`).

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
        transform=mosaic.projection.geotransform,  # az/el degrees for az/el grids, else None
    )
    display = radiometry.to_display(image, white_radiance=white[0])  # (H, W, 3) or (H, W, 1)
    display[~covered] = 0
    alpha = np.where(covered, 255, 0).astype(np.uint8)
    rgba = np.dstack([display, alpha])  # RGBA, or gray + alpha
    contents = {
        "data": cog,  # bytes: write_cog(None, ...) encodes in memory
        "overview": write_png(rgba),
        "thumbnail": write_png(thumbnail(rgba, max_side=thumbnail_side)),
    }
    files = {key: OutputFile(spec, contents[key]) for key, spec in mosaic_assets(names, mosaic).items()}
    out = publish_output(
        files, kind="mosaic", name=mosaic.name, sol=mosaic.sol, instrument=mosaic.instrument,
        provenance=mosaic.provenance, start_time=mosaic.start_time, stop_time=mosaic.stop_time,
        properties=mosaic_properties(mosaic, display_white=white), store=store, catalog=catalog,
        run_id=run_id, mission=mission,
    )
    keys, paths = out.keys, out.paths
    return PublishedMosaic(
        output_id=out.output_id,
        version=out.version,
        reused=out.reused,
        cog_key=keys["data"],
        png_key=keys["overview"],
        thumbnail_key=keys["thumbnail"],
        stac_key=keys["item"],
        cog_path=paths["data"],
        png_path=paths["overview"],
        thumbnail_path=paths["thumbnail"],
        stac_path=paths["item"],
        published=out.published,
    )
