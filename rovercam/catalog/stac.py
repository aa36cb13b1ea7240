"""STAC records for published products (pystac): one item builder, :func:`output_item`, for
every output kind; :func:`mosaic_item` adds a mosaic's own properties.

Rover-frame products have no geographic footprint: items carry ``geometry: null`` and no
``bbox`` (valid STAC 1.1 for non-spatial items) and put the projection in properties.
rovercam-specific fields use the ``rovercam:`` prefix; no STAC extension is declared, so items
validate against the core schemas alone (which ship with pystac: offline validation works).

Items are serialised without a self link and with asset hrefs relative to the item file, so the
JSON is the same bytes wherever the product is stored (local disk or S3).
"""
from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
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
]

#: Mission id -> STAC ``platform`` (the rover).
PLATFORMS = {"M2020": "perseverance", "MSL": "curiosity"}

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
    """

    file_name: str
    roles: tuple[str, ...]
    media_type: str
    title: str


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
        File name -> sha256 of its bytes, recorded as each asset's ``rovercam:sha256``.
    properties : mapping, optional
        The kind's own properties (JSON-ready); they may not replace ``rovercam:provenance`` or
        ``platform``.

    Returns
    -------
    pystac.Item
        Geometry null, no bbox (module notes); properties ``start_datetime``,
        ``end_datetime``, ``mission``, ``instruments``, ``rovercam:sol``,
        ``rovercam:instrument``, ``rovercam:name``, ``rovercam:version``,
        ``rovercam:provenance`` and ``platform`` (known missions), plus ``properties``.

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
        "rovercam:provenance": provenance_properties(provenance),
    }
    if mission in PLATFORMS:
        props["platform"] = PLATFORMS[mission]
    item = pystac.Item(id=item_id(mission, sol, name, version), geometry=None, bbox=None, datetime=start,
                       properties=props)
    sha256 = sha256 or {}
    for key, spec in assets.items():
        extra = {"rovercam:sha256": sha256[spec.file_name]} if spec.file_name in sha256 else {}
        item.add_asset(key, pystac.Asset(href=f"./{spec.file_name}", media_type=spec.media_type,
                                         roles=list(spec.roles), title=spec.title, extra_fields=extra))
    return item


def mosaic_properties(mosaic: Mosaic, *, display_white: tuple[float, str] | None = None) -> dict[str, Any]:
    """The mosaic's own STAC properties: coverage, projection, size, bands, calibration level, units.

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
        JSON-ready; ``rovercam:calibration_level`` and ``rovercam:units`` are None when the
        provenance has no level. (Mosaic items carry no ``rovercam:kind``: they predate it, and
        published items stay the same bytes.)
    """
    level = mosaic.provenance.level
    properties: dict[str, Any] = {
        "rovercam:coverage": round(mosaic.coverage, 6),
        "rovercam:projection": mosaic.projection.to_tags(),
        "rovercam:size": [int(mosaic.projection.width), int(mosaic.projection.height)],
        "rovercam:bands": int(mosaic.image.shape[2]) if mosaic.image.ndim == 3 else 1,
        # what the data are: 0 raw .. 3 absolute, and their units (docs/calibration.md)
        "rovercam:calibration_level": None if level is None else level.level,
        "rovercam:units": None if level is None else level.units,
    }
    if display_white is not None:
        properties["rovercam:display_white_radiance"] = float(display_white[0])
        properties["rovercam:display_white_source"] = str(display_white[1])
    return properties


def mosaic_assets(names: Mapping[str, str]) -> dict[str, AssetSpec]:
    """Asset key -> :class:`AssetSpec` of a mosaic's files (``names`` as :func:`mosaic_file_names`)."""
    return {key: AssetSpec(names[key], tuple(roles), media_type, title)
            for key, (roles, media_type, title) in MOSAIC_ASSET_ROLES.items() if key in names}


def mosaic_item(
    mosaic: Mosaic,
    published: PublishedVersion,
    store: Store | None = None,
    *,
    assets: Mapping[str, str] | None = None,
    mission: str = "M2020",
    display_white: tuple[float, str] | None = None,
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
        provenance=mosaic.provenance, assets=mosaic_assets(names), sha256=published.sha256,
        properties=mosaic_properties(mosaic, display_white=display_white),
    )
    if store is not None and "item" in names:
        item.set_self_href(store.url(f"{published.prefix}/v{published.version}/{names['item']}"))
    return item


def item_to_bytes(item: pystac.Item) -> bytes:
    """Deterministic JSON of an item: no self link, hrefs as given (relative), sorted keys."""
    d = item.to_dict(include_self_link=False, transform_hrefs=False)
    return (json.dumps(d, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
