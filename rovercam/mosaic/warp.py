"""Frame footprints on an output grid and the maps that sample a frame onto it.

A frame's *footprint* is the window of output pixels it can reach, found by locating its outline
(and a few interior rays) on the map. On grids that wrap around the circle (cylindrical over 360
degrees, equirectangular) windows are kept in *unwrapped* x, which may run below 0 or past the
width; a window is written at ``x mod width``, so a frame across the wrap lands on both edges of
the grid with no extra resampling.

The sampling maps (output pixel -> frame pixel) are computed through the camera model on a coarse
lattice (every ``step`` output pixels) and interpolated bilinearly in between: the map is smooth,
so for the default step of 8 the interpolation error is far below a thousandth of a pixel, and
the expensive model evaluation runs on 1/64 of the pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rovercam.camera.coordinates import direction_from_azimuth_elevation
from rovercam.mosaic.cylindrical import FrameGeometry
from rovercam.mosaic.projections import Projection

__all__ = ["Window", "frame_window", "sample_maps", "frame_point_pixels"]

_OUTLINE = 24  # samples per image side when tracing a frame outline
_FAR = -1.0e5  # map value of "not seen" (far outside any frame; cv2.remap reads border there)


@dataclass(frozen=True, slots=True)
class Window:
    """Output pixels ``x0 <= x < x1``, ``y0 <= y < y1`` (x unwrapped on periodic grids)."""

    x0: int
    x1: int
    y0: int
    y1: int

    @property
    def empty(self) -> bool:
        return self.x1 <= self.x0 or self.y1 <= self.y0

    def intersect(self, other: "Window") -> "Window":
        return Window(max(self.x0, other.x0), min(self.x1, other.x1), max(self.y0, other.y0),
                      min(self.y1, other.y1))

    def shifted(self, dx: int) -> "Window":
        return Window(self.x0 + dx, self.x1 + dx, self.y0, self.y1)

    def grown(self, by: int) -> "Window":
        return Window(self.x0 - by, self.x1 + by, self.y0 - by, self.y1 + by)


def frame_point_pixels(g: FrameGeometry, proj: Projection, pixels: np.ndarray) -> np.ndarray:
    """Output (x, y) of frame pixels (N, 2): their rays met with the projection's surface."""
    origins, dirs = g.model.unproject(pixels)
    surf = proj.surface_model
    if surf.at_infinity:
        return proj.pixels(dirs)
    ok = np.all(np.isfinite(dirs), axis=1)
    out = np.full((len(dirs), 2), np.nan)
    if ok.any():
        if surf.kind == "terrain":  # marches every ray from its own origin at once
            pts = surf.intersect(origins[ok], dirs[ok])
        elif np.allclose(origins[ok], origins[ok][0]):
            pts = surf.intersect(origins[ok][0], dirs[ok])
        else:
            pts = np.concatenate([surf.intersect(o, d[None]) for o, d in zip(origins[ok], dirs[ok])])
        out[ok] = proj.pixels_of_points(pts)
    return out


def _sees(g: FrameGeometry, direction: np.ndarray) -> bool:
    px = g.model.project_directions(direction[None])[0]
    return bool(np.all(np.isfinite(px)) and -0.5 <= px[0] <= g.width - 0.5 and -0.5 <= px[1] <= g.height - 0.5)


def frame_window(g: FrameGeometry, proj: Projection, *, margin: int = 2) -> Window | None:
    """The output window a frame can reach (None when it misses the grid).

    Parameters
    ----------
    g : FrameGeometry
        The frame's model in the projection's frame and its size.
    proj : Projection
    margin : int
        Extra output pixels on every side (bilinear taps, outline sampling between samples).
    """
    n = _OUTLINE
    xs = np.linspace(-0.5, g.width - 0.5, n)
    ys = np.linspace(-0.5, g.height - 0.5, n)
    gx, gy = np.meshgrid(np.linspace(0, g.width - 1, 5), np.linspace(0, g.height - 1, 5))
    pts = np.concatenate([
        np.stack([xs, np.full(n, -0.5)], 1), np.stack([xs, np.full(n, g.height - 0.5)], 1),
        np.stack([np.full(n, -0.5), ys], 1), np.stack([np.full(n, g.width - 0.5), ys], 1),
        np.stack([gx.ravel(), gy.ravel()], 1),
    ])
    xy = frame_point_pixels(g, proj, pts)
    ok = np.all(np.isfinite(xy), axis=1)
    if not ok.any():
        return None
    x, y = xy[ok, 0], xy[ok, 1]
    period = proj.periodic_width
    full_x = False
    if period is not None:
        xc = x[-1] if ok[-1] else x.mean()
        x = xc + np.mod(x - xc + period / 2, period) - period / 2
        # a frame that sees a pole covers every azimuth near it
        if proj.surface_model.at_infinity:
            for el, edge in ((90.0, "top"), (-90.0, "bottom")):
                if _sees(g, direction_from_azimuth_elevation(0.0, el)[0]):
                    full_x = True
                    y = np.append(y, -margin if edge == "top" else proj.height + margin)
        full_x = full_x or (x.max() - x.min()) > period - 2 * margin
    x0 = int(math.floor(x.min())) - margin
    x1 = int(math.ceil(x.max())) + margin + 1
    if full_x:
        x0, x1 = 0, period  # type: ignore[assignment]
    win = Window(x0, x1, int(math.floor(y.min())) - margin, int(math.ceil(y.max())) + margin + 1)
    if period is None:
        win = win.intersect(Window(0, proj.width, 0, proj.height))
    else:
        win = win.intersect(Window(-(10**9), 10**9, 0, proj.height))
        if win.x0 >= proj.width:
            win = win.shifted(-period)
        elif win.x1 <= 0:
            win = win.shifted(period)
    return None if win.empty else win


