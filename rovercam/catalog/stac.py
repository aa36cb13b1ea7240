"""STAC records for published products (pystac).

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
from typing import TYPE_CHECKING, Any

import pystac

from rovercam import layout
from rovercam.errors import CatalogError

if TYPE_CHECKING:
    from rovercam.mosaic.model import Mosaic
    from rovercam.provenance import Provenance
    from rovercam.storage.store import PublishedVersion, Store

__all__ = [
    "mosaic_item",
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


def item_id(mission: str, sol: int, name: str, version: int) -> str:
    """STAC item id (and catalog output id) of a published version: ``M2020-sol00100-NAME-v1``."""
    return layout.output_id(mission, sol, name, version)


def mosaic_file_names(name: str) -> dict[str, str]:
    """Asset key -> file name of a published mosaic (``"item"`` is the STAC item itself)."""
    return {
        "data": f"{name}.tif",
        "overview": f"{name}_preview.png",
        "thumbnail": f"{name}_thumb.png",
        "item": f"{name}.stac.json",
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


def mosaic_item(
    mosaic: Mosaic,
    published: PublishedVersion,
    store: Store | None = None,
    *,
    assets: Mapping[str, str] | None = None,
    mission: str = "M2020",
    display_white: tuple[float, str] | None = None,
) -> pystac.Item:
    """The STAC item of one published mosaic version.

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
        Default :func:`mosaic_file_names`. Asset key (``"data"``, ``"overview"``, ``"thumbnail"``) -> file name in the version folder.
        The item file itself is ``assets["item"]`` when present (used for the self href).
    mission : str
        Mission id (``"M2020"``); ``platform`` follows from :data:`PLATFORMS`.
    display_white : (float, str), optional
        The radiance the previews show as white and its source (``"camera"``, or the
        percentile of the mosaic's values used when no camera white is known), recorded as
        ``rovercam:display_white_radiance`` and ``rovercam:display_white_source``.

    Returns
    -------
    pystac.Item
        ``datetime`` = earliest input START_TIME, ``start_datetime``/``end_datetime`` the span.

    Raises
    ------
    CatalogError
        The mosaic has no start time (a STAC item needs a datetime).
    """
    assets = mosaic_file_names(mosaic.name) if assets is None else assets
    start, stop = _utc(mosaic.start_time), _utc(mosaic.stop_time)
    if start is None:
        raise CatalogError(f"{mosaic.name}: mosaic has no start_time; a STAC item needs a datetime")
    stop = stop or start
    prov = mosaic.provenance
    properties: dict[str, Any] = {
        "start_datetime": pystac.utils.datetime_to_str(start),
        "end_datetime": pystac.utils.datetime_to_str(stop),
        "mission": mission,
        "instruments": [mosaic.instrument.lower()],
        "rovercam:sol": int(mosaic.sol),
        "rovercam:instrument": mosaic.instrument,
        "rovercam:name": mosaic.name,
        "rovercam:version": int(published.version),
        "rovercam:coverage": round(mosaic.coverage, 6),
        "rovercam:projection": mosaic.projection.to_tags(),
        "rovercam:size": [int(mosaic.projection.width), int(mosaic.projection.height)],
        "rovercam:bands": int(mosaic.image.shape[2]) if mosaic.image.ndim == 3 else 1,
        "rovercam:provenance": provenance_properties(prov),
        # what the data are: 0 raw .. 3 absolute, and their units (docs/calibration.md)
        "rovercam:calibration_level": None if prov.level is None else prov.level.level,
        "rovercam:units": None if prov.level is None else prov.level.units,
    }
    if display_white is not None:
        properties["rovercam:display_white_radiance"] = float(display_white[0])
        properties["rovercam:display_white_source"] = str(display_white[1])
    if mission in PLATFORMS:
        properties["platform"] = PLATFORMS[mission]
    item = pystac.Item(
        id=item_id(mission, mosaic.sol, mosaic.name, published.version),
        geometry=None,
        bbox=None,
        datetime=start,
        properties=properties,
    )
    for key, (roles, media_type, title) in MOSAIC_ASSET_ROLES.items():
        if key not in assets:
            continue
        fname = assets[key]
        extra = {}
        if fname in published.sha256:
            extra["rovercam:sha256"] = published.sha256[fname]
        item.add_asset(
            key,
            pystac.Asset(href=f"./{fname}", media_type=media_type, roles=list(roles), title=title,
                         extra_fields=extra),
        )
    if store is not None and "item" in assets:
        item.set_self_href(store.url(f"{published.prefix}/v{published.version}/{assets['item']}"))
    return item


def item_to_bytes(item: pystac.Item) -> bytes:
    """Deterministic JSON of an item: no self link, hrefs as given (relative), sorted keys."""
    d = item.to_dict(include_self_link=False, transform_hrefs=False)
    return (json.dumps(d, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
