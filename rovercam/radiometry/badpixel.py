"""Bad pixels: the map file and the repair.

A bad-pixel map lists detector pixels that do not measure light (hot, dead, stuck). Its file is
plain text, one pixel per line as ``x y`` (sample, line), **0-based full-resolution detector
pixels** (docs/conventions.md); ``#`` starts a comment. :func:`map_to_product` moves the list onto
a product's grid (subframe origin, downsampling).

Repair replaces each bad pixel by the mean of its good neighbours *of the same colour*: at
distance 2 on a Bayer mosaic (the nearest same-filter photosites), at distance 1 otherwise. It
runs on the mosaic, before demosaicking, so one bad photosite does not smear into a 5x5 block.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.errors import CalibrationError
from rovercam.radiometry.dtypes import as_working

__all__ = ["load_bad_pixels", "map_to_product", "repair_bad_pixels"]

_MAX_FILE_BYTES = 64 << 20


def load_bad_pixels(path: str | os.PathLike[str]) -> NDArray[np.int64]:
    """Read a bad-pixel list.

    Parameters
    ----------
    path : path-like
        Text file, one ``x y`` pair per line (0-based detector sample, line); ``#`` comments and
        blank lines are ignored.

    Returns
    -------
    (N, 2) ndarray of int64
        (x, y) per bad pixel, in file order (duplicates kept; they are harmless).

    Raises
    ------
    CalibrationError
        Missing or oversized file, a line that is not two non-negative integers.
    """
    p = Path(path)
    if not p.is_file():
        raise CalibrationError(str(p), "bad-pixel map not found")
    st = p.stat()
    return _load_cached(str(p.resolve()), st.st_mtime_ns, st.st_size).copy()


@functools.lru_cache(maxsize=16)
def _load_cached(path: str, mtime_ns: int, size: int) -> NDArray[np.int64]:
    if size > _MAX_FILE_BYTES:
        raise CalibrationError(path, f"bad-pixel map is {size} bytes; refusing more than {_MAX_FILE_BYTES}")
    rows: list[tuple[int, int]] = []
    with open(path, encoding="ascii") as f:
        for number, line in enumerate(f, start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            parts = text.replace(",", " ").split()
            try:
                x, y = (int(v) for v in parts)
            except ValueError:
                raise CalibrationError(path, f"line {number}: expected 'x y', got {line.strip()!r}") from None
            if x < 0 or y < 0:
                raise CalibrationError(path, f"line {number}: negative pixel ({x}, {y})")
            rows.append((x, y))
    out = np.array(rows, dtype=np.int64).reshape(-1, 2)
    out.setflags(write=False)
    return out


def map_to_product(
    detector_xy: ArrayLike,
    shape: tuple[int, int],
    *,
    first_line: int = 1,
    first_sample: int = 1,
    downsample: tuple[int, int] = (1, 1),
) -> NDArray[np.bool_]:
    """A product-sized mask of bad pixels from detector coordinates.

    Parameters
    ----------
    detector_xy : (N, 2) array_like of int
        0-based full-resolution detector (x, y) of the bad pixels.
    shape : (lines, samples)
        Product size.
    first_line, first_sample : int, keyword-only
        Subframe origin, **1-based** detector pixels as labels give them.
    downsample : (lines, samples), keyword-only
        Pixel averaging factors; a binned pixel is marked bad when any of its photosites is.

    Returns
    -------
    (lines, samples) ndarray of bool
    """
    xy = np.asarray(detector_xy, dtype=np.int64).reshape(-1, 2)
    nl, ns = shape
    dl, ds = downsample
    x = (xy[:, 0] - (first_sample - 1)) // ds
    y = (xy[:, 1] - (first_line - 1)) // dl
    inside = (x >= 0) & (x < ns) & (y >= 0) & (y < nl)
    mask = np.zeros((nl, ns), dtype=bool)
    mask[y[inside], x[inside]] = True
    return mask


def repair_bad_pixels(
    image: ArrayLike, bad: ArrayLike, *, bayer: bool
) -> NDArray[np.float32]:
    """Replace bad pixels by the mean of their good same-colour neighbours.

    Parameters
    ----------
    image : (H, W) or (H, W, B) array_like
        A Bayer mosaic (``bayer=True``, one band) or a one/multi-band image, DN.
    bad : (H, W) array_like of bool
        True where the pixel is bad (:func:`map_to_product`).
    bayer : bool, keyword-only
        Neighbours at distance 2 (same Bayer colour: the 8 pixels at offsets (+-2, 0), (0, +-2),
        (+-2, +-2)) instead of distance 1 (the 8 adjacent pixels).

    Returns
    -------
    ndarray of float32, shape of ``image``
        A copy: good pixels unchanged; a bad pixel with no good neighbour becomes NaN (no data).

    Raises
    ------
    ValueError
        ``bad`` not (H, W), or ``bayer`` with more than one band.
    """
    out = as_working(image, copy=True)
    mask = np.asarray(bad, dtype=bool)
    if mask.shape != out.shape[:2]:
        raise ValueError(f"bad-pixel mask {mask.shape} does not match image {out.shape[:2]}")
    if bayer and out.ndim != 2:
        raise ValueError(f"a Bayer mosaic is one band, got shape {out.shape}")
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return out
    step = 2 if bayer else 1
    h, w = mask.shape
    total = np.zeros((ys.size,) + out.shape[2:], dtype=np.float64)
    count = np.zeros(ys.size, dtype=np.int64)
    for dy in (-step, 0, step):
        for dx in (-step, 0, step):
            if dy == 0 and dx == 0:
                continue
            ny, nx = ys + dy, xs + dx
            ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
            ok[ok] &= ~mask[ny[ok], nx[ok]]
            values = out[ny[ok], nx[ok]]
            ok[ok] &= np.isfinite(values).all(axis=-1) if values.ndim == 2 else np.isfinite(values)
            total[ok] += out[ny[ok], nx[ok]]
            count[ok] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / (count[:, None] if total.ndim == 2 else count)
    out[ys, xs] = mean.astype(np.float32)
    return out
