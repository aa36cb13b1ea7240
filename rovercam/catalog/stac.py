"""STAC records for published products (pystac): one item builder, :func:`output_item`, for
every output kind; :func:`mosaic_item` adds a mosaic's own properties.

Rover-frame products have no geographic footprint: items carry ``geometry: null`` and no
``bbox`` (valid STAC 1.1 for non-spatial items); there is no Earth footprint to give, and the
body is named by the Solar System extension (``ssys:targets: ["Mars"]``). Standard extensions
carry what has a standard home (docs/stac.md):

- file (:data:`EXTENSIONS`): every asset's ``file:checksum`` (sha2-256 multihash, ``1220`` +
  hex digest) and ``file:size`` (bytes);
- processing: ``processing:software`` (``{"rovercam": version}``), ``processing:level`` (the
  PDS4 processing level, ``"Derived"`` for every output), ``processing:lineage`` (the steps);
- raster: ``raster:bands`` of raster assets (data type, nodata, unit, statistics, scale/offset);
- projection: ``proj:code``/``proj:wkt2``/``proj:shape``/``proj:transform`` where meaningful
  (a panorama in azimuth/elevation has no CRS: ``proj:code`` null, the transform in degrees);
- view: the pointing of a mosaic's centre (``view:azimuth``, ``view:off_nadir``) where defined.

The rest stays under ``rovercam:`` (sol, provenance with input checksums, calibration level,
projection tags). An item declares exactly the extensions whose fields it uses.

Items are serialised without a self link and with asset hrefs relative to the item file, so the
JSON is the same bytes wherever the product is stored (local disk or S3).
"""
from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pystac

from rovercam import layout
from rovercam.errors import CatalogError

if TYPE_CHECKING:
    from rovercam.mosaic.model import Mosaic
    from rovercam.provenance import Provenance
    from rovercam.storage.store import PublishedVersion, Store

__all__ = [
    "AssetSpec",
    "output_item",
    "item_file_name",
    "mosaic_item",
    "mosaic_properties",
    "mosaic_assets",
    "provenance_properties",
    "mosaic_file_names",
    "item_id",
    "item_to_bytes",
    "MOSAIC_ASSET_ROLES",
    "PLATFORMS",
    "TARGETS",
    "EXTENSIONS",
    "PROCESSING_LEVEL",
    "multihash_sha256",
    "raster_bands",
    "declare_extensions",
]

#: Mission id -> STAC ``platform`` (the rover).
PLATFORMS = {"M2020": "perseverance", "MSL": "curiosity"}

#: Mission id -> Solar System target (``ssys:targets``).
TARGETS = {"M2020": "Mars", "MSL": "Mars"}

#: Field prefix -> schema URI of the STAC extensions rovercam writes.
EXTENSIONS = {
    "file": "https://stac-extensions.github.io/file/v2.1.0/schema.json",
    "raster": "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "processing": "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
    "proj": "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "view": "https://stac-extensions.github.io/view/v1.0.0/schema.json",
    "ssys": "https://stac-extensions.github.io/ssys/v1.1.1/schema.json",
}

#: ``processing:level`` of every published output: PDS4 ``processing_level`` "Derived" (PDS4
#: Information Model, Primary_Result_Summary): products made from several calibrated products.
#: How far the values are calibrated is ``rovercam:calibration_level`` (docs/calibration.md).
PROCESSING_LEVEL = "Derived"

#: Asset key -> (roles, media type, title).
MOSAIC_ASSET_ROLES: dict[str, tuple[list[str], str, str]] = {
    "data": (["data"], pystac.MediaType.COG, "Radiance mosaic (W m-2 sr-1 nm-1, float32, NaN = no data)"),
    "overview": (["overview", "visual"], pystac.MediaType.PNG, "Display preview (sRGB, alpha = coverage)"),
    "thumbnail": (["thumbnail"], pystac.MediaType.PNG, "Thumbnail"),
}


