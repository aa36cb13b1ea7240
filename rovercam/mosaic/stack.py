"""The frames of one mosaic: their geometry up front, their pixels on demand.

:class:`FrameStack` holds the frames' camera models and loads their pixels when a tile asks:
the frame itself per tile, through a window of what the tile's samples read
(:meth:`FrameStack.window`, :func:`rovercam.mosaic.resample.read_box`), and filtered pyramid
levels whole, in a bounded LRU cache that the render sizes from its tiles
(:func:`rovercam.mosaic.render.frame_cache_bytes`). The photometric correction
(docs/mosaics.md#gains) and the no-data and clipping masks (docs/mosaics.md#resampling) are
applied as the pixels are made.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Sequence

import numpy as np

from rovercam.bands import as_bands
from rovercam.errors import MosaicError
from rovercam.mosaic.cylindrical import FrameGeometry
from rovercam.mosaic.resample import Level, blur_level, footprint_level, make_level, reduce_level

__all__ = ["FrameStack"]


class FrameStack:
    """The frames of one mosaic: geometry up front, pixels on demand (bounded LRU cache).

    Parameters
    ----------
    geoms : sequence of FrameGeometry
        Models in the mosaic frame.
    load : callable ``(i) -> (H, W, B) or (H, W) array``
        Pixels of frame ``i`` (radiance; NaN = no data). Called from worker threads, once per
        tile that reads the frame itself when it returns a memory map (``numpy.memmap``, e.g.
        ``numpy.load(path, mmap_mode="r")``: only the window a tile needs is read), else once
        while the cache keeps what it returned (:meth:`window`). Every frame of a stack has the
        same band count B (1 for grayscale cameras, 3 for colour).
    factors, offsets : (N,) array_like, optional
        Photometric correction applied on load: ``factor * image + offset`` (correction
        factors, docs/mosaics.md#gains; :class:`rovercam.mosaic.gains.GainSolution`).
    cache_mb : float, optional
        Memory for frames as loaded (not memory maps), their validity masks and their filtered
        pyramid levels. None (default): sized by each render from its tiles and the frames that
        touch them (:func:`rovercam.mosaic.render.frame_cache_bytes`).
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

    @property
    def cache_bytes(self) -> int:
        """Memory the cache holds now, bytes (levels, masks and frames kept as loaded)."""
        with self._lock:
            return self._bytes

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
        sat = self._correct(i, img, v)
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
        sat = self._correct(i, img, valid)
        return make_level(np.ascontiguousarray(img), valid, saturation=sat)

    def _correct(self, i: int, img: np.ndarray, valid: np.ndarray | None) -> float | None:
        """Apply frame ``i``'s correction factor and offset to ``img`` in place (no-data, where
        ``valid`` is 0, stays 0); return its saturation level after the correction (None: none)."""
        if self.factors[i] != 1.0:
            img *= np.float32(self.factors[i])
        if self.offsets[i] != 0.0:
            img += np.float32(self.offsets[i])
            if valid is not None:
                img[valid == 0] = 0.0
        return None if self.saturation is None else self.saturation * self.factors[i] + self.offsets[i]
