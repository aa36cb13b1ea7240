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
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import cv2
import numpy as np

from rovercam.errors import MosaicError
from rovercam.mosaic.blend import FeatherBlender, MultibandBlender, pyramid_margin
from rovercam.mosaic.cylindrical import FrameGeometry
from rovercam.mosaic.projections import Projection
from rovercam.mosaic.resample import (Kernel, footprint_filter, footprints, level_coordinates, level_for_scale,
                                      level_nbytes, map_scale, read_box, supersample, supersample_filter)
from rovercam.mosaic.stack import FrameStack
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
    choose another level. A bound: at level 0 it counts the frame as loaded, which the cache
    keeps only when the loader returns it in memory (memory maps are read per tile through
    windows, :meth:`FrameStack.window`)."""
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

