"""Right-triangulated irregular networks over a grid of points, decimated to an error bound.

The triangulation behind :mod:`rovercam.terrain.mesh` (docs/stereo.md, "Meshes"): plain
functions over a (C, rows, cols) grid, returning faces as flat grid indices.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["rtin_faces"]

#: Largest square of the network, in grid cells (a power of two): a flat area needs at least two
#: triangles per ``TOP_CELLS**2`` cells.
TOP_CELLS = 64
#: Points gathered per error evaluation chunk (bounds the temporary arrays to ~100 MB).
_CHUNK_POINTS = 1 << 21
#: Squares are measured by strided slices over all squares (faster than gathering, but one
#: Python step per point offset) when more than _DENSE_SHARE of them are candidates and they
#: are small or many.
_DENSE_MAX_CELLS = 16
_DENSE_MIN_SQUARES = 4096
_DENSE_SHARE = 0.3
#: Grid rows measured together in the strided-slice path.
_BAND_ROWS = 128
#: Corner ids (as _CORNERS) of the four A quarters (edges top, bottom, left, right) and of the
#: two D halves of main (p00-p11) and anti (p01-p10) squares.
_QUARTERS = ((0, 1, 4), (2, 3, 4), (0, 2, 4), (1, 3, 4))
_HALVES = (((0, 2, 3), (0, 1, 3)), ((0, 2, 1), (3, 1, 2)))

# Grid points are (row, col). A square of side s at (a, b) spans rows a*s..(a+1)*s and columns
# b*s..(b+1)*s; its diagonal runs p00-p11 when a + b is even, p01-p10 when odd (the 4-8 mesh:
# every square's diagonal passes through the centre of its parent square). Triangles come in
# two kinds per size s: "D" halves of a square (hypotenuse the diagonal, split at the square's
# centre) and "A" quarters (hypotenuse a square edge, apex the centre, split at the edge's
# midpoint). Splitting a D half gives two A quarters of the same square; splitting an A quarter
# gives two D halves of squares of side s/2. A triangle's parent was split at the triangle's
# right-angle vertex. split[v] holds, for every split vertex v, the largest error of the two
# triangles sharing the hypotenuse through v and of all their descendants (infinite where they
# hold an invalid cell): a triangle is in the mesh when split[right-angle vertex] > tol and
# split[its own split vertex] <= tol.

#: Corner (row, col) offsets of a square in units of s: p00, p01, p10, p11, centre.
_CORNERS = np.array([[0, 0], [0, 2], [2, 0], [2, 2], [1, 1]])   # in units of s/2


def rtin_faces(values: NDArray[np.float32], tol: float, edge_limit: NDArray[np.float32] | None,
          ccw_sign: float) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """A crack-free RTIN over a grid of points, every covered point within ``tol``.

    Parameters
    ----------
    values : (H, W, C) float32 array
        The points (C = 3 for XYZ, metres; C = 1 for heights); NaN where invalid. The error of
        a point is the Euclidean norm over C of its difference from the interpolating face.
    tol : float
        The error bound, in the units of ``values``.
    edge_limit : (H, W) float32 array or None
        A grid edge joins two finite points no farther apart than the smaller of their
        ``edge_limit``; None: any two finite neighbours.
    ccw_sign : float
        +1 or -1: the sign the faces' area takes in (col, row) grid coordinates.

    Returns
    -------
    faces : (M, 3) int32 array
        Indices into ``used``.
    used : (N,) int64 array
        Flat indices ``row * W + col`` of the vertices, increasing.
    """
    height, width = values.shape[:2]
    top = int(min(TOP_CELLS, 2 ** int(np.ceil(np.log2(max(height - 1, width - 1, 2))))))
    gy = -(-(height - 1) // top) * top + 1
    gx = -(-(width - 1) // top) * top + 1
    grid = np.full((values.shape[2], gy, gx), np.nan, np.float32)   # planar: (C, gy, gx)
    grid[:, :height, :width] = np.moveaxis(values, 2, 0)
    split = np.zeros((gy, gx), np.float32)
    limit = np.full((gy, gx), np.nan, np.float32)
    limit[:height, :width] = np.isfinite(values[..., 0]) if edge_limit is None else edge_limit
    tri_ok = _unit_triangles_ok(grid, limit, edge_limit is not None)
    # a 2-square with a bad unit triangle splits all its triangles down to unit triangles
    bad = ~tri_ok.all(axis=0)
    bad2 = bad.reshape(gy // 2, 2, gx // 2, 2).any(axis=(1, 3))
    for dr, dc in ((1, 1), (0, 1), (2, 1), (1, 0), (1, 2)):
        np.maximum(split[dr:gy - 2 + dr:2, dc:gx - 2 + dc:2],
                   np.where(bad2, np.inf, 0).astype(np.float32),
                   out=split[dr:gy - 2 + dr:2, dc:gx - 2 + dc:2])
    s = 2
    while s <= top:
        _quarter_level(split, grid, s, tol)
        _half_level(split, grid, s, tol)
        s *= 2
    split[::top, ::top] = np.inf    # the top halves' "parents" always split
    faces = _extract(split, tri_ok, tol, top)
    # orient: sign of the area in (col, row)
    r, c = np.divmod(faces, gx)
    area = (c[:, 1] - c[:, 0]) * (r[:, 2] - r[:, 0]) - (c[:, 2] - c[:, 0]) * (r[:, 1] - r[:, 0])
    flip = area * ccw_sign < 0
    faces[flip] = faces[flip][:, ::-1]
    mark = np.zeros(gy * gx, bool)
    mark[faces] = True
    used = np.flatnonzero(mark)
    new_index = np.cumsum(mark, dtype=np.int64) - 1
    r, c = np.divmod(used, gx)
    return new_index[faces].astype(np.int32), r * width + c


def _unit_triangles_ok(grid: NDArray, limit: NDArray, by_length: bool) -> NDArray[np.bool_]:
    """(2, gy-1, gx-1): whether each unit square's first and second triangle is valid."""
    gy, gx = grid.shape[1:]

    def edge_ok(sa: tuple[slice, slice], sb: tuple[slice, slice]) -> NDArray[np.bool_]:
        if not by_length:
            return (limit[sa] > 0) & (limit[sb] > 0)        # both points finite
        return _sq(grid[(slice(None),) + sa] - grid[(slice(None),) + sb]) <= np.minimum(
            limit[sa], limit[sb]) ** 2

    e, s0, s1 = slice(None), slice(None, -1), slice(1, None)
    hor = edge_ok((e, s0), (e, s1))                        # (gy, gx-1)
    ver = edge_ok((s0, e), (s1, e))                        # (gy-1, gx)
    main = edge_ok((s0, s0), (s1, s1))
    anti = edge_ok((s0, s1), (s1, s0))
    a, b = np.ogrid[:gy - 1, :gx - 1]
    even = (a + b) % 2 == 0
    left, right, top, bottom = ver[:, :-1], ver[:, 1:], hor[:-1], hor[1:]
    # main squares: (p00, p10, p11) and (p00, p01, p11); anti: (p00, p10, p01), (p11, p01, p10)
    first = np.where(even, left & bottom & main, left & top & anti)
    second = np.where(even, top & right & main, right & bottom & anti)
    return np.stack([first, second])


