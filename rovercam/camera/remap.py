"""Remap grids between camera models, ready for ``cv2.remap``.

For each pixel of the destination model, its ray is followed to a point (at ``range_m`` from the
ray origin, or at infinity) and projected into the source model. ``cv2.remap`` uses pixel
centres at integers like rovercam (docs/conventions.md), so the grids need no half-pixel shift::

    map_x, map_y = remap_grid(linear, (w, h), original)
    undistorted = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR)
"""
from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.typing import NDArray

from rovercam.camera.cahv import CAHV
from rovercam.camera.model import Array, CameraModel, cahv_rays, unit_rows
from rovercam.errors import CameraModelError

__all__ = ["remap_grid", "inverse_remap_grid", "clear_remap_cache"]

#: Pixels per chunk: small enough for the (N, 3) temporaries to stay in cache (~6 MB).
_CHUNK_PIXELS = 1 << 16
#: Remap grids kept by the cache (a 5120x3840 pair of float32 grids is 157 MB).
_CACHE_SIZE = 4


def remap_grid(
    dst: CameraModel,
    dst_size: tuple[int, int],
    src: CameraModel,
    *,
    range_m: float | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Where each pixel of ``dst`` comes from in ``src``: maps for ``cv2.remap(src_image, ...)``.

    Parameters
    ----------
    dst : CameraModel
        The output geometry (for instance :func:`rovercam.camera.linearize`'s CAHV).
    dst_size : (width, height)
        Output image size in pixels.
    src : CameraModel
        The geometry of the image being resampled, in the same frame as ``dst``.
    range_m : float or None, keyword-only
        Distance along each ``dst`` ray (from its origin) of the point projected into ``src``,
        metres; None projects the point at infinity (``src.project_directions``), the usual
        choice when the two models share C.

    Returns
    -------
    map_x, map_y : (height, width) ndarray of float32
        Source (x, y) pixel of every destination pixel, NaN where ``src`` cannot see it.
        The arrays are cached by (models, size, range) and returned **read-only**; copy them
        before modifying.

    Raises
    ------
    rovercam.errors.CameraModelError
        Non-positive sizes or range.
    """
    width, height = (int(v) for v in dst_size)
    if width < 1 or height < 1:
        raise CameraModelError(f"dst_size must be positive, got {dst_size!r}")
    if range_m is not None:
        range_m = float(range_m)
        if not (range_m > 0 and np.isfinite(range_m)):
            raise CameraModelError(f"range_m must be positive and finite, got {range_m!r}")
    return _cached_grid(dst, (width, height), src, range_m)


def inverse_remap_grid(
    dst: CameraModel,
    src: CameraModel,
    src_size: tuple[int, int],
    *,
    range_m: float | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The reverse of :func:`remap_grid`: where each ``src`` pixel lands in ``dst``.

    ``cv2.remap(dst_image, *inverse_remap_grid(dst, src, src_size))`` rebuilds an image in the
    ``src`` geometry from a ``dst`` one (marsunlinearize). Same conventions as
    :func:`remap_grid`, with the roles swapped; shape (src height, src width).
    """
    return remap_grid(src, src_size, dst, range_m=range_m)


def clear_remap_cache() -> None:
    """Forget every cached remap grid (frees their memory)."""
    _cached_grid.cache_clear()


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _cached_grid(
    dst: CameraModel, size: tuple[int, int], src: CameraModel, range_m: float | None
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    width, height = size
    map_x = np.empty((height, width), dtype=np.float32)
    map_y = np.empty((height, width), dtype=np.float32)
    rows_per_chunk = max(1, _CHUNK_PIXELS // width)
    starts = range(0, height, rows_per_chunk)

    fast = range_m is None and isinstance(dst, CAHV) and hasattr(src, "_project_direction_dots")
    xs = np.arange(width, dtype=np.float64)

    def fill(y0: int) -> None:
        y1 = min(height, y0 + rows_per_chunk)
        if fast:
            sx, sy = _dots_chunk(dst, src, xs, np.arange(y0, y1, dtype=np.float64))
            map_x[y0:y1] = sx
            map_y[y0:y1] = sy
            return
        gx, gy = np.meshgrid(xs, np.arange(y0, y1, dtype=np.float64))
        pixels = np.column_stack([gx.ravel(), gy.ravel()])
        src_px = _chunk(dst, src, pixels, range_m)
        map_x[y0:y1] = src_px[:, 0].reshape(y1 - y0, width)
        map_y[y0:y1] = src_px[:, 1].reshape(y1 - y0, width)

    workers = min(len(starts), os.cpu_count() or 1, 4)
    if workers > 1:
        # numpy releases the GIL inside its loops, so threads share the vector work
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(fill, starts))
    else:
        for y0 in starts:
            fill(y0)
    map_x.flags.writeable = False
    map_y.flags.writeable = False
    return map_x, map_y


def _dots_chunk(dst: CAHV, src: CameraModel, xs: Array, ys: Array) -> tuple[Array, Array]:
    """Source (x, y), each (len(ys), len(xs)), of a CAHV ``dst`` at infinity.

    The CAHV ray ``r = r0 + x rx + y ry`` is linear in the pixel, so its dot products with the
    source's O, A, H, V are sums of a row term and a column term, and ``r.r`` a quadratic: the
    source projection at infinity needs only those five scalars per pixel (no (N, 3) arrays).
    """
    a, h, v = dst.a, dst.h, dst.v
    vxh = np.cross(v, h)
    k = float(a @ vxh)
    r0 = vxh / k
    rx = -np.cross(v, a) / k
    ry = -np.cross(a, h) / k
    col = xs[None, :]
    row = ys[:, None]

    def dot(w: Array) -> Array:
        return (float(r0 @ w) + row * float(ry @ w)) + col * float(rx @ w)

    p = r0[None, :] + row * ry[None, :]  # (rows, 3): the ray at x = 0
    pp = np.einsum("ij,ij->i", p, p)[:, None]
    prx2 = 2.0 * (p @ rx)[:, None]
    d_d = pp + col * (prx2 + col * float(rx @ rx))
    o = getattr(src, "o", src.a)
    return src._project_direction_dots(dot(o), d_d, dot(src.a), dot(src.h), dot(src.v))


def _chunk(dst: CameraModel, src: CameraModel, pixels: Array, range_m: float | None) -> Array:
    """Source pixels (N, 2) for destination pixels (N, 2)."""
    if range_m is None and isinstance(dst, CAHV):
        # CAHV rays are linear in (x, y) and every model's projection at infinity is
        # invariant to the ray's length: skip the normalisation.
        return src.project_directions(cahv_rays(dst.a, dst.h, dst.v, pixels))
    origins, dirs = dst.unproject(pixels)
    if range_m is None:
        return src.project_directions(dirs)
    return src.project(origins + range_m * unit_rows(dirs))
