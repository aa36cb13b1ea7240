"""Choosing a mosaic's output grid from its frames: projection, surface, scale and extent.

The scale defaults to the finest input IFOV at the frame centre (1/hs radians per pixel of the
frame's linear model), so no input detail is lost; the origin of finite surfaces is the mean
camera centre.
"""
from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np

from rovercam.camera.coordinates import azimuth_elevation, direction_from_azimuth_elevation
from rovercam.errors import MosaicError
from rovercam.mosaic.cylindrical import FrameGeometry, outline_az_el, plan_cylindrical
from rovercam.mosaic.projections import (
    CylindricalProjection,
    EquirectangularProjection,
    PerspectiveProjection,
    PolarProjection,
    Projection,
    VerticalProjection,
)
from rovercam.mosaic.surfaces import Surface
from rovercam.terrain.dem import DEM

__all__ = ["ProjectionKind", "SurfaceChoice", "plan_projection", "finest_ifov_deg", "mean_centre"]

ProjectionKind = Literal["cylindrical", "equirectangular", "polar", "vertical", "perspective"]
SurfaceChoice = Literal["infinity", "ground", "sphere", "terrain"]


def finest_ifov_deg(geoms: Sequence[FrameGeometry]) -> float:
    """Smallest centre IFOV of the frames, degrees per pixel."""
    return min(math.degrees(1.0 / g.model.internal().hs) for g in geoms)


def mean_centre(geoms: Sequence[FrameGeometry]) -> np.ndarray:
    """Mean camera centre (metres, mosaic frame)."""
    return np.mean([np.asarray(g.model.c, dtype=np.float64) for g in geoms], axis=0)


def _surface(choice: SurfaceChoice, origin: np.ndarray, *, camera_height_m: float, sphere_radius_m: float) -> Surface:
    if choice == "infinity":
        return Surface()
    if choice in ("ground", "terrain"):  # terrain: vertical maps only, which take their own surface
        return Surface.ground(float(origin[2]) + camera_height_m)
    if choice == "sphere":
        return Surface("sphere", centre=tuple(float(v) for v in origin), distance_m=sphere_radius_m)  # type: ignore[arg-type]
    raise MosaicError(f"unknown surface {choice!r}")


