"""Triangle meshes of the terrain, decimated to a stated error bound.

Frames and units as :mod:`rovercam.terrain.dem`: metres in the mesh's frame (+z down).

Meshes are built over a grid of points (an organized XYZ image or a height grid) as a right-
triangulated irregular network (RTIN, the 4-8 mesh of longest-edge bisection; Evans, Kirkpatrick
and Townsend 2001, "Right-triangulated irregular networks", Algorithmica 30): the grid is cut into
squares of ``2**k`` cells, each square into two right triangles, and a triangle is split at the
midpoint of its hypotenuse until it meets the error bound. The error of every candidate triangle
is measured over *all* the grid points it covers (not only at its split vertex), and splits are
propagated to the triangle across the hypotenuse and to every ancestor, so the mesh is crack-free
and the bound holds at every covered point (docs/stereo.md, "Meshes").
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.errors import MeshError

__all__ = ["Mesh", "mesh_from_xyz", "mesh_from_heights", "merge_meshes"]

#: Largest square of the network, in grid cells (a power of two): a flat area needs at least two
#: triangles per ``_TOP_CELLS**2`` cells.
_TOP_CELLS = 64
#: Points gathered per error evaluation chunk (bounds the temporary arrays to ~100 MB).
_CHUNK_POINTS = 1 << 21
#: Squares are measured by strided slices over all squares (faster than gathering, but one
#: Python step per point offset) when more than _DENSE_SHARE of them are candidates and they
#: are small or many.
_DENSE_MAX_CELLS = 16
_DENSE_MIN_SQUARES = 4096
_DENSE_SHARE = 0.3
#: Corner ids (as _CORNERS) of the four A quarters (edges top, bottom, left, right) and of the
#: two D halves of main (p00-p11) and anti (p01-p10) squares.
_QUARTERS = ((0, 1, 4), (2, 3, 4), (0, 2, 4), (1, 3, 4))
_HALVES = (((0, 2, 3), (0, 1, 3)), ((0, 2, 1), (3, 1, 2)))


@dataclass(frozen=True, eq=False)
class Mesh:
    """An indexed triangle mesh.

    Attributes
    ----------
    vertices : (N, 3) float32 array
        Metres in ``frame``.
    faces : (M, 3) int32 array
        Vertex indices, counter-clockwise seen from above (from -z) or from the camera.
    frame : str
        Reference frame of the vertices.
    colors : (N, 3) or (N, 4) uint8 array, optional
        Per-vertex colours (sRGB).
    """

    vertices: NDArray[np.float32]
    faces: NDArray[np.int32]
    frame: str
    colors: NDArray[np.uint8] | None = None


# ---------------------------------------------------------------------------------------------
# Public builders


def mesh_from_xyz(xyz: ArrayLike, *, max_error_m: float, frame: str,
                  colors: ArrayLike | None = None, viewpoint: ArrayLike = (0.0, 0.0, 0.0),
                  max_edge_ratio: float = 0.05) -> Mesh:
    """Mesh an organized point image, decimated to an error bound.

    Parameters
    ----------
    xyz : (H, W, 3) array_like of float
        Points, metres in ``frame``, on the pixel grid of the image they come from (a stereo
        pair's XYZ image, pixel (x=sample, y=line) at ``xyz[y, x]``); NaN where invalid.
    max_error_m : float
        Error bound, metres, > 0: every valid point covered by the mesh lies within this
        Euclidean distance of the mesh surface at its own pixel position (see Notes).
    frame : str
        Frame of ``xyz``, recorded in the mesh.
    colors : (H, W), (H, W, 3) or (H, W, 4) array_like of uint8, optional
        Per-pixel colours (grey is replicated to RGB); kept for the mesh's vertices.
    viewpoint : (3,) array_like of float
        The camera centre in ``frame``, metres (for a stereo pair, the left model's C); ranges
        for the discontinuity rule are measured from it. Default: the frame's origin.
    max_edge_ratio : float
        Discontinuity rule: the grid edge between neighbouring points P and Q is broken when
        ``|P - Q| > max_edge_ratio * min(|P - V|, |Q - V|)`` (V the viewpoint). Neighbours on
        a surface seen at grazing angle g are range * IFOV / sin(g) apart, so 0.05 keeps ground
        seen at more than 0.35 deg grazing at 0.3 mrad per pixel (2.3 deg at 2 mrad) and breaks
        occlusion edges where the range jumps by more than 5 %.

    Returns
    -------
    Mesh
        Vertices are a subset of the input points (float32, metres in ``frame``); faces are
        counter-clockwise seen from the viewpoint (their normals point toward the camera).

    Raises
    ------
    rovercam.errors.MeshError
        On a wrong shape or dtype, a non-positive bound or ratio, or a non-finite viewpoint.

    Notes
    -----
    Triangles join only neighbouring valid pixels (4-8 connectivity on the pixel grid) whose
    edges all pass the discontinuity rule. The error bound: for every valid pixel inside a
    triangle of the mesh, ``|P - P_mesh| <= max_error_m`` (to float32 rounding), where
    ``P_mesh`` is the linear interpolation of the triangle's corner points at the pixel's
    position; the point's distance to the mesh surface is at most that. Valid pixels that no
    triangle covers (isolated pixels, pixels whose every triangle crosses a discontinuity) are
    not represented.

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[0:65, 0:65].astype(np.float32)
    >>> xyz = np.dstack([x * 0.01, y * 0.01, np.full_like(x, 5.0)])   # a plane 5 m away
    >>> mesh = mesh_from_xyz(xyz, max_error_m=0.001, frame="ROVER_NAV_FRAME")
    >>> mesh.faces.shape, mesh.vertices.shape
    ((2, 3), (4, 3))
    """
    points = _as_points(xyz, "xyz", channels=3)
    tol = _positive(max_error_m, "max_error_m")
    ratio = _positive(max_edge_ratio, "max_edge_ratio")
    eye = np.asarray(viewpoint, dtype=np.float64)
    if eye.shape != (3,) or not np.isfinite(eye).all():
        raise MeshError(f"viewpoint must be 3 finite metres, got {viewpoint!r}")
    rgb = _as_colors(colors, points.shape[:2])
    centre = np.nanmean(points.reshape(-1, 3), axis=0) if np.isfinite(points).any() else eye
    work = (points - centre).astype(np.float32)   # centred: float32 error arithmetic stays exact
    eye_w = (eye - centre).astype(np.float32)

    diff = work - eye_w
    limit = ratio * np.sqrt(_sq(np.moveaxis(diff, 2, 0)))
    faces, used = _rtin(work, tol, limit, ccw_sign=-1.0)
    rows, cols = np.divmod(used, points.shape[1])
    vertices = points[rows, cols].astype(np.float32)
    faces = _drop_degenerate(vertices, faces)
    return Mesh(vertices, faces, str(frame), None if rgb is None else rgb[rows, cols])


def mesh_from_heights(heights: ArrayLike, origin: ArrayLike, cell_m: float, *,
                      max_error_m: float, frame: str = "SITE_FRAME",
                      colors: ArrayLike | None = None) -> Mesh:
    """Mesh a height grid, decimated to a vertical error bound.

    Parameters
    ----------
    heights : (rows, cols) array_like of float
        Height *up*, metres (``z = -height``); NaN where unknown. Row ``i`` runs along +x,
        column ``j`` along +y (the DEM convention of :mod:`rovercam.terrain.dem`).
    origin : (2,) array_like of float
        ``(x, y)`` of the centre of cell ``[0, 0]``, metres in ``frame``.
    cell_m : float
        Cell size, metres, > 0.
    max_error_m : float
        Vertical error bound, metres, > 0: every known cell centre covered by the mesh lies
        within this height of the mesh surface above or below it.
    frame : str
        Frame of the grid, ``"SITE_FRAME"`` by default.
    colors : (rows, cols), (rows, cols, 3) or (rows, cols, 4) array_like of uint8, optional
        Per-cell colours (an orthoimage on the same grid).

    Returns
    -------
    Mesh
        Vertices at cell centres ``(x, y, -height)``, float32 metres; faces counter-clockwise
        seen from above (normals point up, toward -z). Triangles join only neighbouring known
        cells.

    Raises
    ------
    rovercam.errors.MeshError
        On a wrong shape or dtype, or a non-positive cell size or bound.

    Examples
    --------
    >>> import numpy as np
    >>> mesh = mesh_from_heights(np.zeros((3, 3)), (10.0, 20.0), 0.5, max_error_m=0.01)
    >>> len(mesh.faces), float(mesh.vertices[:, 0].max())
    (2, 11.0)
    """
    h = _as_points(heights, "heights", channels=0)
    o = np.asarray(origin, dtype=np.float64)
    if o.shape != (2,) or not np.isfinite(o).all():
        raise MeshError(f"origin must be (x, y) finite metres, got {origin!r}")
    cell = _positive(cell_m, "cell_m")
    tol = _positive(max_error_m, "max_error_m")
    rgb = _as_colors(colors, h.shape)
    work = h[..., None].astype(np.float32)

    faces, used = _rtin(work, tol, None, ccw_sign=1.0)
    rows, cols = np.divmod(used, h.shape[1])
    vertices = np.column_stack([o[0] + rows * cell, o[1] + cols * cell,
                                -h[rows, cols].astype(np.float64)]).astype(np.float32)
    return Mesh(vertices, faces, str(frame), None if rgb is None else rgb[rows, cols])


def merge_meshes(meshes: Sequence[Mesh]) -> Mesh:
    """Concatenate meshes of one frame into one mesh.

    Parameters
    ----------
    meshes : sequence of Mesh
        At least one, all in the same frame; either all with colours or all without.

    Returns
    -------
    Mesh
        Vertices stacked in order, faces offset to the stacked vertices. Colours are RGBA when
        any input is RGBA (alpha 255 added to RGB), else RGB. Shared borders are not welded.

    Raises
    ------
    rovercam.errors.MeshError
        With no mesh, frames that differ, or colours on some meshes only.
    """
    meshes = list(meshes)
    if not meshes:
        raise MeshError("merge_meshes needs at least one mesh")
    frames = sorted({m.frame for m in meshes})
    if len(frames) > 1:
        raise MeshError(f"meshes are in different frames {frames}; transform them to one first")
    coloured = [m.colors is not None for m in meshes]
    if any(coloured) and not all(coloured):
        raise MeshError(f"{sum(coloured)} of {len(meshes)} meshes have colours; all or none must")
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    vertices = np.concatenate([np.asarray(m.vertices, np.float32).reshape(-1, 3) for m in meshes])
    faces = np.concatenate([np.asarray(m.faces, np.int64).reshape(-1, 3) + off
                            for m, off in zip(meshes, offsets)])
    if len(vertices) > np.iinfo(np.int32).max:
        raise MeshError(f"{len(vertices)} vertices do not fit int32 face indices")
    colors = None
    if all(coloured):
        bands = max(m.colors.shape[1] for m in meshes)
        colors = np.concatenate([_with_bands(np.asarray(m.colors, np.uint8), bands)
                                 for m in meshes])
    return Mesh(vertices, faces.astype(np.int32), frames[0], colors)


# ---------------------------------------------------------------------------------------------
# Validation


def _positive(value: float, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise MeshError(f"{name} must be a positive number, got {value!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise MeshError(f"{name} must be a positive number, got {value!r}")
    return v


def _as_points(a: ArrayLike, name: str, *, channels: int) -> NDArray:
    arr = np.asarray(a)
    want = (2 if channels == 0 else 3)
    if arr.ndim != want or (channels and arr.shape[2] != channels):
        shape = "(H, W)" if channels == 0 else f"(H, W, {channels})"
        raise MeshError(f"{name} must be a {shape} array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
        raise MeshError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise MeshError(f"{name} needs at least 2 x 2 points, got shape {arr.shape}")
    if arr.shape[0] * arr.shape[1] >= 2**31 - 1:
        raise MeshError(f"{name} has too many points for int32 indices: shape {arr.shape}")
    return arr if np.issubdtype(arr.dtype, np.floating) else arr.astype(np.float64)


def _as_colors(colors: ArrayLike | None, shape: tuple[int, int]) -> NDArray[np.uint8] | None:
    if colors is None:
        return None
    c = np.asarray(colors)
    if c.dtype != np.uint8:
        raise MeshError(f"colors must be uint8 (sRGB), got dtype {c.dtype}")
    if c.ndim == 2:
        c = np.repeat(c[..., None], 3, axis=2)
    if c.ndim != 3 or c.shape[:2] != tuple(shape) or c.shape[2] not in (3, 4):
        raise MeshError(f"colors must be {tuple(shape)} with 1, 3 or 4 bands, got {c.shape}")
    return c


def _with_bands(colors: NDArray[np.uint8], bands: int) -> NDArray[np.uint8]:
    if colors.shape[1] == bands:
        return colors
    return np.column_stack([colors, np.full(len(colors), 255, np.uint8)])


def _drop_degenerate(vertices: NDArray, faces: NDArray[np.int32]) -> NDArray[np.int32]:
    v = vertices.astype(np.float64)
    cross = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    return faces[np.linalg.norm(cross, axis=1) > 0]


# ---------------------------------------------------------------------------------------------
# The right-triangulated irregular network
#
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


def _rtin(values: NDArray[np.float32], tol: float, edge_limit: NDArray[np.float32] | None,
          ccw_sign: float) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Faces (indices into ``used``) and the used flat grid indices of an RTIN over ``values``.

    ``values`` is (H, W, C); the error of a point is the Euclidean norm over C of its distance
    to the interpolating triangle. A grid edge joins two finite points, no longer than the
    smaller of their ``edge_limit`` (H, W) when given. ``ccw_sign`` is the sign of the faces'
    area in (col, row).
    """
    height, width = values.shape[:2]
    top = int(min(_TOP_CELLS, 2 ** int(np.ceil(np.log2(max(height - 1, width - 1, 2))))))
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
    s-square from square (pa, pb), by strided slices (one per point offset) instead of gathers."""
    n_a, n_b = (grid.shape[1] - 1) // s, (grid.shape[2] - 1) // s
    na, nb = len(range(pa, n_a, stride)), len(range(pb, n_b, stride))
    step = stride * s

    def view(du: int, dv: int) -> NDArray:
        r0, c0 = pa * s + du, pb * s + dv
        return grid[:, r0:r0 + step * (na - 1) + 1:step, c0:c0 + step * (nb - 1) + 1:step]

    pts, weights, starts = _weights(s, triangles, every)
    corners = [view(*(_CORNERS[k] * s // 2)) for k in range(5)]
    out = np.zeros((len(triangles), na, nb), np.float32)
    ends = list(starts[1:]) + [len(pts)]
    for t, (first, last) in enumerate(zip(starts, ends)):
        for p in range(first, last):
            w = weights[p]
            nz = np.flatnonzero(w)
            if len(nz) == 1:
                continue                      # a vertex of the triangle: no error
            interp = sum(w[k] * corners[k] for k in nz)
            np.maximum(out[t], _sq(view(*pts[p]) - interp), out=out[t])
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