@dataclass(frozen=True, slots=True)
class AssetSpec:
    """How a STAC item describes one file of its version.

    Attributes
    ----------
    file_name : str
        Name in the version folder (the asset href is ``./<file_name>``).
    roles : tuple of str
        STAC asset roles (``"data"``, ``"overview"``, ``"thumbnail"``, ``"metadata"``).
    media_type : str
        IANA media type (``pystac.MediaType.COG``, ``"application/x-netcdf"``...).
    title : str
    fields : mapping, optional
        Extension fields of the asset (``raster:bands``, ``proj:shape``...), JSON-ready.
    """

    file_name: str
    roles: tuple[str, ...]
    media_type: str
    title: str
    fields: Mapping[str, Any] = field(default_factory=dict)


def multihash_sha256(hex_digest: str) -> str:
    """``file:checksum`` of a sha256 hex digest: the multihash ``1220<digest>`` (code 0x12 =
    sha2-256, length 0x20 = 32 bytes; multiformats multihash table)."""
    if len(hex_digest) != 64 or any(c not in "0123456789abcdef" for c in hex_digest):
        raise CatalogError(f"not a lowercase sha256 hex digest: {hex_digest!r}")
    return "1220" + hex_digest


def raster_bands(image: Any, *, unit: str | None = None) -> list[dict[str, Any]]:
    """``raster:bands`` of a float32 image whose NaN means no data.

    Parameters
    ----------
    image : (H, W) or (H, W, B) ndarray of float32
    unit : str, optional
        Unit of the values (``"W m-2 sr-1 nm-1"``); omitted when None.

    Returns
    -------
    list of dict
        One per band: ``data_type``, ``nodata`` ``"nan"``, ``scale`` 1 and ``offset`` 0 (the
        stored values are the physical values), ``unit``, and ``statistics`` of the finite
        values (``minimum``, ``maximum``, ``mean``, ``stddev``, ``valid_percent``; only
        ``valid_percent`` when no value is finite).
    """
    import numpy as np

    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.dtype.kind != "f":
        raise CatalogError(f"raster bands need an (H, W[, B]) float image, got {a.shape} {a.dtype}")
    bands = []
    for b in range(a.shape[2]):
        band: dict[str, Any] = {"data_type": str(a.dtype), "nodata": "nan", "scale": 1.0, "offset": 0.0,
                                "statistics": _statistics(a[..., b])}
        if unit:
            band["unit"] = unit
        bands.append(band)
    return bands


def _statistics(values: Any, *, chunk: int = 1 << 20) -> dict[str, float]:
    """Statistics of the finite values of one band, in float64, a chunk of rows at a time (a
    30000 x 15000 band would need 3.6 GB as one float64 copy): counts, means and sums of squared
    deviations merged pairwise (Chan, Golub and LeVeque 1983), so the deviation does not come
    from a difference of large sums."""
    import numpy as np

    rows = max(1, chunk // max(values.shape[1], 1))
    n, mean, m2 = 0, 0.0, 0.0
    lo, hi = np.inf, -np.inf
    for r in range(0, values.shape[0], rows):
        v = values[r:r + rows]
        v = v[np.isfinite(v)].astype(np.float64)
        if not v.size:
            continue
        k, mk = v.size, float(v.mean())
        m2k = float(((v - mk) ** 2).sum())
        delta = mk - mean
        total = n + k
        mean += delta * k / total
        m2 += m2k + delta * delta * n * k / total
        n = total
        lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    stats: dict[str, float] = {"valid_percent": round(100.0 * n / max(values.size, 1), 6)}
    if n:
        stats.update(minimum=lo, maximum=hi, mean=mean, stddev=float(np.sqrt(m2 / n)))
    return stats


def declare_extensions(d: dict[str, Any]) -> dict[str, Any]:
    """Set ``d["stac_extensions"]`` (a STAC object as a dict) to the sorted schema URIs of the
    :data:`EXTENSIONS` whose fields it uses (in properties, assets or the top level)."""
    used: set[str] = set()

    def scan(obj: Any) -> None:
        if isinstance(obj, Mapping):
            for key, value in obj.items():
                prefix = key.split(":", 1)[0] if ":" in key else None
                if prefix in EXTENSIONS:
                    used.add(EXTENSIONS[prefix])
                if key not in ("links",):
                    scan(value)
        elif isinstance(obj, list):
            for value in obj:
                scan(value)

    scan({k: v for k, v in d.items() if k != "stac_extensions"})
    keep = [u for u in d.get("stac_extensions", []) if u not in EXTENSIONS.values()]
    d["stac_extensions"] = sorted(set(keep) | used)
    return d


def item_id(mission: str, sol: int, name: str, version: int) -> str:
    """STAC item id (and catalog output id) of a published version: ``M2020-sol00100-NAME-v1``."""
    return layout.output_id(mission, sol, name, version)


def item_file_name(name: str) -> str:
    """File name of the STAC item in an output's version folder: ``<name>.stac.json``."""
    return f"{name}.stac.json"


def mosaic_file_names(name: str) -> dict[str, str]:
    """Asset key -> file name of a published mosaic (``"item"`` is the STAC item itself)."""
    return {
        "data": f"{name}.tif",
        "overview": f"{name}_preview.png",
        "thumbnail": f"{name}_thumb.png",
        "item": item_file_name(name),
    }


def _utc(t: _dt.datetime | None) -> _dt.datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=_dt.timezone.utc) if t.tzinfo is None else t.astimezone(_dt.timezone.utc)


