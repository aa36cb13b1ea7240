"""Publish multispectral cubes (NetCDF) and image sequences (MP4 + thumbnail) with their STAC
items, atomically, then their catalog rows. Same order of effects and crash safety as
:mod:`rovercam.publish` (storage commits first, the catalog row last; deterministic encoders make
re-publishing identical content a no-op that reuses the version).

Store layout: ``sol<sol:05d>/cubes/<name>/v<N>/`` and ``sol<sol:05d>/sequences/<name>/v<N>/``.
Every file of a version is an asset of its STAC item (what :func:`rovercam.publish.audit_published`
checks).
"""
from __future__ import annotations

import datetime as _dt
import itertools
import logging
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pystac

from rovercam import layout
from rovercam.catalog.db import Catalog
from rovercam.catalog.stac import PLATFORMS, item_id, item_to_bytes, provenance_properties
from rovercam.errors import CatalogError, RovercamError
from rovercam.provenance import Provenance, sha256_bytes, sha256_file
from rovercam.storage.raster import thumbnail, write_png
from rovercam.storage.store import Data, PublishedVersion, Store

if TYPE_CHECKING:
    import xarray

__all__ = ["publish_cube", "publish_sequence", "publish_files", "publish_ortho", "PublishedProduct",
           "NETCDF_MEDIA_TYPE", "MP4_MEDIA_TYPE", "GEOJSON_MEDIA_TYPE", "COG_MEDIA_TYPE"]

log = logging.getLogger(__name__)

#: Media type of NetCDF files (the one STAC's best-practices list for NetCDF).
NETCDF_MEDIA_TYPE = "application/x-netcdf"
#: Media type of MP4 video.
MP4_MEDIA_TYPE = "video/mp4"


@dataclass(frozen=True, slots=True)
class PublishedProduct:
    """Where a published cube or sequence version lives.

    Attributes
    ----------
    output_id : str
        Catalog output id, equal to the STAC item id (``M2020-sol00100-NAME-v1``).
    kind : {"cube", "sequence"}
    version : int
    reused : bool
        True when identical content was already the latest version (nothing written).
    keys : dict of str -> str
        STAC asset key (``"data"``, ``"thumbnail"``) and ``"item"`` -> store key.
    paths : dict of str -> Path or None
        The same keys -> local file (None on object stores).
    published : PublishedVersion
        The storage record (all keys and sha256s).
    """

    output_id: str
    kind: Literal["cube", "sequence"]
    version: int
    reused: bool
    keys: dict[str, str]
    paths: dict[str, Path | None]
    published: PublishedVersion


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise RovercamError(f"product name must be a plain file name, got {name!r}")


def _utc(t: _dt.datetime) -> _dt.datetime:
    return t.replace(tzinfo=_dt.timezone.utc) if t.tzinfo is None else t.astimezone(_dt.timezone.utc)


def _publish_product(
    *,
    kind: Literal["cube", "sequence"],
    name: str,
    sol: int,
    instrument: str,
    files: Mapping[str, tuple[str, Data, list[str], str, str]],
    properties: Mapping[str, Any],
    store: Store,
    catalog: Catalog,
    provenance: Provenance,
    start_time: _dt.datetime,
    stop_time: _dt.datetime | None,
    run_id: str | None,
    mission: str,
) -> PublishedProduct:
    """Publish encoded files plus their STAC item, then record the catalog row.

    ``files``: asset key -> (file name, content, roles, media type, title).
    """
    start = _utc(start_time)
    stop = _utc(stop_time) if stop_time is not None else start
    if stop < start:
        raise CatalogError(f"{name}: stop_time {stop} is before start_time {start}")
    prefix = layout.published_prefix(sol, kind, name)
    item_name = f"{name}.stac.json"
    data_sha = {fname: _sha(content) for fname, content, *_ in files.values()}

    def render(version: int) -> dict[str, bytes]:
        props: dict[str, Any] = {
            "start_datetime": pystac.utils.datetime_to_str(start),
            "end_datetime": pystac.utils.datetime_to_str(stop),
            "mission": mission,
            "instruments": [instrument.lower()],
            "rovercam:sol": int(sol),
            "rovercam:instrument": instrument,
            "rovercam:name": name,
            "rovercam:kind": kind,
            "rovercam:version": int(version),
            **properties,
            "rovercam:provenance": provenance_properties(provenance),
        }
        if mission in PLATFORMS:
            props["platform"] = PLATFORMS[mission]
        item = pystac.Item(id=item_id(mission, sol, name, version), geometry=None, bbox=None,
                           datetime=start, properties=props)
        for key, (fname, _, roles, media_type, title) in files.items():
            item.add_asset(key, pystac.Asset(href=f"./{fname}", media_type=media_type, roles=list(roles),
                                             title=title, extra_fields={"rovercam:sha256": data_sha[fname]}))
        return {item_name: item_to_bytes(item)}

    published = store.publish(prefix, {fname: content for fname, content, *_ in files.values()}, render=render)
    output_id = item_id(mission, sol, name, published.version)
    catalog.record_output(
        output_id=output_id, name=name, kind=kind, sol=sol, instrument=instrument,
        version=published.version, storage_keys=published.keys, stac_key=published.keys[item_name],
        lineage=provenance.inputs, run_id=run_id, mission=mission, start_time=start, end_time=stop,
        checksums=published.sha256,
    )
    log.info("%s: sol %d %s %s v%d (%s)", name, sol, kind, "reused" if published.reused else "published",
             published.version, output_id)
    keys = {key: published.keys[fname] for key, (fname, *_) in files.items()}
    keys["item"] = published.keys[item_name]
    return PublishedProduct(
        output_id=output_id, kind=kind, version=published.version, reused=published.reused, keys=keys,
        paths={k: store.local_path(v) for k, v in keys.items()}, published=published,
    )


