"""Hardware the EDL cameras see: oriented boxes (rover, descent stage) and spheres (parachute).

Analytic ray intersection, vectorised over rays; SITE_FRAME metres (+x north, +y east, +z down).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Solid", "intersect_solid"]


@dataclass(frozen=True, slots=True)
class Solid:
    """A simple body (hardware seen by the EDL cameras): an oriented box or a sphere.

    ``centre`` (3,) SITE_FRAME metres; ``r_site_body`` (3, 3); ``half_size`` (3,) box half
    extents (sphere: ``half_size[0]`` is the radius); ``radiance`` (3,) world RGB of the lit side;
    ``stripes``: alternate light/dark gores around the body z axis (parachutes).
    """

    kind: str
    centre: tuple[float, float, float]
    r_site_body: tuple[tuple[float, float, float], ...]
    half_size: tuple[float, float, float]
    radiance: tuple[float, float, float]
    stripes: int = 0
    hemisphere: bool = False



def intersect_solid(solid: Solid, o: NDArray, d: NDArray, *, sun_azimuth_deg: float,
                    sun_elevation_deg: float) -> tuple[NDArray, NDArray[np.float32]]:
    """Ray distance and shaded radiance of one solid.

    Parameters
    ----------
    solid : Solid
    o, d : (N, 3) ndarray
        Ray origins and unit directions, SITE_FRAME.
    sun_azimuth_deg, sun_elevation_deg : float

    Returns
    -------
    t : (N,) float64
        Distance to the first hit, NaN on a miss.
    radiance : (N, 3) float32
        World RGB of the hit (meaningless on a miss): the body's radiance times
        ``0.25 + 0.75 max(0, n . sun)``, striped gores for parachutes.
    """
    r = np.asarray(solid.r_site_body, np.float64)
    c = np.asarray(solid.centre, np.float64)
    ob = (o - c) @ r  # body frame: r.T @ (o - c)
    db = d @ r
    half = np.asarray(solid.half_size, np.float64)
    n = o.shape[0]
    t = np.full(n, np.nan)
    normal = np.zeros((n, 3))
    if solid.kind == "sphere":
        rad = half[0]
        b = np.einsum("ij,ij->i", ob, db)
        cc = np.einsum("ij,ij->i", ob, ob) - rad * rad
        disc = b * b - cc
        ok = disc >= 0
        root = np.sqrt(np.where(ok, disc, 0.0))
        t1, t2 = -b - root, -b + root
        tt = np.where(t1 > 1e-6, t1, t2)
        p = ob + tt[:, None] * db
        if solid.hemisphere:  # canopy: the half with body z < 0 (its "up" side), seen from below
            ok &= p[:, 2] <= 0.0
            alt = ob + t2[:, None] * db
            use2 = ~ok & (disc >= 0) & (alt[:, 2] <= 0) & (t2 > 1e-6)
            tt = np.where(use2, t2, tt)
            ok = ok | use2
            p = ob + tt[:, None] * db
        ok &= tt > 1e-6
        t[ok] = tt[ok]
        normal = p / rad
    else:
        inv = 1.0 / np.where(np.abs(db) < 1e-12, 1e-12, db)
        t_lo = (-half - ob) * inv
        t_hi = (half - ob) * inv
        t_near = np.minimum(t_lo, t_hi).max(axis=1)
        t_far = np.maximum(t_lo, t_hi).min(axis=1)
        ok = (t_near <= t_far) & (t_far > 1e-6)
        tt = np.where(t_near > 1e-6, t_near, t_far)
        t[ok] = tt[ok]
        p = ob + tt[:, None] * db
        face = np.argmax(np.abs(p) / half, axis=1)
        normal[np.arange(n), face] = np.sign(p[np.arange(n), face])
    sun_az, sun_el = np.radians(sun_azimuth_deg), np.radians(sun_elevation_deg)
    sun_site = np.array([np.cos(sun_el) * np.cos(sun_az), np.cos(sun_el) * np.sin(sun_az),
                         -np.sin(sun_el)])
    sun_body = r.T @ sun_site
    shade = 0.25 + 0.75 * np.clip(normal @ sun_body, 0, 1)
    value = np.asarray(solid.radiance, np.float32)[None, :] * shade.astype(np.float32)[:, None]
    if solid.stripes:
        gore = np.floor((np.arctan2(p[:, 1], p[:, 0]) + np.pi) / (2 * np.pi) * solid.stripes)
        orange = np.array([0.95, 0.45, 0.18], np.float32)  # alternate white and orange gores
        value = np.where((gore % 2 == 0)[:, None], value, value * orange[None, :])
    return t, value.astype(np.float32)
