"""Surfaces a mosaic's rays are intersected with (JPL SURFACE_MODEL; docs/mosaics.md#surfaces).

A mosaic pixel defines a ray from the projection origin; the surface says *which point* along the
ray each input camera is asked to see. At infinity only the direction matters (no parallax,
the usual choice for mast panoramas); on a ground plane, a sphere or the terrain (a DEM,
:class:`rovercam.terrain.DEM`, level ground where it has no height) the point is projected through
each camera's own centre, so cameras at different positions agree on the ground.

Frames are SITE_FRAME-like: +x north, +y east, +z down (docs/conventions.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.terrain.dem import DEM

__all__ = ["Surface", "SurfaceKind", "FAR_RANGE_M"]

SurfaceKind = Literal["infinity", "plane", "sphere", "terrain"]

#: Range given to rays that miss a finite surface (above the horizon of a ground plane): far
#: enough that camera baselines of metres make < 1e-5 rad of parallax.
FAR_RANGE_M = 1.0e6

#: Ray marching against a DEM: samples per cell along the ray, and the most samples held at once.
_MARCH_PER_CELL = 2.0
_MARCH_BLOCK = 1_000_000

#: Occlusion test (:meth:`Surface.hidden`): the last stretch of a sight line next to its point,
#: in DEM cells, is not tested (the point's own facet), and the line must pass below the surface
#: by more than this fraction of a cell to count as blocked.
_HIDDEN_SKIP_CELLS = 1.5
_HIDDEN_TOL_CELLS = 0.25


def _blocks(todo: NDArray[np.int64], steps: NDArray[np.int64]) -> list[NDArray[np.int64]]:
    """``todo`` cut into blocks of similar ``steps``, each holding at most :data:`_MARCH_BLOCK`
    samples (block size times its largest step count) or one item."""
    order = todo[np.argsort(steps[todo], kind="stable")]
    size = steps[order] + 1
    out, start = [], 0
    while start < len(order):
        # size is non-decreasing: the largest block from ``start`` that fits
        cost = np.arange(1, len(order) - start + 1) * size[start:]
        take = max(1, int(np.searchsorted(cost, _MARCH_BLOCK, side="right")))
        out.append(order[start : start + take])
        start += take
    return out


@dataclass(frozen=True, slots=True)
class Surface:
    """A surface model.

    Parameters
    ----------
    kind : {"infinity", "plane", "sphere", "terrain"}
    normal : (3,) tuple of float
        Plane: unit normal (``(0, 0, 1)``, down, for level ground). Terrain: ``(0, 0, 1)``.
        Ignored otherwise.
    distance_m : float
        Plane: ``normal . p = distance_m`` for points ``p`` on it (metres; for level ground,
        the ground's z in the mosaic frame). Sphere: radius. Terrain: the z of the level ground
        used where the DEM has no height (the fallback plane).
    centre : (3,) tuple of float
        Sphere centre, metres. Ignored otherwise.
    dem : DEM, optional
        Terrain: the height model, in the mosaic frame (build with :meth:`terrain`).

    Notes
    -----
    The terrain surface is ``z = -dem.height_at(x, y)`` where the DEM knows the height
    (bilinear) and ``z = distance_m`` elsewhere, outside the grid and over its holes
    (docs/mosaics.md#mosaics-on-the-terrain).
    """

    kind: SurfaceKind = "infinity"
    normal: tuple[float, float, float] = (0.0, 0.0, 1.0)
    distance_m: float = 0.0
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0)
    dem: DEM | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("infinity", "plane", "sphere", "terrain"):
            raise ValueError(f"surface kind must be infinity, plane, sphere or terrain, got {self.kind!r}")
        if self.kind == "terrain":
            if not isinstance(self.dem, DEM):
                raise ValueError(f"a terrain surface needs its DEM (rovercam.terrain.DEM), got {self.dem!r}")
            if tuple(self.normal) != (0.0, 0.0, 1.0) or not math.isfinite(self.distance_m):
                raise ValueError("a terrain surface falls back to level ground: normal (0, 0, 1) and a finite "
                                 f"distance_m, got {self.normal!r}, {self.distance_m!r}")
        elif self.dem is not None:
            raise ValueError(f"only a terrain surface takes a DEM, not {self.kind!r}")
        if self.kind == "plane":
            n = np.asarray(self.normal, dtype=np.float64)
            if n.shape != (3,) or not math.isclose(float(np.linalg.norm(n)), 1.0, abs_tol=1e-6):
                raise ValueError(f"plane normal must be a unit 3-vector, got {self.normal!r}")
        if self.kind == "sphere" and not self.distance_m > 0:
            raise ValueError(f"sphere radius must be positive, got {self.distance_m!r}")

    @classmethod
    def ground(cls, z_m: float) -> "Surface":
        """Level ground at ``z = z_m`` (metres, z down) in the mosaic frame."""
        return cls("plane", (0.0, 0.0, 1.0), float(z_m))

    @classmethod
    def terrain(cls, dem: DEM, fallback_z_m: float) -> "Surface":
        """The terrain of ``dem``; level ground at ``z = fallback_z_m`` (metres, z down) where it
        has no height."""
        return cls("terrain", (0.0, 0.0, 1.0), float(fallback_z_m), dem=dem)

    @property
    def at_infinity(self) -> bool:
        return self.kind == "infinity"

    @property
    def tag(self) -> str:
        """SURFACE_MODEL tag value."""
        return {"infinity": "INFINITY", "plane": "PLANE", "sphere": "SPHERE", "terrain": "TERRAIN"}[self.kind]

    def parameters(self) -> tuple[float, ...]:
        """Parameters as a flat tuple (for tags): normal + distance, or centre + radius; the
        terrain: the fallback plane's normal and z, then the DEM's origin x, y, cell size, rows
        and columns (its heights are not in the tags)."""
        if self.kind == "plane":
            return (*self.normal, self.distance_m)
        if self.kind == "terrain":
            assert self.dem is not None
            rows, cols = self.dem.heights.shape
            return (*self.normal, self.distance_m, *self.dem.origin, self.dem.cell_m, float(rows), float(cols))
        if self.kind == "sphere":
            return (*self.centre, self.distance_m)
        return ()

    @classmethod
    def from_tag(cls, tag: str, params: tuple[float, ...]) -> "Surface":
        """Inverse of :attr:`tag` / :meth:`parameters`.

        A TERRAIN tag comes back as its fallback plane: the tags do not hold the DEM's heights.
        """
        kind = {"INFINITY": "infinity", "PLANE": "plane", "SPHERE": "sphere", "TERRAIN": "plane"}.get(tag.upper())
        if kind is None:
            raise ValueError(f"unknown SURFACE_MODEL {tag!r}")
        if kind == "plane":
            return cls("plane", tuple(params[:3]), float(params[3]))  # type: ignore[arg-type]
        if kind == "sphere":
            return cls("sphere", centre=tuple(params[:3]), distance_m=float(params[3]))  # type: ignore[arg-type]
        return cls()

    def intersect(self, origin: NDArray[np.float64], directions: NDArray[np.float64]) -> NDArray[np.float64]:
        """Points where rays from ``origin`` meet the surface.

        Parameters
        ----------
        origin : (3,) ndarray
            Ray origin, metres, mosaic frame (terrain: also (N, 3), one per ray).
        directions : (N, 3) ndarray
            Unit directions, mosaic frame.

        Returns
        -------
        (N, 3) ndarray of float64
            Metres. Rays that miss (or meet the surface behind the origin) get the point at
            :data:`FAR_RANGE_M` along the ray, i.e. they behave as if at infinity.

        Raises
        ------
        ValueError
            Called on the infinity surface (use the directions themselves).
        """
        o = np.asarray(origin, dtype=np.float64)
        d = np.asarray(directions, dtype=np.float64)
        if self.kind == "infinity":
            raise ValueError("the infinity surface has no intersection points; use directions")
        if self.kind == "terrain":
            return self._march(o, d)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "plane":
                n = np.asarray(self.normal)
                t = (self.distance_m - o @ n) / (d @ n)
            else:
                oc = o - np.asarray(self.centre)
                b = d @ oc
                disc = b * b - (oc @ oc - self.distance_m**2)
                t = -b + np.sqrt(disc)  # the far root: from inside the sphere, the one ahead
        t = np.where(np.isfinite(t) & (t > 0) & (t < FAR_RANGE_M), t, FAR_RANGE_M)
        return o + d * t[:, None]

    def z_at(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
        """Terrain: the surface's z (metres, +z down) at ``(x, y)``: ``-height`` where the DEM
        knows it, the fallback plane's ``distance_m`` elsewhere.

        Raises
        ------
        ValueError
            Not a terrain surface.
        """
        if self.dem is None:
            raise ValueError(f"z_at is for terrain surfaces, not {self.kind!r}")
        z = -self.dem.height_at(x, y)
        return np.where(np.isnan(z), self.distance_m, z)

    def _z_sampler(self) -> Callable[..., NDArray[np.float32]]:
        """A fast approximation of :meth:`z_at` for marching: ``sample(x, y)`` in metres, or
        ``sample(row, col, cells=True)`` in float32 DEM cells (row along x, column along y).
        The DEM with its holes set to the fallback plane, sampled bilinearly by ``cv2.remap``
        (positions to 1/32 cell; next to a hole it blends the plane in, where :meth:`z_at`
        takes the plane alone)."""
        assert self.dem is not None
        dem, plane = self.dem, float(self.distance_m)
        grid = np.where(np.isfinite(dem.heights), -dem.heights, plane).astype(np.float32)
        limit = 32767  # OpenCV's largest map side

        def sample(a: NDArray, b: NDArray, *, cells: bool = False) -> NDArray[np.float32]:
            if cells:
                row, col = np.asarray(a, np.float32), np.asarray(b, np.float32)
            else:
                row = ((np.asarray(a) - dem.origin[0]) / dem.cell_m).astype(np.float32)
                col = ((np.asarray(b) - dem.origin[1]) / dem.cell_m).astype(np.float32)
            shape = row.shape
            if row.ndim != 2 or max(shape) >= limit:  # as rows of 1024 samples
                n = row.size
                rows = -(-n // 1024)
                row = np.pad(row.ravel(), (0, rows * 1024 - n)).reshape(rows, 1024)
                col = np.pad(col.ravel(), (0, rows * 1024 - n)).reshape(rows, 1024)
                z = cv2.remap(grid, col, row, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=plane)
                return z.ravel()[:n].reshape(shape)
            return cv2.remap(grid, col, row, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=plane)

        return sample

    def _march(self, o: NDArray[np.float64], d: NDArray[np.float64]) -> NDArray[np.float64]:
        """Terrain intersections: the first point where each ray goes below the surface.

        ``o`` is one origin (3,) or one per ray (N, 3). Every ray is sampled each half DEM cell
        (3-D distance) from its origin until it leaves the DEM's footprint; the first sign
        change of ``z_ray - z_surface`` is refined by the secant between its two samples (exact
        where the surface is planar between them). Rays that do not meet the terrain over the
        DEM meet the fallback plane beyond it, or none (:data:`FAR_RANGE_M`).
        """
        assert self.dem is not None
        dem = self.dem
        n = len(d)
        o = np.broadcast_to(o, d.shape)
        t_hit = np.full(n, np.nan)
        x0, x1, y0, y1 = dem.bounds
        with np.errstate(divide="ignore", invalid="ignore"):
            # where each ray leaves the DEM's rectangle (slab method; 0 when o is outside)
            tx = np.stack([(x0 - o[:, 0]) / d[:, 0], (x1 - o[:, 0]) / d[:, 0]])
            ty = np.stack([(y0 - o[:, 1]) / d[:, 1], (y1 - o[:, 1]) / d[:, 1]])
        t_in = np.maximum(np.nan_to_num(np.nanmin(tx, axis=0), nan=-np.inf, posinf=np.inf, neginf=-np.inf),
                          np.nan_to_num(np.nanmin(ty, axis=0), nan=-np.inf, posinf=np.inf, neginf=-np.inf))
        t_out = np.minimum(np.nan_to_num(np.nanmax(tx, axis=0), nan=np.inf, posinf=np.inf, neginf=-np.inf),
                           np.nan_to_num(np.nanmax(ty, axis=0), nan=np.inf, posinf=np.inf, neginf=-np.inf))
        t_in = np.maximum(t_in, 0.0)
        t_out = np.minimum(t_out, FAR_RANGE_M)
        span = np.where(t_out > t_in, t_out - t_in, 0.0)
        z_at = self._z_sampler()
        dt = dem.cell_m / _MARCH_PER_CELL
        steps = np.ceil(span / dt).astype(np.int64)
        todo = np.flatnonzero(steps > 0)
        # rays in blocks of similar length, each block sampled to its longest ray
        for block in _blocks(todo, steps):
            k = int(steps[block].max())
            t = t_in[block, None] + np.arange(k + 1)[None, :] * dt  # (B, k + 1)
            t = np.minimum(t, t_out[block, None])
            p = o[block, None, :] + t[..., None] * d[block, None, :]
            f = p[..., 2] - z_at(p[..., 0], p[..., 1])  # > 0 below the surface
            below = f >= 0
            first = np.argmax(below, axis=1)
            hit = below[np.arange(len(block)), first]
            # a ray that starts below the surface (first == 0) meets it where it comes out: none
            hit &= first > 0
            rows = np.flatnonzero(hit)
            if len(rows):
                j = first[rows]
                fa, fb = f[rows, j - 1], f[rows, j]
                ta, tb = t[rows, j - 1], t[rows, j]
                t_hit[block[rows]] = ta + (tb - ta) * (-fa) / np.where(fb - fa > 0, fb - fa, 1.0)
        miss = np.isnan(t_hit)
        if miss.any():
            # past the DEM (or over its holes): the fallback plane, ahead of the origin only
            with np.errstate(divide="ignore", invalid="ignore"):
                tp = (self.distance_m - o[miss, 2]) / d[miss, 2]
            tp = np.where(np.isfinite(tp) & (tp > 0), tp, np.nan)
            # the plane counts only where it is the surface there (off the DEM, or a hole)
            pts = o[miss] + d[miss] * np.nan_to_num(tp, nan=0.0)[:, None]
            on_plane = np.isnan(dem.height_at(pts[:, 0], pts[:, 1]))
            t_hit[miss] = np.where(on_plane, tp, np.nan)
        t_hit = np.where(np.isfinite(t_hit) & (t_hit > 0) & (t_hit < FAR_RANGE_M), t_hit, FAR_RANGE_M)
        return o + d * t_hit[:, None]

    def hidden(self, centre: NDArray[np.float64], points: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Terrain: which points the terrain hides from ``centre`` (a camera's centre).

        Parameters
        ----------
        centre : (3,) ndarray
            Metres, mosaic frame.
        points : (N, 3) ndarray
            Metres, on or near the surface (e.g. a vertical grid's ground points).

        Returns
        -------
        (N,) ndarray of bool
            True where the sight line from ``centre`` to the point passes below the surface by
            more than a quarter of a DEM cell, away from the point's own facet (the last 1.5
            cells, horizontally, are not tested). The line is sampled every half cell
            horizontally, up to where it rises above the DEM's highest point.

        Raises
        ------
        ValueError
            Not a terrain surface.
        """
        if self.dem is None:
            raise ValueError(f"hidden is for terrain surfaces, not {self.kind!r}")
        c = np.asarray(centre, dtype=np.float64)
        p = np.asarray(points, dtype=np.float64)
        cell = self.dem.cell_m
        out = np.zeros(len(p), bool)
        known = np.isfinite(self.dem.heights)
        if not known.any() or not len(p):
            return out
        h_top = max(float(self.dem.heights[known].max()), -self.distance_m)
        run = np.hypot(c[0] - p[:, 0], c[1] - p[:, 1])  # horizontal length of each sight line
        h_p, h_c = -p[:, 2], -c[2]
        with np.errstate(divide="ignore", invalid="ignore"):
            # past u_top (horizontal distance from the point) the line is above every height
            u_top = np.where(h_c > h_top, run * (h_top - h_p) / (h_c - h_p), run)
        u_top = np.minimum(np.nan_to_num(u_top, nan=0.0), run)
        u0, du = _HIDDEN_SKIP_CELLS * cell, cell / _MARCH_PER_CELL
        steps = np.where(u_top > u0, np.ceil((u_top - u0) / du), 0).astype(np.int64)
        todo = np.flatnonzero(steps > 0)
        tol = _HIDDEN_TOL_CELLS * cell
        z_at = self._z_sampler()
        # the sight lines in float32 DEM cells (row, column) and metres (z), point to centre
        f32 = np.float32
        pr = ((p[:, 0] - self.dem.origin[0]) / cell).astype(f32)
        pc = ((p[:, 1] - self.dem.origin[1]) / cell).astype(f32)
        dr, dc = ((c[0] - p[:, 0]) / cell).astype(f32), ((c[1] - p[:, 1]) / cell).astype(f32)
        pz, dz = p[:, 2].astype(f32), (c[2] - p[:, 2]).astype(f32)
        for block in _blocks(todo, steps):
            k = int(steps[block].max())
            u = np.minimum(u0 + np.arange(k, dtype=np.float64)[None, :] * du, u_top[block, None])  # (B, k)
            f = (u / run[block, None]).astype(f32)  # fraction of the way from the point to the centre
            z_line = pz[block, None] + f * dz[block, None]
            z_ground = z_at(pr[block, None] + f * dr[block, None], pc[block, None] + f * dc[block, None], cells=True)
            out[block] = (z_line - z_ground > tol).any(axis=1)  # the line under the ground somewhere
        return out
