"""The truth seen from straight above: orthoimage and DEM of a generated terrain.

For scoring orthographic (and terrain-draped) mosaics and DEMs made from stereo pairs of the
terrain profiles. Frames and units: SITE_FRAME, +x north, +y east, +z down, metres
(docs/conventions.md#frames); heights are *up* (``z = -height``). Grids follow
:class:`rovercam.terrain.DEM`: row ``i`` runs along +x, column ``j`` along +y, and the centre of
cell ``[i, j]`` is at ``x = origin[0] + i * cell_m``, ``y = origin[1] + j * cell_m``.

What the orthoimage is, exactly: at each cell centre ``(x, y)``, the terrain's surface radiance
at the surface point above it, ``(x, y, -height(x, y))``, band-limited to the cell size. That is
the radiance every camera ray reads at that surface point (albedo x Lambertian sun with cast
shadows + sky, landmark dots), before the camera's view-dependent terms: no haze along the
line of sight, no 0.5 px optics blur, no sensor. A camera at range ``r`` sees
``L * T + L_haze * (1 - T)`` with ``T = terrain.transmittance(...)``; the haze is several times
brighter than the ground, so that is +0.1 % at 2 m, +0.3 % at 6 m and up to +3 % (blue) at 60 m.
The band limit follows the cell, as a camera's follows its pixel footprint: a one-cell
orthoimage at a frame's ``frame_xyz`` point with the pixel's footprint as ``cell_m`` gives that
pixel's truth radiance without haze (to ~0.2 %: texture lookups are bilinear at 1/32 of a cell,
and the float32 point lies microns from the renderer's). The DEM is the height the ray caster
intersects (bilinear in the finest terrain level covering the point). Cells outside the
terrain are NaN in both.

>>> import numpy as np
>>> from rovercam.synth import TerrainParams, build_terrain, orthoimage
>>> terrain = build_terrain(TerrainParams(seed=1, cells=128))
>>> ortho = orthoimage(terrain, (-1.0, -1.0, 1.0, 1.0), 0.05)
>>> ortho.radiance.shape, ortho.dem.heights.shape, ortho.gray().dtype
((41, 41, 3), (41, 41), dtype('float32'))
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.errors import RovercamError
from rovercam.synth.terrain import Terrain, TerrainParams, build_terrain
from rovercam.terrain import DEM

__all__ = ["Orthoimage", "orthoimage", "load_terrain", "LUMINANCE_WEIGHTS"]

#: World-RGB weights of the default gray band: CIE Y of linear sRGB primaries (IEC 61966-2-1).
LUMINANCE_WEIGHTS = (0.2126, 0.7152, 0.0722)
_MAX_CELLS = 64 * 2**20


@dataclass(frozen=True, eq=False)
class Orthoimage:
    """The terrain seen from straight above on a SITE_FRAME grid (see the module docstring).

    Attributes
    ----------
    radiance : (rows, cols, 3) ndarray of float32
        World-RGB surface radiance (linear sRGB primaries), W m^-2 sr^-1 nm^-1; NaN outside
        the terrain.
    dem : rovercam.terrain.DEM
        Truth heights (up, metres) on the same grid; its ``origin`` and ``cell_m`` are the
        orthoimage's.
    """

    radiance: NDArray[np.float32]
    dem: DEM

    @property
    def origin(self) -> tuple[float, float]:
        """``(x, y)`` SITE_FRAME metres of the centre of cell ``[0, 0]``."""
        return self.dem.origin

    @property
    def cell_m(self) -> float:
        """Cell size, metres."""
        return self.dem.cell_m

    def gray(self, weights: ArrayLike = LUMINANCE_WEIGHTS) -> NDArray[np.float32]:
        """One band: ``weights @ world RGB`` per cell, (rows, cols) float32, W m^-2 sr^-1 nm^-1.

        ``weights`` (3,) default :data:`LUMINANCE_WEIGHTS`; pass a sol's panchromatic weights
        (:attr:`rovercam.synth.Truth.gray_weights`) or a camera band's to match what it sees.
        """
        w = np.asarray(weights, dtype=np.float32)
        if w.shape != (3,):
            raise ValueError(f"weights must be shaped (3,), got {w.shape}")
        return self.radiance @ w


def load_terrain(sol_dir: str | Path) -> Terrain:
    """Rebuild the terrain of a generated terrain sol from its manifest (a few seconds).

    Raises
    ------
    rovercam.errors.RovercamError
        No manifest, or the sol's world is not a terrain (profiles ``demo``, ``tiny``,
        ``heritage-navcam`` keep the world at infinity).
    """
    path = Path(sol_dir) / "truth" / "manifest.json"
    if not path.is_file():
        raise RovercamError(f"{path}: no synthetic-sol manifest here")
    extra = json.loads(path.read_text()).get("extra", {})
    if extra.get("world") != "terrain":
        raise RovercamError(f"{path}: not a terrain sol (its world is at infinity)")
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in extra["terrain"].items()}
    return build_terrain(TerrainParams(**params))


def orthoimage(source: str | Path | Terrain, bounds: tuple[float, float, float, float],
               cell_m: float) -> Orthoimage:
    """The truth orthoimage and DEM of a terrain on a SITE_FRAME grid.

    Parameters
    ----------
    source : path-like or Terrain
        A sol folder of a terrain profile (its terrain is rebuilt, :func:`load_terrain`; pass
        the returned Terrain instead to grid it more than once) or a built terrain.
    bounds : (x_min, y_min, x_max, y_max)
        SITE_FRAME metres (north, east) of the first and last cell *centres*: cell centres run
        from ``x_min`` in steps of ``cell_m`` up to ``x_max`` (included when on the step), the
        same along y.
    cell_m : float
        Cell size, metres; also the band limit of the radiance.

    Returns
    -------
    Orthoimage
        Radiance and DEM on ``rows x cols`` cells, ``origin = (x_min, y_min)``.

    Raises
    ------
    ValueError
        Empty or inverted bounds, a non-positive cell, or more than 64 Mi cells.
    """
    x_min, y_min, x_max, y_max = (float(v) for v in bounds)
    cell = float(cell_m)
    if not cell > 0 or not np.isfinite(cell):
        raise ValueError(f"cell_m must be a positive number, got {cell_m!r}")
    if not (x_max >= x_min and y_max >= y_min):
        raise ValueError(f"bounds must be (x_min, y_min, x_max, y_max), got {bounds!r}")
    rows = int(np.floor((x_max - x_min) / cell + 1e-9)) + 1
    cols = int(np.floor((y_max - y_min) / cell + 1e-9)) + 1
    if rows * cols > _MAX_CELLS:
        raise ValueError(f"{rows}x{cols} cells is more than {_MAX_CELLS}; use a larger cell_m")
    terrain = source if isinstance(source, Terrain) else load_terrain(source)
    x = x_min + np.arange(rows, dtype=np.float64) * cell
    y = y_min + np.arange(cols, dtype=np.float64) * cell
    north = np.repeat(x, cols)
    east = np.tile(y, rows)
    heights = terrain.height(north, east)
    inside = np.isfinite(heights)
    radiance = np.full((rows * cols, 3), np.nan, np.float32)
    if inside.any():
        radiance[inside] = terrain.surface_radiance(north[inside], east[inside],
                                                    np.full(int(inside.sum()), cell))
    dem = DEM(heights=heights.reshape(rows, cols).astype(np.float32), origin=(x_min, y_min),
              cell_m=cell, frame="SITE_FRAME")
    return Orthoimage(radiance=radiance.reshape(rows, cols, 3), dem=dem)
