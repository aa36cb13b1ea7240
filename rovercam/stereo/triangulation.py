"""Triangulation of a rectified pair's disparity through its CAHV models; range and its sigma.

In the rectified geometry both models share A, H and V (:func:`rovercam.camera.rectify_pair`).
The left ray through pixel ``(x, y)`` is ``P = C_L + z r(x, y)`` with ``r`` the CAHV ray
scaled to ``r.A = 1`` (so z is the depth along A). With ``b = C_R - C_L`` the right model sees
P at ``x_R = (z x - b.H) / (z - b.A)`` on the same row, so the two rays meet exactly at::

    z = (b.H - x_R b.A) / d,   d = x - x_R

(``b.A = 0`` for rectify_pair's models; the formula keeps it for models built elsewhere).
This is the rays' closest point, not a pinhole approximation of the original cameras: the
rectified models are exact descriptions of the resampled images. Conventions: docs/stereo.md.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from rovercam.camera import CAHV
from rovercam.errors import StereoError

__all__ = ["triangulate", "range_image", "range_uncertainty", "check_rectified"]

#: Rows per block: 256 rows of 5120 px keep the float64 temporaries at ~10 MB each.
_BLOCK_ROWS = 256
#: Rectified models' A, H and V must agree this closely (relative); b must lie along H.
_RECTIFIED_TOL = 1e-9
_BASELINE_TOL = 1e-6


def check_rectified(left_model: CAHV, right_model: CAHV) -> float:
    """Check a rectified pair and return ``b.H`` (baseline times focal length, metre-pixels).

    Raises
    ------
    rovercam.errors.StereoError
        Models that are not CAHV, differ in A, H or V, have a baseline off the rows
        (``b.V`` or ``b.A`` not 0, so rows would not be epipolar lines), or ``b.H <= 0`` (the right eye is not to
        the right: swap the eyes).
    """
    if not (isinstance(left_model, CAHV) and isinstance(right_model, CAHV)):
        raise StereoError("triangulation needs the rectified (CAHV) models of both eyes")
    for name in ("a", "h", "v"):
        lv, rv = getattr(left_model, name), getattr(right_model, name)
        if not np.allclose(lv, rv, rtol=_RECTIFIED_TOL, atol=_RECTIFIED_TOL * np.abs(lv).max()):
            raise StereoError(f"the models differ in {name.upper()}: not a rectified pair")
    b = right_model.c - left_model.c
    b_h = float(b @ left_model.h)
    # rows are epipolar lines only when y_R = (z y - b.V) / (z - b.A) equals y for every depth
    off_row = max(abs(float(b @ left_model.v)), abs(float(b @ left_model.a)) * np.linalg.norm(left_model.v))
    if off_row > _BASELINE_TOL * abs(b_h):
        raise StereoError("the baseline is not along the rows (b.V or b.A is not 0): "
                          "not a rectified pair")
    if not b_h > 0:
        raise StereoError("the right eye's centre is not to the right of the left's (b.H <= 0): "
                          "swap the eyes")
    return b_h


def _ray_basis(model: CAHV) -> tuple[NDArray, NDArray, NDArray]:
    """r0, rx, ry with ``r(x, y) = r0 + x rx + y ry`` and ``r.A = 1`` (cahv_rays' algebra)."""
    a, h, v = model.a, model.h, model.v
    vxh = np.cross(v, h)
    k = float(a @ vxh)
    return vxh / k, -np.cross(v, a) / k, -np.cross(a, h) / k


def _blocks(height: int):
    for y0 in range(0, height, _BLOCK_ROWS):
        yield y0, min(height, y0 + _BLOCK_ROWS)


def _depth(d: NDArray, xs: NDArray, b_h: float, b_a: float) -> NDArray:
    """Depth along A of the rays' meeting point, metres (NaN where d is NaN or <= 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (b_h - (xs - d) * b_a) / d
    return np.where(d > 0, z, np.nan)


def triangulate(
    disparity: NDArray[np.float32], left_model: CAHV, right_model: CAHV
) -> NDArray[np.float32]:
    """XYZ of every pixel with a disparity, in the models' frame.

    Parameters
    ----------
    disparity : (H, W) float32 array
        Pixels on the left model's grid; the right eye sees ``(x, y)`` at ``(x - d, y)``.
        NaN (or d <= 0, a point at or beyond infinity) gives NaN.
    left_model, right_model : CAHV
        The rectified models (:func:`rovercam.camera.rectify_pair`), in one frame.

    Returns
    -------
    (H, W, 3) float32 array
        Metres in the models' frame (e.g. ROVER_NAV_FRAME: +x forward, +y right, +z down);
        NaN where invalid. Computed in float64.

    Raises
    ------
    rovercam.errors.StereoError
        Not a rectified pair (:func:`check_rectified`).
    """
    b_h = check_rectified(left_model, right_model)
    b_a = float((right_model.c - left_model.c) @ left_model.a)
    disparity = np.asarray(disparity)
    h, w = disparity.shape
    r0, rx, ry = _ray_basis(left_model)
    xs = np.arange(w, dtype=np.float64)[None, :]
    xyz = np.empty((h, w, 3), np.float32)
    for y0, y1 in _blocks(h):
        ys = np.arange(y0, y1, dtype=np.float64)[:, None]
        z = _depth(disparity[y0:y1].astype(np.float64), xs, b_h, b_a)
        for i in range(3):
            xyz[y0:y1, :, i] = left_model.c[i] + z * (r0[i] + xs * rx[i] + ys * ry[i])
    return xyz


def range_image(xyz: NDArray[np.float32], left_model: CAHV) -> NDArray[np.float32]:
    """Distance of every point from the left camera centre ``left_model.c``.

    Parameters
    ----------
    xyz : (H, W, 3) float32 array
        Metres, in the model's frame; NaN = invalid.
    left_model : CameraModel
        Its C is the origin of the range (MIPL's RNG convention, docs/stereo.md).

    Returns
    -------
    (H, W) float32 array
        Metres; NaN where ``xyz`` is.
    """
    h = xyz.shape[0]
    out = np.empty(xyz.shape[:2], np.float32)
    for y0, y1 in _blocks(h):
        out[y0:y1] = np.linalg.norm(xyz[y0:y1].astype(np.float64) - left_model.c, axis=2)
    return out


def range_uncertainty(
    disparity: NDArray[np.float32],
    left_model: CAHV,
    right_model: CAHV,
    *,
    sigma_px: float,
) -> NDArray[np.float32]:
    """One-sigma range error from a disparity error of ``sigma_px`` pixels.

    Parameters
    ----------
    disparity : (H, W) float32 array
        Pixels; NaN = invalid.
    left_model, right_model : CAHV
        The rectified models.
    sigma_px : float, keyword-only
        One-sigma disparity error, pixels (``[stereo] disparity_sigma_px``; docs/stereo.md
        says where its default comes from).

    Returns
    -------
    (H, W) float32 array
        Metres: ``|d range / d d| sigma_px`` at each pixel's disparity, first order. With
        ``b.A = 0`` this is ``range^2 sigma_px / (b.H |r|)``: it grows with the square of
        the range. NaN where the disparity is.
    """
    if not sigma_px > 0:
        raise StereoError(f"sigma_px must be positive, got {sigma_px!r}")
    b_h = check_rectified(left_model, right_model)
    b_a = float((right_model.c - left_model.c) @ left_model.a)
    h, w = disparity.shape
    r0, rx, ry = _ray_basis(left_model)
    xs = np.arange(w, dtype=np.float64)[None, :]
    out = np.empty((h, w), np.float32)
    for y0, y1 in _blocks(h):
        ys = np.arange(y0, y1, dtype=np.float64)[:, None]
        norm_r = np.sqrt(sum((r0[i] + xs * rx[i] + ys * ry[i]) ** 2 for i in range(3)))
        d = disparity[y0:y1].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            dz_dd = (b_h - xs * b_a) / (d * d)  # |d z / d d| of z = (b.H - (x - d) b.A) / d
        out[y0:y1] = np.where(d > 0, norm_r * dz_dd * sigma_px, np.nan)
    return out
