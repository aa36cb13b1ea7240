"""Tile pyramids over a published raster: levels, tile windows, and 8-bit tiles read from a COG.

Level ``z`` of a pyramid over a ``width x height`` image is the image reduced by ``2**(top - z)``
(``top`` = the full-resolution level, the smallest ``z`` is 0 and fits one tile), cut into
``tile x tile`` tiles from the top-left corner; tiles on the right and bottom edges are smaller.
Level pixel ``(x, y)`` covers full-resolution pixels ``[x s, (x + 1) s)`` with ``s = 2**(top - z)``
(pixel convention: docs/conventions.md; centres at integers, so level pixel centre ``x`` sits at
full-resolution ``(x + 1/2) s - 1/2``).

Tiles are read from a COG window at the reduction of their level: GDAL answers a decimated read
from the internal overview that matches (published COGs have overviews by factors of 2, made by
averaging), so a tile of any level costs about one internal block. Radiance becomes display sRGB
through :func:`rovercam.radiometry.to_display`, the function behind the published PNG previews.
A 1-band raster (grayscale cameras) gives 8-bit grayscale tiles (one-channel JPEG/PNG), which
browsers decode to equal R, G and B, so the viewer's shader shows them gray unchanged.
"""
from __future__ import annotations

import logging
import math
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

__all__ = ["TileGrid", "TileSource", "encode_tile", "TILE_SIZE", "TileFormat"]

log = logging.getLogger(__name__)

#: Tile side, pixels (the COG block size, so a full-resolution tile is one internal block).
TILE_SIZE = 512

TileFormat = Literal["jpg", "png"]


