"""Orthorectification and the landing-site orthomosaic: grids, levels, CRS, descent track.

Geometry. Every output cell centre (north, east) gets its height from the ground surface
(:mod:`rovercam.edl.ground`: a level plane, or a DEM when given), becomes the SITE_FRAME point
(north, east, -height) and is projected by the frame's (refined) camera model; the frame is
resampled there as mosaics are (:mod:`rovercam.mosaic.resample`): per block of 512 x 512 cells,
from the pyramid level the local scale calls for, with the Lanczos kernel and bilinear fallback
at no-data, so nothing aliases and no-data does not bleed in. Relief is therefore handled exactly where the
DEM is right; over a plane, relief displaces points by ``h * tan(off-nadir angle)``.

Levels ("resolution follows the data"). A frame's ground sample distance is ``altitude / f``
(``f`` = focal length in pixels). Frames are put on a ladder of cells ``4**-k`` times the
coarsest frame's GSD: level ``k`` holds the frames whose GSD is in ``[cell_k, 4 cell_k)``, so its
cell is at most 4 times finer than its coarsest member's GSD and never coarser than its finest
member's. Each level is one grid over the union of its frames' footprints (cropped to
``max_side`` pixels around the touchdown point), frames drawn in time order with the later
(lower, finer) frame on top, each scaled by one gain to match what is under it.

CRS. The output is in a local tangent plane of Mars: PROJ's orthographic projection on the
Mars 2000 (IAU 2000) ellipsoid, a = 3396190 m, b = 3376200 m, centred on the SITE_FRAME origin's
latitude/longitude (planetocentric, east-positive): map x = SITE east, map y = SITE north, metres,
with no scale error at the centre (the orthographic projection's scale is exact there and off by
less than 1e-5 within 10 km). A local plane keeps the cells square in metres at descent scales,
which a geographic (degree) grid does not; the track is also given in Mars 2000 longitude and
latitude (GeoJSON) through pyproj.
"""
from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rovercam.edl.ground import Surface, intersect
from rovercam.edl.pose import altitude_above
from rovercam.errors import MosaicError
from rovercam.mosaic.resample import (Level, blur_level, footprint_filter, footprint_level, level_coordinates, make_level,
                                      map_scale, reduce_level, resample)

__all__ = ["OrthoGrid", "OrthoLevel", "local_crs", "MARS2000_GEOGRAPHIC", "JEZERO_LAT_LON",
           "ground_sample_m", "footprint", "plan_levels", "orthorectify", "mosaic_level",
           "track_geojson"]

log = logging.getLogger(__name__)

_BLOCK = 512  # cells per side of the blocks that choose their own pyramid level

#: Mars 2000 geographic CRS (IAU 2000 ellipsoid, planetocentric latitude, east longitude).
MARS2000_GEOGRAPHIC = "+proj=longlat +a=3396190 +b=3376200 +no_defs +type=crs"
#: Mars 2020 landing site, Jezero crater (planetocentric deg N, deg E); default CRS centre.
JEZERO_LAT_LON = (18.4447, 77.4508)


def local_crs(lat_deg: float = JEZERO_LAT_LON[0], lon_deg: float = JEZERO_LAT_LON[1]) -> str:
    """PROJ string of the local tangent plane centred at (lat, lon) (module docstring)."""
    if not -90 <= lat_deg <= 90 or not -360 <= lon_deg <= 360:
        raise ValueError(f"latitude/longitude out of range: {lat_deg}, {lon_deg}")
    return (f"+proj=ortho +lat_0={lat_deg:.6f} +lon_0={lon_deg:.6f} +x_0=0 +y_0=0 "
            f"+a=3396190 +b=3376200 +units=m +no_defs +type=crs")


