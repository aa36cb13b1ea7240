"""Surface normals of an XYZ image by local plane fits (MIPL's UVW product, docs/stereo.md).

Seen through a pinhole (the rectified CAHV left model), a plane ``n . (P - C) = k`` is a plane
in inverse depth too: with the CAHV ray ``r(x, y) = r0 + x rx + y ry`` scaled to ``r.A = 1``
and ``P = C + z r``, ``1 / z = n . r(x, y) / k`` is linear in the pixel. So each pixel's plane
is a least-squares fit ``q = a (x - xc) + b (y - yc) + c`` of the inverse depth
``q = 1 / ((P - C) . A)`` over the valid pixels of a square window, and its normal is
``n ~ a (ry x rc) + b (rc x rx) + c (rx x ry)`` (the rows of the inverse of
``[rx; ry; rc]``, ``rc = r(xc, yc)``). The window sums are separable filters (a box and
ramps), exact in float32 (no large-coordinate cancellation), so the cost does not grow with
the window; fitting in inverse depth, which is proportional to disparity, weighs the points
along the direction of their stereo error.
"""
from __future__ import annotations


import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.camera import CAHV
from rovercam.errors import StereoError
from rovercam.stereo.strips import for_each_strip

__all__ = ["surface_normals"]

#: A fit is refused when its normal equations are this close to singular (relative).
_MIN_CONDITION = 1e-6


def surface_normals(
    xyz: NDArray[np.float32],
    left_model: CAHV,
    *,
    window: int = 15,
    min_fraction: float = 0.5,
) -> NDArray[np.float32]:
    """Unit surface normals from plane fits over square windows of an XYZ image.

    Parameters
    ----------
    xyz : (H, W, 3) float32 array
        Metres, in the model's frame, on ``left_model``'s pixel grid; NaN = invalid.
    left_model : CAHV
        The (rectified) pinhole model whose pixels ``xyz`` holds; normals are turned toward
        its centre C.
    window : int, keyword-only
        Odd window side, pixels.
    min_fraction : float, keyword-only
        A normal needs at least this fraction of the window's pixels valid (and its own).

    Returns
    -------
    (H, W, 3) float32 array
        Unit vectors in the frame of ``xyz``, ``n . (C - P) > 0``; NaN where the pixel is
        invalid, the window too empty, or the fit degenerate.

    Raises
    ------
    rovercam.errors.StereoError
        A window that is not odd and >= 3, ``xyz`` not (H, W, 3), or a model that is not CAHV.
    """
    if window < 3 or window % 2 != 1:
        raise StereoError(f"window must be odd and >= 3, got {window!r}")
    if xyz.ndim != 3 or xyz.shape[2] != 3:
        raise StereoError(f"xyz must be (H, W, 3), got {xyz.shape}")
    if not isinstance(left_model, CAHV):
        raise StereoError("surface normals need the rectified (CAHV) left model")
    h = xyz.shape[0]
    out = np.empty(xyz.shape, np.float32)
    halo = window // 2

    def run(y0: int, y1: int) -> None:  # rows y0:y1, fitted with the window's halo around them
        a, b = max(0, y0 - halo), min(h, y1 + halo)
        with np.errstate(divide="ignore", invalid="ignore"):  # empty windows: NaN, rejected
            n = _strip_normals(xyz[a:b], a, left_model, window, min_fraction)
        out[y0:y1] = n[y0 - a:y1 - a]

    for_each_strip(h, run)
    return out


def _ray_basis(model: CAHV) -> tuple[NDArray, NDArray, NDArray]:
    """r0, rx, ry with ``r(x, y) = r0 + x rx + y ry`` and ``r.A = 1``."""
    a, h, v = model.a, model.h, model.v
    vxh = np.cross(v, h)
    k = float(a @ vxh)
    return vxh / k, -np.cross(v, a) / k, -np.cross(a, h) / k


def _strip_normals(xyz, y0: int, model: CAHV, k: int, min_fraction: float) -> NDArray[np.float32]:
    rows, w = xyz.shape[:2]
    c0, a0 = model.c.astype(np.float32), model.a.astype(np.float32)
    depth = ((xyz[:, :, 0] - c0[0]) * a0[0] + (xyz[:, :, 1] - c0[1]) * a0[1]
             + (xyz[:, :, 2] - c0[2]) * a0[2])
    ok = depth > 0  # False for NaN
    q = np.where(ok, np.float32(1.0) / depth, np.float32(0.0))
    wgt = ok.astype(np.float32)
    half = k // 2
    ones = np.ones(k, np.float32)
    ramp = np.arange(-half, half + 1, dtype=np.float32)
    ramp2 = ramp * ramp

    def filt(img, kx, ky):
        return cv2.sepFilter2D(img, cv2.CV_32F, kx, ky, borderType=cv2.BORDER_CONSTANT)

    w0, wx, wy = filt(wgt, ones, ones), filt(wgt, ramp, ones), filt(wgt, ones, ramp)
    wxx, wyy, wxy = filt(wgt, ramp2, ones), filt(wgt, ones, ramp2), filt(wgt, ramp, ramp)
    q0, qx, qy = filt(q, ones, ones), filt(q, ramp, ones), filt(q, ones, ramp)
    # solve [[wxx wxy wx] [wxy wyy wy] [wx wy w0]] (a, b, c) = (qx, qy, q0) by cofactors
    c11 = wyy * w0 - wy * wy
    c12 = wy * wx - wxy * w0
    c13 = wxy * wy - wyy * wx
    c22 = wxx * w0 - wx * wx
    c23 = wxy * wx - wxx * wy
    c33 = wxx * wyy - wxy * wxy
    det = wxx * c11 + wxy * c12 + wx * c13
    inv = 1.0 / det
    a = (c11 * qx + c12 * qy + c13 * q0) * inv
    b = (c12 * qx + c22 * qy + c23 * q0) * inv
    c = (c13 * qx + c23 * qy + c33 * q0) * inv
    scale = wxx * wyy * w0  # det of a full window's diagonal system: the condition's yardstick
    r0, rx, ry = _ray_basis(model)
    # n . rc = c (rx x ry) . r0: one sign for the whole image (c, the inverse depth, is > 0)
    facing = -np.sign(float(np.cross(rx, ry) @ r0))
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(y0, y0 + rows, dtype=np.float32)[:, None]
    # n ~ a (ry x rc) + b (rc x rx) + c (rx x ry), rc = r0 + x rx + y ry, so
    # ry x rc = ry x r0 + x (ry x rx) and rc x rx = r0 x rx + y (ry x rx)
    ry_r0, ry_rx, r0_rx, rx_ry = (np.cross(u, v).astype(np.float32) for u, v in
                                  ((ry, r0), (ry, rx), (r0, rx), (rx, ry)))
    normal = np.empty((rows, w, 3), np.float32)
    for i in range(3):
        normal[:, :, i] = a * (ry_r0[i] + xs * ry_rx[i]) + b * (r0_rx[i] + ys * ry_rx[i]) + c * rx_ry[i]
    length = np.sqrt(np.einsum("ijk,ijk->ij", normal, normal))
    normal *= (np.float32(facing) / length)[:, :, None]
    good = ok & (w0 >= min_fraction * k * k) & (np.abs(det) > _MIN_CONDITION * scale)
    good &= np.isfinite(normal).all(axis=2)
    normal[~good] = np.nan
    return normal
