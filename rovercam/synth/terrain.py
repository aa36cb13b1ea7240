"""A terrain world with relief: nested height fields, Lambertian shading, haze, sky, ray casting.

Used by the terrain profiles (``navcam-pan``, ``mastcamz-pan``, ``edl``, ``full``); the ``demo``
and ``tiny`` profiles keep the world at infinity of :mod:`rovercam.synth.world`.

Frames and units: SITE_FRAME, +x north, +y east, +z down, metres; heights ``h`` are *up*
(``z = -h``). Radiance is world RGB (linear sRGB primaries), W m^-2 sr^-1 nm^-1.

The terrain is a stack of square levels centred on the landing point, each ``cells`` x ``cells``
with cell sizes growing by 4 (2 cm ... 20 m for 6 levels, i.e. +-10 m ... +-10.5 km). Level 0 holds
hills and large craters; each finer level adds its own detail (craters, ripples, rocks, pebbles)
tapered to zero at its border, so level ``k`` *is* level ``k - 1`` plus detail and the finest level
covering a point defines the surface there. Every level stores its total height and its
surface radiance (albedo x Lambertian sun with cast shadows + sky), so rendering is: cast the ray
against the height of the finest covering level, then read radiance blended across levels by the
pixel footprint (the band limit) and attenuate it by an exponential-atmosphere haze. Rays that
leave the terrain see the sky (gradient, glow, sun disk) over a distant skyline at infinity.

Ray casting is vectorised over rays (numpy + ``cv2.remap``): steps are the largest of a local
Lipschitz step, a max-height-pyramid step on level 0 and a footprint-sized minimum step; a sign
change is refined by bisection to well below a millimetre at rover ranges.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.synth.relief import (
    level_detail,
    micro_texture,
    rock_profile,
    sample_grid,
    sample_tile,
    shade,
    smoothstep,
    stamp,
)
from rovercam.synth.solids import Solid, intersect_solid
from rovercam.synth.world import WorldParams, sky_radiance

__all__ = ["TerrainParams", "Terrain", "Landmark", "build_terrain", "Solid"]

log = logging.getLogger(__name__)

_SLOPE_BOUND = 1.8          # local Lipschitz bound of the height field used for safe steps
_PYRAMID_RADII = (2, 8, 32, 128)  # level-0 cells of the max-height pyramid
_MICRO_CELL_M = 0.004       # cell of the tiled micro-texture (2 m period)


@dataclass(frozen=True, slots=True)
class Landmark:
    """A bright albedo dot on the ground at a known 3-D point (SITE_FRAME, metres).

    ``radius_m`` is the Gaussian sigma of the dot; ``level`` the terrain level it is painted in.
    """

    north_m: float
    east_m: float
    height_m: float
    radius_m: float
    level: int


@dataclass(frozen=True, slots=True)
class TerrainParams:
    """Everything that defines a terrain; :func:`build_terrain` is deterministic in it.

    Parameters
    ----------
    seed : int
    centre_m : (float, float)
        (north, east) of the landing point / rover in SITE_FRAME; the levels are centred here.
    cells : int
        Cells per level side.
    finest_cell_m : float
        Cell size of the finest level; level ``k`` from the finest has ``finest * 4**k``.
    levels : int
    hill_relief_m : float
        Amplitude of the level-0 hills.
    sun_azimuth_deg, sun_elevation_deg : float
    sun_irradiance, sky_irradiance : (3,) float
        Direct solar (normal incidence) and diffuse sky irradiance at the surface, world RGB,
        W m^-2 nm^-1.
    albedo_rgb : (3,) float
        Mean soil albedo (world RGB).
    haze_rgb : (3,) float
        Radiance of an infinitely thick haze (W m^-2 sr^-1 nm^-1).
    haze_distance_m, scale_height_m : float
        Extinction length at the datum and the atmosphere's scale height.
    rover_pad_m : float
        Radius of the smoothed, rock-free pad under the rover.
    landmarks_per_level : int
        Bright dots painted per fine level (ground-truth features for geometry tests).
    """

    seed: int
    centre_m: tuple[float, float] = (0.0, 0.0)
    cells: int = 1024
    finest_cell_m: float = 0.02
    levels: int = 6
    hill_relief_m: float = 25.0
    sun_azimuth_deg: float = 236.0
    sun_elevation_deg: float = 38.0
    sun_irradiance: tuple[float, float, float] = (0.30, 0.25, 0.19)
    sky_irradiance: tuple[float, float, float] = (0.16, 0.105, 0.065)
    albedo_rgb: tuple[float, float, float] = (0.36, 0.245, 0.155)
    haze_rgb: tuple[float, float, float] = (0.047, 0.034, 0.024)
    haze_distance_m: float = 5000.0
    scale_height_m: float = 11000.0
    rover_pad_m: float = 2.2
    landmarks_per_level: int = 10
    sky: WorldParams | None = None

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        data = asdict(self)
        return data

    @property
    def cell_sizes_m(self) -> tuple[float, ...]:
        """Cell size per level, coarsest first."""
        return tuple(self.finest_cell_m * 4.0 ** (self.levels - 1 - k) for k in range(self.levels))


@dataclass(slots=True)
class _Level:
    cell_m: float
    n_max: float     # north of row 0 (cell centre)
    e_min: float     # east of column 0 (cell centre)
    half_m: float    # usable half extent from the centre
    height: NDArray[np.float32]
    radiance: NDArray[np.float32]
    albedo: NDArray[np.float32]


@dataclass(slots=True)
class Terrain:
    """A built terrain: its levels (coarsest first), bounds and sky. See the module docstring."""

    params: TerrainParams
    levels: list[_Level]
    h_max: float
    detail_max_m: float
    pyramid: list[NDArray[np.float32]]
    sky_params: WorldParams
    landmarks: tuple[Landmark, ...] = field(default_factory=tuple)
    micro: NDArray[np.float32] | None = None  # tiled albedo modulation below the finest cell
    dot_radiance: NDArray[np.float32] = field(default_factory=lambda: np.zeros(3, np.float32))
    skyline_phase: NDArray[np.float64] = field(default_factory=lambda: np.zeros(6))

    # ------------------------------------------------------------------ sampling
    def _level_index(self, north: NDArray, east: NDArray) -> NDArray[np.int64]:
        """Index (into ``levels``) of the finest level covering each point; -1 outside all."""
        c_n, c_e = self.params.centre_m
        m = np.maximum(np.abs(north - c_n), np.abs(east - c_e))
        halves_fine_first = np.array([lev.half_m for lev in self.levels[::-1]])
        idx = len(self.levels) - 1 - np.searchsorted(halves_fine_first, m, side="right")
        return idx

    def height(self, north: NDArray, east: NDArray) -> NDArray[np.float64]:
        """Terrain height (m, up) at SITE_FRAME (north, east); NaN outside the terrain."""
        north = np.asarray(north, np.float64)
        east = np.asarray(east, np.float64)
        idx = self._level_index(north, east)
        out = np.full(north.shape, np.nan)
        for k, lev in enumerate(self.levels):
            sel = np.nonzero(idx == k)
            if sel[0].size == 0:
                continue
            col = (east[sel] - lev.e_min) / lev.cell_m
            row = (lev.n_max - north[sel]) / lev.cell_m
            out[sel] = sample_grid(lev.height, col, row)
        return out

    def surface_radiance(self, north: NDArray, east: NDArray,
                         footprint_m: NDArray) -> NDArray[np.float32]:
        """Surface radiance (N, 3) at ground points, band-limited to the pixel footprint (m)."""
        north = np.asarray(north, np.float64)
        east = np.asarray(east, np.float64)
        fp = np.asarray(footprint_m, np.float64)
        out = np.zeros(north.shape + (5,), np.float32)
        c_n, c_e = self.params.centre_m
        m = np.maximum(np.abs(north - c_n), np.abs(east - c_e))
        for k, lev in enumerate(self.levels):
            inside = m < lev.half_m
            if k > 0:
                weight = smoothstep(0.7, 1.6, lev.cell_m * 2.0 / np.maximum(fp, 1e-9))
                inside &= weight > 0
            if not inside.any():
                continue
            col = (east[inside] - lev.e_min) / lev.cell_m
            row = (lev.n_max - north[inside]) / lev.cell_m
            value = sample_grid(lev.radiance, col, row)
            if k == 0:
                out[inside] = value
            else:
                w = weight[inside].astype(np.float32)[:, None]
                out[inside] += w * (value - out[inside])
        if self.micro is not None:  # grains and pebbles finer than the finest level
            weight = smoothstep(0.7, 1.6, _MICRO_CELL_M * 2.0 / np.maximum(fp, 1e-9))
            near = (m < self.levels[-1].half_m) & (weight > 0)
            if near.any():
                size = self.micro.shape[0]
                col = np.mod(east[near] / _MICRO_CELL_M, size)
                row = np.mod(-north[near] / _MICRO_CELL_M, size)
                mod = sample_tile(self.micro, col, row)
                out[near, :3] *= (1.0 + weight[near] * (mod - 1.0)).astype(np.float32)[:, None]
        pad, dot = out[:, 3:4], out[:, 4:5]
        rgb = out[:, :3] * (1.0 - pad) + pad * (0.3 * self.dot_radiance[None, :])
        return rgb * (1.0 - dot) + dot * self.dot_radiance[None, :]

    def albedo(self, north: NDArray, east: NDArray) -> NDArray[np.float32]:
        """Albedo (N, 3) of the finest level covering each point."""
        idx = self._level_index(np.asarray(north), np.asarray(east))
        out = np.zeros(np.shape(north) + (3,), np.float32)
        for k in np.unique(idx):
            if k < 0:
                continue
            sel = idx == k
            lev = self.levels[k]
            out[sel] = sample_grid(lev.albedo, (np.asarray(east)[sel] - lev.e_min) / lev.cell_m,
                               (lev.n_max - np.asarray(north)[sel]) / lev.cell_m)
        return out

    # ------------------------------------------------------------------ ray casting
    def cast(self, origins: NDArray, directions: NDArray, *, pixel_rad: float,
             max_iter: int = 400, t_start: NDArray | None = None) -> NDArray[np.float64]:
        """Distance along each ray to the terrain (m); NaN for rays that miss it.

        Parameters
        ----------
        origins, directions : (N, 3) array_like
            SITE_FRAME metres and unit directions.
        pixel_rad : float
            Angular pixel size; the minimum step is a few pixel footprints, so features smaller
            than a pixel may be stepped over (they are below the band limit anyway).
        t_start : (N,) array_like, optional
            Distances known to be free of terrain (a coarse render's prediction); rays start
            there; +inf marks a predicted miss (not cast).
        """
        o = np.asarray(origins, np.float64)
        d = np.asarray(directions, np.float64)
        n = o.shape[0]
        up = -d[:, 2]
        dh = np.hypot(d[:, 0], d[:, 1])
        z0 = -o[:, 2]
        t = np.zeros(n)
        t_hit = np.full(n, np.nan)
        top = self.h_max + 1.0
        above = z0 > top
        active = ~(above & (up >= 0))
        start = above & (up < 0)
        t[start] = (z0[start] - top) / (-up[start])
        if t_start is not None:
            ts = np.asarray(t_start, np.float64)
            active &= ~np.isposinf(ts)  # predicted misses
            t = np.maximum(t, np.nan_to_num(ts, nan=0.0, posinf=0.0))
        denom = np.maximum(_SLOPE_BOUND * dh - up, 0.05)
        rel = max(4.0 * pixel_rad, 1e-4)
        lev0 = self.levels[0]
        half0 = lev0.half_m
        c_n, c_e = self.params.centre_m
        # compact state of the active rays (gathered once, compressed as rays finish)
        ids = np.nonzero(active)[0]
        oa, da, ua, dha, dna = o[ids], d[ids], up[ids], dh[ids], denom[ids]
        ta = t[ids]
        tpa = ta.copy()
        gpa = np.full(ids.size, np.inf)
        b_ids, b_lo, b_hi, b_glo, b_ghi = [], [], [], [], []
        for _it in range(max_iter):
            if ids.size == 0:
                break
            p = oa + ta[:, None] * da
            out = np.maximum(np.abs(p[:, 0] - c_n), np.abs(p[:, 1] - c_e)) >= half0
            zi = -p[:, 2]
            out |= (zi > top) & (ua >= 0)
            gap = zi - self.height(p[:, 0], p[:, 1])
            below = ~out & (gap <= 0)
            if below.any():
                b_ids.append(ids[below])
                b_lo.append(tpa[below])
                b_hi.append(ta[below])
                b_glo.append(gpa[below])
                b_ghi.append(gap[below])
            keep = ~(out | below)
            if not keep.all():
                ids, oa, da, ua, dha, dna = (ids[keep], oa[keep], da[keep], ua[keep], dha[keep],
                                             dna[keep])
                ta, tpa, gpa, gap, p, zi = ta[keep], tpa[keep], gpa[keep], gap[keep], p[keep], zi[keep]
            if ids.size == 0:
                break
            safe = gap / dna
            # secant towards the surface, overshooting a little so that a sign change brackets it
            converging = np.isfinite(gpa) & (gpa > gap * 1.0001)
            secant = np.where(converging,
                              1.1 * gap * (ta - tpa) / np.where(converging, gpa - gap, 1.0), safe)
            step = np.maximum(np.minimum(secant, 1.5 * safe), safe)
            # max-height pyramid on level 0: skip whole neighbourhoods the ray passes above
            high = np.nonzero(gap > 0.5 * lev0.cell_m)[0]  # only rays well above the ground
            if high.size:
                u = ua[high]
                reach0 = lev0.cell_m / np.maximum(dha[high], 1e-9)
                col = (p[high, 1] - lev0.e_min) / lev0.cell_m
                row = (lev0.n_max - p[high, 0]) / lev0.cell_m
                best = step[high]
                for radius, hmax_map in zip(_PYRAMID_RADII, self.pyramid):
                    margin = zi[high] - (sample_grid(hmax_map, col, row) + self.detail_max_m)
                    down = np.where(u < 0, margin / np.maximum(-u, 1e-12), np.inf)
                    best = np.where(margin > 0, np.maximum(best, np.minimum(radius * reach0, down)),
                                    best)
                step[high] = best
            step = np.maximum(step, rel * np.maximum(ta, 1.0))
            tpa = ta
            gpa = gap
            ta = ta + step
        if b_ids:
            b = np.concatenate(b_ids)
            lo, hi = np.concatenate(b_lo), np.concatenate(b_hi)
            glo, ghi = np.concatenate(b_glo), np.concatenate(b_ghi)
            # a ray below the surface at its very first point: no bracket, take that point
            first = ~np.isfinite(glo)
            glo = np.where(first, 0.0, glo)
            lo = np.where(first, hi, lo)
        else:
            b = np.zeros(0, np.int64)
            lo = hi = glo = ghi = np.zeros(0)
        # regula falsi (Illinois) between the last point above and the first point below
        tol = np.maximum(0.05 * pixel_rad * hi, 1e-6)  # 1/20 of a pixel footprint
        todo = np.nonzero(hi - lo > tol)[0]
        for _ in range(40):
            if todo.size == 0:
                break
            l, h_, gl, gh = lo[todo], hi[todo], glo[todo], ghi[todo]
            frac = np.clip(gl / np.maximum(gl - gh, 1e-30), 0.02, 0.98)
            mid = l + frac * (h_ - l)
            bt = b[todo]
            p = o[bt] + mid[:, None] * d[bt]
            gap = -p[:, 2] - self.height(p[:, 0], p[:, 1])
            pos = gap > 0
            lo[todo] = np.where(pos, mid, l)
            hi[todo] = np.where(pos, h_, mid)
            # Illinois: halve the stale end's gap so that the bracket keeps shrinking
            glo[todo] = np.where(pos, gap, 0.5 * gl)
            ghi[todo] = np.where(pos, 0.5 * gh, gap)
            todo = todo[(hi[todo] - lo[todo]) > tol[todo]]
        frac = np.clip(glo / np.maximum(glo - ghi, 1e-30), 0.0, 1.0)
        t_hit[b] = lo + frac * (hi - lo)
        return t_hit

    # ------------------------------------------------------------------ appearance
    def transmittance(self, origins: NDArray, points_up: NDArray, dist: NDArray) -> NDArray:
        """Haze transmittance along segments from ``origins`` to points at height ``points_up``."""
        hs = self.params.scale_height_m
        z0 = np.maximum(-np.asarray(origins)[:, 2], -hs)
        z1 = np.maximum(points_up, -hs)
        dz = z1 - z0
        small = np.abs(dz) < 1.0
        mean_density = np.where(
            small, np.exp(-0.5 * (z0 + z1) / hs),
            hs * (np.exp(-z0 / hs) - np.exp(-z1 / hs)) / np.where(small, 1.0, dz))
        return np.exp(-dist * mean_density / self.params.haze_distance_m)

    def background(self, directions: NDArray) -> NDArray[np.float32]:
        """Radiance (N, 3) of rays that leave the terrain: sky over a distant skyline and haze."""
        d = np.asarray(directions, np.float64)
        az = np.degrees(np.arctan2(d[:, 1], d[:, 0]))
        el = -np.degrees(np.arcsin(np.clip(d[:, 2], -1.0, 1.0)))
        sky = sky_radiance(self.sky_params, az, el)
        a = np.radians(az)
        ph = self.skyline_phase
        skyline = (0.9 + 0.45 * np.sin(a * 2 + ph[0]) + 0.3 * np.sin(a * 5 + ph[1])
                   + 0.15 * np.sin(a * 11 + ph[2]) + 0.07 * np.sin(a * 23 + ph[3]))
        haze = np.asarray(self.params.haze_rgb, np.float32)
        hills = haze * (1.0 - 0.07 * smoothstep(-0.5, 2.0, el))[:, None].astype(np.float32)
        blend = smoothstep(-0.04, 0.04, el - skyline).astype(np.float32)[:, None]
        return (hills * (1.0 - blend) + sky * blend).astype(np.float32)

    def render_grid(self, origins: NDArray, directions: NDArray, *, pixel_rad: float,
                    solids: tuple[Solid, ...] = (), coarse: int = 4
                    ) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
        """:meth:`render` on an image grid of rays, predicted from a coarse render.

        Rays of every ``coarse``-th pixel are cast first; each pixel's ray then starts at 85 % of
        the nearest terrain distance among the coarse rays around it, so only the last few
        metres are searched. An obstacle narrower than ~``coarse`` pixels standing well in front
        of all its coarse neighbours can be missed (a pebble against a far background).

        Parameters
        ----------
        origins, directions : (H, W, 3) array_like
            SITE_FRAME.

        Returns
        -------
        radiance : (H, W, 3) float32
        range : (H, W) float64, NaN on the sky
        """
        o = np.asarray(origins, np.float64)
        d = np.asarray(directions, np.float64)
        lines, samples = d.shape[:2]
        if lines * samples <= 4096 or coarse <= 1:
            rad, t = self.render(o.reshape(-1, 3), d.reshape(-1, 3), pixel_rad=pixel_rad,
                                 solids=solids)
            return rad.reshape(lines, samples, 3), t.reshape(lines, samples)
        ys = np.unique(np.r_[np.arange(0, lines, coarse), lines - 1])
        xs = np.unique(np.r_[np.arange(0, samples, coarse), samples - 1])
        sub = np.ix_(ys, xs)
        tc = self.cast(o[sub].reshape(-1, 3), d[sub].reshape(-1, 3),
                       pixel_rad=pixel_rad * coarse).reshape(ys.size, xs.size)
        tc = np.where(np.isfinite(tc), tc, np.inf).astype(np.float32)
        tc = cv2.erode(tc, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
        # each pixel takes the coarse cell it falls in (the erosion covers the neighbours)
        iy = np.clip(np.searchsorted(ys, np.arange(lines), side="right") - 1, 0, ys.size - 1)
        ix = np.clip(np.searchsorted(xs, np.arange(samples), side="right") - 1, 0, xs.size - 1)
        t0 = 0.85 * tc[np.ix_(iy, ix)].astype(np.float64)
        rad, t = self.render(o.reshape(-1, 3), d.reshape(-1, 3), pixel_rad=pixel_rad,
                             solids=solids, t_start=t0.ravel())
        return rad.reshape(lines, samples, 3), t.reshape(lines, samples)

    def render(self, origins: NDArray, directions: NDArray, *, pixel_rad: float,
               solids: tuple[Solid, ...] = (), t_start: NDArray | None = None
               ) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
        """Radiance (N, 3) and range (N,) (m, NaN on the sky) along rays.

        Parameters
        ----------
        origins, directions : (N, 3) array_like
            SITE_FRAME; directions unit length.
        pixel_rad : float
            Angular pixel size: sets the texture band limit (footprint = range x pixel_rad).
        solids : tuple of Solid
            Hardware in front of the terrain (EDL cameras).
        """
        o = np.asarray(origins, np.float64)
        d = np.asarray(directions, np.float64)
        t = self.cast(o, d, pixel_rad=pixel_rad, t_start=t_start)
        rad = np.empty((o.shape[0], 3), np.float32)
        hit = np.isfinite(t)
        if hit.any():
            p = o[hit] + t[hit, None] * d[hit]
            surf = self.surface_radiance(p[:, 0], p[:, 1], t[hit] * pixel_rad)
            tr = self.transmittance(o[hit], -p[:, 2], t[hit]).astype(np.float32)[:, None]
            haze = np.asarray(self.params.haze_rgb, np.float32)
            rad[hit] = surf * tr + haze * (1.0 - tr)
        if (~hit).any():
            rad[~hit] = self.background(d[~hit])
        for solid in solids:
            ts, value = intersect_solid(solid, o, d, sun_azimuth_deg=self.params.sun_azimuth_deg,
                                        sun_elevation_deg=self.params.sun_elevation_deg)
            closer = np.isfinite(ts) & ~(ts >= t)
            rad[closer] = value[closer]
            t = np.where(closer, ts, t)
        return rad, t


def build_terrain(params: TerrainParams) -> Terrain:
    """Build the levels of a terrain (a few seconds for 6 levels of 1024^2)."""
    rng = np.random.default_rng(np.random.SeedSequence([params.seed, 5150]))
    size = params.cells
    c_n, c_e = params.centre_m
    albedo0 = np.asarray(params.albedo_rgb, np.float32)
    sun_az, sun_el = np.radians(params.sun_azimuth_deg), np.radians(params.sun_elevation_deg)
    sun_up = np.array([np.cos(sun_el) * np.cos(sun_az), np.cos(sun_el) * np.sin(sun_az),
                       np.sin(sun_el)], np.float32)
    e_sun = np.asarray(params.sun_irradiance, np.float32)
    e_sky = np.asarray(params.sky_irradiance, np.float32)
    levels: list[_Level] = []
    landmarks: list[Landmark] = []
    detail_max = 0.0
    prev: _Level | None = None
    for k, cell in enumerate(params.cell_sizes_m):
        half_cells = (size - 1) / 2.0
        n_max = c_n + half_cells * cell
        e_min = c_e - half_cells * cell
        g = (np.arange(size, dtype=np.float64) - half_cells) * cell
        north = (c_n - g)[:, None] * np.ones((1, size))
        east = (c_e + g)[None, :] * np.ones((size, 1))
        height, bright, red, rocks = level_detail(k, cell, size, rng, hill_relief_m=params.hill_relief_m,
                                                   levels=params.levels)
        rock_shade = np.zeros((size, size), np.float32)
        for cu, cv_, radius, h_ratio, dark, theta, basalt in rocks:
            stamp(height, cu, cv_, radius, rock_profile(radius, h_ratio, theta, cell), add=True)
            tone = -0.45 * dark if basalt else 0.35 * dark
            stamp(rock_shade, cu, cv_, radius,
                   lambda x, du, dv, t=tone: (t * np.clip(1.3 - x, 0, 1)).astype(np.float32),
                   add=True)
        if prev is not None:
            col = ((east - prev.e_min) / prev.cell_m).astype(np.float32)
            row = ((prev.n_max - north) / prev.cell_m).astype(np.float32)
            base_h = cv2.remap(prev.height, col, row, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
            base_albedo = cv2.remap(prev.albedo, col, row, cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)
        else:
            base_h = np.zeros((size, size), np.float32)
            base_albedo = np.broadcast_to(albedo0, (size, size, 3)).astype(np.float32)
        # taper the detail to zero at the border; flatten it under the rover
        edge = np.minimum(np.minimum(np.arange(size), np.arange(size)[::-1]) / (0.12 * size), 1.0)
        taper = smoothstep(0.0, 1.0, np.minimum(edge[:, None], edge[None, :])).astype(np.float32)
        r_rover = np.hypot(north - c_n, east - c_e)
        pad = smoothstep(params.rover_pad_m, 1.4 * params.rover_pad_m, r_rover).astype(np.float32)
        height *= smoothstep(max(params.rover_pad_m, 3.0 * cell),
                              1.4 * max(params.rover_pad_m, 3.0 * cell), r_rover).astype(np.float32)
        rock_shade *= pad
        if prev is not None:
            marks = cv2.remap(np.ascontiguousarray(prev.radiance[..., 3:5]), col, row,
                              cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            pad_w, dot = np.ascontiguousarray(marks[..., 0]), np.ascontiguousarray(marks[..., 1])
        else:
            pad_w = np.zeros((size, size), np.float32)
            dot = np.zeros((size, size), np.float32)
        # no detail under the landmarks of coarser levels: their pads stay flat
        detail = taper * height * (1.0 - pad_w)
        total_h = (base_h + detail).astype(np.float32)
        if k > 0:  # level 0 is in the max-height pyramid itself
            detail_max += max(float(detail.max()), 0.0)
        bright = taper * (bright + rock_shade)
        red = taper * red
        is_rock = (rock_shade < -0.05)
        tint = np.stack([1.0 + 0.5 * red, np.ones_like(red), 1.0 - 0.7 * red], axis=-1)
        albedo = base_albedo * tint * np.clip(1.0 + bright, 0.2, None)[..., None]
        # basalt is greyer than soil
        grey = albedo.mean(axis=-1, keepdims=True)
        albedo = np.where(is_rock[..., None], 0.55 * albedo + 0.45 * grey, albedo)
        # landmarks: bright dots on dark pads, on flat-ish ground at known points (fine levels
        # only); pad and dot weights are radiance channels 4 and 5, so no texture or shading
        # moves them
        if 0.015 <= cell <= 1.5 and params.landmarks_per_level:
            for _ in range(params.landmarks_per_level):
                for _try in range(30):
                    ang = rng.uniform(0, 2 * np.pi)
                    dist = rng.uniform(0.25, 0.8) * half_cells * cell
                    if cell < 0.1:
                        dist = rng.uniform(min(3.2, 0.4 * half_cells * cell),
                                           0.85 * half_cells * cell)
                    ln, le = c_n + dist * np.cos(ang), c_e + dist * np.sin(ang)
                    cu, cv_ = (le - e_min) / cell, (n_max - ln) / cell
                    iu, iv = int(round(cu)), int(round(cv_))
                    win = total_h[iv - 6:iv + 7, iu - 6:iu + 7]
                    if win.size and float(win.max() - win.min()) < 2.0 * cell:
                        break
                sigma = 1.5  # cells: the smallest dot the bilinear grid keeps round
                stamp(dot, cu, cv_, sigma,
                       lambda x, du, dv: np.exp(-0.5 * x * x).astype(np.float32), add=False)
                stamp(pad_w, cu, cv_, sigma,  # a dark pad around it: a clean background
                       lambda x, du, dv: smoothstep(4.5, 3.5, x).astype(np.float32), add=False)
                hl = float(sample_grid(total_h, np.array([cu]), np.array([cv_]))[0])
                flat = np.zeros_like(total_h)  # the pad is level: the dot is a planar target
                stamp(flat, cu, cv_, sigma,
                       lambda x, du, dv: smoothstep(5.0, 4.0, x).astype(np.float32), add=False)
                total_h += flat * (np.float32(hl) - total_h)
                landmarks.append(Landmark(float(ln), float(le), hl, sigma * cell, k))
        radiance = shade(total_h, albedo, cell, sun_up=sun_up, sun_azimuth_deg=params.sun_azimuth_deg,
                         sun_elevation_deg=params.sun_elevation_deg, e_sun=e_sun, e_sky=e_sky)
        radiance = np.dstack([radiance, pad_w, dot]).astype(np.float32)
        lev = _Level(cell_m=cell, n_max=n_max, e_min=e_min, half_m=half_cells * cell * 0.97,
                     height=total_h, radiance=radiance,
                     albedo=albedo.astype(np.float32))
        levels.append(lev)
        prev = lev
        log.debug("terrain level %d: %.3f m cells, relief %.2f..%.2f m", k, cell,
                  float(total_h.min()), float(total_h.max()))
    lev0 = levels[0]
    # max-height pyramid at level-0 cells over the total height of every level
    hmax0 = lev0.height.copy()
    for k in range(1, len(levels)):
        f = 4 ** k
        n_k = size // f
        if n_k < 1:
            continue
        i0 = (size - n_k) // 2
        block = levels[k].height[:n_k * f, :n_k * f].reshape(n_k, f, n_k, f).max(axis=(1, 3))
        hmax0[i0:i0 + n_k, i0:i0 + n_k] = np.maximum(hmax0[i0:i0 + n_k, i0:i0 + n_k], block)
    pyramid = [cv2.dilate(hmax0, np.ones((2 * r + 3, 2 * r + 3), np.uint8))
               for r in _PYRAMID_RADII]
    detail_max = 0.05 * params.cell_sizes_m[0]
    h_max = max(float(lev.height.max()) for lev in levels)
    sky = params.sky or WorldParams(seed=params.seed, pixel_deg=0.08,
                                    sun_azimuth_deg=params.sun_azimuth_deg,
                                    sun_elevation_deg=params.sun_elevation_deg)
    phase = np.random.default_rng(np.random.SeedSequence([params.seed, 77])).uniform(0, 6.3, 6)
    micro = micro_texture(np.random.default_rng(np.random.SeedSequence([params.seed, 88])))
    white = np.array([0.75, 0.72, 0.68], np.float32)  # landmark paint on level ground
    dot_radiance = white / np.float32(np.pi) * (np.float32(np.sin(sun_el)) * e_sun + e_sky)
    return Terrain(params=params, levels=levels, h_max=h_max, detail_max_m=detail_max,
                   pyramid=pyramid, sky_params=sky, landmarks=tuple(landmarks),
                   micro=micro, dot_radiance=dot_radiance.astype(np.float32),
                   skyline_phase=phase)
