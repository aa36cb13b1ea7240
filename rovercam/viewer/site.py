"""``rovercam export-site``: the browser and viewer as a static site (HTML + tiles + STAC).

The site has the server's URL layout as plain files, so the same front end runs from any web
server or object-store bucket::

    index.html, static/*                 the app
    api/outputs.json, api/outputs/<id>.json
    tiles/<id>/<z>/<x>/<y>.jpg           every tile of every level
    tiles/<id>/<raster>/<band>/<z>/<x>/<y>.png   stereo and terrain rasters' scalar tiles
    files/<id>/<file>                    the catalog's files of each output (COGs only on request;
                                         meshes always, for the 3-D view)
    stac/catalog.json ...                a static STAC catalog (rovercam.catalog.export_stac) whose
                                         asset hrefs are relative links to files/<id>/<file>; the
                                         COGs are in it only with include_data
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rovercam.viewer.library import Library
from rovercam.viewer.server import static_assets

__all__ = ["export_site", "SiteExport"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SiteExport:
    """What :func:`export_site` wrote."""

    root: Path
    outputs: int
    tiles: int
    files: int
    stac_items: int


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def export_site(
    library: Library,
    dest: str | os.PathLike[str],
    *,
    latest_only: bool = True,
    include_data: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> SiteExport:
    """Write the static site of ``library`` to ``dest``.

    Parameters
    ----------
    library : Library
    dest : path
        Output folder; created, or replaced when it holds a previous export (``index.html`` and
        ``api/``). A non-empty folder that is not an export is refused.
    latest_only : bool
        Only the newest version of each output.
    include_data : bool
        Also copy the float32 COGs (large); previews, thumbnails and STAC items are always copied.
    progress : callable, optional
        ``progress(done, total, message)`` after each output.

    Returns
    -------
    SiteExport

    Raises
    ------
    FileExistsError
        ``dest`` is a non-empty folder that is not a previous export.
    """
    dest = Path(dest).resolve()
    if dest.exists() and any(dest.iterdir()) and not (dest / "index.html").is_file():
        raise FileExistsError(f"{dest} is not empty and is not a previous site export")
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".site-", dir=dest.parent))
    try:
        result = _export_into(library, stage, latest_only=latest_only, include_data=include_data,
                              progress=progress)
        if dest.exists():
            old = dest.with_name(dest.name + ".old-export")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
            stage.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            stage.rename(dest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return SiteExport(dest, *result)


def _export_into(library: Library, root: Path, *, latest_only: bool, include_data: bool,
                 progress: Callable[[int, int, str], None] | None) -> tuple[int, int, int, int]:
    from rovercam.catalog import export_stac

    library.refresh()
    assets = static_assets()
    _write(root / "index.html", assets["index.html"])
    for name, data in assets.items():
        if name != "index.html":
            _write(root / "static" / name, data)
    index = library.index()
    chosen = [o for o in index["outputs"] if o["latest"] or not latest_only]
    ids = {o["output_id"] for o in chosen}
    for o in chosen:  # a stereo partner left out of the export is not offered
        if o["stereo_partner"] not in ids:
            o["stereo_partner"] = None
    _write(root / "api" / "outputs.json", json.dumps({"outputs": chosen}).encode())
    tiles = files = 0
    exported: dict[str, dict[str, Path]] = {}
    for n, o in enumerate(chosen):
        oid = o["output_id"]
        detail = library.detail(oid)
        assert detail is not None
        detail["stereo_partner"] = o["stereo_partner"]
        _write(root / "api" / "outputs" / f"{oid}.json", json.dumps(detail).encode())
        for f in detail["files"]:
            if f["name"].lower().endswith((".tif", ".tiff")) and not include_data:
                continue
            data = library.read_file(oid, f["name"])
            if data is not None:
                _write(root / "files" / oid / f["name"], data)
                exported.setdefault(oid, {})[f["name"]] = root / "files" / oid / f["name"]
                files += 1
        src = library.tile_source(oid)
        if src is not None:
            for z in range(src.grid.top + 1):
                for x, y in src.grid.tiles(z):
                    _write(root / "tiles" / oid / str(z) / str(x) / f"{y}.jpg", src.tile(z, x, y))
                    tiles += 1
        for name in detail["fields"]:  # stereo and terrain rasters: every band's scalar tiles
            fs = library.field(oid, name)
            if fs is None:
                continue
            for band in fs.bands():
                for z in range(fs.source.grid.top + 1):
                    for x, y in fs.source.grid.tiles(z):
                        _write(root / "tiles" / oid / name / band / str(z) / str(x) / f"{y}.png",
                               fs.tile(band, z, x, y))
                        tiles += 1
        log.info("%s: exported (%d tiles so far)", oid, tiles)
        if progress is not None:
            progress(n + 1, len(chosen), oid)
    records = [library.catalog_record(o["output_id"]) for o in chosen]
    # the STAC items point at the copies under files/ (relative hrefs); an asset the site does
    # not hold (a COG without include_data) is left out rather than pointing off the site
    stac = export_stac(library.catalog, library.store, root / "stac", outputs=records,
                       existing_files=exported, copy_files=False)
    return len(chosen), tiles, files, int(stac["items"])
