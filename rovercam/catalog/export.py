"""Export the catalog as a static STAC catalog: Catalog -> mission -> camera -> kind -> items.

Layout written under the destination folder (pystac's ``SELF_CONTAINED`` catalog: relative
links, no self links)::

    catalog.json                                    STAC Catalog "rovercam"
    M2020/collection.json                           Collection per mission
      M2020-NAVCAM_LEFT/collection.json             ... per mission and camera
        M2020-NAVCAM_LEFT-mosaic/collection.json    ... per mission, camera and kind
          <item id>/<item id>.json                  the items
          <item id>/<asset files>                   their files (copies)

Items are the published STAC items read back from storage; their assets are placed next to
them (or, for ``rovercam export-site``, referenced where the site already holds them), always
by relative hrefs, so the exported folder is self-contained: it can be moved to another
machine or served from any web server. Each exported item also gets ``processing:datetime``,
the time its output was recorded in the catalog (the stored item leaves it out so that
identical content gives identical bytes).

Rover-frame products have no footprint on Mars and certainly none on Earth. STAC collections
still need a spatial extent: they name Mars as their body (``ssys:targets``, Solar System
extension), and the box is the whole body in planetocentric longitude/latitude. Their temporal
extent is the items' span.

Everything written is validated offline (:func:`validate_stac`): the STAC 1.1 core JSON schemas
shipped with pystac, plus, for each declared extension, the schema in
``rovercam/catalog/schemas/`` (written for rovercam from each extension's specification;
docs/stac.md says what they check).
"""
from __future__ import annotations

import json
import logging
import os
import posixpath
import shutil
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pystac

from rovercam.catalog.db import Catalog, OutputRecord
from rovercam.catalog.query import search_outputs
from rovercam.catalog.stac import EXTENSIONS, PLATFORMS, TARGETS, declare_extensions
from rovercam.errors import CatalogError, StorageError

__all__ = ["export_stac", "validate_stac", "extension_schemas", "ExportResult"]

log = logging.getLogger(__name__)

#: The whole body in planetocentric longitude/latitude (of the ``ssys:targets`` body).
_WHOLE_BODY = [-180.0, -90.0, 180.0, 90.0]
_SCHEMA_SUFFIX = {
    "Feature": "item-spec/json-schema/item.json",
    "Catalog": "catalog-spec/json-schema/catalog.json",
    "Collection": "collection-spec/json-schema/collection.json",
}


class ExportResult(dict):
    """``{"catalog": Path, "collections": int, "items": int}`` of one export."""


def extension_schemas() -> dict[str, dict[str, Any]]:
    """Schema URI -> the extension's JSON schema from ``rovercam/catalog/schemas/``."""
    from importlib import resources

    folder = resources.files("rovercam.catalog").joinpath("schemas")
    names = {"proj": "projection"}
    return {uri: json.loads(folder.joinpath(f"{names.get(prefix, prefix)}.json").read_text())
            for prefix, uri in EXTENSIONS.items()}


def validate_stac(doc: Mapping[str, Any]) -> None:
    """Validate one STAC object (item, catalog or collection dict) offline: against the STAC 1.1
    core schemas shipped inside pystac, then against the schema of every extension it declares
    (module notes).

    Raises
    ------
    CatalogError
        Unknown type, an extension without a local schema, fields of a rovercam-written
        extension (:data:`~rovercam.catalog.stac.EXTENSIONS`) without its declaration, or the
        first schema violation (path and message).
    """
    import jsonschema
    import referencing
    import referencing.jsonschema
    from pystac.validation.local_validator import get_local_schema_cache

    suffix = _SCHEMA_SUFFIX.get(str(doc.get("type")))
    if suffix is None:
        raise CatalogError(f"not a STAC item, catalog or collection (type={doc.get('type')!r})")
    cache = {**get_local_schema_cache(), **extension_schemas()}

    def refuse(uri: str) -> referencing.Resource:
        raise CatalogError(f"STAC validation would fetch {uri}; only local schemas are used")

    registry = referencing.Registry(retrieve=refuse).with_resources(
        (uri, referencing.Resource.from_contents(schema, default_specification=referencing.jsonschema.DRAFT7))
        for uri, schema in cache.items()
    )
    core = next(u for u in cache if u.endswith(suffix))
    unknown = [u for u in doc.get("stac_extensions", []) if u not in cache]
    if unknown:
        raise CatalogError(f"{doc.get('id')}: no local schema for the extensions {unknown}")
    undeclared = set(declare_extensions(dict(doc))["stac_extensions"]) - set(doc.get("stac_extensions", []))
    if undeclared:
        raise CatalogError(f"{doc.get('id')}: uses fields of {sorted(undeclared)} without declaring them")
    for uri in [core, *doc.get("stac_extensions", [])]:
        validator = jsonschema.validators.validator_for(cache[uri])(cache[uri], registry=registry)
        error = jsonschema.exceptions.best_match(validator.iter_errors(dict(doc)))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            which = "core" if uri == core else uri
            raise CatalogError(f"{doc.get('id')}: STAC {doc['type']} invalid ({which}) at {where}: {error.message}")


def _extent(items: list[pystac.Item]) -> pystac.Extent:
    times = [t for it in items for t in (it.common_metadata.start_datetime or it.datetime,
                                         it.common_metadata.end_datetime or it.datetime) if t]
    interval = [min(times), max(times)] if times else [None, None]
    return pystac.Extent(pystac.SpatialExtent([_WHOLE_BODY]), pystac.TemporalExtent([interval]))


