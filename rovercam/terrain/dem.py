"""Digital elevation models: heights on a regular grid in the site frame.

Frames and units: SITE_FRAME-like, +x north, +y east, +z down, metres (docs/conventions.md);
heights are *up* (``z = -height``). Row ``i`` runs along +x and column ``j`` along +y: the centre
of cell ``[i, j]`` is at ``x = origin[0] + i * cell_m``, ``y = origin[1] + j * cell_m``.

- :meth:`DEM.height_at`: bilinear heights at points, NaN outside the grid or next to unknown cells;
- :func:`dem_from_points`: the median height of the XYZ points in each cell (an XYZ image or a
  point list), one-cell holes filled;
- :func:`merge_dems`: the union of DEMs on one lattice, overlaps averaged (or the first wins).

Grids made by :func:`dem_from_points` put cell centres at integer multiples of ``cell_m``, so DEMs
of different stereo pairs in one frame share a lattice and merge without resampling.
docs/mosaics.md#mosaics-on-the-terrain describes how mosaics use them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["DEM", "dem_from_points", "merge_dems", "FILL_MIN_NEIGHBOURS", "MAX_CELLS"]

#: An empty cell is filled (by the mean of its known neighbours) when at least this many of its 8
#: neighbours are known: one-cell holes and two-cell gaps inside the data are closed, straight
#: outer edges do not grow (an edge cell has 3 known neighbours), larger holes stay NaN.
FILL_MIN_NEIGHBOURS = 4

#: Largest grid :func:`dem_from_points` makes (400 MB of float32 heights).
MAX_CELLS = 100_000_000

#: Lattice tolerance (fraction of a cell) for origins that must line up.
_LATTICE_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class DEM:
    """A height grid.

    Attributes
    ----------
    heights : (rows, cols) float32 array
        Height up, metres (``z = -height``); NaN where unknown.
    origin : (float, float)
        ``(x, y)`` of the centre of cell ``[0, 0]``, metres in ``frame``.
    cell_m : float
        Cell size, metres (the same along x and y).
    frame : str
        Reference frame, ``"SITE_FRAME"`` by default.
    """

    heights: NDArray[np.float32]
    origin: tuple[float, float]
    cell_m: float
    frame: str = "SITE_FRAME"

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return self.heights.shape  # type: ignore[return-value]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(x_min, x_max, y_min, y_max)``: the first and last cell centres, metres."""
        rows, cols = self.heights.shape
        x0, y0 = self.origin
        return (x0, x0 + (rows - 1) * self.cell_m, y0, y0 + (cols - 1) * self.cell_m)

    def height_at(self, x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """Bilinear height at points.

        Parameters
        ----------
        x, y : array_like of float
            Metres in ``frame`` (x north, y east); broadcast together.

        Returns
        -------
        ndarray of float64
            Height up, metres, the shape of ``x`` and ``y`` broadcast. NaN outside the cell
            centres' span and where a cell the interpolation weighs (weight > 0) is unknown: a
            point exactly on a known cell centre is known even beside NaN cells.
        """
        x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        h = self.heights
        rows, cols = h.shape
        fi = (x - self.origin[0]) / self.cell_m
        fj = (y - self.origin[1]) / self.cell_m
        inside = (fi >= 0) & (fi <= rows - 1) & (fj >= 0) & (fj <= cols - 1)
        fi = np.where(inside, fi, 0.0)
        fj = np.where(inside, fj, 0.0)
        i0 = np.minimum(fi.astype(np.int64), max(rows - 2, 0))
        j0 = np.minimum(fj.astype(np.int64), max(cols - 2, 0))
        i1 = np.minimum(i0 + 1, rows - 1)
        j1 = np.minimum(j0 + 1, cols - 1)
        ti, tj = fi - i0, fj - j0
        out = np.zeros(x.shape, np.float64)
        unknown = ~inside
        for ii, jj, w in ((i0, j0, (1 - ti) * (1 - tj)), (i0, j1, (1 - ti) * tj),
                          (i1, j0, ti * (1 - tj)), (i1, j1, ti * tj)):
            v = h[ii, jj].astype(np.float64)
            bad = np.isnan(v) & (w > 0)
            unknown |= bad
            out += np.where(bad | (w == 0), 0.0, v * w)
        out[unknown] = np.nan
        return out

    def z_at(self, x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """``-height_at(x, y)``: the surface's z (metres, +z down), NaN where unknown."""
        return -self.height_at(x, y)

    def cell_centres(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(x, y)``, each (rows, cols) float64: the centre of every cell, metres."""
        rows, cols = self.heights.shape
        x = self.origin[0] + np.arange(rows, dtype=np.float64) * self.cell_m
        y = self.origin[1] + np.arange(cols, dtype=np.float64) * self.cell_m
        xx, yy = np.meshgrid(x, y, indexing="ij")
        return xx, yy


def _as_columns(xyz: ArrayLike) -> tuple[NDArray[np.floating], NDArray[np.floating], NDArray[np.floating]]:
    """``(x, y, z)``, 1-D, the finite points of an (N, 3) list or an (H, W, 3) image (float32
    input stays float32: the gridding arithmetic needs no more than the points carry)."""
    a = np.asarray(xyz)
    if a.ndim not in (2, 3) or a.shape[-1] != 3:
        raise ValueError(f"xyz must be (N, 3) points or an (H, W, 3) image, got shape {a.shape}")
    if a.dtype != np.float32:
        a = a.astype(np.float64, copy=False)
    a = a.reshape(-1, 3)
    finite = np.isfinite(a).all(axis=1)
    if not finite.all():
        a = a[finite]
    return a[:, 0], a[:, 1], a[:, 2]


def _fill_small_holes(heights: NDArray[np.float32]) -> NDArray[np.float32]:
    """One pass: NaN cells with >= FILL_MIN_NEIGHBOURS known 8-neighbours get their mean."""
    known = np.isfinite(heights)
    if known.all() or not known.any():
        return heights
    k = np.ones((3, 3), np.float32)
    k[1, 1] = 0.0
    vals = np.where(known, heights, 0.0).astype(np.float32)
    total = cv2.filter2D(vals, -1, k, borderType=cv2.BORDER_CONSTANT)
    count = cv2.filter2D(known.astype(np.float32), -1, k, borderType=cv2.BORDER_CONSTANT)
    fill = ~known & (count >= FILL_MIN_NEIGHBOURS - 0.5)
    out = heights.copy()
    out[fill] = total[fill] / count[fill]
    return out


def dem_from_points(xyz: ArrayLike, *, cell_m: float,
                    bounds: tuple[float, float, float, float] | None = None,
                    frame: str = "SITE_FRAME", min_points: int = 1, fill_holes: bool = True) -> DEM:
    """Grid XYZ points into a DEM: the median height of the points in each cell.

    Parameters
    ----------
    xyz : (N, 3) or (H, W, 3) array_like
        Points, metres in ``frame`` (+z down), e.g. an XYZ image (``StereoProducts.xyz``); rows
        with a NaN are ignored.
    cell_m : float
        Cell size, metres (> 0).
    bounds : (x_min, x_max, y_min, y_max), optional
        Metres; the grid holds the cells whose centres lie inside. None: the points' extent.
    frame : str
        The points' frame, recorded in the DEM.
    min_points : int
        Cells with fewer points are unknown (NaN) before hole filling.
    fill_holes : bool
        Fill small holes: an empty cell with at least :data:`FILL_MIN_NEIGHBOURS` of its 8
        neighbours known takes their mean (one pass; closes one-cell holes and two-cell gaps).
        Larger holes and everything outside the data stay NaN.

    Returns
    -------
    DEM
        Cell centres at integer multiples of ``cell_m`` (``origin`` is ``cell_m`` times
        integers), float32 heights up (``-z``).

    Raises
    ------
    ValueError
        A bad shape or cell size, no finite point inside ``bounds``, or a grid of more than
        :data:`MAX_CELLS` cells (points out to the horizon: give ``bounds``).

    Notes
    -----
    A point at ``(x, y)`` falls in the cell whose centre is nearest. The median (the mean of
    the two middle values for an even count) ignores stereo blunders that a mean would follow;
    it is found by one sort of ``cell * span + height`` keys, O(N log N): 3-4 s for a float32
    20 Mpx XYZ image on one busy core (about half of it the sort).

    Examples
    --------
    >>> import numpy as np
    >>> pts = np.array([[0.0, 0.0, -1.0], [0.01, 0.0, -3.0], [0.02, 0.0, -2.0], [1.0, 1.0, 0.0]])
    >>> dem = dem_from_points(pts, cell_m=0.5)
    >>> float(dem.heights[0, 0]), dem.shape
    (2.0, (3, 3))
    """
    if not (isinstance(cell_m, (int, float)) and math.isfinite(cell_m) and cell_m > 0):
        raise ValueError(f"cell_m must be a positive number of metres, got {cell_m!r}")
    if min_points < 1:
        raise ValueError(f"min_points must be >= 1, got {min_points!r}")
    x, y, z = _as_columns(xyz)
    if bounds is not None:
        x_min, x_max, y_min, y_max = (float(v) for v in bounds)
        if not (x_min <= x_max and y_min <= y_max):
            raise ValueError(f"bounds must be (x_min, x_max, y_min, y_max), got {bounds!r}")
        i_lo, i_hi = math.ceil(x_min / cell_m - 1e-9), math.floor(x_max / cell_m + 1e-9)
        j_lo, j_hi = math.ceil(y_min / cell_m - 1e-9), math.floor(y_max / cell_m + 1e-9)
    elif len(x):
        i_lo, i_hi = math.floor(float(x.min()) / cell_m + 0.5), math.floor(float(x.max()) / cell_m + 0.5)
        j_lo, j_hi = math.floor(float(y.min()) / cell_m + 0.5), math.floor(float(y.max()) / cell_m + 0.5)
    else:
        raise ValueError("no finite points to grid")
    rows, cols = i_hi - i_lo + 1, j_hi - j_lo + 1
    if rows < 1 or cols < 1:
        raise ValueError(f"bounds {bounds!r} hold no cell centre at {cell_m} m")
    if rows * cols > MAX_CELLS:  # before allocating: far points (the horizon) need bounds
        raise ValueError(f"a {rows} x {cols} grid of {cell_m} m cells exceeds {MAX_CELLS} cells; "
                         "pass bounds (or a coarser cell_m)")
    # cell of every point (nearest centre), those outside the grid dropped
    i = np.floor(x / cell_m + 0.5).astype(np.int64) - i_lo
    j = np.floor(y / cell_m + 0.5).astype(np.int64) - j_lo
    keep = (i >= 0) & (i < rows) & (j >= 0) & (j < cols)
    if not keep.all():
        i, j, z = i[keep], j[keep], z[keep]
    if not len(z):
        raise ValueError(f"no finite point inside the grid {bounds!r}")
    h = -z
    h_min = float(h.min())
    # one float64 key per point sorts by cell, then by height: the height's share (h - h_min
    # + 1/2) / span lies in [0.5 / span, 1 - 1.5 / span], far from the rounding at 0 and 1
    span = float(h.max() - h_min) + 2.0
    cell = i * cols + j
    del i, j
    keys = cell * span  # float64
    keys += h - np.asarray(h_min - 0.5, h.dtype)
    keys.sort()
    sorted_cell = np.floor(keys / span).astype(np.int64)
    sorted_h = keys - sorted_cell * span - 0.5 + h_min
    starts = np.flatnonzero(np.r_[True, sorted_cell[1:] != sorted_cell[:-1]])
    counts = np.diff(np.r_[starts, len(keys)])
    lo = sorted_h[starts + (counts - 1) // 2]
    hi = sorted_h[starts + counts // 2]
    median = 0.5 * (lo + hi)
    heights = np.full(rows * cols, np.nan, np.float32)
    ok = counts >= min_points
    heights[sorted_cell[starts][ok]] = median[ok]
    heights = heights.reshape(rows, cols)
    if fill_holes:
        heights = _fill_small_holes(heights)
    return DEM(heights, (i_lo * cell_m, j_lo * cell_m), float(cell_m), frame)


def merge_dems(dems: Sequence[DEM], *, overlap: Literal["mean", "first"] = "mean") -> DEM:
    """The union of DEMs on one lattice.

    Parameters
    ----------
    dems : sequence of DEM
        The same ``frame`` and ``cell_m``, origins on one lattice (they differ by whole cells),
        as :func:`dem_from_points` makes them.
    overlap : {"mean", "first"}
        Where several DEMs know a cell: ``"mean"`` (default) averages their heights; ``"first"``
        keeps the first DEM's in ``dems`` order that knows it (list the closer or finer
        observation first). A cell unknown in one DEM and known in another takes the known one.

    Returns
    -------
    DEM
        The grid spanning every input, NaN where none knows the height.

    Raises
    ------
    ValueError
        No DEMs, different frames or cell sizes, origins off the lattice, or an unknown rule.
    """
    if not dems:
        raise ValueError("merge_dems needs at least one DEM")
    if overlap not in ("mean", "first"):
        raise ValueError(f"overlap must be 'mean' or 'first', got {overlap!r}")
    first = dems[0]
    cell = first.cell_m
    offsets = []
    for d in dems:
        if d.frame != first.frame:
            raise ValueError(f"DEMs in different frames: {first.frame!r} and {d.frame!r}")
        if not math.isclose(d.cell_m, cell, rel_tol=1e-9):
            raise ValueError(f"DEMs with different cell sizes: {cell} m and {d.cell_m} m")
        off = (np.asarray(d.origin, dtype=np.float64) - np.asarray(first.origin, dtype=np.float64)) / cell
        if np.any(np.abs(off - np.round(off)) > _LATTICE_TOL):
            raise ValueError(f"DEM origins {first.origin} and {d.origin} are not on one {cell} m lattice")
        offsets.append(np.round(off).astype(np.int64))
    i0 = min(int(o[0]) for o in offsets)
    j0 = min(int(o[1]) for o in offsets)
    i1 = max(int(o[0]) + d.heights.shape[0] for o, d in zip(offsets, dems))
    j1 = max(int(o[1]) + d.heights.shape[1] for o, d in zip(offsets, dems))
    total = np.zeros((i1 - i0, j1 - j0), np.float64)
    count = np.zeros((i1 - i0, j1 - j0), np.int32)
    for o, d in zip(offsets, dems):
        r, c = d.heights.shape
        win = (slice(int(o[0]) - i0, int(o[0]) - i0 + r), slice(int(o[1]) - j0, int(o[1]) - j0 + c))
        known = np.isfinite(d.heights)
        if overlap == "first":
            known &= count[win] == 0
        total[win] += np.where(known, d.heights, 0.0)
        count[win] += known
    with np.errstate(invalid="ignore", divide="ignore"):
        heights = np.where(count > 0, total / count, np.nan).astype(np.float32)
    origin = (first.origin[0] + i0 * cell, first.origin[1] + j0 * cell)
    return DEM(heights, origin, float(cell), first.frame)