@dataclass(frozen=True, slots=True)
class TileGrid:
    """The pyramid layout of a ``width x height`` image.

    Attributes
    ----------
    width, height : int
        Full-resolution size, pixels.
    tile : int
        Tile side, pixels.
    top : int
        The full-resolution level; level 0 fits in one tile.
    """

    width: int
    height: int
    tile: int = TILE_SIZE

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1 or self.tile < 16:
            raise ValueError(f"bad tile grid {self.width}x{self.height}, tile {self.tile}")

    @property
    def top(self) -> int:
        return max(0, math.ceil(math.log2(max(self.width, self.height) / self.tile)))

    def reduction(self, z: int) -> int:
        """Full-resolution pixels per level-``z`` pixel along each axis (``2**(top - z)``)."""
        return 1 << (self.top - z)

    def level_size(self, z: int) -> tuple[int, int]:
        """(width, height) of level ``z``, pixels."""
        s = self.reduction(z)
        return -(-self.width // s), -(-self.height // s)

    def tile_counts(self, z: int) -> tuple[int, int]:
        """(columns, rows) of tiles at level ``z``."""
        w, h = self.level_size(z)
        return -(-w // self.tile), -(-h // self.tile)

    def contains(self, z: int, x: int, y: int) -> bool:
        """True when tile ``(z, x, y)`` exists."""
        if not 0 <= z <= self.top:
            return False
        nx, ny = self.tile_counts(z)
        return 0 <= x < nx and 0 <= y < ny

    def window(self, z: int, x: int, y: int) -> tuple[Window, tuple[int, int]]:
        """Full-resolution window of tile ``(z, x, y)`` and the tile's (height, width), pixels.

        Raises
        ------
        ValueError
            The tile does not exist.
        """
        if not self.contains(z, x, y):
            raise ValueError(f"no tile {z}/{x}/{y} in a {self.width}x{self.height} pyramid")
        s = self.reduction(z)
        lw, lh = self.level_size(z)
        x0, y0 = x * self.tile, y * self.tile
        tw, th = min(self.tile, lw - x0), min(self.tile, lh - y0)
        col0, row0 = x0 * s, y0 * s
        win = Window(col0, row0, min(tw * s, self.width - col0), min(th * s, self.height - row0))
        return win, (th, tw)

    def tiles(self, z: int) -> list[tuple[int, int]]:
        """Every (x, y) of level ``z``, row by row."""
        nx, ny = self.tile_counts(z)
        return [(x, y) for y in range(ny) for x in range(nx)]

    def to_dict(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "tile": self.tile, "top": self.top}


def _units(band_unit: str | None, tag: str | None) -> str | None:
    """The values' units: the band's unit, else the ``UNITS`` tag; None when neither says."""
    for u in (band_unit, tag):
        if u and u.strip() and u.strip().lower() != "unknown":
            return u.strip()
    return None


def encode_tile(rgb: NDArray[np.uint8], fmt: TileFormat = "jpg", *, quality: int = 90) -> bytes:
    """Encode an (H, W, 3) uint8 sRGB tile, or an (H, W, 1) grayscale one, as JPEG or PNG bytes
    (deterministic; a grayscale tile is a one-channel file)."""
    if rgb.ndim != 3 or rgb.shape[2] not in (1, 3) or rgb.dtype != np.uint8:
        raise ValueError(f"tiles are (H, W, 3) or (H, W, 1) uint8, got {rgb.shape} {rgb.dtype}")
    bgr = np.ascontiguousarray(rgb[..., ::-1] if rgb.shape[2] == 3 else rgb[..., 0])
    if fmt == "jpg":
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    elif fmt == "png":
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    else:
        raise ValueError(f"tile format must be 'jpg' or 'png', got {fmt!r}")
    if not ok:
        raise ValueError(f"could not encode a {fmt} tile of shape {rgb.shape}")
    return buf.tobytes()


class TileSource:
    """Display tiles of one published raster, read window by window, with a small LRU cache.

    Parameters
    ----------
    opener : callable
        ``opener() -> rasterio dataset``; called once per thread (GDAL handles are not shared
        between threads).
    white_radiance : float or None
        Radiance shown as display white (W m-2 sr-1 nm-1), as in the published preview. None:
        the raster's ``DISPLAY_WHITE_RADIANCE`` tag, else
        :func:`rovercam.radiometry.percentile_white` of its coarsest pyramid level.
    cache_tiles : int
        Encoded tiles kept in memory.

    Notes
    -----
    Bands 1-3 are read as linear sRGB radiance (float32, NaN = no data) and encoded with
    :func:`rovercam.radiometry.to_display`; a raster of one or two bands gives grayscale
    tiles of band 1. A uint8 raster is taken as display values already.
    """

    def __init__(self, opener: Any, *, white_radiance: float | None, cache_tiles: int = 256):
        self._opener = opener
        self._local = threading.local()
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._cache_tiles = cache_tiles
        ds = self._dataset()
        self.grid = TileGrid(ds.width, ds.height)
        self.count = ds.count
        self.bands = 3 if ds.count >= 3 else 1
        self.dtype = ds.dtypes[0]
        self.tags: dict[str, str] = dict(ds.tags())
        self.data_bands = [i for i, ci in enumerate(ds.colorinterp, start=1) if ci != ColorInterp.alpha]
        band_tags = [ds.tags(i) for i in self.data_bands]
        # a band's name: its ``name`` tag (stereo products, docs/stereo.md), else its description
        self.band_names = [t.get("name") or ds.descriptions[i - 1] or f"band {i}"
                           for i, t in zip(self.data_bands, band_tags)]
        self.units = _units(ds.units[0] if ds.units else None, self.tags.get("UNITS"))
        #: Each data band's units: the band's unit, else its ``units`` tag, else the ``UNITS`` tag.
        self.band_units = [_units(ds.units[i - 1] if ds.units else None, t.get("units") or self.tags.get("UNITS"))
                           for i, t in zip(self.data_bands, band_tags)]
        if self.units is None and self.band_units and len(set(self.band_units)) == 1:
            self.units = self.band_units[0]
        if white_radiance is None and self.tags.get("DISPLAY_WHITE_RADIANCE"):
            white_radiance = float(self.tags["DISPLAY_WHITE_RADIANCE"])
        if white_radiance is None and self.dtype != "uint8":
            white_radiance = self._percentile_white()
        self.white_radiance = float(white_radiance) if white_radiance is not None else 1.0

    def _dataset(self) -> Any:
        ds = getattr(self._local, "ds", None)
        if ds is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                ds = self._opener()
            self._local.ds = ds
        return ds

    def _percentile_white(self) -> float:
        """:func:`~rovercam.radiometry.percentile_white` of level 0 (one tile, an overview read)."""
        from rovercam.radiometry import percentile_white

        window, (th, tw) = self.grid.window(0, 0, 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            data = self._dataset().read(list(range(1, self.bands + 1)), window=window,
                                        out_shape=(self.bands, th, tw), resampling=Resampling.average)
        return percentile_white(np.moveaxis(data, 0, 2))

    def values_at(self, x: int, y: int) -> list[float | None]:
        """The stored values of full-resolution pixel ``(x, y)`` (0-based column and row), one
        per data band (alpha excluded), as floats; None where a value is NaN or no data.

        Raises
        ------
        ValueError
            The pixel is outside the raster.
        """
        if not (0 <= x < self.grid.width and 0 <= y < self.grid.height):
            raise ValueError(f"pixel ({x}, {y}) is outside a {self.grid.width}x{self.grid.height} raster")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            data = self._dataset().read(self.data_bands, window=Window(x, y, 1, 1), masked=True)
        out: list[float | None] = []
        for v in data[:, 0, 0]:
            out.append(None if np.ma.is_masked(v) or not np.isfinite(float(v)) else float(v))
        return out

    def read_float(self, z: int, x: int, y: int, bands: list[int] | None = None) -> NDArray[np.float32]:
        """Tile ``(z, x, y)`` as stored values, (h, w, B) float32 (B = ``bands``, 1-based, default
        every data band), averaged over each level pixel (GDAL reads the matching overview;
        no-data stays NaN). ValueError when the tile does not exist."""
        window, (th, tw) = self.grid.window(z, x, y)
        bands = list(bands or self.data_bands)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            data = self._dataset().read(bands, window=window, out_shape=(len(bands), th, tw),
                                        resampling=Resampling.average, masked=True)
        return np.moveaxis(data.astype(np.float32).filled(np.nan), 0, 2)

    def cached(self, key: tuple[Any, ...], make: Any) -> bytes:
        """``make()``'s bytes, kept in the tile cache under ``key`` (an LRU of encoded tiles)."""
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        data = make()
        with self._lock:
            self._cache[key] = data
            while len(self._cache) > self._cache_tiles:
                self._cache.popitem(last=False)
        return data

    def read_rgb(self, z: int, x: int, y: int) -> NDArray[np.uint8]:
        """Tile ``(z, x, y)`` as (h, w, 3) uint8 display sRGB, or (h, w, 1) 8-bit grayscale for
        a 1-band raster (no data -> 0).

        Raises
        ------
        ValueError
            The tile does not exist.
        """
        from rovercam.radiometry import to_display  # large package; only tiles need it

        window, (th, tw) = self.grid.window(z, x, y)
        ds = self._dataset()
        bands = list(range(1, self.bands + 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            data = ds.read(bands, window=window, out_shape=(len(bands), th, tw), resampling=Resampling.average)
        rgb = np.moveaxis(data, 0, 2)
        if rgb.dtype == np.uint8:
            return np.ascontiguousarray(rgb)
        return to_display(rgb.astype(np.float32, copy=False), white_radiance=self.white_radiance)

    def tile(self, z: int, x: int, y: int, fmt: TileFormat = "jpg") -> bytes:
        """Encoded tile ``(z, x, y)`` (cached). ValueError when the tile does not exist."""
        return self.cached((z, x, y, fmt), lambda: encode_tile(self.read_rgb(z, x, y), fmt))