def plan_projection(
    geoms: Sequence[FrameGeometry],
    kind: ProjectionKind = "cylindrical",
    *,
    surface: SurfaceChoice = "infinity",
    scale_deg: float = 0.0,
    width: int = 0,
    camera_height_m: float = 1.9,
    sphere_radius_m: float = 10.0,
    vertical_extent_m: float = 10.0,
    max_pixels: int | None = None,
    dem: DEM | None = None,
) -> Projection:
    """The output grid of a mosaic of ``geoms``.

    Parameters
    ----------
    geoms : sequence of FrameGeometry
        Frames in the mosaic frame.
    kind : {"cylindrical", "equirectangular", "polar", "vertical", "perspective"}
    surface : {"infinity", "ground", "sphere", "terrain"}
        Ground: level plane ``camera_height_m`` below the mean camera centre; sphere: radius
        ``sphere_radius_m`` around it. Vertical maps use the ground plane, or with
        ``"terrain"`` the terrain of ``dem`` (the ground plane where it has no height);
        ``"terrain"`` is for vertical maps only (docs/mosaics.md#mosaics-on-the-terrain).
    scale_deg : float
        Degrees per output pixel (0 = finest input IFOV). Vertical maps: metres per pixel are
        the IFOV's footprint at ``vertical_extent_m / 2``.
    width : int
        Equirectangular only: the grid width (0 = from the scale).
    max_pixels : int, optional
        Refuse grids larger than this (checked before anything is allocated).
    dem : DEM, optional
        The terrain, for ``surface="terrain"`` (in SITE_FRAME, the mosaic frame); ignored by
        the other surfaces.

    Raises
    ------
    MosaicError
        No frames, a grid larger than ``max_pixels``, or ``surface="terrain"`` with another
        projection than vertical, without a DEM, or with a DEM in another frame.
    """
    if not geoms:
        raise MosaicError("no frames to mosaic")
    if surface == "terrain":
        if kind != "vertical":
            raise MosaicError(f"surface 'terrain' applies to vertical (orthographic) mosaics only, not {kind!r}; "
                              "use surface 'ground' or 'sphere' for other projections")
        if dem is None:
            raise MosaicError("surface 'terrain' needs the terrain: pass a DEM (rovercam.terrain.DEM) as dem=")
        if dem.frame != "SITE_FRAME":
            raise MosaicError(f"the DEM is in {dem.frame}; vertical mosaics are made in SITE_FRAME")
    origin = mean_centre(geoms)
    surf = _surface(surface, origin, camera_height_m=camera_height_m, sphere_radius_m=sphere_radius_m)
    common = dict(surface=surf.tag, origin=tuple(float(v) for v in origin), surface_params=surf.parameters())
    scale = scale_deg or finest_ifov_deg(geoms)
    proj: Projection
    if kind == "cylindrical":
        base = plan_cylindrical(geoms, scale_deg=scale)
        proj = CylindricalProjection(base.az_start_deg, base.el_top_deg, base.scale_deg, base.width, base.height,
                                     **common)  # type: ignore[arg-type]
    elif kind == "equirectangular":
        w = width or 2 * int(math.ceil(180.0 / scale))
        proj = EquirectangularProjection.full_sphere(w + (w % 2), surface=surf, origin=tuple(origin))  # type: ignore[arg-type]
    elif kind == "polar":
        el_max = max(float(outline_az_el(g)[1].max()) for g in geoms)
        proj = PolarProjection.around_nadir(min(el_max, 89.0), scale, **common)  # type: ignore[arg-type]
    elif kind == "vertical":
        ground = Surface.ground(float(origin[2]) + camera_height_m)
        step = scale_deg and math.radians(scale_deg) * vertical_extent_m / 2 or \
            math.radians(finest_ifov_deg(geoms)) * vertical_extent_m / 2
        n = 2 * int(math.ceil(vertical_extent_m / step)) + 1
        terrain = Surface.terrain(dem, ground.distance_m) if surface == "terrain" and dem is not None else None
        proj = VerticalProjection(float(origin[0]) + vertical_extent_m, float(origin[1]) - vertical_extent_m, step, n, n,
                                  ground.distance_m, surface="PLANE" if terrain is None else terrain.tag,
                                  origin=tuple(float(v) for v in origin),
                                  surface_params=(terrain or ground).parameters(),
                                  dem=None if terrain is None else dem)
    elif kind == "perspective":
        axes = np.array([g.model.unproject(np.array([[(g.width - 1) / 2, (g.height - 1) / 2]]))[1][0] for g in geoms])
        mean_axis = axes.mean(axis=0)
        if np.linalg.norm(mean_axis) < 0.3:
            raise MosaicError("frames look all around: a perspective projection cannot hold them")
        az, el = azimuth_elevation(mean_axis[None])
        focal = 1.0 / math.radians(scale)
        probe = PerspectiveProjection(float(az[0]), float(el[0]), focal, 3, 3, **common)  # type: ignore[arg-type]
        cam = probe.camera
        half_w = half_h = 0.0
        for g in geoms:
            a_deg, e_deg = outline_az_el(g)
            px = cam.project_directions(direction_from_azimuth_elevation(a_deg, e_deg)) - 1.0
            px = px[np.all(np.isfinite(px), axis=1)]
            if len(px):
                half_w = max(half_w, float(np.abs(px[:, 0]).max()))
                half_h = max(half_h, float(np.abs(px[:, 1]).max()))
        proj = PerspectiveProjection(float(az[0]), float(el[0]), focal, 2 * int(math.ceil(half_w)) + 3,
                                     2 * int(math.ceil(half_h)) + 3, **common)  # type: ignore[arg-type]
    else:
        raise MosaicError(f"unknown projection {kind!r}")
    if max_pixels is not None and proj.width * proj.height > max_pixels:
        raise MosaicError(f"{kind} grid {proj.width}x{proj.height} exceeds {max_pixels} pixels; "
                          "set mosaic.scale_deg (or mosaic.width) coarser")
    return proj
