"""Relief synthesis on square height-field grids: noise, stamps, craters, rocks, shadows, sampling.

The building blocks of :func:`rovercam.synth.terrain.build_terrain`. Grids are (rows, cols)
float32 arrays indexed ``[row, col]``; rows go south and columns east in the terrain's levels.
Fractional (col, row) positions are 0-based with cell centres at integers. Every random draw
comes from the ``rng`` passed in, in a fixed order, so a terrain is deterministic in its seed.
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["smoothstep", "sample_grid", "sample_tile", "micro_texture", "smooth_noise", "stamp",
           "crater_profile", "rock_profile", "level_detail", "cast_shadow", "shade"]

_REMAP_COLS = 4096  # cv2.remap maps are reshaped to rows of this many points


def smoothstep(edge0: float, edge1: float, x: NDArray) -> NDArray:
    """Hermite step: 0 at ``edge0``, 1 at ``edge1`` (either order), ``3t^2 - 2t^3`` between."""
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def sample_grid(grid: NDArray[np.float32], col: NDArray, row: NDArray) -> NDArray[np.float32]:
    """Bilinear ``grid`` values at fractional (col, row); any length, edge values clamped."""
    col = np.asarray(col, np.float32).ravel()
    row = np.asarray(row, np.float32).ravel()
    count = col.size
    channels = grid.shape[2] if grid.ndim == 3 else 1
    if count == 0:
        return np.zeros((0, channels) if grid.ndim == 3 else (0,), np.float32)
    rows = -(-count // _REMAP_COLS)
    pad = rows * _REMAP_COLS - count
    cx = np.concatenate([col, np.zeros(pad, np.float32)]).reshape(rows, _REMAP_COLS)
    cy = np.concatenate([row, np.zeros(pad, np.float32)]).reshape(rows, _REMAP_COLS)
    out = cv2.remap(grid, cx, cy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out = out.reshape(rows * _REMAP_COLS, -1)[:count]
    return out if grid.ndim == 3 else out[:, 0]


def sample_tile(grid: NDArray[np.float32], col: NDArray, row: NDArray) -> NDArray[np.float32]:
    """Bilinear samples of a periodic tile (wrap-around at its borders)."""
    col = np.asarray(col, np.float32).ravel()
    row = np.asarray(row, np.float32).ravel()
    count = col.size
    rows = -(-count // _REMAP_COLS)
    pad = rows * _REMAP_COLS - count
    cx = np.concatenate([col, np.zeros(pad, np.float32)]).reshape(rows, _REMAP_COLS)
    cy = np.concatenate([row, np.zeros(pad, np.float32)]).reshape(rows, _REMAP_COLS)
    out = cv2.remap(grid, cx, cy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    return out.reshape(-1)[:count]


def micro_texture(rng: np.random.Generator, size: int = 512) -> NDArray[np.float32]:
    """Periodic multiplicative albedo texture: sand grains plus small dark and light pebbles."""
    tex = np.zeros((size, size), np.float32)
    for spacing, amp in ((2.0, 0.10), (6.0, 0.08), (20.0, 0.06)):
        n = int(size / spacing)
        lattice = rng.standard_normal((n, n)).astype(np.float32)
        tiled = np.tile(lattice, (3, 3))
        big = cv2.resize(tiled, (3 * size, 3 * size), interpolation=cv2.INTER_CUBIC)
        tex += amp * big[size:2 * size, size:2 * size]
    pebbles = np.zeros((size, size), np.float32)
    xy = rng.integers(0, size, (900, 2))
    pebbles[xy[:, 1], xy[:, 0]] = rng.choice([-1.0, 0.6], 900, p=[0.7, 0.3])
    tiled = cv2.GaussianBlur(np.tile(pebbles, (3, 3)), (0, 0), 1.6)  # periodic blur
    pebbles = tiled[size:2 * size, size:2 * size]
    tex += 0.45 * pebbles / max(float(np.abs(pebbles).max()), 1e-6)
    return (1.0 + tex).astype(np.float32)


def smooth_noise(rng: np.random.Generator, size: int, spacing_cells: float) -> NDArray[np.float32]:
    """Smooth unit-variance-ish noise on a size x size grid with features ~spacing cells apart."""
    knots = max(4, int(size / spacing_cells) + 4)
    lattice = rng.standard_normal((knots, knots)).astype(np.float32)
    return cv2.resize(lattice, (size, size), interpolation=cv2.INTER_CUBIC)


def stamp(grid: NDArray[np.float32], cu: float, cv_: float, radius: float,
           profile: Callable, *, add: bool = True) -> None:
    """Apply ``profile(r / radius, du, dv)`` in a window around (cu, cv) cells (in place)."""
    size = grid.shape[0]
    r_win = int(np.ceil(radius * 1.6)) + 2
    u0, u1 = max(0, int(cu) - r_win), min(size, int(cu) + r_win + 1)
    v0, v1 = max(0, int(cv_) - r_win), min(size, int(cv_) + r_win + 1)
    if u0 >= u1 or v0 >= v1:
        return
    vv, uu = np.mgrid[v0:v1, u0:u1].astype(np.float32)
    du, dv = uu - cu, vv - cv_
    value = profile(np.hypot(du, dv) / radius, du, dv)
    if add:
        grid[v0:v1, u0:u1] += value
    else:
        grid[v0:v1, u0:u1] = np.maximum(grid[v0:v1, u0:u1], value)


def crater_profile(depth: float) -> Callable:
    """Height profile (m) of a bowl crater of ``depth`` m with a raised rim, for :func:`stamp`."""
    def profile(x, du, dv):
        bowl = depth * (x * x - 1.0) * (x < 1.0)
        rim = 0.25 * depth * np.exp(-((x - 1.0) / 0.22) ** 2)
        return (bowl + rim).astype(np.float32)
    return profile


def rock_profile(radius: float, h_ratio: float, theta: float, cell: float) -> Callable:
    """Height profile (m) of a slightly elongated, flat-topped boulder, for :func:`stamp`.

    ``radius`` in cells, ``h_ratio`` height over radius, ``theta`` the long axis (radians),
    ``cell`` the cell size (m).
    """
    def profile(x, du, dv, r=radius, hr=h_ratio, th=theta):
        xr = (du * np.cos(th) + dv * np.sin(th)) / 1.25
        yr = -du * np.sin(th) + dv * np.cos(th)
        ang = np.arctan2(yr, xr)
        q = np.hypot(xr, yr) / r * (1.0 + 0.16 * np.sin(3.0 * ang + 7.0 * th)
                                    + 0.07 * np.sin(5.0 * ang + 3.0 * th))
        return (hr * r * cell * np.clip(1.0 - q ** 2, 0.0, None) ** 0.35).astype(np.float32)
    return profile


def level_detail(k: int, cell: float, size: int, rng: np.random.Generator, *, hill_relief_m: float,
                  levels: int) -> tuple[NDArray, NDArray, NDArray, list]:
    """Detail of level ``k`` of ``levels`` (coarsest 0), ``size`` x ``size`` cells of ``cell`` m.

    Returns
    -------
    height : (size, size) float32
        Height detail, metres (up); level 0 adds hills of ``hill_relief_m`` and a scarp.
    bright, red : (size, size) float32
        Brightness and redness deltas (fractions of the albedo).
    rocks : list of tuple
        ``(col, row, radius_cells, height_ratio, darkness, theta_rad, is_basalt)`` per rock.
    """
    height = np.zeros((size, size), np.float32)
    bright = 0.10 * smooth_noise(rng, size, 6.0) + 0.06 * smooth_noise(rng, size, 2.5)
    red = 0.06 * smooth_noise(rng, size, 12.0)
    # fractal roughness: amplitude proportional to the scale
    height += (0.12 * cell) * smooth_noise(rng, size, 3.0) + (0.35 * cell) * smooth_noise(rng, size, 10.0)
    if k == 0:
        height += hill_relief_m * (0.7 * smooth_noise(rng, size, 150.0)
                                          + 0.3 * smooth_noise(rng, size, 50.0))
        # a fan/delta-like plateau edge: a smooth scarp across the scene
        vv, uu = np.mgrid[0:size, 0:size].astype(np.float32) / size
        scarp = smoothstep(0.02, -0.02, (uu - 0.7 + 0.1 * np.sin(vv * 9.0)) * 1.0)
        height += 35.0 * scarp.astype(np.float32)
        bright += 0.12 * scarp.astype(np.float32)
        # landing-area albedo: dark sand sheets and bright dusty plains seen from orbit
        bright += 0.22 * smooth_noise(rng, size, 25.0) - 0.25 * smoothstep(
            0.6, 1.2, smooth_noise(rng, size, 60.0)).astype(np.float32)
        red += 0.08 * smooth_noise(rng, size, 80.0)
    n_craters = {0: 25, 1: 30, 2: 30, 3: 20, 4: 10}.get(k, 0)
    for _ in range(n_craters):
        cu, cv_ = rng.uniform(0.05 * size, 0.95 * size, 2)
        radius = float(np.exp(rng.uniform(np.log(6.0), np.log(60.0 if k else 90.0))))
        depth = 0.18 * radius * cell * rng.uniform(0.5, 1.0)
        stamp(height, cu, cv_, radius, crater_profile(depth))
        stamp(bright, cu, cv_, radius,
               lambda x, du, dv: (0.12 * np.exp(-((x - 1.0) / 0.3) ** 2)
                                  - 0.06 * (x < 0.8)).astype(np.float32))
    if 2 <= k <= 4:  # aeolian ripples in patches, crests brighter (dust) and redder
        vv, uu = np.mgrid[0:size, 0:size].astype(np.float32)
        theta = rng.uniform(0, np.pi)
        wavelength = rng.uniform(9.0, 14.0)
        phase = (uu * np.cos(theta) + vv * np.sin(theta)) * (2 * np.pi / wavelength)
        phase += 1.5 * smooth_noise(rng, size, 40.0)
        mask = smoothstep(0.1, 0.9, smooth_noise(rng, size, 60.0)).astype(np.float32)
        wave = (0.5 + 0.5 * np.sin(phase)) ** 1.5
        height += (0.07 * wavelength * cell) * mask * wave.astype(np.float32)
        bright += 0.10 * mask * (wave.astype(np.float32) - 0.4)
        red += 0.08 * mask
    rocks = []
    n_rocks = {3: 140, 4: 700, 5: 900}.get(k + (6 - levels), 0)
    for _ in range(n_rocks):
        cu, cv_ = rng.uniform(0, size, 2)
        radius = float(np.exp(rng.uniform(np.log(2.6), np.log(8.0))))
        if rng.random() < 0.08:
            radius *= 1.8
        rocks.append((cu, cv_, radius, rng.uniform(0.35, 0.7), rng.uniform(0.5, 1.0),
                      rng.uniform(0, np.pi), rng.random() < 0.8))
    return height, bright, red, rocks


def cast_shadow(height: NDArray[np.float32], cell: float, az_deg: float,
            el_deg: float) -> NDArray[np.float32]:
    """Cast-shadow fraction (0 lit .. 1 shadowed) by a sweep along the sun azimuth."""
    size = height.shape[0]
    big = int(np.ceil(size * 1.42)) + 4
    # rotate so that the sun is "up" (towards row 0) in the working grid
    angle = -az_deg  # grid rows point south, columns east; az clockwise from north
    m = cv2.getRotationMatrix2D((size / 2.0, size / 2.0), angle, 1.0)
    m[:, 2] += (big - size) / 2.0
    rot = cv2.warpAffine(height, m, (big, big), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    k = cell * np.tan(np.radians(el_deg))
    g = rot + (np.arange(big, dtype=np.float32) * np.float32(k))[:, None]
    prev = np.maximum.accumulate(g, axis=0)
    prev = np.vstack([g[:1], prev[:-1]])
    soft = max(0.5 * k, 1e-4)
    shadow = np.clip((prev - g) / soft, 0.0, 1.0)
    minv = cv2.invertAffineTransform(m)
    return cv2.warpAffine(shadow.astype(np.float32), minv, (size, size),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def shade(height: NDArray[np.float32], albedo: NDArray, cell: float, *, sun_up: NDArray,
          sun_azimuth_deg: float, sun_elevation_deg: float, e_sun: NDArray,
          e_sky: NDArray) -> NDArray:
    """Surface radiance of a level: Lambertian sun with cast shadows, sky with its view factor.

    Parameters
    ----------
    height : (N, N) float32
        Heights (m, up); rows go south, columns east, ``cell`` m apart.
    albedo : (N, N, 3) array
        World-RGB albedo.
    sun_up : (3,) array
        Unit vector to the sun, (north, east, up).
    sun_azimuth_deg, sun_elevation_deg : float
        The same direction, for the cast shadows.
    e_sun, e_sky : (3,) array
        Direct solar (normal incidence) and diffuse sky irradiance, W m^-2 nm^-1.

    Returns
    -------
    (N, N, 3) array
        Radiance, W m^-2 sr^-1 nm^-1.
    """
    gy, gx = np.gradient(height.astype(np.float64), cell)  # rows go south, columns east
    dh_dn, dh_de = -gy, gx
    norm = np.sqrt(1.0 + dh_dn**2 + dh_de**2)
    nz = 1.0 / norm
    cos_i = np.clip((-dh_dn * sun_up[0] - dh_de * sun_up[1] + sun_up[2]) / norm, 0.0, None)
    shadow = cast_shadow(height, cell, sun_azimuth_deg, sun_elevation_deg)
    lit = (cos_i * (1.0 - shadow)).astype(np.float32)[..., None]
    view = (0.5 * (1.0 + nz)).astype(np.float32)[..., None]
    return albedo / np.float32(np.pi) * (lit * e_sun + view * e_sky)