@dataclass(frozen=True, slots=True)
class OrthoGrid:
    """A north-up grid in the local plane: row 0 at ``north_max``, column 0 at ``east_min``
    (cell centres), ``cell_m`` metres square."""

    cell_m: float
    north_max: float
    east_min: float
    width: int
    height: int

    @property
    def transform(self) -> Any:
        """The rasterio affine transform (pixel corner convention: centres at +0.5 cell)."""
        from rasterio.transform import Affine

        return Affine(self.cell_m, 0.0, self.east_min - self.cell_m / 2, 0.0, -self.cell_m,
                      self.north_max + self.cell_m / 2)

    def coordinates(self, rows: slice = slice(None), cols: slice = slice(None)
                    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(north, east) of cell centres, each (h, w) for the given window."""
        r = np.arange(self.height)[rows].astype(np.float64)
        c = np.arange(self.width)[cols].astype(np.float64)
        north = self.north_max - r * self.cell_m
        east = self.east_min + c * self.cell_m
        return np.repeat(north[:, None], len(c), 1), np.repeat(east[None, :], len(r), 0)

    def window(self, north_lo: float, north_hi: float, east_lo: float, east_hi: float
               ) -> tuple[slice, slice] | None:
        """Rows and columns covering a (north, east) box, or None when outside the grid."""
        r0 = max(0, int(math.floor((self.north_max - north_hi) / self.cell_m)))
        r1 = min(self.height, int(math.ceil((self.north_max - north_lo) / self.cell_m)) + 1)
        c0 = max(0, int(math.floor((east_lo - self.east_min) / self.cell_m)))
        c1 = min(self.width, int(math.ceil((east_hi - self.east_min) / self.cell_m)) + 1)
        if r0 >= r1 or c0 >= c1:
            return None
        return slice(r0, r1), slice(c0, c1)


@dataclass(slots=True)
class OrthoLevel:
    """One level of the orthomosaic: grid, image (H, W, B) float32 (NaN = no data), members, and
    the correction factor each member was multiplied by (docs/mosaics.md#gains; 1 = unchanged)."""

    level: int
    grid: OrthoGrid
    image: NDArray[np.float32]
    product_ids: list[str] = field(default_factory=list)
    factors: dict[str, float] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        """Fraction of cells with data."""
        return float(np.isfinite(self.image[..., 0]).mean())


def ground_sample_m(model, surface: Surface) -> float:
    """Ground sample distance at nadir, metres per pixel: altitude / focal length (pixels)."""
    return altitude_above(model, surface) / float(model.internal().hs)


def footprint(model, size: tuple[int, int], surface: Surface, *, steps: int = 8
              ) -> NDArray[np.float64] | None:
    """Ground points (K, 3) of the frame border (``size`` = (W, H)), SITE_FRAME; None when the
    frame does not see the ground."""
    w, h = size
    t = np.linspace(0, 1, steps + 1)
    xs = np.concatenate([t * (w - 1), np.full_like(t, w - 1), (1 - t) * (w - 1), np.zeros_like(t)])
    ys = np.concatenate([np.zeros_like(t), t * (h - 1), np.full_like(t, h - 1), (1 - t) * (h - 1)])
    o, d = model.unproject(np.column_stack([xs, ys]))
    g = intersect(o, d, surface)
    g = g[np.isfinite(g).all(axis=1)]
    return g if len(g) >= 3 else None


def plan_levels(models: Sequence, sizes: Sequence[tuple[int, int]], surface: Surface, *,
                factor: float = 4.0, max_side: int = 4096,
                centre: tuple[float, float] | None = None) -> list[tuple[OrthoGrid, list[int]]]:
    """Levels of the orthomosaic from the frames' GSDs and footprints (module docstring).

    Parameters
    ----------
    models : sequence of camera models (SITE_FRAME)
    sizes : sequence of (W, H)
    surface : Surface
    factor : float, keyword-only
        Cell ratio between levels.
    max_side : int
        Longest side of a level, cells; larger unions are cropped around ``centre``.
    centre : (north, east), optional
        Touchdown point; default the nadir of the last frame.

    Returns
    -------
    list of (OrthoGrid, member indices)
        Coarsest first; empty levels are left out.
    """
    if not models:
        raise MosaicError("no frame to plan an orthomosaic from")
    gsd = np.array([ground_sample_m(m, surface) for m in models])
    top = float(gsd.max())
    k = np.floor(np.log(top / gsd) / np.log(factor) + 1e-9).astype(int)
    if centre is None:
        c = np.asarray(models[-1].c)
        centre = (float(c[0]), float(c[1]))
    out = []
    for level in sorted(set(k.tolist())):
        members = [i for i in range(len(models)) if k[i] == level]
        prints = [footprint(models[i], sizes[i], surface) for i in members]
        keep = [i for i, p in zip(members, prints) if p is not None]
        pts = np.concatenate([p for p in prints if p is not None]) if keep else None
        if pts is None:
            continue
        cell = top / factor ** level
        n_lo, n_hi = float(pts[:, 0].min()), float(pts[:, 0].max())
        e_lo, e_hi = float(pts[:, 1].min()), float(pts[:, 1].max())
        half = max_side * cell / 2
        n_lo, n_hi = max(n_lo, centre[0] - half), min(n_hi, centre[0] + half)
        e_lo, e_hi = max(e_lo, centre[1] - half), min(e_hi, centre[1] + half)
        if n_hi <= n_lo or e_hi <= e_lo:
            continue
        width = int(math.ceil((e_hi - e_lo) / cell)) + 1
        height = int(math.ceil((n_hi - n_lo) / cell)) + 1
        out.append((OrthoGrid(cell, n_hi, e_lo, width, height), keep))
    return out


def orthorectify(image: NDArray[np.float32], model, grid: OrthoGrid, surface: Surface, *,
                 window: tuple[slice, slice] | None = None
                 ) -> tuple[NDArray[np.float32], tuple[slice, slice]] | None:
    """Resample one frame onto (a window of) a grid (module docstring).

    Parameters
    ----------
    image : (H, W) or (H, W, B) ndarray of float32
        The linearized frame.
    model : camera model of ``image``'s pixels, SITE_FRAME.
    grid : OrthoGrid
    surface : Surface
    window : (rows, cols), optional
        Part of the grid to fill; default the frame's footprint box.

    Returns
    -------
    (patch, window) or None
        ``patch`` (h, w, B) float32, NaN outside the frame; None when the frame misses the grid.
    """
    img = np.asarray(image, np.float32)
    if img.ndim == 2:
        img = img[..., None]
    h_img, w_img = img.shape[:2]
    if window is None:
        fp = footprint(model, (w_img, h_img), surface)
        if fp is None:
            return None
        window = grid.window(fp[:, 0].min(), fp[:, 0].max(), fp[:, 1].min(), fp[:, 1].max())
        if window is None:
            return None
    north, east = grid.coordinates(*window)
    height = surface.height(north.ravel(), east.ravel())
    pts = np.column_stack([north.ravel(), east.ravel(), -height])
    px = model.project(pts)
    hh, ww = north.shape
    mx = px[:, 0].reshape(hh, ww).astype(np.float32)
    my = px[:, 1].reshape(hh, ww).astype(np.float32)
    inside = (mx >= 0) & (mx <= w_img - 1) & (my >= 0) & (my <= h_img - 1)
    mx = np.where(inside, mx, np.float32(-1e5))
    my = np.where(inside, my, np.float32(-1e5))
    finite = np.isfinite(img).all(axis=2)
    valid = None if finite.all() else finite.astype(np.float32)
    plain = [make_level(np.where(finite[..., None], img, np.float32(0.0)), valid)]
    smoothed: dict[tuple[int, float], Level] = {}
    out = np.full((hh, ww, img.shape[2]), np.nan, np.float32)
    for y0 in range(0, hh, _BLOCK):
        for x0 in range(0, ww, _BLOCK):
            blk = (slice(y0, y0 + _BLOCK), slice(x0, x0 + _BLOCK))
            bx, by = mx[blk], my[blk]
            lvl = _level(plain, smoothed, *footprint_filter(map_scale(bx, by, w_img, h_img)))
            lx, ly = level_coordinates(bx, by, lvl.level)
            res, v = resample(lvl, lx, ly)
            if v is not None:  # bilinear fallback pixels: the mean of their valid taps
                res = np.where(v[..., None] >= 0.5, res / np.maximum(v, np.float32(1e-6))[..., None], np.nan)
            res[~inside[blk]] = np.nan
            out[blk] = res
    return out, window


def _level(plain: list[Level], smoothed: dict[tuple[int, float], Level], level: int, sigma: float) -> Level:
    """Pyramid level ``level`` of a frame with the footprint Gaussian ``sigma``
    (:func:`rovercam.mosaic.resample.footprint_filter`), as the mosaic render builds it: plain
    box levels are appended to ``plain``, smoothed ones kept in ``smoothed``."""
    base = level - 1 if sigma > 0 and level > 0 else level
    while len(plain) <= base:
        plain.append(reduce_level(plain[-1]))
    if sigma <= 0:
        return plain[level]
    lvl = smoothed.get((level, sigma))
    if lvl is None:
        lvl = footprint_level(plain[base], sigma) if level > 0 else blur_level(plain[0], sigma)
        smoothed[(level, sigma)] = lvl
    return lvl


def mosaic_level(level: int, grid: OrthoGrid, frames: Sequence[tuple[str, NDArray[np.float32], Any]],
                 surface: Surface, *, match_gains: bool = True) -> OrthoLevel:
    """Draw frames (product id, image, model) in order onto ``grid``; later frames on top.

    With ``match_gains`` each frame is multiplied by a correction factor, the median ratio of
    what is already under it to itself (luminance, over the overlap), so exposure steps do not
    show as seams.
    """
    if not frames:
        raise MosaicError(f"level {level}: no frame")
    bands = 1 if np.asarray(frames[0][1]).ndim == 2 else np.asarray(frames[0][1]).shape[2]
    image = np.full((grid.height, grid.width, bands), np.nan, np.float32)
    out = OrthoLevel(level, grid, image)
    for pid, img, model in frames:
        res = orthorectify(img, model, grid, surface)
        if res is None:
            log.info("%s: misses level %d", pid, level)
            continue
        patch, (rows, cols) = res
        dst = image[rows, cols]
        new = np.isfinite(patch[..., 0])
        factor = 1.0
        if match_gains:
            both = new & np.isfinite(dst[..., 0])
            if both.sum() > 100:
                a, b = dst[both].mean(axis=1), patch[both].mean(axis=1)
                ok = b > 0
                if ok.sum() > 100:
                    factor = float(np.median(a[ok] / b[ok]))
        dst[new] = patch[new] * np.float32(factor)
        out.product_ids.append(pid)
        out.factors[pid] = factor
    log.info("level %d: %dx%d cells of %.4g m, %d frames, %.0f %% covered", level, grid.width,
             grid.height, grid.cell_m, len(out.product_ids), 100 * out.coverage)
    return out


def track_geojson(points: Sequence[dict[str, Any]], crs: str) -> str:
    """The descent track as GeoJSON text: a LineString and one Point per frame.

    Parameters
    ----------
    points : sequence of dict
        Each with ``north_m``, ``east_m`` (SITE_FRAME = local plane), ``altitude_m`` and any
        other JSON-ready properties (product id, time...), in time order.
    crs : str
        The local plane's CRS (:func:`local_crs`).

    Returns
    -------
    str
        GeoJSON FeatureCollection; coordinates are Mars 2000 (longitude, latitude, altitude m);
        a ``crs`` member names that CRS (RFC 7946 assumes Earth's WGS 84, so it is said).
    """
    from pyproj import Transformer

    tf = Transformer.from_crs(crs, MARS2000_GEOGRAPHIC, always_xy=True)
    feats = []
    coords = []
    for p in points:
        lon, lat = tf.transform(float(p["east_m"]), float(p["north_m"]))
        xyz = [round(lon, 9), round(lat, 9), round(float(p["altitude_m"]), 3)]
        coords.append(xyz)
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": xyz},
                      "properties": {k: v for k, v in p.items()}})
    line = {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords},
            "properties": {"name": "descent track", "frames": len(coords)}}
    doc = {"type": "FeatureCollection",
           "crs": {"type": "name", "properties": {"name": MARS2000_GEOGRAPHIC}},
           "rovercam:local_crs": crs, "features": [line, *feats]}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"
