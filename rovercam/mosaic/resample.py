"""Antialiased resampling of a frame through a map: a pyramid level, then area sampling.

A mosaic samples each frame at the frame pixels its output pixels look at (a *map*, output pixel
-> frame pixel, :func:`rovercam.mosaic.warp.sample_maps`). Where the map reduces the frame (more
than one frame pixel per output pixel) a point-sampling kernel aliases, and bilinear
interpolation also blurs. This module does what texture mapping calls mip-mapping, then either
samples once a level smoothed by a Gaussian that matches the output pixel's footprint (the
EDL orthomosaic's way) or averages sub-samples over the footprint (supersampling, the mosaic
render's default):

1. **Scale.** :func:`map_scale` measures the map's local scale, frame pixels per output pixel:
   the longer of the two columns of its Jacobian (finite differences at a 5 x 5 lattice of
   points of the map that fall inside the frame; the median of those).
2. **Level.** :func:`level_for_scale` picks pyramid level ``L = floor(log2(scale))`` (0 when
   the map does not reduce), so what is left for the kernel is a reduction of less than 2.
3. **Pyramid.** :func:`reduce_level` halves a level by the mean of 2 x 2 blocks, weighted by the
   validity mask (no-data pixels do not count; a block with some no-data is *partly valid*), so
   level ``L`` is the frame box-filtered over ``2**L`` pixels. Levels are built lazily and cached
   by :class:`rovercam.mosaic.stack.FrameStack`. Map coordinates move to level ``L`` as
   ``(x + 1/2) / 2**L - 1/2`` (:func:`level_coordinates`; pixel centres at integers,
   docs/conventions.md).
   With the *footprint prefilter* (:func:`footprint_filter`) level
   ``L`` is made from level ``L - 1`` smoothed by a Gaussian (:func:`blur_level`) before its
   2 x 2 means, so that the level's smoothing has the variance of the output pixel's footprint,
   a box ``scale`` frame pixels wide (:func:`footprint_level`).
4. **Supersampling.** :func:`supersample` averages ``n`` x ``n`` samples spread uniformly over
   each output pixel's square, carried into the level by the map's Jacobian: exact area
   sampling, what a camera with the output grid's pixels records. :func:`supersample_filter`
   takes the level one finer than :func:`level_for_scale`'s (the frame itself below a 4x
   reduction) and enough sub-samples to lie at most 3/4 of a level pixel apart (4 x 4 at a 2.92x
   reduction), each bicubic (``RenderOptions(prefilter="supersample", kernel="cubic")``, the
   render's default). The sub-samples of the chosen pixels (:class:`Footprints`) are packed into
   one remap per sub-sample position.
   A :class:`Level` may hold a window of its level only (its ``origin``): :func:`read_box`
   gives the window that sampling at a map reads, so a render reads a frame per tile where its
   samples fall, rather than holding it whole.
5. **Kernel.** :func:`resample` interpolates the level on float32 with OpenCV's Lanczos kernel
   (a = 4, 8 x 8 taps), bicubic (Keys, a = -0.75; 4 x 4 taps) or bilinear, frame borders
   replicated. With one sample per pixel Lanczos scores best of the three on the mosaic
   benchmark's footprint-averaged truths; as the sub-samples of :func:`supersample`, bicubic
   (docs/mosaics.md#resampling).
6. **Edges.** The kernel's negative lobes must not pull no-data in or ring around clipped
   (saturated) pixels: wherever the kernel's support meets a pixel that is not fully valid or is
   clipped, the sample falls back to bilinear interpolation, whose result always lies within the
   range of its 2 x 2 neighbourhood. The *safe* mask (:class:`Level`) marks the pixels the kernel
   may read; it is eroded by the kernel's reach, so one bilinear lookup of it says whether a
   sample's whole support is safe.

References
----------
1. Williams, L. (1983), Pyramidal parametrics, Computer Graphics (SIGGRAPH) 17(3):1-11.
2. Keys, R. (1981), Cubic convolution interpolation for digital image processing, IEEE Trans.
   Acoustics, Speech and Signal Processing 29(6):1153-1160.
3. Duchon, C. E. (1979), Lanczos filtering in one and two dimensions, Journal of Applied
   Meteorology 18(8):1016-1022.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.bands import as_bands

__all__ = ["Kernel", "Level", "make_level", "reduce_level", "blur_level", "map_scale", "level_for_scale",
           "footprint_filter", "footprint_level", "level_coordinates", "resample", "supersample", "supersample_filter",
           "level_nbytes", "read_box", "Footprints", "footprints", "MAX_LEVEL"]

Kernel = Literal["cubic", "lanczos", "linear"]

#: deepest pyramid level used (1/256 of the frame's side)
MAX_LEVEL = 8

_INTER = {"cubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4, "linear": cv2.INTER_LINEAR}
_COLS = 16384  # cv2.remap maps must be narrower than SHRT_MAX
_REACH = {"cubic": 2, "lanczos": 4, "linear": 1}  # taps on each side of the sample: floor-r+1 .. floor+r
_FAR = -1e5  # a packed map's padding: far outside any level
_PACK = 1024  # a packed map's width: its rows hold consecutive samples, so remap's blocks stay local
_CHUNK = 1 << 16  # pixels whose sub-samples are packed at once


@dataclass(slots=True)
class Level:
    """One pyramid level of a frame.

    Attributes
    ----------
    image : (h, w, B) ndarray of float32
        Radiance; 0 where no pixel of the block is valid.
    valid : (h, w) ndarray of float32 or None
        Fraction of the block's level-0 pixels that are valid (1 = all); None when all are.
    safe : (h, w) ndarray of uint8 or None
        255 where the block is fully valid and unclipped (the kernel may read it), else 0; None
        when every pixel is safe.
    level : int
        0 = the frame itself; level ``L`` pixels are ``2**L`` frame pixels wide.
    sigma : float
        Gaussian prefilter of :func:`footprint_filter` that made the level (0: none).
    origin : (int, int)
        ``(x0, y0)``: the level pixel the arrays start at, when they hold a window of the level
        (:func:`read_box`) rather than all of it; :func:`resample` takes level coordinates and
        moves them by it. A window must contain every pixel its samples read (their kernel
        taps, clamped to the level's edges as the border replicates them) and the kernel's
        reach beyond (:meth:`safe_support` erodes the window's own mask).
    """

    image: NDArray[np.float32]
    valid: NDArray[np.float32] | None
    safe: NDArray[np.uint8] | None
    level: int = 0
    sigma: float = 0.0
    origin: tuple[int, int] = (0, 0)
    _eroded: dict[tuple[int, bool], NDArray[np.uint8]] = field(default_factory=dict, repr=False)

    @property
    def nbytes(self) -> int:
        """Memory held, bytes."""
        return sum(a.nbytes for a in (self.image, self.valid, self.safe) if a is not None)

    def safe_support(self, kernel: Kernel, *, edge_unsafe: bool = False) -> NDArray[np.uint8] | None:
        """The safe mask eroded by the kernel's reach (None when every pixel is safe): its
        bilinear lookup is 255 only where the kernel's whole support is safe. ``edge_unsafe``:
        pixels beyond the level's edges count as unsafe."""
        if self.safe is None and not edge_unsafe:
            return None
        r = _REACH[kernel]
        out = self._eroded.get((r, edge_unsafe))
        if out is None:
            safe = self.safe if self.safe is not None else np.full(self.image.shape[:2], 255, np.uint8)
            size = 2 * r - 1
            if edge_unsafe:
                out = cv2.erode(safe, np.ones((size, size), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
            else:
                out = cv2.erode(safe, np.ones((size, size), np.uint8), borderType=cv2.BORDER_REPLICATE)
            self._eroded[(r, edge_unsafe)] = out  # benign race: two threads compute the same array
        return out


def make_level(image: NDArray[np.float32], valid: NDArray[np.float32] | None, *,
               saturation: float | None = None) -> Level:
    """Level 0 of a frame.

    Parameters
    ----------
    image : (H, W, B) ndarray of float32
        Radiance, no-data already set to 0.
    valid : (H, W) ndarray of float32 or None
        1 valid, 0 no-data; None when every pixel is valid.
    saturation : float, optional
        Pixels with any band at or above it are clipped (the kernel does not read them).
    """
    safe = None
    if valid is not None:
        safe = np.where(valid >= 1.0, np.uint8(255), np.uint8(0))
    if saturation is not None:
        clipped = (image >= np.float32(saturation)).any(axis=2)
        if clipped.any():
            safe = np.where(clipped, np.uint8(0), np.uint8(255) if safe is None else safe)
    return Level(image, valid, safe, 0)


def _even(a: np.ndarray) -> np.ndarray:
    """Pad the last row/column by replication to even sizes."""
    h, w = a.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return a
    pad = [(0, h % 2), (0, w % 2)] + [(0, 0)] * (a.ndim - 2)
    return np.pad(a, pad, mode="edge")


def _half(a: np.ndarray) -> np.ndarray:
    """Mean of 2 x 2 blocks (sides even)."""
    h, w = a.shape[:2]
    return cv2.resize(a, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def reduce_level(lvl: Level) -> Level:
    """The next level: mask-weighted means of 2 x 2 blocks (odd sides padded by replication).

    A block's radiance is the mean of its valid pixels (no-data never leaks in); its validity is
    the valid fraction; it is safe only when all four pixels are.
    """
    img = _even(lvl.image)
    if lvl.valid is None:
        out = as_bands(_half(img))
        valid = None
    else:
        v = _even(lvl.valid)
        num = as_bands(_half(img * v[..., None]))
        valid = _half(v)
        out = num / np.maximum(valid, np.float32(1e-12))[..., None]
        out[valid <= 0] = 0.0
        if valid.min() >= 1.0:
            valid = None
    safe = None
    if lvl.safe is not None:
        safe = cv2.erode(_even(lvl.safe), np.ones((2, 2), np.uint8), anchor=(0, 0),
                         borderType=cv2.BORDER_REPLICATE)[::2, ::2].copy()
        if safe.min() == 255:
            safe = None
    return Level(np.ascontiguousarray(out, dtype=np.float32), valid, safe, lvl.level + 1)


def blur_level(lvl: Level, sigma: float) -> Level:
    """The level smoothed by a Gaussian of ``sigma`` level pixels, weighted by validity (no-data
    pixels do not count; no-data stays 0). The masks are kept: a Gaussian has no negative lobes,
    so it cannot ring at clipped pixels or pull no-data in."""
    if sigma <= 0:
        return lvl
    size = 2 * math.ceil(3.0 * sigma) + 1  # +-3 sigma (OpenCV's float default, +-4, costs 40 % more)

    def blur(a: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(a, (size, size), sigma, borderType=cv2.BORDER_REPLICATE)

    if lvl.valid is None:
        out = as_bands(blur(lvl.image))
    else:
        num = as_bands(blur(lvl.image * lvl.valid[..., None]))
        out = num / np.maximum(blur(lvl.valid), np.float32(1e-12))[..., None]
        out[lvl.valid <= 0] = 0.0
    return Level(np.ascontiguousarray(out, dtype=np.float32), lvl.valid, lvl.safe, lvl.level, float(sigma))


def footprint_filter(scale: float, *, max_level: int = MAX_LEVEL) -> tuple[int, float]:
    """Pyramid level and Gaussian (sigma) that average a frame over an output pixel's
    footprint, for a map reducing by ``scale`` (frame pixels per output pixel).

    The output pixel integrates a box ``scale`` frame pixels wide, variance ``scale**2 / 12``
    (frame pixels^2); the frame's own pixels already integrated ``1 / 12`` of it. The level is
    :func:`level_for_scale`'s ``L``. For ``L >= 1`` the Gaussian smooths level ``L - 1`` before
    its 2 x 2 means make level ``L`` (:func:`footprint_level`), so the level carries the whole
    variance: ``sigma = sqrt((scale**2 / 4**L - 1) / 3)`` level ``L - 1`` pixels; for ``L = 0``
    it smooths the frame itself, ``sigma = sqrt((scale**2 - 1) / 12)``. Rounded to 0.05 (levels
    are cached per sigma); ``(0, 0.0)`` where the map does not reduce.
    """
    if not math.isfinite(scale) or scale <= 1.0:
        return 0, 0.0
    level = level_for_scale(scale, max_level=max_level)
    if level == 0:
        sigma = math.sqrt((scale * scale - 1.0) / 12.0)
    else:
        sigma = math.sqrt(max(scale * scale / 4.0**level - 1.0, 0.0) / 3.0)
    return level, round(sigma * 20.0) / 20.0


def footprint_level(below: Level, sigma: float) -> Level:
    """The level after ``below`` made for :func:`footprint_filter`: ``below`` smoothed by
    ``sigma`` (its pixels), then its 2 x 2 means; ``sigma`` recorded on the result."""
    out = reduce_level(blur_level(below, sigma))
    out.sigma = float(sigma)
    return out


def level_nbytes(width: int, height: int, bands: int, level: int, *, masked: bool) -> int:
    """Bytes of level ``level`` of a ``width`` x ``height`` frame of ``bands`` float32 bands
    (``masked``: with its validity and safe masks)."""
    w, h = width, height
    for _ in range(level):
        w, h = -(-w // 2), -(-h // 2)
    return w * h * (4 * bands + (5 if masked else 0))


def map_scale(map_x: np.ndarray, map_y: np.ndarray, width: int, height: int, *, samples: int = 5) -> float:
    """Frame pixels per output pixel of a map, where it lands inside the frame.

    Parameters
    ----------
    map_x, map_y : (h, w) ndarray
        Frame pixel (x, y) of each output pixel (:func:`rovercam.mosaic.warp.sample_maps`).
    width, height : int
        The frame's size.
    samples : int
        Lattice points per side at which the Jacobian is taken.

    Returns
    -------
    float
        Median over the lattice points inside the frame of the longer Jacobian column
        ``max(|d(x, y)/d out_x|, |d(x, y)/d out_y|)``; 1.0 when no point is inside.
    """
    h, w = map_x.shape
    if h < 2 or w < 2:
        return 1.0
    ys = np.unique(np.linspace(0, h - 2, samples).round().astype(int))
    xs = np.unique(np.linspace(0, w - 2, samples).round().astype(int))
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    def at(m: np.ndarray, dy: int, dx: int) -> np.ndarray:
        return m[yy + dy, xx + dx].astype(np.float64)  # the lattice points only, not the whole map

    x0, y0 = at(map_x, 0, 0), at(map_y, 0, 0)
    jxx, jyx = at(map_x, 0, 1) - x0, at(map_y, 0, 1) - y0
    jxy, jyy = at(map_x, 1, 0) - x0, at(map_y, 1, 0) - y0
    inside = (x0 >= -0.5) & (x0 <= width - 0.5) & (y0 >= -0.5) & (y0 <= height - 0.5)
    s = np.maximum(np.hypot(jxx, jyx), np.hypot(jxy, jyy))
    ok = inside & np.isfinite(s) & (s < max(width, height))
    if not ok.any():
        return 1.0
    return float(np.median(s[ok]))


def level_for_scale(scale: float, *, max_level: int = MAX_LEVEL) -> int:
    """Pyramid level for a map reducing by ``scale`` (frame pixels per output pixel):
    ``floor(log2(scale))``, at least 0 and at most ``max_level`` (a scale within 0.1 % under a
    power of two counts as that power: lattice noise should not flip the level)."""
    if not math.isfinite(scale) or scale < 2.0 * (1 - 1.5e-3):
        return 0
    return int(min(max_level, math.floor(math.log2(scale) + 1.5e-3)))


def level_coordinates(map_x: np.ndarray, map_y: np.ndarray, level: int) -> tuple[np.ndarray, np.ndarray]:
    """Level-0 frame coordinates moved to level ``level``: ``(x + 1/2) / 2**level - 1/2``."""
    if level == 0:
        return map_x, map_y
    f = np.float32(1.0 / (1 << level))
    return (map_x + np.float32(0.5)) * f - np.float32(0.5), (map_y + np.float32(0.5)) * f - np.float32(0.5)


def resample(lvl: Level, map_x: np.ndarray, map_y: np.ndarray, *, kernel: Kernel = "lanczos",
             border: Literal["replicate", "constant"] = "replicate", where: np.ndarray | None = None
             ) -> tuple[NDArray[np.float32], NDArray[np.float32] | None]:
    """Sample a level at map coordinates (of that level).

    Parameters
    ----------
    lvl : Level
    map_x, map_y : (h, w) ndarray of float32
        Level pixel coordinates (:func:`level_coordinates`); far outside = not seen.
    kernel : {"cubic", "lanczos", "linear"}
    border : {"replicate", "constant"}
        Beyond the frame's edges: its edge pixels, or 0 (then the kernel falls back to bilinear
        where its support crosses the edge, as it does at no-data).
    where : (h, w) ndarray of bool, optional
        The samples that need ``kernel``; the others are bilinear (cheaper: a caller that
        weights most samples by 0, or only reads them through a low-pass, can skip its taps
        there). None: every sample.

    Returns
    -------
    image : (h, w, B) ndarray of float32
        Where the kernel's support meets a no-data or clipped pixel,
        the bilinear sample (module docstring).
    valid : (h, w) ndarray of float32 or None
        Bilinear lookup of the level's validity (0 outside the frame); None when all valid.
    """
    map_x, map_y = _at_origin(lvl, map_x, map_y)
    v = None
    if lvl.valid is not None:
        v = _remap(lvl.valid, map_x, map_y, cv2.INTER_LINEAR, cv2.BORDER_CONSTANT)
    return _samples(lvl, map_x, map_y, kernel, border, where), v


def _samples(lvl: Level, map_x: np.ndarray, map_y: np.ndarray, kernel: Kernel,
             border: Literal["replicate", "constant"], where: np.ndarray | None) -> NDArray[np.float32]:
    """:func:`resample`'s image, at coordinates of ``lvl``'s arrays (origin already applied)."""
    edge = cv2.BORDER_REPLICATE if border == "replicate" else cv2.BORDER_CONSTANT
    if kernel == "linear":
        return as_bands(_remap(lvl.image, map_x, map_y, cv2.INTER_LINEAR, edge))
    support = lvl.safe_support(kernel, edge_unsafe=border == "constant")
    fall = None if support is None else _remap(support, map_x, map_y, cv2.INTER_LINEAR, edge) < 255
    if where is None:
        out = as_bands(_remap(lvl.image, map_x, map_y, _INTER[kernel], edge))
        if fall is not None and fall.any():
            out[fall] = _remap_at(lvl.image, map_x, map_y, fall, cv2.INTER_LINEAR, edge)
        return out
    # the kernel only where asked (and safe), bilinear elsewhere
    out = as_bands(_remap(lvl.image, map_x, map_y, cv2.INTER_LINEAR, edge))
    sel = where if fall is None else where & ~fall
    if sel.any():
        out[sel] = _remap_at(lvl.image, map_x, map_y, sel, _INTER[kernel], edge)
    return out


def supersample_filter(scale: float, *, max_level: int = MAX_LEVEL) -> tuple[int, int]:
    """Pyramid level and sub-samples per side for :func:`supersample` at a map reducing by
    ``scale``: the level one finer than :func:`level_for_scale`'s (the frame itself below a
    reduction of 4), and ``ceil(4 * scale / (3 * 2**level))`` sub-samples per side, so that they
    lie at most 3/4 level pixel apart; ``(0, 1)`` where the map does not reduce."""
    if not math.isfinite(scale) or scale <= 1.0:
        return 0, 1
    level = max(level_for_scale(scale, max_level=max_level) - 1, 0)
    return level, max(1, math.ceil(4.0 * scale / (3.0 * (1 << level)) - 1e-3))


@dataclass(frozen=True, slots=True)
class Footprints:
    """The output pixels :func:`supersample` averages sub-samples over: their centres and the
    map's Jacobian columns there (level pixels per output pixel, central differences of the map,
    one-sided at its edges as :func:`numpy.gradient` takes them), one entry per pixel.

    Attributes
    ----------
    select : (h, w) ndarray of bool or None
        The pixels (None: every pixel of the map, row-major).
    x, y, xu, yu, xv, yv : (k,) ndarray of float32
        Centre and the columns ``d(x, y)/d out_x`` (``u``) and ``d(x, y)/d out_y`` (``v``).
    n : int
        Sub-samples per side.
    """

    select: NDArray[np.bool_] | None
    x: NDArray[np.float32]
    y: NDArray[np.float32]
    xu: NDArray[np.float32]
    yu: NDArray[np.float32]
    xv: NDArray[np.float32]
    yv: NDArray[np.float32]
    n: int

    def offsets(self) -> list[tuple[np.float32, np.float32]]:
        """``(u, v)`` of each sub-sample, output pixels from the centre, in summation order."""
        n = self.n
        return [(np.float32((a + 0.5) / n - 0.5), np.float32((b + 0.5) / n - 0.5)) for a in range(n) for b in range(n)]


def _neighbours(at: np.ndarray, idx: np.ndarray, size: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The flat indices that :func:`numpy.gradient` differences along one axis at the pixels
    ``at`` (flat indices; ``idx`` their index along the axis, ``size`` long, ``stride`` flat
    elements per step), and the spacing it divides by (2 inside, 1 at the edges)."""
    lo, hi = at - stride, at + stride
    step = np.full(at.shape, np.float32(2.0))
    for edge, ends in ((idx == 0, lo), (idx == size - 1, hi)):  # few pixels: fix them alone
        if edge.any():
            ends[edge] = at[edge]
            step[edge] = 1.0
    return lo, hi, step


def footprints(map_x: np.ndarray, map_y: np.ndarray, n: int, *, where: np.ndarray | None = None) -> Footprints:
    """The :class:`Footprints` of the pixels ``where`` selects (None: all) of a map of level
    coordinates, for ``n`` x ``n`` sub-samples (maps at least 2 x 2); the Jacobian is
    :func:`numpy.gradient`'s, with its float32 arithmetic, taken at those pixels only."""
    h, w = map_x.shape
    fx, fy = np.ravel(map_x), np.ravel(map_y)
    at = np.arange(h * w) if where is None else np.flatnonzero(where)
    rows, cols = np.divmod(at, w)
    grads = []
    for idx, size, stride in ((cols, w, 1), (rows, h, w)):
        lo, hi, step = _neighbours(at, idx, size, stride)
        grads += [(fx.take(hi) - fx.take(lo)) / step, (fy.take(hi) - fy.take(lo)) / step]
    return Footprints(where, fx.take(at), fy.take(at), *grads, n)


def read_box(map_x: np.ndarray, map_y: np.ndarray, width: int, height: int, kernel: Kernel, *,
             feet: Footprints | None = None) -> tuple[int, int, int, int]:
    """The window of a ``width`` x ``height`` level that sampling it at a map reads.

    Every sample (the map's pixel centres and, with ``feet``, the sub-samples of
    :func:`supersample`) reads the kernel's taps around it, clamped to the level (its border
    replicates); the window holds them and the kernel's reach beyond, so a :class:`Level`
    holding only the window (its ``origin`` set) samples exactly as the whole level does.

    Returns
    -------
    x0, x1, y0, y1 : int
        Half-open level pixel ranges, within ``[0, width) x [0, height)``.
    """
    lo_x, hi_x = float(np.min(map_x)), float(np.max(map_x))
    lo_y, hi_y = float(np.min(map_y)), float(np.max(map_y))
    if feet is not None and feet.n > 1 and feet.x.size:
        reach = np.float32(0.5 - 0.5 / feet.n)  # the farthest sub-sample, output pixels from the centre
        ex = reach * (np.abs(feet.xu) + np.abs(feet.xv))
        ey = reach * (np.abs(feet.yu) + np.abs(feet.yv))
        lo_x, hi_x = min(lo_x, float(np.min(feet.x - ex))), max(hi_x, float(np.max(feet.x + ex)))
        lo_y, hi_y = min(lo_y, float(np.min(feet.y - ey))), max(hi_y, float(np.max(feet.y + ey)))
    if not all(math.isfinite(v) for v in (lo_x, hi_x, lo_y, hi_y)):
        return 0, width, 0, height
    r = 2 * _REACH[kernel] + 2  # the taps, then the safe mask's erosion and its bilinear lookup

    def span(lo: float, hi: float, size: int) -> tuple[int, int]:
        a = min(max(math.floor(lo), 0), size - 1)
        b = min(max(math.floor(hi), 0), size - 1)
        return max(a - r, 0), min(b + r + 1, size)

    x0, x1 = span(lo_x, hi_x, width)
    y0, y1 = span(lo_y, hi_y, height)
    return x0, x1, y0, y1


def supersample(lvl: Level, map_x: np.ndarray, map_y: np.ndarray, n: int, *, kernel: Kernel = "cubic",
                where: np.ndarray | None = None, feet: Footprints | None = None
                ) -> tuple[NDArray[np.float32], NDArray[np.float32] | None]:
    """Area sampling: the mean of ``n`` x ``n`` samples (:func:`resample`) spread uniformly over
    each output pixel's footprint.

    The footprint is the output pixel's square carried into the level by the map's Jacobian
    (central differences of the map, :class:`Footprints`); the sub-samples sit at
    ``((a + 1/2) / n - 1/2)`` output pixels along each axis, as a camera with the output grid's
    pixels would integrate them. Edges and no-data as in :func:`resample`, for each sub-sample.
    Outside ``where`` one bilinear sample at the pixel centre (as :func:`resample` does there).
    The sub-samples of the chosen pixels are packed into one remap per sub-sample position, so
    the cost follows those pixels, not their bounding box.

    Parameters
    ----------
    lvl : Level
    map_x, map_y : (h, w) ndarray of float32
        Level pixel coordinates of the output pixel centres (:func:`level_coordinates`).
    n : int
        Sub-samples per side (1: :func:`resample` itself).
    kernel : {"cubic", "lanczos", "linear"}
    where : (h, w) ndarray of bool, optional
    feet : Footprints, optional
        :func:`footprints` of ``where`` (computed here when not given).

    Returns
    -------
    image : (h, w, B) ndarray of float32
    valid : (h, w) ndarray of float32 or None
        Bilinear lookup of the level's validity at the pixel centres.
    """
    if n <= 1 or min(map_x.shape) < 2:
        return resample(lvl, map_x, map_y, kernel=kernel, where=where)
    if where is not None:
        out, valid = resample(lvl, map_x, map_y, kernel="linear")
        if not where.any():
            return out, valid
    if feet is None:
        feet = footprints(map_x, map_y, n, where=where)
    k = feet.x.size
    us = sorted({u for u, _ in feet.offsets()})  # the same values along both axes
    origin = (np.float32(lvl.origin[0]), np.float32(lvl.origin[1]))
    acc = np.empty((k, lvl.image.shape[2]), np.float32)
    for s in range(0, k, _CHUNK):  # chunks of pixels: bounded temporaries, cache-sized
        e = min(k, s + _CHUNK)
        m = e - s
        cols = min(m, _PACK)
        rows = -(-m // cols)
        packed = [np.full(rows * cols, _FAR, np.float32) for _ in range(2)]
        # sub-sample (u, v) of a pixel at (c + u cu) + v cv: the first term per u, the second per v
        firsts = [[c[s:e] + u * cu[s:e] for u in us] for c, cu in ((feet.x, feet.xu), (feet.y, feet.yu))]
        seconds = [[v * cv[s:e] for v in us] for cv in (feet.xv, feet.yv)]
        chunk = acc[s:e]
        for j, (u, v) in enumerate(feet.offsets()):
            for axis in range(2):
                dst = packed[axis][:m]
                np.add(firsts[axis][us.index(u)], seconds[axis][us.index(v)], out=dst)
                if origin[axis]:
                    dst -= origin[axis]  # exact: an integer (see _at_origin)
            part = _samples(lvl, packed[0].reshape(rows, cols), packed[1].reshape(rows, cols), kernel, "replicate", None)
            part = part.reshape(rows * cols, -1)[:m]
            if j == 0:
                chunk[...] = part
            else:
                chunk += part
    acc *= np.float32(1.0 / (n * n))
    if where is not None:
        out[where] = acc
        return out, valid
    valid = None
    if lvl.valid is not None:
        mx, my = _at_origin(lvl, map_x, map_y)
        valid = _remap(lvl.valid, mx, my, cv2.INTER_LINEAR, cv2.BORDER_CONSTANT)
    return acc.reshape(map_x.shape + (acc.shape[1],)), valid


def _at_origin(lvl: Level, map_x: np.ndarray, map_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Level coordinates moved to the arrays of ``lvl`` (a window of the level: its origin
    subtracted; an integer shift, so OpenCV's 1/32-pixel fixed point sees the same fractions)."""
    if lvl.origin == (0, 0):
        return map_x, map_y
    return map_x - np.float32(lvl.origin[0]), map_y - np.float32(lvl.origin[1])


def _remap_at(src: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, sel: np.ndarray, interp: int,
              border: int) -> np.ndarray:
    """``cv2.remap`` of the selected samples only, (n, B): their coordinates packed into rows."""
    n = int(np.count_nonzero(sel))
    cols = min(n, _COLS)
    rows = -(-n // cols)
    fx = np.full(rows * cols, -1e5, np.float32)
    fy = np.full(rows * cols, -1e5, np.float32)
    fx[:n], fy[:n] = map_x[sel], map_y[sel]
    out = cv2.remap(src, fx.reshape(rows, cols), fy.reshape(rows, cols), interp, borderMode=border, borderValue=0)
    return out.reshape(rows * cols, -1)[:n]


def _remap(src: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, interp: int, border: int) -> np.ndarray:
    """``cv2.remap`` in column strips (its maps must be narrower than 32767); constant border 0."""
    w = map_x.shape[1]
    if w <= _COLS:
        return cv2.remap(src, map_x, map_y, interp, borderMode=border, borderValue=0)
    parts = [cv2.remap(src, np.ascontiguousarray(map_x[:, s:s + _COLS]), np.ascontiguousarray(map_y[:, s:s + _COLS]),
                       interp, borderMode=border, borderValue=0) for s in range(0, w, _COLS)]
    return np.concatenate(parts, axis=1)
