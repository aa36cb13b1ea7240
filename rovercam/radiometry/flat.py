"""Flat fields: files, division, and the onboard radial flat.

Flats are 32-bit float TIFFs, one band ``(H, W)`` or three ``(H, W, 3)`` in R, G, B order
(stored as a normal RGB TIFF; OpenCV's BGR order is undone here). Dividing by a flat leaves NaN
(the mosaic's no-data) where the flat is too small to trust.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.errors import CalibrationError
from rovercam.radiometry.dtypes import as_working

__all__ = ["load_flat", "write_flat", "apply_flat", "radial_flat"]

_TIFF_SUFFIXES = (".tif", ".tiff")


def _check_flat_shape(flat: NDArray[np.float32], where: str) -> None:
    if flat.ndim == 2 or (flat.ndim == 3 and flat.shape[2] == 3):
        return
    raise CalibrationError(where, f"a flat is (H, W) or (H, W, 3), got shape {flat.shape}")


def load_flat(path: str | os.PathLike[str]) -> NDArray[np.float32]:
    """Read a flat field from a float TIFF.

    Parameters
    ----------
    path : path-like
        One-band or three-band (R, G, B) TIFF, float32 (other numeric types are converted by
        value).

    Returns
    -------
    (H, W) or (H, W, 3) ndarray of float32
        Unitless gain relative to the flat's normalisation (usually mean 1).

    Raises
    ------
    CalibrationError
        Missing or unreadable file, or a band count other than 1 or 3.
    """
    p = Path(path)
    if not p.is_file():
        raise CalibrationError(str(p), "flat field file not found")
    img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise CalibrationError(str(p), "not a readable image (expected a float32 TIFF)")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 3 and img.shape[2] == 3:
        img = img[..., ::-1]  # OpenCV returns B, G, R
    flat = np.ascontiguousarray(as_working(img))
    _check_flat_shape(flat, str(p))
    return flat


def write_flat(path: str | os.PathLike[str], flat: ArrayLike) -> Path:
    """Write a flat field as a 32-bit float TIFF (atomically: temporary file, then rename).

    Parameters
    ----------
    path : path-like
        Destination, ending in ``.tif`` or ``.tiff``; its folder must exist.
    flat : (H, W) or (H, W, 3) array_like
        Gains; three bands are R, G, B.

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    CalibrationError
        Wrong shape or suffix, or OpenCV failed to write.
    """
    p = Path(path)
    if p.suffix.lower() not in _TIFF_SUFFIXES:
        raise CalibrationError(str(p), "a flat field is written as .tif/.tiff")
    f = as_working(flat)
    _check_flat_shape(f, str(p))
    if f.ndim == 3:
        f = f[..., ::-1]  # OpenCV writes B, G, R as R, G, B
    fd, tmp = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=p.suffix, dir=p.parent)
    os.close(fd)
    try:
        if not cv2.imwrite(tmp, np.ascontiguousarray(f)):
            raise CalibrationError(str(p), "OpenCV could not write the flat TIFF")
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def apply_flat(
    image: ArrayLike, flat: ArrayLike, *, min_flat: float = 0.05
) -> NDArray[np.float32]:
    """Divide an image by a flat field.

    Parameters
    ----------
    image : (H, W) or (H, W, B) array_like
        Bias-subtracted signal (DN or DN/s).
    flat : (H, W) or (H, W, B) array_like
        Gains; an ``(H, W)`` flat applies to every band.
    min_flat : float, keyword-only
        Gains below this (and non-finite gains) mark untrustworthy pixels: dead, vignetted to
        nothing, or masked in the flat.

    Returns
    -------
    ndarray of float32, shape of ``image``
        ``image / flat``, NaN where the flat is below ``min_flat`` or not finite. NaN is the
        no-data value the mosaic skips (MIPL writes 0 instead, docs/calibration.md#flat-fields).

    Raises
    ------
    CalibrationError
        Shapes that do not match, or ``min_flat`` not positive.
    """
    if not min_flat > 0:
        raise CalibrationError("flat", f"min_flat must be > 0, got {min_flat!r}")
    work = as_working(image)
    f = as_working(flat)
    if f.ndim == 2 and work.ndim == 3:
        f = f[..., np.newaxis]
    if f.shape[:2] != work.shape[:2] or f.ndim != work.ndim or (
        f.ndim == 3 and f.shape[2] not in (1, work.shape[2])
    ):
        raise CalibrationError("flat", f"flat {np.shape(flat)} does not fit image {work.shape}")
    with np.errstate(invalid="ignore"):
        good = f >= np.float32(min_flat)  # False for NaN
    safe = np.where(good, f, np.float32(np.nan))
    return np.divide(work, safe, dtype=np.float32)


def radial_flat(
    shape: tuple[int, int],
    parameters: tuple[float, float, float, float, float],
    *,
    origin: tuple[float, float] = (0.0, 0.0),
    scale: tuple[float, float] = (1.0, 1.0),
) -> NDArray[np.float32]:
    """The onboard radial flat ``s = 1 + a r^2 + b r^4 + c r^6`` (docs/calibration.md#flat-fields).

    Cameras that flat-field onboard (FLAT_FIELD_CORRECTION_FLAG = TRUE) label the polynomial in
    FLAT_FIELD_CORRECTION_PARM = (x0, y0, a, b, c). Dividing the image by this surface
    (:func:`apply_flat`) undoes the onboard correction, as MIPL's ``s_ob`` term does.

    Parameters
    ----------
    shape : (int, int)
        ``(lines, samples)`` of the product.
    parameters : (x0, y0, a, b, c)
        Centre (pixels) and coefficients, as labelled.
    origin : (x, y), keyword-only
        Detector coordinate of product pixel (0, 0), so that ``x = origin_x + scale_x * sample``.
        Whether labels give x0, y0 in product or detector pixels is unverified
        (docs/calibration.md#flat-fields); the default treats them as product pixels.
    scale : (sx, sy), keyword-only
        Detector pixels per product pixel (downsampling).

    Returns
    -------
    (H, W) ndarray of float32
        The surface ``s``; 1 everywhere when a = b = c = 0.
    """
    nl, ns = shape
    x0, y0, a, b, c = (float(v) for v in parameters)
    x = origin[0] + scale[0] * np.arange(ns, dtype=np.float64) - x0
    y = origin[1] + scale[1] * np.arange(nl, dtype=np.float64) - y0
    r2 = y[:, np.newaxis] ** 2 + x[np.newaxis, :] ** 2
    s = 1.0 + r2 * (a + r2 * (b + r2 * c))
    return s.astype(np.float32)
