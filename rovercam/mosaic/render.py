"""Tiled rendering of a mosaic: in memory, or straight into a tiled GeoTIFF.

The output grid is cut into square tiles. Each tile, padded by the blending pyramid's margin,
pulls only the frames whose footprint (:func:`rovercam.mosaic.warp.frame_window`) meets it,
samples them through their camera models, chooses seams and blends; then its unpadded centre is
written out. Tiles are independent, so they run in parallel threads (OpenCV and numpy release the
GIL), and a GeoTIFF sink keeps memory flat in the output size: only the tiles in flight and a
bounded cache of frames are in memory. Tiles no frame reaches are never written (sparse GeoTIFF;
they read back as NaN).

Seams: every covered output pixel goes to the frame that sees it farthest from its own edges
(relative to the frame's size), a Voronoi partition in the frames' own pixel metric that keeps
seams mid-way through overlaps, away from the frame borders where residual vignetting and
distortion live. That choice is also the index map (which frame made each pixel).
"""
from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import cv2
import numpy as np

from rovercam.bands import as_bands
from rovercam.errors import MosaicError
from rovercam.mosaic.blend import FeatherBlender, MultibandBlender, pyramid_margin
from rovercam.mosaic.cylindrical import FrameGeometry
from rovercam.mosaic.projections import Projection
from rovercam.mosaic.resample import (Kernel, Level, blur_level, footprint_filter, footprint_level, footprints,
                                      level_coordinates, level_for_scale, level_nbytes, make_level, map_scale, read_box,
                                      reduce_level, supersample, supersample_filter)
from rovercam.mosaic.warp import Window, frame_point_pixels, frame_window, sample_maps

__all__ = ["FrameStack", "GeoTiffRender", "RenderOptions", "render_mosaic", "render_geotiff", "BlendMethod", "auto_levels",
           "frame_scale", "frame_cache_bytes"]

log = logging.getLogger(__name__)

BlendMethod = Literal["multiband", "feather"]
NO_FRAME = -1
# Multiband blending weights a frame's finest bands by its own side of the seams only, and its
# coarser bands by that side smoothed: the interpolation kernel's taps are taken on that side and
# 4 output pixels beyond it (the finest band's reach), bilinear samples elsewhere feed only the
# low-passed bands (the benchmark's figures are the same to 0.001 dB as with the kernel
# everywhere, at about half its cost)
_NEAR_SEAM = np.ones((9, 9), np.uint8)


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """How to render (see :func:`render_mosaic`).

    Attributes
    ----------
    blend : {"multiband", "feather"}
    levels : int or None
        Multiband pyramid reductions; None chooses from the frames' size on the grid.
    feather : float
        Feathering ramp as a fraction of the frame's half-size (feather blending only).
    tile : int
        Tile side, output pixels.
    workers : int
        Tiles rendered in parallel.
    map_step : int
        Lattice spacing of exact camera-model evaluations (:func:`sample_maps`).
    kernel : {"cubic", "lanczos", "linear"}
        Interpolation kernel (:func:`rovercam.mosaic.resample.resample`); with
        ``prefilter="supersample"`` (the default), that of each sub-sample: bicubic (default).
        The other prefilters sample once per pixel and score best with ``"lanczos"``.
    antialias : bool
        Average each frame over the output pixels' footprints before sampling it
        (:mod:`rovercam.mosaic.resample`); False samples the frame itself everywhere.
    prefilter : {"supersample", "footprint", "pyramid"}
        How ``antialias`` averages: ``"supersample"`` (default) the mean of n x n sub-samples
        spread over each output pixel's footprint, from the pyramid level one finer than the
        scale calls for (:func:`rovercam.mosaic.resample.supersample`: exact area sampling; the
        frame itself below a 4x reduction, read per tile through windows);
        ``"footprint"`` the pyramid level one finer than the scale calls for, smoothed by a
        Gaussian matching the footprint's variance, then its 2 x 2 means
        (:func:`rovercam.mosaic.resample.footprint_filter`; the default before); ``"pyramid"``
        the pyramid level ``floor(log2(scale))`` alone (box-filtered). docs/mosaics.md#resampling
        compares them.
    """

    blend: BlendMethod = "multiband"
    levels: int | None = None
    feather: float = 0.5
    tile: int = 1024
    workers: int = 2
    map_step: int = 8
    kernel: Kernel = "cubic"
    antialias: bool = True
    prefilter: Literal["footprint", "pyramid", "supersample"] = "supersample"


