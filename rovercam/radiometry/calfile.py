"""Calibration images (flats and bad-pixel masks) read from files and placed on a product's grid.

Shipped calibration (data/README.md) comes as 8-bit JPEG or 8/16-bit PNG images of the whole
detector, sometimes at a reduced scale (Mars 2020 ECAM flats at scale factors 1, 2 and 4), while
products are subframes, tiles and downsampled frames. :func:`calibration_image` reads a file once
(cached by path, modification time and size); :func:`map_to_frame` samples it at a product's
pixels through the product's subframe origin and pixel averaging, the way MIPL reads its flats
("at subframe origin + pixel x downsample, averaged over the bin"; docs/calibration.md).

Conventions: detector pixels are full-resolution, 0-based, centres at integers; a subframe origin
is 1-based as labels give it (docs/conventions.md).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.errors import CalibrationError

__all__ = ["calibration_image", "map_to_frame", "normalise_flat"]

Kind = Literal["flat", "mask"]
_TIFF = (".tif", ".tiff")


def normalise_flat(flat: NDArray[np.floating]) -> NDArray[np.float32]:
    """Scale a flat so that its mean over the central quarter of the image is 1.

    Integer flats (8-bit JPEG, 16-bit PNG) carry an arbitrary scale; their central quarter (half
    the width and height, around the optical centre where vignetting is least) is the reference.
    Zero pixels (masked hardware, corners) are left out of the mean and stay 0, which the chain
    treats as no data (``[chain] min_flat``).

    Parameters
    ----------
    flat : (H, W) or (H, W, 3) ndarray
        Any numeric type.

    Returns
    -------
    ndarray of float32
        Same shape; every band scaled by its own central mean.
    """
    work = np.asarray(flat, dtype=np.float32)
    h, w = work.shape[:2]
    centre = work[h // 4: h - h // 4, w // 4: w - w // 4]
    centre = centre.reshape(-1, 1 if work.ndim == 2 else work.shape[2])
    out = np.empty_like(work)
    for b in range(centre.shape[1]):
        values = centre[:, b]
        mean = float(values[values > 0].mean()) if np.any(values > 0) else 0.0
        if mean <= 0:
            raise CalibrationError("flat", "flat has no positive pixels in its central quarter")
        if work.ndim == 2:
            out[:] = work / np.float32(mean)
        else:
            out[..., b] = work[..., b] / np.float32(mean)
    return out


@functools.lru_cache(maxsize=32)
def _read(path: str, mtime_ns: int, size: int, kind: Kind) -> NDArray:
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise CalibrationError(path, "not a readable image")
    if img.ndim == 3:
        img = img[..., :3][..., ::-1] if img.shape[2] >= 3 else img[..., 0]  # BGR(A) -> RGB
    if kind == "mask":
        bad = img.reshape(img.shape[0], img.shape[1], -1).any(axis=2)
        bad.setflags(write=False)
        return bad
    if img.ndim == 3 and img.shape[2] == 3 and np.array_equal(img[..., 0], img[..., 1]) \
            and np.array_equal(img[..., 0], img[..., 2]):
        img = img[..., 0]  # a grey image stored as RGB
    flat = np.asarray(img, dtype=np.float32) if Path(path).suffix.lower() in _TIFF and img.dtype.kind == "f" \
        else normalise_flat(img)
    flat = np.ascontiguousarray(flat)
    flat.setflags(write=False)
    return flat


def calibration_image(path: str | os.PathLike[str], *, kind: Kind) -> NDArray:
    """Read a flat or a bad-pixel mask (cached; the cache key includes mtime and size).

    Parameters
    ----------
    path : path-like
        A float TIFF flat (used as it is: the generator's and the user's own), an 8/16-bit image
        flat (normalised by :func:`normalise_flat`), or a mask image.
    kind : {"flat", "mask"}

    Returns
    -------
    ndarray
        Flat: float32 (H, W) or (H, W, 3) in R, G, B order. Mask: bool (H, W), True where any
        colour channel is non-zero (alpha ignored): a bad pixel.

    Raises
    ------
    CalibrationError
        The file is missing or not an image.
    """
    p = Path(path)
    if not p.is_file():
        raise CalibrationError(str(p), f"{kind} file not found")
    st = p.stat()
    return _read(str(p.resolve()), st.st_mtime_ns, st.st_size, kind)


def map_to_frame(image: NDArray, shape: tuple[int, int], *, first_line: int, first_sample: int,
                 downsample: tuple[int, int], detector: tuple[int, int] | None,
                 kind: Kind) -> NDArray | None:
    """Sample a calibration image at a product's pixels.

    Parameters
    ----------
    image : (h, w) or (h, w, 3) ndarray
        From :func:`calibration_image`.
    shape : (lines, samples)
        The product's image size.
    first_line, first_sample : int
        Subframe origin, 1-based full-resolution detector pixels.
    downsample : (lines, samples)
        Pixel averaging of the product.
    detector : (samples, lines) or None
        The full-resolution detector. An image of exactly the product's size is used as it is
        (a flat made for that product geometry). Otherwise, when the image covers the detector
        at one scale (a 1280x960 flat of a 5120x3840 detector is scale 4), product pixels are
        found through the subframe and averaging.

    Returns
    -------
    ndarray or None
        ``shape`` (plus bands for an RGB flat): float32 flat (bin means) or bool mask (a bin is
        bad when any of its pixels is), None when the image does not cover the product.
    """
    h, w = shape
    ih, iw = image.shape[:2]
    if (ih, iw) == (h, w):
        return image.copy()
    scale = None
    if detector is not None:
        fx, fy = detector[0] / iw, detector[1] / ih
        if abs(fx - fy) < 1e-9 and fx > 0:
            scale = fx
    if scale is None:
        return None
    ds_l, ds_s = downsample
    x0, y0 = first_sample - 1, first_line - 1
    if x0 < 0 or y0 < 0 or (x0 + w * ds_s) / scale > iw + 1e-9 or (y0 + h * ds_l) / scale > ih + 1e-9:
        return None
    work = image.astype(np.float32) if kind == "mask" else image
    # average whole bins first, so that a binned product sees bin means (or any-bad for masks)
    k = int(round(min(ds_s, ds_l) / scale))
    if k > 1 and abs(min(ds_s, ds_l) / scale - k) < 1e-9 and iw % k == 0 and ih % k == 0:
        if kind == "mask":
            work = work.reshape(ih // k, k, iw // k, k).max(axis=(1, 3))
        else:
            work = cv2.resize(work, (iw // k, ih // k), interpolation=cv2.INTER_AREA)
        scale *= k
    # centres of product pixels in image pixels (centres at integers)
    u = (x0 + (np.arange(w) + 0.5) * ds_s) / scale - 0.5
    v = (y0 + (np.arange(h) + 0.5) * ds_l) / scale - 0.5
    map_x = np.broadcast_to(u.astype(np.float32)[None, :], (h, w))
    map_y = np.broadcast_to(v.astype(np.float32)[:, None], (h, w))
    interp = cv2.INTER_NEAREST if kind == "mask" else cv2.INTER_LINEAR
    out = cv2.remap(np.ascontiguousarray(work), np.ascontiguousarray(map_x), np.ascontiguousarray(map_y),
                    interp, borderMode=cv2.BORDER_REPLICATE)
    return out > 0.5 if kind == "mask" else out.astype(np.float32)