def sample_maps(g: FrameGeometry, proj: Projection, win: Window, *, step: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Frame pixel (x, y) sampled by every output pixel of ``win``.

    Parameters
    ----------
    g : FrameGeometry
    proj : Projection
    win : Window
        Output pixels (x unwrapped on periodic grids).
    step : int
        Lattice spacing of exact model evaluations, output pixels (1 = every pixel; always 1
        on a terrain surface).

    Returns
    -------
    map_x, map_y : (h, w) ndarray of float32
        For ``cv2.remap``; a large negative value where the frame cannot see the pixel.
    """
    h, w = win.y1 - win.y0, win.x1 - win.x0
    surf = proj.surface_model
    if surf.kind == "terrain":
        step = 1  # the map follows the terrain's relief: not smooth enough to interpolate
    nx = -(-(w - 1) // step) + 1
    ny = -(-(h - 1) // step) + 1
    lx = win.x0 + np.arange(nx, dtype=np.float64) * step
    ly = win.y0 + np.arange(ny, dtype=np.float64) * step
    gx, gy = np.meshgrid(lx, ly)
    tgt, at_inf = proj.targets(gx.ravel(), gy.ravel())
    px = g.model.project_directions(tgt) if at_inf else g.model.project(tgt)
    px[~np.all(np.isfinite(px), axis=1)] = _FAR
    if surf.kind == "terrain":
        px[_hidden(surf, g, gx, gy, tgt, proj)] = _FAR
    coarse = px.reshape(ny, nx, 2).astype(np.float32)
    if step == 1:
        return np.ascontiguousarray(coarse[..., 0]), np.ascontiguousarray(coarse[..., 1])
    # exact bilinear between lattice nodes, in float (cv2.remap would quantise the weights to
    # 1/32, i.e. up to step/64 px of map error)
    return upsample_lattice(coarse[..., 0], h, w, step), upsample_lattice(coarse[..., 1], h, w, step)


def _hidden(surf, g: FrameGeometry, gx: np.ndarray, gy: np.ndarray, points: np.ndarray,
            proj: Projection) -> np.ndarray:
    """(N,) bool: ground points the terrain hides from the frame's camera centre, tested on
    every k-th output pixel (k: the DEM cells per output pixel, at least 1) and taken from the
    nearest tested pixel in between (occlusion is no finer than the DEM)."""
    assert surf.dem is not None
    k = max(1, int(surf.dem.cell_m / getattr(proj, "scale_m", surf.dem.cell_m)))
    c = np.asarray(g.model.c, dtype=np.float64)
    if k == 1:
        return surf.hidden(c, points)
    ny, nx = gx.shape
    iy, ix = np.arange(0, ny, k), np.arange(0, nx, k)
    sub = points.reshape(ny, nx, 3)[np.ix_(iy, ix)].reshape(-1, 3)
    coarse = surf.hidden(c, sub).reshape(len(iy), len(ix))
    near_y = np.minimum((np.arange(ny) + k // 2) // k, len(iy) - 1)
    near_x = np.minimum((np.arange(nx) + k // 2) // k, len(ix) - 1)
    return coarse[np.ix_(near_y, near_x)].ravel()


def upsample_lattice(coarse: np.ndarray, h: int, w: int, step: int) -> np.ndarray:
    """Bilinear interpolation of lattice values (node k at pixel k * step) onto (h, w)."""
    def axis(n: int, nodes: int) -> tuple[np.ndarray, np.ndarray]:
        pos = np.arange(n, dtype=np.float64) / step
        i0 = np.minimum(pos.astype(np.int64), nodes - 2) if nodes > 1 else np.zeros(n, np.int64)
        return i0, (pos - i0).astype(np.float32)

    ny, nx = coarse.shape
    if nx > 1:
        ix, tx = axis(w, nx)
        rows = coarse[:, ix] * (1 - tx) + coarse[:, ix + 1] * tx
    else:
        rows = np.repeat(coarse, w, axis=1)
    if ny > 1:
        iy, ty = axis(h, ny)
        out = rows[iy] * (1 - ty)[:, None] + rows[iy + 1] * ty[:, None]
    else:
        out = np.repeat(rows, h, axis=0)
    return np.ascontiguousarray(out, dtype=np.float32)