def provenance_properties(prov: Provenance) -> dict[str, Any]:
    """The ``rovercam:provenance`` property of every item: software, config, inputs, calibration, steps."""
    return {
        "software_version": prov.software_version,
        "config_hash": prov.config_hash,
        "inputs": dict(sorted(prov.inputs.items())),
        "calibration": dict(sorted(prov.calibration.items())),
        "steps": list(prov.steps),
        "calibration_level": None if prov.level is None else prov.level.to_dict(),
    }


def output_item(
    *,
    mission: str,
    sol: int,
    instrument: str,
    name: str,
    version: int,
    start: _dt.datetime | None,
    stop: _dt.datetime | None,
    provenance: Provenance,
    assets: Mapping[str, AssetSpec],
    sha256: Mapping[str, str] | None = None,
    sizes: Mapping[str, int] | None = None,
    properties: Mapping[str, Any] | None = None,
) -> pystac.Item:
    """The STAC item of one published output version, of any kind (the one place items are built).

    Parameters
    ----------
    mission : str
        Mission id (``"M2020"``); ``platform`` follows from :data:`PLATFORMS`.
    sol, instrument, name, version
        Identify the output; the item id is :func:`item_id`.
    start, stop : datetime
        Time span of the inputs (UTC if naive). ``datetime`` is ``start``; ``stop`` None means
        ``start``.
    provenance : Provenance
        Recorded as ``rovercam:provenance`` (:func:`provenance_properties`).
    assets : mapping of str -> AssetSpec
        STAC asset key -> the file in the version folder (href ``./<file name>``).
    sha256 : mapping of str -> str, optional
        File name -> sha256 hex digest of its bytes, recorded as each asset's ``file:checksum``
        (:func:`multihash_sha256`).
    sizes : mapping of str -> int, optional
        File name -> size in bytes, recorded as each asset's ``file:size``.
    properties : mapping, optional
        The kind's own properties (JSON-ready); they may not replace ``rovercam:provenance``,
        the ``processing:`` fields or ``platform``.

    Returns
    -------
    pystac.Item
        Geometry null, no bbox (module notes); properties ``start_datetime``,
        ``end_datetime``, ``mission``, ``instruments``, ``rovercam:sol``,
        ``rovercam:instrument``, ``rovercam:name``, ``rovercam:version``,
        ``rovercam:provenance``, the processing fields, and ``platform`` and ``ssys:targets``
        (known missions), plus ``properties``; ``stac_extensions`` lists the extensions used.

    Raises
    ------
    CatalogError
        No start time (a STAC item needs a datetime), or ``stop`` before ``start``.
    """
    start, stop = _utc(start), _utc(stop)
    if start is None:
        raise CatalogError(f"{name}: no start_time; a STAC item needs a datetime")
    stop = stop or start
    if stop < start:
        raise CatalogError(f"{name}: stop_time {stop} is before start_time {start}")
    props: dict[str, Any] = {
        "start_datetime": pystac.utils.datetime_to_str(start),
        "end_datetime": pystac.utils.datetime_to_str(stop),
        "mission": mission,
        "instruments": [instrument.lower()],
        "rovercam:sol": int(sol),
        "rovercam:instrument": instrument,
        "rovercam:name": name,
        "rovercam:version": int(version),
        **(properties or {}),
        # rovercam:provenance keeps software_version and steps although processing: now carries
        # them: it is the same record as the COG's ROVERCAM_PROVENANCE tag (one shape to read)
        "rovercam:provenance": provenance_properties(provenance),
        "processing:level": PROCESSING_LEVEL,
    }
    if provenance.software_version:
        props["processing:software"] = {"rovercam": provenance.software_version}
    if provenance.steps:
        props["processing:lineage"] = "; ".join(provenance.steps)
    if mission in PLATFORMS:
        props["platform"] = PLATFORMS[mission]
    if mission in TARGETS:
        props["ssys:targets"] = [TARGETS[mission]]
    item = pystac.Item(id=item_id(mission, sol, name, version), geometry=None, bbox=None, datetime=start,
                       properties=props)
    sha256, sizes = sha256 or {}, sizes or {}
    for key, spec in assets.items():
        extra = dict(spec.fields)
        if spec.file_name in sha256:
            extra["file:checksum"] = multihash_sha256(sha256[spec.file_name])
        if spec.file_name in sizes:
            extra["file:size"] = int(sizes[spec.file_name])
        item.add_asset(key, pystac.Asset(href=f"./{spec.file_name}", media_type=spec.media_type,
                                         roles=list(spec.roles), title=spec.title, extra_fields=extra))
    item.stac_extensions = declare_extensions(item.to_dict(include_self_link=False,
                                                           transform_hrefs=False))["stac_extensions"]
    return item