def _sha(content: Data) -> str:
    return sha256_bytes(content) if isinstance(content, bytes) else sha256_file(content)


def publish_cube(
    ds: "xarray.Dataset",
    *,
    name: str,
    sol: int,
    instrument: str,
    store: Store,
    catalog: Catalog,
    provenance: Provenance,
    start_time: _dt.datetime,
    stop_time: _dt.datetime | None = None,
    run_id: str | None = None,
    mission: str = "M2020",
) -> PublishedProduct:
    """Publish a multispectral cube as NetCDF with its STAC item, then its catalog row.

    Parameters
    ----------
    ds : xarray.Dataset
        The cube (e.g. :func:`rovercam.radiometry.cube.build_cube`), at least one data variable.
    name : str
        Plain file name; files go to ``sol<sol:05d>/cubes/<name>/v<N>/``: ``<name>.nc``
        (asset ``data``, ``application/x-netcdf``) and ``<name>.stac.json``.
    sol : int
    instrument : str
        Instrument id (``"MCZ_LEFT"``).
    store, catalog
        Where files and the output row (kind ``"cube"``, lineage ``provenance.inputs``) go.
    provenance : Provenance
    start_time, stop_time : datetime
        Time span of the inputs (UTC if naive); the STAC ``datetime`` is ``start_time``.
    run_id : str, optional
        The catalog run that produced it.
    mission : str

    Returns
    -------
    PublishedProduct
        ``reused=True`` when the same bytes were already the latest version.

    Raises
    ------
    RovercamError
        Not a Dataset, no data variables, a bad name, or the cube cannot be written as NetCDF-3
        (e.g. 64-bit integers). Nothing is published.
    StorageError, CatalogError
        Writing failed; nothing partial is visible (see module notes).

    Notes
    -----
    NetCDF goes through :func:`rovercam.radiometry.cube.write_cube`; with the scipy engine
    (NetCDF-3) the bytes depend on the content only (no timestamps), so re-publishing the same
    cube reuses its version.
    """
    import xarray as xr

    from rovercam.radiometry.cube import write_cube

    _check_name(name)
    if not isinstance(ds, xr.Dataset) or not ds.data_vars or any(v.size == 0 for v in ds.data_vars.values()):
        raise RovercamError(f"{name}: a cube must be an xarray.Dataset with non-empty data variables")
    with tempfile.TemporaryDirectory(prefix="rovercam-cube-") as tmp:
        path = Path(tmp) / f"{name}.nc"
        try:
            write_cube(ds, path)
        except (ValueError, TypeError) as e:
            raise RovercamError(f"{name}: cannot write the cube as NetCDF: {e}") from e
        properties: dict[str, Any] = {
            "rovercam:dims": {str(k): int(v) for k, v in ds.sizes.items()},
            "rovercam:variables": sorted(str(v) for v in ds.data_vars),
        }
        if "band" in ds.coords:
            properties["rovercam:bands"] = [str(b) for b in ds["band"].values]
        if "wavelength_nm" in ds.coords:
            properties["rovercam:wavelength_nm"] = [float(w) for w in ds["wavelength_nm"].values]
        files = {"data": (path.name, path, ["data"], NETCDF_MEDIA_TYPE, "Multispectral cube (NetCDF)")}
        return _publish_product(
            kind="cube", name=name, sol=sol, instrument=instrument, files=files, properties=properties,
            store=store, catalog=catalog, provenance=provenance, start_time=start_time,
            stop_time=stop_time, run_id=run_id, mission=mission,
        )


