"""Export the catalog as a static STAC catalog: Catalog -> mission -> camera -> kind -> items.

Layout written under the destination folder (pystac's ``SELF_CONTAINED`` catalog: relative
links, no self links)::

    catalog.json                                    STAC Catalog "rovercam"
    M2020/collection.json                           Collection per mission
      M2020-NAVCAM_LEFT/collection.json             ... per mission and camera
        M2020-NAVCAM_LEFT-mosaic/collection.json    ... per mission, camera and kind
          <item id>/<item id>.json                  the items

Items are the published STAC items read back from storage, with asset hrefs made absolute (the
store's local path or URL), so the export points at the published bytes without copying them.
Rover-frame products have no geographic footprint; collections still need a spatial extent
and get the whole-globe box ``[-180, -90, 180, 90]``, their temporal extent is the items' span.
Everything written is validated offline against the STAC 1.1 JSON schemas shipped with pystac
(:func:`validate_stac`).
"""
from __future__ import annotations

import json
import logging
import posixpath
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pystac

from rovercam.catalog.db import Catalog, OutputRecord
from rovercam.catalog.query import search_outputs
from rovercam.catalog.stac import PLATFORMS
from rovercam.errors import CatalogError, StorageError

__all__ = ["export_stac", "validate_stac", "ExportResult"]

log = logging.getLogger(__name__)

_GLOBE = [-180.0, -90.0, 180.0, 90.0]
_SCHEMA_SUFFIX = {
    "Feature": "item-spec/json-schema/item.json",
    "Catalog": "catalog-spec/json-schema/catalog.json",
    "Collection": "collection-spec/json-schema/collection.json",
}


class ExportResult(dict):
    """``{"catalog": Path, "collections": int, "items": int}`` of one export."""


def validate_stac(doc: Mapping[str, Any]) -> None:
    """Validate one STAC object (item, catalog or collection dict) against the STAC 1.1 core
    schemas shipped inside pystac, without network access.

    Raises
    ------
    CatalogError
        Unknown type, or the first schema violation (path and message).
    """
    import jsonschema
    import referencing
    import referencing.jsonschema
    from pystac.validation.local_validator import get_local_schema_cache

    suffix = _SCHEMA_SUFFIX.get(str(doc.get("type")))
    if suffix is None:
        raise CatalogError(f"not a STAC item, catalog or collection (type={doc.get('type')!r})")
    cache = get_local_schema_cache()

    def refuse(uri: str) -> referencing.Resource:
        raise CatalogError(f"STAC validation would fetch {uri}; only the shipped schemas are used")

    registry = referencing.Registry(retrieve=refuse).with_resources(
        (uri, referencing.Resource.from_contents(schema, default_specification=referencing.jsonschema.DRAFT7))
        for uri, schema in cache.items()
    )
    uri = next(u for u in cache if u.endswith(suffix))
    validator = jsonschema.validators.validator_for(cache[uri])(cache[uri], registry=registry)
    error = jsonschema.exceptions.best_match(validator.iter_errors(dict(doc)))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise CatalogError(f"{doc.get('id')}: STAC {doc['type']} invalid at {where}: {error.message}")


def _extent(items: list[pystac.Item]) -> pystac.Extent:
    times = [t for it in items for t in (it.common_metadata.start_datetime or it.datetime,
                                         it.common_metadata.end_datetime or it.datetime) if t]
    interval = [min(times), max(times)] if times else [None, None]
    return pystac.Extent(pystac.SpatialExtent([_GLOBE]), pystac.TemporalExtent([interval]))


def _collection(cid: str, description: str, items: list[pystac.Item], *, mission: str,
                cameras: list[str]) -> pystac.Collection:
    summaries = {"mission": [mission], "instruments": sorted({c.lower() for c in cameras}),
                 "rovercam:sol": sorted({int(it.properties.get("rovercam:sol", -1)) for it in items})}
    if mission in PLATFORMS:
        summaries["platform"] = [PLATFORMS[mission]]
    return pystac.Collection(id=cid, description=description, extent=_extent(items), license="other",
                             title=cid, summaries=pystac.Summaries(summaries))


