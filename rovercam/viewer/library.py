"""What the viewer may show: the catalog's outputs, their files and their tile pyramids.

:class:`Library` is the one gate between HTTP paths and storage. A request names an output id
and a file name or a tile; the library answers only for outputs in the catalog, only with files
the catalog lists for that output, and reads them through :class:`rovercam.storage.Store`, which
resolves every key inside the storage root (symlinks included). Anything else is ``None``
(HTTP 404): nothing but catalog contents is ever served.
"""
from __future__ import annotations

import logging
import math
import mimetypes
import os
import posixpath
import re
import threading
from dataclasses import dataclass
from typing import IO, Any

import rasterio

from rovercam.camera.coordinates import direction_from_azimuth_elevation
from rovercam.catalog import Catalog, OutputRecord, lineage_report, open_existing
from rovercam.errors import CatalogError, ConfigError, StorageError
from rovercam.mosaic.projections import projection_from_tags
from rovercam.storage import Store
from rovercam.viewer.fields import FIELD_KINDS, MESH_SUFFIXES, PREFERRED, FieldSource
from rovercam.viewer.pyramid import TileSource

__all__ = ["Library", "OUTPUT_ID_PATTERN", "media_type"]

log = logging.getLogger(__name__)

#: Output ids the viewer accepts in a URL (catalog ids are ``M2020-sol00100-NAME-v1``).
OUTPUT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}$")

_EYES = (("LEFT", "RIGHT"), ("RIGHT", "LEFT"))


#: Media types the catalog's files are served with, by suffix, where Python's table has none or
#: another (glTF binary: the type the glTF 2.0 specification registers; PLY has no registered
#: type, ``application/x-ply`` is the usual one); the rest come from :mod:`mimetypes`.
_MEDIA_TYPES = {".glb": "model/gltf-binary", ".ply": "application/x-ply", ".js": "text/javascript; charset=utf-8",
                ".json": "application/json"}


def media_type(name: str) -> str:
    """The media type a file named ``name`` is served with (by suffix; octet-stream if unknown)."""
    suffix = posixpath.splitext(name.lower())[1]
    return _MEDIA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _iso(t: Any) -> str | None:
    return t.isoformat() if t is not None else None


@dataclass(frozen=True, slots=True)
class _Entry:
    record: OutputRecord
    files: dict[str, str]  # file name -> store key
    data_name: str | None  # the raster the tiles come from


def _data_file(rec: OutputRecord, files: dict[str, str]) -> str | None:
    preferred = f"{rec.name}.tif"
    if preferred in files:
        return preferred
    if rec.kind in FIELD_KINDS:
        first = next((n for n in PREFERRED if n in files), None)
        if first is not None:
            return first
    tifs = sorted(n for n in files if n.lower().endswith((".tif", ".tiff")))
    return tifs[0] if tifs else None