def _collection(cid: str, description: str, items: list[pystac.Item], *, mission: str,
                cameras: list[str]) -> pystac.Collection:
    summaries = {"mission": [mission], "instruments": sorted({c.lower() for c in cameras}),
                 "rovercam:sol": sorted({int(it.properties.get("rovercam:sol", -1)) for it in items})}
    if mission in PLATFORMS:
        summaries["platform"] = [PLATFORMS[mission]]
    extra = {"ssys:targets": [TARGETS.get(mission, "Mars")]}
    col = pystac.Collection(id=cid, description=description, extent=_extent(items), license="other",
                            title=cid, summaries=pystac.Summaries(summaries), extra_fields=extra)
    col.stac_extensions = [EXTENSIONS["ssys"]]
    return col


def _read_item(store: Any, out: OutputRecord) -> tuple[pystac.Item, dict[str, str]]:
    """The stored item of ``out`` (hrefs as stored) and asset key -> store key of its file."""
    if not out.stac_key:
        raise CatalogError(f"{out.output_id}: no STAC item recorded")
    try:
        doc = json.loads(store.read_bytes(out.stac_key))
    except StorageError as e:
        raise CatalogError(f"{out.output_id}: STAC item missing from storage ({e})") from e
    item = pystac.Item.from_dict(doc, preserve_dict=False)
    folder = posixpath.dirname(out.stac_key)
    keys = {}
    for name, asset in item.assets.items():
        if "://" in asset.href or asset.href.startswith("/"):
            raise CatalogError(f"{out.output_id}: asset {name} has a non-relative href {asset.href!r}")
        keys[name] = posixpath.normpath(posixpath.join(folder, asset.href))
    if out.created_at is not None:
        item.properties["processing:datetime"] = pystac.utils.datetime_to_str(out.created_at)
    return item, keys


def _copy(store: Any, key: str, target: Path) -> None:
    """Copy the stored file ``key`` to ``target`` (a copy, not a hard link: editing the export
    must never change a published file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    local = store.local_path(key)
    if local is not None:
        shutil.copyfile(local, target)
    else:
        target.write_bytes(store.read_bytes(key))


def _place_assets(item: pystac.Item, keys: Mapping[str, str], store: Any,
                  existing: Mapping[str, Path] | None, copy: bool) -> None:
    """Give every asset of ``item`` (whose self href is set) a relative href to a file inside the
    export: one of ``existing`` (file name -> path), else a copy next to the item when ``copy``;
    an asset with neither is left out of the exported item."""
    folder = Path(item.get_self_href()).parent
    for name, key in keys.items():
        fname = posixpath.basename(key)
        if existing is not None and fname in existing:
            rel = os.path.relpath(existing[fname], folder).replace(os.sep, "/")
            item.assets[name].href = rel if rel.startswith("../") else f"./{rel}"
        elif copy:
            _copy(store, key, folder / fname)
            item.assets[name].href = f"./{fname}"
        else:
            log.info("%s: asset %s (%s) is not in this export; left out", item.id, name, fname)
            del item.assets[name]


def export_stac(
    catalog: Catalog,
    store: Any,
    dest: str | Path,
    *,
    outputs: list[OutputRecord] | None = None,
    latest_only: bool = False,
    existing_files: Mapping[str, Mapping[str, Path]] | None = None,
    copy_files: bool = True,
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
    existing_files : mapping of str -> (mapping of str -> Path), optional
        Output id -> file name -> a copy of that file already inside the export (the site's
        ``files/<id>/``): referenced by relative href instead of copied.
    copy_files : bool
        Copy the other files next to their items; False leaves assets without a file in the
        export out of the exported items.

    Returns
    -------
    ExportResult
        ``catalog`` (path of catalog.json), ``collections`` and ``items`` counts.

    Notes
    -----
    The export is self-contained: every href in it is relative and every asset is a file in it,
    so the folder can be moved or copied elsewhere whole.

    Raises
    ------
    CatalogError
        An output's item is missing from storage, or a written document is not valid STAC.
    """
    if outputs is None:
        outputs = search_outputs(catalog, latest_only=latest_only)
    dest = Path(dest).resolve()
    groups: dict[tuple[str, str, str], list[pystac.Item]] = defaultdict(list)
    sources: dict[str, tuple[OutputRecord, dict[str, str]]] = {}
    for out in outputs:
        item, keys = _read_item(store, out)
        sources[item.id] = (out, keys)
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
    for item in root.get_items(recursive=True):
        out, keys = sources[item.id]
        existing = None if existing_files is None else existing_files.get(out.output_id)
        _place_assets(item, keys, store, existing, copy_files)
        item.stac_extensions = declare_extensions(item.to_dict(include_self_link=False,
                                                               transform_hrefs=False))["stac_extensions"]
    root.save(catalog_type=pystac.CatalogType.SELF_CONTAINED, dest_href=str(dest))
    written = [root.get_self_href()]
    for _, children, items in root.walk():
        written += [c.get_self_href() for c in children] + [i.get_self_href() for i in items]
    for path in written:
        validate_stac(json.loads(Path(path).read_text()))
    n_items = sum(len(v) for v in groups.values())
    log.info("exported %d items in %d collections to %s", n_items, n_collections, dest)
    return ExportResult(catalog=dest / "catalog.json", collections=n_collections, items=n_items)