class FrameStack:
    """The frames of one mosaic: geometry up front, pixels on demand (bounded LRU cache).

    Parameters
    ----------
    geoms : sequence of FrameGeometry
        Models in the mosaic frame.
    load : callable ``(i) -> (H, W, B) or (H, W) array``
        Pixels of frame ``i`` (radiance; NaN = no data). Called from worker threads. Every frame
        of a stack has the same band count B (1 for grayscale cameras, 3 for colour).
    factors, offsets : (N,) array_like, optional
        Photometric correction applied on load: ``factor * image + offset`` (correction
        factors, docs/mosaics.md#gains; :class:`rovercam.mosaic.gains.GainSolution`).
    cache_mb : float, optional
        Memory for decoded frames and their pyramid levels. None (default): sized by each render
        from its tiles and the frames that touch them (:func:`frame_cache_bytes`).
    saturation : float, optional
        Radiance (as loaded, before the correction) at or above which a pixel is clipped: the resampling
        kernel falls back to bilinear where it would read one (:mod:`rovercam.mosaic.resample`).
    """

    def __init__(self, geoms: Sequence[FrameGeometry], load: Callable[[int], np.ndarray], *,
                 factors: Sequence[float] | None = None, offsets: Sequence[float] | None = None,
                 cache_mb: float | None = None, saturation: float | None = None) -> None:
        if not geoms:
            raise MosaicError("no frames to mosaic")
        self.geoms = list(geoms)
        self._load = load
        n = len(self.geoms)
        self.factors = np.ones(n) if factors is None else np.asarray(factors, dtype=np.float64)
        self.offsets = np.zeros(n) if offsets is None else np.asarray(offsets, dtype=np.float64)
        if self.factors.shape != (n,) or self.offsets.shape != (n,):
            raise MosaicError(f"need one correction factor and offset per frame ({n})")
        self._cache: OrderedDict[tuple[int, int, float], Level] = OrderedDict()
        self._bytes = 0
        self.cache_mb = cache_mb
        self.saturation = saturation
        self._limit = 1024e6 if cache_mb is None else cache_mb * 1e6
        self._lock = threading.Lock()
        self._loading: dict[tuple[int, int, float], threading.Event] = {}
        self._bands: int | None = None

    def __len__(self) -> int:
        return len(self.geoms)

    def with_corrections(self, factors: Sequence[float], offsets: Sequence[float]) -> "FrameStack":
        """The same frames with other correction factors/offsets (a fresh cache)."""
        return FrameStack(self.geoms, self._load, factors=factors, offsets=offsets, cache_mb=self.cache_mb,
                          saturation=self.saturation)

    def size_cache(self, nbytes: float) -> None:
        """Set the automatic cache's size, bytes (no effect when ``cache_mb`` was given)."""
        if self.cache_mb is None:
            with self._lock:
                self._limit = float(nbytes)

    def pixels(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``(image, valid)``: corrected float32 (H, W, B) with no-data set to 0, and a float32
        validity mask (None when every pixel is valid)."""
        lvl = self.level(i, 0)
        return lvl.image, lvl.valid

    @property
    def bands(self) -> int:
        """Band count B of every frame (the first frame's; loading another with a different
        count raises :class:`~rovercam.errors.MosaicError`)."""
        if self._bands is None:
            self.validity(0)
        assert self._bands is not None
        return self._bands

    def validity(self, i: int) -> np.ndarray | None:
        """Level-0 validity of frame ``i`` (``pixels(i)[1]``: float32 (H, W), 1 valid, 0
        no-data; None when every pixel is valid), without keeping its pixels: one pass over the
        frame as loaded, then cached (LRU, its bytes only)."""
        key = (i, -1, 0.0)  # level -1: the level-0 mask alone
        hit = self._recall(key)
        if hit is None:
            img = self._checked(i, as_bands(np.asarray(self._load(i), dtype=np.float32)))
            valid = None
            if not np.isfinite(img.sum(dtype=np.float64)):  # as _level0 decides it
                valid = np.isfinite(img).all(axis=2).astype(np.float32)
            hit = self._remember(key, Level(np.empty((0, 0, img.shape[2]), np.float32), valid, None))
        return hit.valid

    def window(self, i: int, box: tuple[int, int, int, int]) -> Level:
        """Level 0 of frame ``i`` over the window ``box = (x0, x1, y0, y1)`` of its pixels
        (half-open), made as :meth:`level` makes level 0 (correction, no-data set to 0, clipping
        mask) pixel for pixel, its ``origin`` set (:func:`rovercam.mosaic.resample.read_box`).
        Not cached: only the window is converted, so a frame loaded as a memory map
        (``numpy.load(..., mmap_mode="r")``) is read where the tile needs it and never held
        whole; a frame loaded into memory is kept as loaded (LRU) and not loaded again."""
        x0, x1, y0, y1 = box
        valid = self.validity(i)
        raw = self._source(i)
        img = np.array(raw[y0:y1, x0:x1], dtype=np.float32)  # a private copy, corrected in place
        v = None
        if valid is not None:
            v = np.ascontiguousarray(valid[y0:y1, x0:x1])
            img[v == 0] = 0.0
        if self.factors[i] != 1.0:
            img *= np.float32(self.factors[i])
        if self.offsets[i] != 0.0:
            img += np.float32(self.offsets[i])
            if v is not None:
                img[v == 0] = 0.0
        sat = None if self.saturation is None else self.saturation * self.factors[i] + self.offsets[i]
        lvl = make_level(np.ascontiguousarray(img), v, saturation=sat)
        lvl.origin = (x0, y0)
        return lvl

    def _source(self, i: int) -> np.ndarray:
        """Frame ``i`` as loaded, (H, W, B); kept in the cache unless it is a memory map."""
        key = (i, -2, 0.0)  # level -2: the frame as loaded
        hit = self._recall(key)
        if hit is not None:
            return hit.image
        raw = self._load(i)
        img = self._checked(i, as_bands(np.asarray(raw)))
        if not isinstance(raw, np.memmap):
            self._remember(key, Level(img, None, None))
        return img

    def _recall(self, key: tuple[int, int, float]) -> Level | None:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
            return hit

    def _remember(self, key: tuple[int, int, float], lvl: Level) -> Level:
        """Cache ``lvl`` under ``key`` (LRU, evicting down to the limit); returns the entry
        (another thread's, if it got there first)."""
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            self._cache[key] = lvl
            self._bytes += lvl.nbytes
            self._evict()
        return lvl

    def _evict(self) -> None:
        while self._bytes > self._limit and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._bytes -= old.nbytes

    def level(self, i: int, level: int, sigma: float = 0.0) -> Level:
        """Pyramid level ``level`` of frame ``i`` (:mod:`rovercam.mosaic.resample`), with the
        footprint Gaussian ``sigma`` (:func:`rovercam.mosaic.resample.footprint_filter`), built
        on first use from the finest cached plain level below it and cached itself (LRU,
        ``cache_mb``; the plain level just below a smoothed one is not kept)."""
        key = (i, level, sigma)
        base = level - 1 if sigma > 0 and level > 0 else level  # the plain level the Gaussian smooths
        while True:
            with self._lock:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    return self._cache[key]
                event = self._loading.get(key)
                if event is None:
                    event = self._loading[key] = threading.Event()
                    top = base if sigma > 0 else level - 1
                    below = next((k for k in range(top, -1, -1) if (i, k, 0.0) in self._cache), None)
                    start = self._cache[(i, below, 0.0)] if below is not None else None
                    break
            event.wait()
        try:
            lvl = None
            if start is None and self.saturation is None and (base > 0 or sigma > 0):
                lvl = self._filtered_raw(i, base, level, sigma)
            if lvl is None:
                lvl = self._filter(start if start is not None else self._level0(i), base, level, sigma)
            with self._lock:
                self._cache[key] = lvl
                self._bytes += lvl.nbytes
                self._evict()
            return lvl
        finally:
            with self._lock:
                self._loading.pop(key).set()

    @staticmethod
    def _filter(lvl: Level, base: int, level: int, sigma: float) -> Level:
        """Level ``level`` (footprint Gaussian ``sigma``) made from ``lvl`` (see :meth:`level`)."""
        while lvl.level < base:
            lvl = reduce_level(lvl)
        if sigma > 0:
            lvl = footprint_level(lvl, sigma) if level > 0 else blur_level(lvl, sigma)
        return lvl

    def _filtered_raw(self, i: int, base: int, level: int, sigma: float) -> Level | None:
        """The level filtered straight from the frame as loaded, the correction applied to the
        level afterwards (means and Gaussians commute with ``factor * x + offset``), so the
        frame is neither copied nor corrected at full size; None when the frame has no-data
        (its mask must be built first: :meth:`_level0`)."""
        raw = self._checked(i, as_bands(np.asarray(self._load(i), dtype=np.float32)))
        lvl = self._filter(make_level(raw, None), base, level, sigma)
        if lvl.image is raw or not np.isfinite(lvl.image.sum(dtype=np.float64)):  # NaN spreads through the filters
            return None
        if self.factors[i] != 1.0:
            lvl.image *= np.float32(self.factors[i])
        if self.offsets[i] != 0.0:
            lvl.image += np.float32(self.offsets[i])
        return lvl

    def _checked(self, i: int, img: np.ndarray) -> np.ndarray:
        """``img`` (H, W, B) after checking its size against the geometry and its band count
        against the stack's."""
        g = self.geoms[i]
        if img.shape[:2] != (g.height, g.width):
            raise MosaicError(f"{g.product_id}: image {img.shape[:2]} != geometry {(g.height, g.width)}")
        with self._lock:
            if self._bands is None:
                self._bands = img.shape[2]
        if img.shape[2] != self._bands:
            raise MosaicError(f"{g.product_id}: {img.shape[2]} band(s), other frames of this mosaic "
                              f"have {self._bands}")
        return img

    def _level0(self, i: int) -> Level:
        """Frame ``i`` loaded, corrected, no-data zeroed (not cached here)."""
        img = self._checked(i, as_bands(np.array(self._load(i), dtype=np.float32)))  # a private copy, corrected in place
        valid = None
        if not np.isfinite(img.sum(dtype=np.float64)):  # some NaN/inf (no-data): one cheap scan first
            finite = np.isfinite(img).all(axis=2)
            img[~finite] = 0.0
            valid = finite.astype(np.float32)
        if self.factors[i] != 1.0:
            img *= np.float32(self.factors[i])
        if self.offsets[i] != 0.0:
            img += np.float32(self.offsets[i])
            if valid is not None:
                img[valid == 0] = 0.0
        img = np.ascontiguousarray(img)
        sat = None if self.saturation is None else self.saturation * self.factors[i] + self.offsets[i]
        return make_level(img, valid, saturation=sat)


def auto_levels(windows: Sequence[Window | None]) -> int:
    """Pyramid reductions for frames of this size on the grid: bands down to ~1/16 of a frame's
    smaller side, at most 5 (wider bands cost margin and hide nothing more)."""
    sides = [min(w.x1 - w.x0, w.y1 - w.y0) for w in windows if w is not None]
    if not sides:
        return 1
    return int(np.clip(math.floor(math.log2(max(np.median(sides), 2) / 16.0)), 1, 5))


def _tiles(proj: Projection, tile: int, windows: Sequence[Window | None]) -> list[Window]:
    """Tiles that some frame reaches, column by column (frames stay cached along a column)."""
    out = []
    period = proj.periodic_width
    for x0 in range(0, proj.width, tile):
        for y0 in range(0, proj.height, tile):
            t = Window(x0, min(x0 + tile, proj.width), y0, min(y0 + tile, proj.height))
            if _overlapping(t, windows, period):
                out.append(t)
    return out


def _overlapping(t: Window, windows: Sequence[Window | None], period: int | None) -> list[tuple[int, Window]]:
    """(frame index, frame window shifted to meet ``t``) for every frame window meeting ``t``."""
    hits = []
    shifts = (0,) if period is None else (0, -period, period)
    for i, w in enumerate(windows):
        if w is None:
            continue
        for s in shifts:
            ws = w.shifted(s)
            if not ws.intersect(t).empty:
                hits.append((i, ws))
    return hits


def _centrality(mx: np.ndarray, my: np.ndarray, width: int, height: int) -> np.ndarray:
    """Distance from the frame's edge relative to its size (> 0 inside, <= 0 outside)."""
    dx = np.minimum(mx + 0.5, width - 0.5 - mx) / width
    dy = np.minimum(my + 0.5, height - 0.5 - my) / height
    return np.minimum(dx, dy)


def frame_scale(g: FrameGeometry, proj: Projection) -> float:
    """Frame pixels per output pixel at the frame's centre (the longer column of the
    output -> frame Jacobian; inf where the grid cannot be reached there)."""
    cx, cy = (g.width - 1) / 2.0, (g.height - 1) / 2.0
    xy = frame_point_pixels(g, proj, np.array([[cx, cy], [cx + 1.0, cy], [cx, cy + 1.0]]))
    d = xy[1:] - xy[0]
    if proj.periodic_width is not None:
        p = proj.periodic_width
        d[:, 0] = np.mod(d[:, 0] + p / 2, p) - p / 2
    try:
        src_out = np.linalg.inv(d.T)  # columns: frame displacement per output x, per output y
    except np.linalg.LinAlgError:
        return math.inf
    if not np.all(np.isfinite(src_out)):
        return math.inf
    return float(np.max(np.linalg.norm(src_out, axis=0)))


def _level_sigma(scale: float, opts: RenderOptions) -> tuple[int, float]:
    """Pyramid level and Gaussian sigma (level pixels) for a map reducing by ``scale``."""
    if not opts.antialias:
        return 0, 0.0
    if opts.prefilter == "footprint":
        return footprint_filter(scale)
    if opts.prefilter == "supersample":
        return supersample_filter(scale)[0], 0.0
    return level_for_scale(scale), 0.0


def frame_cache_bytes(stack: FrameStack, proj: Projection, windows: Sequence[Window | None],
                      tiles: Sequence[Window], opts: RenderOptions, margin: int, bands: int) -> int:
    """Memory for the frames the tiles in flight touch, bytes: the largest total, over every run
    of ``2 * workers + 1`` consecutive tiles, of the frames meeting them (each at the pyramid
    level its scale at the frame centre calls for, with masks), plus a quarter for tiles that
    choose another level."""
    period = proj.periodic_width
    size = []
    for g, w in zip(stack.geoms, windows):
        level = _level_sigma(frame_scale(g, proj), opts)[0] if w is not None else 0
        size.append(level_nbytes(g.width, g.height, bands, level, masked=True))
    touch = [{i for i, _ in _overlapping(t.grown(margin), windows, period)} for t in tiles]
    run = 2 * max(1, opts.workers) + 1
    best = 0
    for k in range(max(1, len(touch) - run + 1)):
        frames = set().union(*touch[k:k + run])
        best = max(best, sum(size[i] for i in frames))
    return int(1.25 * best) + max(size)


def render_tile(stack: FrameStack, proj: Projection, windows: Sequence[Window | None], tile: Window,
                opts: RenderOptions, levels: int, bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Render one tile: ``(image (h, w, bands) float32 NaN-uncovered, index (h, w) int16)``."""
    period = proj.periodic_width
    multiband = opts.blend == "multiband"
    step = 1 << levels if multiband else 1
    margin = pyramid_margin(levels) if multiband else 0
    pad = tile.grown(margin)
    if period is None:
        pad = pad.intersect(Window(0, proj.width, 0, proj.height))
    else:
        pad = pad.intersect(Window(-(10**9), 10**9, 0, proj.height))
    # align the padded tile to the pyramid: grow its far sides to a multiple of the step
    ph = -(-(pad.y1 - pad.y0) // step) * step
    pw = -(-(pad.x1 - pad.x0) // step) * step
    pad = Window(pad.x0, pad.x0 + pw, pad.y0, pad.y0 + ph)
    best = np.zeros((ph, pw), np.float32)
    label = np.full((ph, pw), NO_FRAME, np.int16)
    parts = []
    for i, win in _overlapping(pad, windows, period):
        g = stack.geoms[i]
        # a frame's rectangle: its window grown by the pyramid margin, aligned to the step
        r = win.grown(margin).intersect(pad)
        if r.empty:
            continue
        ry0 = pad.y0 + ((r.y0 - pad.y0) // step) * step
        rx0 = pad.x0 + ((r.x0 - pad.x0) // step) * step
        ry1 = min(pad.y0 + -(-(r.y1 - pad.y0) // step) * step, pad.y1)
        rx1 = min(pad.x0 + -(-(r.x1 - pad.x0) // step) * step, pad.x1)
        r = Window(rx0, rx1, ry0, ry1)
        mx, my = sample_maps(g, proj, r, step=opts.map_step)
        cen = _centrality(mx, my, g.width, g.height)
        sub = (slice(r.y0 - pad.y0, r.y1 - pad.y0), slice(r.x0 - pad.x0, r.x1 - pad.x0))
        # the pyramid level this tile samples the frame from (its local scale here)
        scale = map_scale(mx, my, g.width, g.height)
        level, sigma = _level_sigma(scale, opts)
        subs = supersample_filter(scale)[1] if opts.antialias and opts.prefilter == "supersample" else 1
        # the frame itself (level 0, unfiltered) is read per tile, only the window the samples
        # need (FrameStack.window); filtered levels are made whole and cached
        lvl = None if level == 0 and sigma == 0 else stack.level(i, level, sigma)
        valid = stack.validity(i) if lvl is None else lvl.valid
        lx, ly = level_coordinates(mx, my, level)
        if valid is not None:
            v = cv2.remap(valid, lx, ly, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            cen = np.where(v > 0.999, cen, 0.0)
        better = cen > best[sub]
        best[sub] = np.where(better, cen, best[sub])
        label[sub] = np.where(better, np.int16(i), label[sub])
        parts.append((i, sub, lvl, lx, ly, subs, None if multiband else (mx, my)))
    if multiband:
        blender: Any = MultibandBlender(ph, pw, levels, bands)
    else:
        blender = FeatherBlender(ph, pw, bands)
    for i, sub, lvl, lx, ly, subs, level0 in parts:
        mask = (label[sub] == i)
        if multiband and not mask.any():
            continue
        g = stack.geoms[i]
        near = cv2.dilate(mask.view(np.uint8), _NEAR_SEAM) > 0 if multiband else None
        feet = footprints(lx, ly, subs, where=near) if subs > 1 and min(lx.shape) >= 2 else None
        if lvl is None:
            lvl = stack.window(i, read_box(lx, ly, g.width, g.height, opts.kernel, feet=feet))
        warped, v = supersample(lvl, lx, ly, subs, kernel=opts.kernel, where=near, feet=feet)
        del lvl  # a window goes with its frame's turn
        if multiband:
            blender.add(warped, mask.astype(np.float32), sub[0].start, sub[1].start)
        else:
            # feather: ramps from 0 at the frame edge over ``feather`` of its half-size
            mx, my = level0
            dist = np.minimum(np.minimum(mx + 0.5, g.width - 0.5 - mx), np.minimum(my + 0.5, g.height - 0.5 - my))
            if opts.feather > 0:
                w = np.clip(dist / (opts.feather * min(g.width, g.height) / 2.0), 0.0, 1.0).astype(np.float32)
            else:
                w = (dist > 0).astype(np.float32)
            if v is not None:
                w = w * (v > 0.999)
            blender.add(warped, w, sub[0].start, sub[1].start)
    out = blender.result()
    cy = slice(tile.y0 - pad.y0, tile.y1 - pad.y0)
    cx = slice(tile.x0 - pad.x0, tile.x1 - pad.x0)
    image = out[cy, cx]
    index = label[cy, cx]
    image[index == NO_FRAME] = np.nan
    return np.ascontiguousarray(image), np.ascontiguousarray(index)


def _run_tiles(stack: FrameStack, proj: Projection, opts: RenderOptions, bands: int,
               consume: Callable[[Window, np.ndarray, np.ndarray], None],
               progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    windows = [frame_window(g, proj) for g in stack.geoms]
    if all(w is None for w in windows):
        raise MosaicError("no frame reaches the output grid")
    levels = opts.levels if opts.levels is not None else auto_levels(windows)
    tiles = _tiles(proj, opts.tile, windows)
    if stack.cache_mb is None:
        margin = pyramid_margin(levels) if opts.blend == "multiband" else 0
        stack.size_cache(frame_cache_bytes(stack, proj, windows, tiles, opts, margin, bands))
    log.info("rendering %dx%d %s: %d frames, %d tiles, %s%s", proj.width, proj.height, proj.kind,
             len(stack), len(tiles), opts.blend, f" ({levels} levels)" if opts.blend == "multiband" else "")
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, opts.workers)) as pool:
        pending: set = set()
        it = iter(tiles)
        for t in it:
            pending.add(pool.submit(lambda t=t: (t, *render_tile(stack, proj, windows, t, opts, levels, bands))))
            if len(pending) >= 2 * max(1, opts.workers):
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    consume(*f.result())
                    done += 1
                    if progress:
                        progress(done, len(tiles))
        for f in pending:
            consume(*f.result())
            done += 1
            if progress:
                progress(done, len(tiles))
    return {"levels": levels, "tiles": len(tiles), "windows": windows}


def render_mosaic(stack: FrameStack, proj: Projection, *, options: RenderOptions = RenderOptions(),
                  progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Render the whole mosaic in memory.

    Parameters
    ----------
    stack : FrameStack
    proj : Projection
    options : RenderOptions
    progress : callable ``(tiles_done, tiles_total)``, optional

    Returns
    -------
    image : (height, width, B) ndarray of float32
        Radiance; NaN where no frame sees the pixel.
    index : (height, width) ndarray of int16
        Frame (position in ``stack``) that made each pixel; -1 where none.
    """
    bands = stack.bands
    image = np.full((proj.height, proj.width, bands), np.nan, np.float32)
    index = np.full((proj.height, proj.width), NO_FRAME, np.int16)

    def put(t: Window, img: np.ndarray, idx: np.ndarray) -> None:
        image[t.y0 : t.y1, t.x0 : t.x1] = img
        index[t.y0 : t.y1, t.x0 : t.x1] = idx

    _run_tiles(stack, proj, options, bands, put, progress)
    return image, index


@dataclass(frozen=True, slots=True)
class GeoTiffRender:
    """What :func:`render_geotiff` wrote.

    Attributes
    ----------
    levels : int
        Multiband pyramid reductions used.
    tiles : int
        Tiles rendered (those some frame's footprint meets).
    written : int
        Tiles written: rendered tiles with at least one covered pixel (the rest stay sparse).
    window : Window or None
        The bounding window of the written tiles, output pixels, half-open ``[x0, x1) x [y0, y1)``
        (rasterio: ``Window(x0, y0, x1 - x0, y1 - y0)``); outside it the file holds only
        no-data. None when nothing was written.

    Notes
    -----
    Also readable as a mapping (``result["levels"]``, ``result["tiles"]``), as the dict that
    :func:`render_geotiff` returned before.
    """

    levels: int
    tiles: int
    written: int
    window: Window | None

    def __getitem__(self, key: str) -> Any:
        if key not in self.__slots__:
            raise KeyError(key)
        return getattr(self, key)


def render_geotiff(stack: FrameStack, proj: Projection, path: str | Path, *,
                   index_path: str | Path | None = None, options: RenderOptions = RenderOptions(),
                   compress: str | None = "zstd", tags: dict[str, str] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> GeoTiffRender:
    """Render tile by tile straight into a tiled (sparse, BigTIFF) float32 GeoTIFF.

    Memory stays flat in the output size: tiles are written through rasterio windows as they
    finish, at most ``2 * workers`` are in flight. Unreached tiles are not written and read back
    as NaN (nodata). ``index_path`` gets the index map as an int16 GeoTIFF (nodata -1). Both
    files carry ``proj.to_tags()`` and, for cylindrical and equirectangular grids, the
    geotransform in degrees of azimuth/elevation (``proj.geotransform``; no CRS;
    docs/conventions.md#mosaic-georeferencing); other grids store the identity transform (pixel
    coordinates), so neither writing nor reading the files raises rasterio's
    ``NotGeoreferencedWarning`` (:func:`rovercam.storage.raster.open_tiled_geotiff`).

    Returns
    -------
    GeoTiffRender
        Levels, tiles rendered and written, and the window written.
    """
    import rasterio
    from rasterio.windows import Window as RioWindow

    from rovercam.storage.raster import open_tiled_geotiff

    bands = stack.bands
    block = 512 if options.tile % 512 == 0 else 256 if options.tile % 256 == 0 else 16 * max(options.tile // 16, 1)
    common = dict(width=proj.width, height=proj.height, block=block, compress=compress,
                  transform=proj.geotransform)  # az/el degrees in proj.frame, no CRS; None: identity
    all_tags = {**proj.to_tags(), **(tags or {})}
    written: list[Window] = []
    with rasterio.Env(GDAL_NUM_THREADS=1), \
            open_tiled_geotiff(path, count=bands, dtype="float32", nodata=float("nan"), tags=all_tags,
                               **common) as dst, \
            (open_tiled_geotiff(index_path, count=1, dtype="int16", nodata=NO_FRAME,
                                tags={**all_tags, "CONTENT": "INDEX_MAP"}, **common)
             if index_path is not None else nullcontext()) as idx_dst:
        def put(t: Window, img: np.ndarray, idx: np.ndarray) -> None:
            win = RioWindow(t.x0, t.y0, t.x1 - t.x0, t.y1 - t.y0)
            if (idx == NO_FRAME).all():
                return  # sparse: never written, reads back as nodata
            dst.write(np.moveaxis(img, -1, 0), window=win)
            if idx_dst is not None:
                idx_dst.write(idx[None], window=win)
            written.append(t)

        info = _run_tiles(stack, proj, options, bands, put, progress)
    window = None
    if written:
        window = Window(min(t.x0 for t in written), max(t.x1 for t in written),
                        min(t.y0 for t in written), max(t.y1 for t in written))
    return GeoTiffRender(levels=info["levels"], tiles=info["tiles"], written=len(written), window=window)