def publish_sequence(
    frames: Iterable[np.ndarray],
    *,
    name: str,
    sol: int,
    instrument: str,
    fps: float,
    store: Store,
    catalog: Catalog,
    provenance: Provenance,
    start_time: _dt.datetime,
    stop_time: _dt.datetime | None = None,
    run_id: str | None = None,
    mission: str = "M2020",
    thumbnail_side: int = 512,
) -> PublishedProduct:
    """Publish an image sequence as MP4 plus a PNG thumbnail of its first frame, then its row.

    Parameters
    ----------
    frames : iterable of (H, W, 3) uint8
        RGB display frames, same size, H and W even (see :func:`rovercam.storage.video.write_mp4`).
    name : str
        Plain file name; files go to ``sol<sol:05d>/sequences/<name>/v<N>/``: ``<name>.mp4``
        (asset ``data``, ``video/mp4``), ``<name>_thumb.png`` (``thumbnail``), ``<name>.stac.json``.
    sol, instrument, store, catalog, provenance, start_time, stop_time, run_id, mission
        As :func:`publish_cube`; the catalog row has kind ``"sequence"``.
    fps : float
        Frame rate, frames per second.
    thumbnail_side : int
        Longest side of the thumbnail, pixels.

    Returns
    -------
    PublishedProduct

    Raises
    ------
    RovercamError
        No frames, a frame not (H, W, 3) uint8, odd or mismatched sizes, fps <= 0. Nothing is
        published (every frame is encoded before the store is touched).
    StorageError, CatalogError
        Encoding or writing failed; nothing partial is visible.
    """
    from rovercam.storage.video import MP4_FOURCC, write_mp4

    _check_name(name)
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise RovercamError(f"{name}: a sequence needs at least one frame")
    count = 0

    def counted() -> Iterator[np.ndarray]:
        nonlocal count
        for frame in itertools.chain([first], it):
            count += 1
            yield frame

    with tempfile.TemporaryDirectory(prefix="rovercam-video-") as tmp:
        path = write_mp4(counted(), Path(tmp) / f"{name}.mp4", fps=fps)
        thumb = write_png(thumbnail(first, max_side=thumbnail_side))
        h, w = first.shape[:2]
        properties = {"rovercam:frames": count, "rovercam:fps": float(fps), "rovercam:size": [int(w), int(h)],
                      "rovercam:codec": MP4_FOURCC}
        files = {
            "data": (path.name, path, ["data"], MP4_MEDIA_TYPE, f"Image sequence (MP4, {MP4_FOURCC})"),
            "thumbnail": (f"{name}_thumb.png", thumb, ["thumbnail"], pystac.MediaType.PNG,
                          "Thumbnail (first frame)"),
        }
        return _publish_product(
            kind="sequence", name=name, sol=sol, instrument=instrument, files=files, properties=properties,
            store=store, catalog=catalog, provenance=provenance, start_time=start_time,
            stop_time=stop_time, run_id=run_id, mission=mission,
        )


#: Media type of GeoJSON (RFC 7946).
GEOJSON_MEDIA_TYPE = "application/geo+json"
#: Media type of a Cloud-Optimized GeoTIFF.
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