class Library:
    """The catalog and storage as the viewer sees them (read-only).

    Parameters
    ----------
    catalog : Catalog
    store : Store
    white_radiance : callable, optional
        ``instrument -> float or None``: the radiance shown as display white for an instrument.
        A ``DISPLAY_WHITE_RADIANCE`` tag in the COG wins; with neither, tiles are scaled by a
        percentile of the raster (:class:`rovercam.viewer.pyramid.TileSource`).
    """

    def __init__(self, catalog: Catalog, store: Store, *, white_radiance: Any = None):
        self.catalog = catalog
        self.store = store
        self._white = white_radiance
        self._lock = threading.Lock()
        self._sources: dict[tuple[str, str], TileSource] = {}
        self._fields: dict[tuple[str, str], FieldSource] = {}
        self._entries: dict[str, _Entry] = {}
        self._newest: dict[tuple[int, str, str], OutputRecord] = {}
        self.refresh()

    @classmethod
    def from_settings(cls, settings: Any) -> "Library":
        """The library of a :class:`rovercam.config.Settings` (its catalog and storage root), read
        only: neither is created (:func:`rovercam.catalog.open_existing`)."""

        def white(instrument: str | None) -> float | None:
            try:
                value = getattr(settings.camera(str(instrument).split("+")[0]), "display_white_radiance", None)
            except ConfigError:  # a camera without settings: the COG's tag, else a percentile
                return None
            return float(value) if value is not None else None

        return cls(open_existing(settings.catalog_url, settings.storage_root), Store.from_settings(settings),
                   white_radiance=white)

    def refresh(self) -> None:
        """Re-read the catalog's outputs (new publishes appear; tile sources are kept)."""
        entries = {}
        newest: dict[tuple[int, str, str], OutputRecord] = {}  # (sol, kind, name) -> newest version
        for rec in self.catalog.outputs():
            files = {posixpath.basename(k): k for k in rec.storage_keys.values()}
            entries[rec.output_id] = _Entry(rec, files, _data_file(rec, files))
            key = (rec.sol, rec.kind, rec.name)
            if key not in newest or rec.version > newest[key].version:
                newest[key] = rec
        with self._lock:
            self._entries, self._newest = entries, newest

    # ------------------------------------------------------------------ lookups

    def ids(self) -> list[str]:
        """Every output id, catalog order (sol, kind, name, version)."""
        return list(self._entries)

    def _entry(self, output_id: str) -> _Entry | None:
        if not isinstance(output_id, str) or not OUTPUT_ID_PATTERN.match(output_id):
            return None
        return self._entries.get(output_id)

    def catalog_record(self, output_id: str) -> OutputRecord | None:
        """The catalog row of an output, or None when unknown."""
        entry = self._entry(output_id)
        return entry.record if entry is not None else None

    def file_key(self, output_id: str, name: str) -> str | None:
        """Store key of file ``name`` of an output, or None when the catalog lists no such file."""
        entry = self._entry(output_id)
        if entry is None or not isinstance(name, str) or "/" in name or "\\" in name:
            return None
        return entry.files.get(name)

    def read_file(self, output_id: str, name: str) -> bytes | None:
        """Bytes of a cataloged file of an output; None when not cataloged or not in storage."""
        key = self.file_key(output_id, name)
        if key is None:
            return None
        try:
            return self.store.read_bytes(key)
        except StorageError as exc:
            log.warning("%s: %s", output_id, exc)
            return None

    def open_file(self, output_id: str, name: str) -> tuple[IO[bytes], int] | None:
        """A cataloged file of an output opened for reading, and its size in bytes; None when not
        cataloged or not in storage. The caller closes the file."""
        key = self.file_key(output_id, name)
        if key is None:
            return None
        try:
            f = self.store.open(key)
        except StorageError as exc:
            log.warning("%s: %s", output_id, exc)
            return None
        try:
            size = f.seek(0, os.SEEK_END)
            f.seek(0)
        except BaseException:
            f.close()
            raise
        return f, int(size)

    def file_checksum(self, output_id: str, name: str) -> str | None:
        """The sha256 the catalog records for a file of an output (hex), or None."""
        entry = self._entry(output_id)
        return entry.record.checksums.get(name) if entry is not None and name in entry.files else None

    def value_at(self, output_id: str, *, az_deg: float | None = None, el_deg: float | None = None,
                 x: float | None = None, y: float | None = None, file: str | None = None) -> dict[str, Any] | None:
        """The stored value(s) of an output's raster at a view direction or a pixel.

        Parameters
        ----------
        output_id : str
        az_deg, el_deg : float, optional
            A direction, degrees: azimuth clockwise from north, elevation up, in the frame the
            raster's projection tags name (docs/conventions.md). Mapped to the nearest pixel by
            the projection (:mod:`rovercam.mosaic.projections`, ``pixels()``).
        x, y : float, optional
            Instead of a direction: full-resolution pixel coordinates (centres at integers);
            the nearest pixel is read.
        file : str, optional
            Which of the output's rasters (``"xyz.tif"``); default the one its tiles show.

        Returns
        -------
        dict or None
            ``{"x", "y", "values", "bands", "units", "band_units"}`` (``x``, ``y`` the pixel
            read; ``values`` one float per data band, None for no data; all None outside the
            raster; ``units`` the first band's, ``band_units`` each band's), plus
            ``az_deg``/``el_deg`` when asked by direction. None when the output has no such
            raster.

        Raises
        ------
        ValueError
            Neither or both of (az_deg, el_deg) and (x, y), a non-finite number, or a direction
            for a raster whose tags name no projection.
        """
        by_dir = az_deg is not None or el_deg is not None
        by_px = x is not None or y is not None
        if by_dir == by_px or (by_dir and (az_deg is None or el_deg is None)) or (by_px and (x is None or y is None)):
            raise ValueError("give az_deg and el_deg, or x and y")
        numbers = [float(v) for v in (az_deg, el_deg, x, y) if v is not None]
        if not all(math.isfinite(v) for v in numbers):
            raise ValueError(f"coordinates must be finite, got {numbers}")
        src = self.tile_source(output_id) if file is None else self.raster_source(output_id, file)
        if src is None:
            return None
        doc: dict[str, Any] = {"bands": src.band_names, "units": src.units, "band_units": src.band_units}
        if file is not None:
            doc["file"] = file
        period = None
        if by_dir:
            try:
                proj = projection_from_tags(src.tags, src.grid.width, src.grid.height)
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{output_id}: no projection to map a direction to a pixel ({exc})") from None
            x, y = (float(c) for c in proj.pixels(direction_from_azimuth_elevation([float(az_deg)], [float(el_deg)]))[0])
            doc.update(az_deg=float(az_deg), el_deg=float(el_deg))
            period = proj.periodic_width
        if not (math.isfinite(x) and math.isfinite(y)):  # a direction the projection does not see
            return {**doc, "x": None, "y": None, "values": None}
        col, row = math.floor(float(x) + 0.5), math.floor(float(y) + 0.5)  # nearest centre
        if period:
            col %= period
        if not (0 <= col < src.grid.width and 0 <= row < src.grid.height):
            return {**doc, "x": None, "y": None, "values": None}
        return {**doc, "x": int(col), "y": int(row), "values": src.values_at(int(col), int(row))}

    def tile_source(self, output_id: str) -> TileSource | None:
        """The tile source of an output's raster (opened once), or None when it has none."""
        entry = self._entry(output_id)
        if entry is None or entry.data_name is None:
            return None
        return self.raster_source(output_id, entry.data_name)

    def raster_source(self, output_id: str, name: str) -> TileSource | None:
        """The tile source of raster file ``name`` of an output (opened once), or None when the
        catalog lists no such GeoTIFF for it."""
        entry = self._entry(output_id)
        if entry is None or not isinstance(name, str) or not name.lower().endswith((".tif", ".tiff")):
            return None
        key = entry.files.get(name)
        if key is None:
            return None
        with self._lock:
            src = self._sources.get((output_id, name))
        if src is not None:
            return src
        try:
            local = self.store.local_path(key)
            if local is not None:
                if not local.is_file():
                    return None
                opener = lambda: rasterio.open(local)  # noqa: E731
            else:
                url, fs = self.store.url(key), self.store.fs
                opener = lambda: rasterio.open(url, opener=fs.open)  # noqa: E731
            white = self._white(entry.record.instrument) if self._white else None
            if entry.record.kind in FIELD_KINDS:
                white = 1.0  # not radiance: the browser colours these from scalar tiles (fields)
            src = TileSource(opener, white_radiance=white)
        except (StorageError, rasterio.errors.RasterioIOError) as exc:
            log.warning("%s: cannot open %s: %s", output_id, key, exc)
            return None
        tag_white = src.tags.get("DISPLAY_WHITE_RADIANCE")
        if tag_white:
            src.white_radiance = float(tag_white)
        with self._lock:
            self._sources.setdefault((output_id, name), src)
            return self._sources[(output_id, name)]

    def field(self, output_id: str, name: str) -> FieldSource | None:
        """The false-colour source of raster ``name`` of a stereo or terrain output, or None."""
        entry = self._entry(output_id)
        if entry is None or entry.record.kind not in FIELD_KINDS:
            return None
        with self._lock:
            fs = self._fields.get((output_id, name))
        if fs is not None:
            return fs
        src = self.raster_source(output_id, name)
        if src is None:
            return None
        with self._lock:
            return self._fields.setdefault((output_id, name), FieldSource(name, src))

    def field_tile(self, output_id: str, name: str, band: str, z: int, x: int, y: int) -> bytes | None:
        """PNG scalar or vector tile (:mod:`rovercam.viewer.fields`); None when there is none."""
        fs = self.field(output_id, name)
        if fs is None or band not in fs.bands() or not fs.source.grid.contains(z, x, y):
            return None
        return fs.tile(band, z, x, y)

    def tile(self, output_id: str, z: int, x: int, y: int) -> bytes | None:
        """JPEG tile ``(z, x, y)`` of an output's pyramid; None when there is no such tile."""
        src = self.tile_source(output_id)
        if src is None or not src.grid.contains(z, x, y):
            return None
        return src.tile(z, x, y)

    # ------------------------------------------------------------------ documents

    def _stereo_partner(self, rec: OutputRecord) -> str | None:
        """Latest output of the other eye: same sol and kind, LEFT <-> RIGHT in name and instrument."""
        for mine, other in _EYES:
            if mine in rec.name.upper() and rec.instrument and mine in rec.instrument.upper():
                i = rec.name.upper().rfind(mine)
                name = rec.name[:i] + other + rec.name[i + len(mine):]
                best = self._newest.get((rec.sol, rec.kind, name))
                if best is not None and self._entries[best.output_id].data_name:
                    return best.output_id
                return None
        return None

    def _view(self, output_id: str) -> dict[str, Any] | None:
        src = self.tile_source(output_id)
        if src is None:
            return None
        doc: dict[str, Any] = {"grid": src.grid.to_dict(), "panorama": None, "bands": src.bands,
                               "units": src.units}
        tags = src.tags
        kind = tags.get("MAP_PROJECTION_TYPE")
        if kind in ("CYLINDRICAL", "EQUIRECTANGULAR"):
            proj = projection_from_tags(tags, src.grid.width, src.grid.height)
            doc["panorama"] = {
                "kind": kind,
                "az_start_deg": proj.az_start_deg,
                "el_top_deg": proj.el_top_deg,
                "scale_deg": proj.scale_deg,
                "periodic_width": proj.periodic_width or 0,
            }
        doc["projection"] = kind
        return doc

    def summary(self, output_id: str) -> dict[str, Any] | None:
        """The catalog-page record of an output (JSON-ready), or None when unknown."""
        entry = self._entry(output_id)
        if entry is None:
            return None
        rec = entry.record
        thumb = next((n for n in entry.files if n.endswith("_thumb.png") or n == "thumbnail.png"), None)
        newest = self._newest[(rec.sol, rec.kind, rec.name)].version
        return {
            "output_id": rec.output_id,
            "name": rec.name,
            "kind": rec.kind,
            "sol": rec.sol,
            "instrument": rec.instrument,
            "mission": rec.mission,
            "version": rec.version,
            "latest": rec.version == newest,
            "start_time": _iso(rec.start_time),
            "created_at": _iso(rec.created_at),
            "thumbnail": f"files/{rec.output_id}/{thumb}" if thumb else None,
            "view": self._view(output_id),
            "stereo_partner": self._stereo_partner(rec),
            # stereo and terrain outputs: the rasters shown in false colour and the 3-D meshes
            "fields": sorted(n for n in entry.files if n.lower().endswith((".tif", ".tiff")))
            if rec.kind in FIELD_KINDS else [],
            "meshes": sorted(n for n in entry.files if n.lower().endswith(MESH_SUFFIXES))
            if rec.kind in FIELD_KINDS else [],
        }

    def index(self) -> dict[str, Any]:
        """The catalog page's document: every output's summary."""
        return {"outputs": [s for i in self.ids() if (s := self.summary(i)) is not None]}

    def detail(self, output_id: str) -> dict[str, Any] | None:
        """The product page's document: summary, files, tags and lineage; None when unknown."""
        summary = self.summary(output_id)
        if summary is None:
            return None
        entry = self._entries[output_id]
        rec = entry.record
        src = self.tile_source(output_id)
        tags = {k: v for k, v in (src.tags if src else {}).items() if k != "ROVERCAM_PROVENANCE"}
        try:
            lin = lineage_report(self.catalog, output_id)
        except CatalogError:
            lin = None
        inputs = []
        run = None
        if lin is not None:
            for i in lin.inputs:
                p = i.product
                inputs.append({
                    "product_id": i.link.product_id,
                    "sha256": i.link.product_sha256,
                    "state": p.state if p else None,
                    "instrument": p.instrument if p else None,
                    "start_time": _iso(p.start_time) if p else None,
                })
            if lin.run is not None:
                run = {"run_id": lin.run.run_id, "flow": lin.run.flow, "status": lin.run.status,
                       "software_version": lin.run.software_version, "config_hash": lin.run.config_hash,
                       "started_at": _iso(lin.run.started_at)}
        versions = sorted(e.record.output_id for e in self._entries.values()
                          if e.record.name == rec.name and e.record.sol == rec.sol)
        fields = [fs.describe() for n in summary["fields"] if (fs := self.field(output_id, n)) is not None]
        return {
            **summary,
            "fields": [f["name"] for f in fields],
            "field_info": fields,
            "files": [{"name": n, "url": f"files/{rec.output_id}/{n}", "sha256": rec.checksums.get(n),
                       "media_type": media_type(n)} for n in sorted(entry.files)],
            "tags": tags,
            "run": run,
            "inputs": inputs,
            "versions": versions,
        }