def _weights(s: int, triangles: Sequence[tuple[int, int, int]], every: int = 1
             ) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.intp]]:
    """The grid points of each closed triangle of an s-square, one triangle after the other
    (points on a shared edge repeated): (row, col) offsets, their interpolation weights over the
    five square vertices (``_CORNERS``), and where each triangle's points start."""
    u, v = np.mgrid[0:s + 1:every, 0:s + 1:every].reshape(2, -1).astype(np.float64)
    corners = _CORNERS * (s / 2)
    pts, weights, starts = [], [], []
    for tri in triangles:
        m = np.vstack([corners[list(tri)].T, np.ones(3)])
        bary = np.linalg.solve(m, np.vstack([u, v, np.ones(len(u))])).T
        inside = (bary >= -1e-9).all(axis=1)
        w = np.zeros((inside.sum(), 5))
        w[:, list(tri)] = bary[inside]
        starts.append(sum(len(p) for p in pts))
        pts.append(np.column_stack([u[inside], v[inside]]))
        weights.append(w)
    return (np.concatenate(pts).astype(np.int64), np.concatenate(weights).astype(np.float32),
            np.array(starts, np.intp))


def _square_errors(flat: NDArray, gx: int, s: int, rows: NDArray, cols: NDArray,
                   triangles: Sequence[tuple[int, int, int]], every: int
                   ) -> NDArray[np.float32]:
    """(n, len(triangles)) largest point error of each triangle of the n squares (rows, cols)."""
    pts, weights, starts = _weights(s, triangles, every)
    offsets = pts[:, 0] * gx + pts[:, 1]
    corner_off = (_CORNERS * (s // 2)) @ np.array([gx, 1])
    base = rows.astype(np.int64) * (s * gx) + cols.astype(np.int64) * s
    out = np.zeros((len(base), len(triangles)), np.float32)
    step = max(1, _CHUNK_POINTS // len(offsets))
    for i in range(0, len(base), step):
        b = base[i:i + step]
        vals = flat[:, b[:, None] + offsets]                   # (C, n, p)
        vals -= flat[:, b[:, None] + corner_off] @ weights.T    # (C, n, 5) @ (5, p)
        out[i:i + step] = np.sqrt(np.maximum.reduceat(_sq(vals), starts, axis=1))
    out[np.isnan(out)] = np.inf           # an invalid point: the triangle must split
    return out


def _sq(a: NDArray) -> NDArray[np.float32]:
    """Squared Euclidean norm over the first (channel) axis."""
    out = a[0] * a[0]
    for band in a[1:]:
        out += band * band
    return out


def _norm(a: NDArray) -> NDArray[np.float32]:
    err = np.sqrt(_sq(a))
    err[np.isnan(err)] = np.inf
    return err


def _bound_or_candidates(mid: NDArray, dev: NDArray, tol: float,
                         exact: bool = False) -> NDArray[np.bool_]:
    """Settle the diamonds whose error bound meets ``tol`` and return the others to measure.

    The triangles of a diamond differ from their two children only at the split vertex, so
    their error is at most the children's (already folded into ``mid``) plus the split vertex's
    deviation ``dev`` from the hypotenuse: where that bound is <= tol it is stored as is
    (decisions equal those of the exact error, which the bound exceeds), elsewhere the exact
    error must be measured unless the diamond already splits. For 2-squares (``exact``) the
    children's errors are the errors of the triangle's own points, so the maximum of the two
    decides alone and nothing is left to measure.
    """
    if exact:
        np.maximum(mid, dev, out=mid)
        return np.zeros(mid.shape, bool)
    bound = mid + dev
    ok = bound <= tol
    mid[ok] = bound[ok]
    return ~ok & (mid <= tol)


def _dense(s: int, candidates: int, squares: int) -> bool:
    return (candidates > _DENSE_SHARE * squares
            and (s <= _DENSE_MAX_CELLS or squares >= _DENSE_MIN_SQUARES))


def _dense_errors(grid: NDArray, s: int, stride: int, pa: int, pb: int,
                  triangles: Sequence[tuple[int, int, int]], every: int
                  ) -> NDArray[np.float32]:
    """(na, nb, len(triangles)) largest point error of each triangle of every ``stride``-th
    s-square from square (pa, pb), by strided slices (one per point offset) instead of gathers,
    a band of square rows at a time (so that a band's rows stay in the processor's cache)."""
    n_a, n_b = (grid.shape[1] - 1) // s, (grid.shape[2] - 1) // s
    na, nb = len(range(pa, n_a, stride)), len(range(pb, n_b, stride))
    step = stride * s
    pts, weights, starts = _weights(s, triangles, every)
    ends = list(starts[1:]) + [len(pts)]
    terms = [[(int(k), weights[p, k]) for k in np.flatnonzero(weights[p])] for p in range(len(pts))]
    out = np.zeros((len(triangles), na, nb), np.float32)
    band = max(1, _BAND_ROWS // step)
    for first_row in range(0, na, band):
        rows = min(band, na - first_row)

        def view(du: int, dv: int) -> NDArray:
            r0, c0 = (pa + first_row * stride) * s + du, pb * s + dv
            return grid[:, r0:r0 + step * (rows - 1) + 1:step, c0:c0 + step * (nb - 1) + 1:step]

        corners = [view(*(_CORNERS[k] * s // 2)) for k in range(5)]
        for t, (first, last) in enumerate(zip(starts, ends)):
            acc = out[t, first_row:first_row + rows]
            for p in range(first, last):
                if len(terms[p]) == 1:
                    continue                      # a vertex of the triangle: no error
                diff = view(*pts[p]).copy()
                for k, w in terms[p]:
                    diff -= w * corners[k]
                np.maximum(acc, _sq(diff), out=acc)
    out[np.isnan(out)] = np.inf               # an invalid point: the triangle must split
    return np.moveaxis(np.sqrt(out), 0, 2)


def _quarter_level(split: NDArray, grid: NDArray, s: int, tol: float) -> None:
    """Errors of the A quarters of s-squares, folded into their edges' midpoints."""
    gy, gx = split.shape
    h = s // 2
    hor, ver = split[0::s, h::s], split[h::s, 0::s]   # views: (nA+1, nB), (nA, nB+1)
    if s >= 4:      # children: D halves of s/2-squares, split at their centres
        q = s // 4
        for dc in (-q, q):
            np.maximum(hor[:-1], split[q::s, h + dc::s], out=hor[:-1])
            np.maximum(hor[1:], split[s - q::s, h + dc::s], out=hor[1:])
            np.maximum(ver[:, :-1], split[h + dc::s, q::s], out=ver[:, :-1])
            np.maximum(ver[:, 1:], split[h + dc::s, s - q::s], out=ver[:, 1:])
    g = grid
    dev_h = _norm(g[:, 0::s, h::s] - 0.5 * (g[:, 0::s, 0:gx - 1:s] + g[:, 0::s, s::s]))
    dev_v = _norm(g[:, h::s, 0::s] - 0.5 * (g[:, 0:gy - 1:s, 0::s] + g[:, s::s, 0::s]))
    cand_h = _bound_or_candidates(hor, dev_h, tol, exact=s == 2)
    cand_v = _bound_or_candidates(ver, dev_v, tol, exact=s == 2)
    sq = cand_h[:-1] | cand_h[1:] | cand_v[:, :-1] | cand_v[:, 1:]
    a, b = np.nonzero(sq)
    if not len(a):
        return
    # first a lower bound from every (s/4)-th point: most large triangles fail on it
    for every in ((s // 4, 1) if s >= 8 else (1,)):
        err = _measure(grid, s, sq, every, _QUARTERS)
        np.maximum(hor[:-1], err[..., 0], out=hor[:-1])
        np.maximum(hor[1:], err[..., 1], out=hor[1:])
        np.maximum(ver[:, :-1], err[..., 2], out=ver[:, :-1])
        np.maximum(ver[:, 1:], err[..., 3], out=ver[:, 1:])
        cand_h &= hor <= tol
        cand_v &= ver <= tol
        sq = cand_h[:-1] | cand_h[1:] | cand_v[:, :-1] | cand_v[:, 1:]


def _half_level(split: NDArray, grid: NDArray, s: int, tol: float) -> None:
    """Errors of the D halves of s-squares, folded into the squares' centres."""
    gy, gx = split.shape
    h = s // 2
    cen = split[h::s, h::s]                              # view: (nA, nB)
    for kid in (split[0:gy - 1:s, h::s], split[s::s, h::s],
                split[h::s, 0:gx - 1:s], split[h::s, s::s]):  # children: the A quarters
        np.maximum(cen, kid, out=cen)
    a, b = np.ogrid[:cen.shape[0], :cen.shape[1]]
    even = (a + b) % 2 == 0
    g = grid
    ends = np.where(even, g[:, 0:gy - 1:s, 0:gx - 1:s] + g[:, s::s, s::s],
                    g[:, 0:gy - 1:s, s::s] + g[:, s::s, 0:gx - 1:s])
    cand = _bound_or_candidates(cen, _norm(g[:, h::s, h::s] - 0.5 * ends), tol, exact=s == 2)
    for every in ((s // 4, 1) if s >= 8 else (1,)):   # a lower bound first, as above
        main = _measure(grid, s, cand & even, every, _HALVES[0], parity=0).max(axis=2)
        anti = _measure(grid, s, cand & ~even, every, _HALVES[1], parity=1).max(axis=2)
        np.maximum(cen, np.where(even, main, anti), out=cen)
        cand &= cen <= tol


def _measure(grid: NDArray, s: int, squares: NDArray[np.bool_], every: int,
             triangles: Sequence[tuple[int, int, int]], parity: int | None = None
             ) -> NDArray[np.float32]:
    """(nA, nB, len(triangles)) largest error over every ``every``-th point of each triangle of
    the s-squares where ``squares`` is True (0 elsewhere), all of one parity of a + b if given.
    """
    n = int(squares.sum())
    err = np.zeros(squares.shape + (len(triangles),), np.float32)
    if not n:
        return err
    if parity is None and _dense(s // every, n, squares.size):
        return _dense_errors(grid, s, 1, 0, 0, triangles, every)
    if parity is not None and _dense(s // every, n, squares.size // 2):
        for pa, pb in (((0, 0), (1, 1)) if parity == 0 else ((0, 1), (1, 0))):
            err[pa::2, pb::2] = _dense_errors(grid, s, 2, pa, pb, triangles, every)
        return err
    a, b = np.nonzero(squares)
    flat = grid.reshape(len(grid), -1)
    err[a, b] = _square_errors(flat, grid.shape[2], s, a, b, triangles, every)
    return err


def _extract(split: NDArray, tri_ok: NDArray, tol: float, top: int) -> NDArray[np.int64]:
    """Flat grid indices (M, 3) of the mesh's triangles."""
    gy, gx = split.shape
    parts = []
    # vertices of the two D halves of main (even) and anti (odd) squares, the right-angle
    # vertex second for main and first for anti: corner ids 0 p00, 1 p01, 2 p10, 3 p11, 4 centre
    halves = (((0, 2, 3), 1, (0, 2, 1), 0), ((0, 1, 3), 1, (3, 1, 2), 0))
    quarters = ((0, 1), (2, 3), (0, 2), (1, 3))
    s = top
    while s >= 1:
        h = s // 2
        n_a, n_b = (gy - 1) // s, (gx - 1) // s
        a, b = np.ogrid[:n_a, :n_b]
        even = (a + b) % 2 == 0
        corner = [split[0:gy - 1:s, 0:gx - 1:s], split[0:gy - 1:s, s::s],
                  split[s::s, 0:gx - 1:s], split[s::s, s::s]]
        kept = split[h::s, h::s] <= tol if s > 1 else tri_ok
        for k, (tri_e, ra_e, tri_o, ra_o) in enumerate(halves):
            exists = np.where(even, corner[tri_e[ra_e]], corner[tri_o[ra_o]]) > tol
            take = (kept & exists) if s > 1 else (kept[k] & exists)
            for ev_mask, tri in ((even, tri_e), (~even, tri_o)):
                ia, ib = np.nonzero(take & ev_mask)
                parts.append(_corner_index(ia, ib, s, gx, tri))
        if s > 1:
            mids = (split[0:gy - 1:s, h::s], split[s::s, h::s],
                    split[h::s, 0:gx - 1:s], split[h::s, s::s])
            for mid, (e1, e2) in zip(mids, quarters):
                ia, ib = np.nonzero(~kept & (mid <= tol))
                parts.append(_corner_index(ia, ib, s, gx, (e1, e2, 4)))
        s //= 2
    return np.concatenate(parts)


def _corner_index(a: NDArray, b: NDArray, s: int, gx: int,
                  tri: tuple[int, int, int]) -> NDArray[np.int64]:
    """(n, 3) flat grid indices of corners ``tri`` (ids as ``_CORNERS``) of s-squares (a, b)."""
    base = a.astype(np.int64) * (s * gx) + b.astype(np.int64) * s
    off = (_CORNERS[list(tri)] * s) // 2 @ np.array([gx, 1])
    return base[:, None] + off