#: Mosaic frames whose +x is north and azimuth clockwise from it (docs/conventions.md), where
#: the view extension's azimuth (clockwise from north) applies.
_NORTH_FRAMES = ("SITE_FRAME", "LOCAL_LEVEL_FRAME")


def _view_properties(mosaic: Mosaic) -> dict[str, float]:
    """``view:azimuth`` and ``view:off_nadir`` of the centre of a cropped azimuth/elevation grid
    in a north-referenced frame; nothing for a full circle, another projection or frame, or a
    centre above the horizon (off-nadir is 0..90 degrees)."""
    p = mosaic.projection
    if p.kind not in ("CYLINDRICAL", "EQUIRECTANGULAR") or p.frame not in _NORTH_FRAMES:
        return {}
    if p.periodic_width is not None:  # a full circle has no centre azimuth
        return {}
    s = float(p.scale_deg)
    az = (float(p.az_start_deg) + (p.width - 1) / 2 * s) % 360.0
    el = float(p.el_top_deg) - (p.height - 1) / 2 * s
    out = {"view:azimuth": round(az, 6)}
    if -90.0 <= el <= 0.0:
        out["view:off_nadir"] = round(90.0 + el, 6)
    return out


def _proj_fields(mosaic: Mosaic) -> dict[str, Any]:
    """Projection fields of a mosaic's data asset: no CRS (``proj:code`` null), its shape, and
    for an azimuth/elevation grid the transform from pixel (column, row) of the top-left corner
    to (azimuth, elevation) in degrees: pixel centres at integers (docs/conventions.md), so the
    left edge is half a pixel before ``az_start``."""
    p = mosaic.projection
    out: dict[str, Any] = {"proj:code": None, "proj:shape": [int(p.height), int(p.width)]}
    if p.kind in ("CYLINDRICAL", "EQUIRECTANGULAR"):
        s = float(p.scale_deg)
        out["proj:transform"] = [s, 0.0, float(p.az_start_deg) - s / 2, 0.0, -s, float(p.el_top_deg) + s / 2]
    return out