def publish_files(
    files: Mapping[str, tuple[str, Data, list[str], str, str]],
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
) -> PublishedProduct:
    """Publish already-encoded files of any output kind with their STAC item, then the row.

    Parameters
    ----------
    files : mapping of str -> (file name, content, roles, media type, title)
        STAC asset key -> what to write (content: bytes or a local path).
    kind : str
        Catalog output kind (``"ortho"``, ``"event"``, ``"contact-sheet"``...); files go to
        ``sol<sol:05d>/<kind>s/<name>/v<N>/``.
    name, sol, instrument, store, catalog, provenance, start_time, stop_time, run_id, mission
        As :func:`publish_cube`.
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
    _check_name(name)
    if not isinstance(kind, str) or not kind or not kind.replace("-", "").isalnum():
        raise RovercamError(f"output kind must be a plain word, got {kind!r}")
    if not files:
        raise RovercamError(f"{name}: nothing to publish")
    return _publish_product(
        kind=kind, name=name, sol=sol, instrument=instrument, files=files,  # type: ignore[arg-type]
        properties=dict(properties or {}), store=store, catalog=catalog, provenance=provenance,
        start_time=start_time, stop_time=stop_time, run_id=run_id, mission=mission,
    )


def publish_ortho(
    levels: Iterable[tuple[np.ndarray, Any]],
    *,
    name: str,
    sol: int,
    instrument: str,
    crs: str,
    store: Store,
    catalog: Catalog,
    provenance: Provenance,
    start_time: _dt.datetime,
    stop_time: _dt.datetime | None = None,
    track_geojson: str | None = None,
    level_properties: Iterable[Mapping[str, Any]] | None = None,
    run_id: str | None = None,
    mission: str = "M2020",
    units: str | None = None,
) -> PublishedProduct:
    """Publish a georeferenced orthomosaic (one COG per resolution level), its descent track
    (GeoJSON) and a thumbnail, with the STAC item, then the catalog row (kind ``"ortho"``).

    Parameters
    ----------
    levels : iterable of (image, transform)
        ``image`` (H, W, B) float32 (NaN = no data), coarsest level first; ``transform`` the
        rasterio affine of that level in ``crs``. Written as ``<name>_L<k>.tif`` (asset
        ``level<k>``, role ``data``).
    crs : str
        CRS of every level (PROJ string or WKT), e.g. :func:`rovercam.edl.ortho.local_crs`.
    track_geojson : str, optional
        Written as ``<name>_track.geojson`` (asset ``track``).
    level_properties : iterable of mapping, optional
        Per level, JSON-ready facts (cell size, member frames...) for the STAC item.
    units : str, optional
        Pixel unit (COG band unit).
    name, sol, instrument, store, catalog, provenance, start_time, stop_time, run_id, mission
        As :func:`publish_cube`.

    Returns
    -------
    PublishedProduct
    """
    from rasterio.crs import CRS

    from rovercam.storage.raster import write_cog

    _check_name(name)
    levels = list(levels)
    if not levels:
        raise RovercamError(f"{name}: an orthomosaic needs at least one level")
    crs_obj = CRS.from_user_input(crs)
    files: dict[str, tuple[str, Data, list[str], str, str]] = {}
    props_levels = []
    extra = list(level_properties or [{} for _ in levels])
    for k, (image, transform) in enumerate(levels):
        image = np.asarray(image, np.float32)
        blob = write_cog(None, image, crs=crs_obj, transform=transform, units=units,
                         band_descriptions=("R", "G", "B") if image.ndim == 3 and image.shape[2] == 3 else None,
                         tags={"ROVERCAM_LEVEL": str(k)})
        files[f"level{k}"] = (f"{name}_L{k}.tif", blob, ["data"], COG_MEDIA_TYPE, f"Orthomosaic level {k}")
        props_levels.append({"asset": f"level{k}", "shape": [int(image.shape[0]), int(image.shape[1])],
                             "transform": [float(v) for v in tuple(transform)[:6]],
                             **(extra[k] if k < len(extra) else {})})
    if track_geojson is not None:
        files["track"] = (f"{name}_track.geojson", track_geojson.encode(), ["metadata"], GEOJSON_MEDIA_TYPE,
                          "Descent track (Mars 2000 lon/lat, altitude m)")
    first = np.asarray(levels[0][0], np.float32)
    lum = first if first.ndim == 2 else first[..., :3].mean(axis=2)
    finite = np.isfinite(lum)
    hi = float(np.percentile(lum[finite], 99.5)) if finite.any() else 1.0
    rgb = np.clip(np.nan_to_num(first if first.ndim == 3 else first[..., None]) / max(hi, 1e-30), 0, 1)
    rgb = (np.power(rgb, 1 / 2.2) * 255 + 0.5).astype(np.uint8)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    files["thumbnail"] = (f"{name}_thumb.png", write_png(thumbnail(rgb[..., :3])), ["thumbnail"],
                          pystac.MediaType.PNG, "Thumbnail (coarsest level)")
    properties = {"proj:wkt2": crs_obj.to_wkt(), "rovercam:proj": crs, "rovercam:levels": props_levels}
    return publish_files(files, kind="ortho", name=name, sol=sol, instrument=instrument, store=store,
                         catalog=catalog, provenance=provenance, start_time=start_time, stop_time=stop_time,
                         properties=properties, run_id=run_id, mission=mission)
