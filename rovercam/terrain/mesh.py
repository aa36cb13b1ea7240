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
from rovercam.terrain.rtin import rtin_faces

__all__ = ["Mesh", "mesh_from_xyz", "mesh_from_heights", "merge_meshes"]


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
    work = np.empty(points.shape, np.float32)      # centred: float32 errors stay exact
    np.subtract(points, centre, out=work, casting="unsafe")   # no float64 (H, W, 3) copy
    eye_w = (eye - centre).astype(np.float32)

    diff = work - eye_w
    limit = ratio * np.sqrt(np.einsum("ijc,ijc->ij", diff, diff))
    faces, used = rtin_faces(work, tol, limit, ccw_sign=-1.0)
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

    faces, used = rtin_faces(work, tol, None, ccw_sign=1.0)
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