def _read_item(store: Any, out: OutputRecord) -> pystac.Item:
    if not out.stac_key:
        raise CatalogError(f"{out.output_id}: no STAC item recorded")
    try:
        doc = json.loads(store.read_bytes(out.stac_key))
    except StorageError as e:
        raise CatalogError(f"{out.output_id}: STAC item missing from storage ({e})") from e
    item = pystac.Item.from_dict(doc, preserve_dict=False)
    folder = posixpath.dirname(out.stac_key)
    for asset in item.assets.values():
        if "://" not in asset.href and not asset.href.startswith("/"):
            key = posixpath.normpath(posixpath.join(folder, asset.href))
            local = store.local_path(key)
            asset.href = str(local) if local is not None else store.url(key)
    return item


def export_stac(
    catalog: Catalog,
    store: Any,
    dest: str | Path,
    *,
    outputs: list[OutputRecord] | None = None,
    latest_only: bool = False,
) -> ExportResult:
    """Write a static STAC catalog of published outputs to ``dest`` (see module notes).

    Parameters
    ----------
    catalog : Catalog
    store : rovercam.storage.Store
        Where the outputs' STAC items and assets are stored.
    dest : path
        Output folder (created; existing files of the same names are replaced).
    outputs : list of OutputRecord, optional
        What to export (e.g. from :func:`rovercam.catalog.query.search_outputs`); default all.
    latest_only : bool
        With ``outputs`` None: only the newest version of each output.

    Returns
    -------
    ExportResult
        ``catalog`` (path of catalog.json), ``collections`` and ``items`` counts.

    Raises
    ------
    CatalogError
        An output's item is missing from storage, or a written document is not valid STAC.
    """
    if outputs is None:
        outputs = search_outputs(catalog, latest_only=latest_only)
    dest = Path(dest).resolve()
    groups: dict[tuple[str, str, str], list[pystac.Item]] = defaultdict(list)
    for out in outputs:
        item = _read_item(store, out)
        mission = out.mission or str(item.properties.get("mission") or "UNKNOWN")
        groups[(mission, out.instrument or "UNKNOWN", out.kind)].append(item)

    root = pystac.Catalog(id="rovercam", title="rovercam products",
                          description="Products published by rovercam (mosaics and frames), by mission, camera and kind.")
    by_mission: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for mission, camera, kind in sorted(groups):
        by_mission[mission].append((camera, kind))
    n_collections = 0
    for mission, pairs in sorted(by_mission.items()):
        mission_items = [it for (c, k) in pairs for it in groups[(mission, c, k)]]
        mcol = _collection(mission, f"{mission} products published by rovercam", mission_items,
                           mission=mission, cameras=[c for c, _ in pairs])
        root.add_child(mcol)
        n_collections += 1
        for camera in sorted({c for c, _ in pairs}):
            cam_items = [it for (c, k) in pairs if c == camera for it in groups[(mission, c, k)]]
            ccol = _collection(f"{mission}-{camera}", f"{mission} {camera} products", cam_items,
                               mission=mission, cameras=[camera])
            mcol.add_child(ccol)
            n_collections += 1
            for kind in sorted({k for c, k in pairs if c == camera}):
                items = sorted(groups[(mission, camera, kind)], key=lambda it: it.id)
                kcol = _collection(f"{mission}-{camera}-{kind}", f"{mission} {camera} {kind} products",
                                   items, mission=mission, cameras=[camera])
                ccol.add_child(kcol)
                n_collections += 1
                for item in items:
                    kcol.add_item(item)
    root.normalize_hrefs(str(dest))
    root.save(catalog_type=pystac.CatalogType.SELF_CONTAINED, dest_href=str(dest))
    written = sorted(dest.rglob("*.json"))
    for path in written:
        validate_stac(json.loads(path.read_text()))
    n_items = sum(len(v) for v in groups.values())
    log.info("exported %d items in %d collections to %s", n_items, n_collections, dest)
    return ExportResult(catalog=dest / "catalog.json", collections=n_collections, items=n_items)