def mosaic_properties(mosaic: Mosaic, *, display_white: tuple[float, str] | None = None) -> dict[str, Any]:
    """The mosaic's own STAC properties: projection tags, calibration level, view geometry.

    Parameters
    ----------
    mosaic : Mosaic
    display_white : (float, str), optional
        The radiance the previews show as white and its source (``"camera"``, or the
        percentile of the mosaic's values used when no camera white is known), recorded as
        ``rovercam:display_white_radiance`` and ``rovercam:display_white_source``.

    Returns
    -------
    dict
        JSON-ready: ``rovercam:projection`` (the COG's projection tags: frame, surface,
        origin...), ``rovercam:calibration_level`` (None when the provenance has no level) and
        the view fields (:func:`_view_properties`). Size, bands, units and coverage are in the
        data asset's ``proj:shape`` and ``raster:bands`` (:func:`mosaic_assets`). (Mosaic items
        carry no ``rovercam:kind``: they predate it.)
    """
    level = mosaic.provenance.level
    properties: dict[str, Any] = {
        "rovercam:projection": mosaic.projection.to_tags(),
        # what the data are: 0 raw .. 3 absolute (docs/calibration.md); units in raster:bands
        "rovercam:calibration_level": None if level is None else level.level,
        **_view_properties(mosaic),
    }
    if display_white is not None:
        properties["rovercam:display_white_radiance"] = float(display_white[0])
        properties["rovercam:display_white_source"] = str(display_white[1])
    return properties


def mosaic_assets(names: Mapping[str, str], mosaic: Mosaic | None = None) -> dict[str, AssetSpec]:
    """Asset key -> :class:`AssetSpec` of a mosaic's files (``names`` as :func:`mosaic_file_names`).

    With ``mosaic``, the data asset carries ``raster:bands`` (:func:`raster_bands`, the
    calibration level's units) and the projection fields (:func:`_proj_fields`).
    """
    specs = {key: AssetSpec(names[key], tuple(roles), media_type, title)
             for key, (roles, media_type, title) in MOSAIC_ASSET_ROLES.items() if key in names}
    if mosaic is not None and "data" in specs:
        level = mosaic.provenance.level
        fields = {"raster:bands": raster_bands(mosaic.image, unit=None if level is None else level.units),
                  **_proj_fields(mosaic)}
        d = specs["data"]
        specs["data"] = AssetSpec(d.file_name, d.roles, d.media_type, d.title, fields)
    return specs


def mosaic_item(
    mosaic: Mosaic,
    published: PublishedVersion,
    store: Store | None = None,
    *,
    assets: Mapping[str, str] | None = None,
    mission: str = "M2020",
    display_white: tuple[float, str] | None = None,
    sizes: Mapping[str, int] | None = None,
) -> pystac.Item:
    """The STAC item of one published mosaic version (:func:`output_item` with
    :func:`mosaic_properties`).

    Parameters
    ----------
    mosaic : Mosaic
        Supplies sol, instrument, times, projection and provenance.
    published : PublishedVersion
        The version (``version`` goes into the id; ``sha256`` into each asset).
    store : Store, optional
        When given, the in-memory item gets its self href (``store.url`` of the item key) so
        relative asset hrefs resolve; the stored JSON (:func:`item_to_bytes`) never includes it.
    assets : mapping of str -> str, optional
        Default :func:`mosaic_file_names`. Asset key (``"data"``, ``"overview"``, ``"thumbnail"``)
        -> file name in the version folder. The item file itself is ``assets["item"]`` when
        present (used for the self href).
    mission : str
        Mission id (``"M2020"``); ``platform`` follows from :data:`PLATFORMS`.
    display_white : (float, str), optional
        As :func:`mosaic_properties`.
    sizes : mapping of str -> int, optional
        File name -> bytes (``file:size``); without it the assets have no size.

    Returns
    -------
    pystac.Item
        ``datetime`` = earliest input START_TIME, ``start_datetime``/``end_datetime`` the span.

    Raises
    ------
    CatalogError
        The mosaic has no start time (a STAC item needs a datetime).
    """
    names = mosaic_file_names(mosaic.name) if assets is None else assets
    item = output_item(
        mission=mission, sol=mosaic.sol, instrument=mosaic.instrument, name=mosaic.name,
        version=published.version, start=mosaic.start_time, stop=mosaic.stop_time,
        provenance=mosaic.provenance, assets=mosaic_assets(names, mosaic), sha256=published.sha256,
        sizes=sizes, properties=mosaic_properties(mosaic, display_white=display_white),
    )
    if store is not None and "item" in names:
        item.set_self_href(store.url(f"{published.prefix}/v{published.version}/{names['item']}"))
    return item


def item_to_bytes(item: pystac.Item) -> bytes:
    """Deterministic JSON of an item: no self link, hrefs as given (relative), sorted keys."""
    d = item.to_dict(include_self_link=False, transform_hrefs=False)
    return (json.dumps(d, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
