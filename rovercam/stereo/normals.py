"""Surface normals of an XYZ image by local plane fits (MIPL's UVW product, docs/stereo.md).

Each pixel's normal is the direction of least spread of the valid points in the window around
it: the eigenvector of the window's 3x3 covariance with the smallest eigenvalue (a total least
squares plane). The covariance comes from box-filtered sums of the coordinates and their
products, so the cost does not grow with the window; the eigenvector is solved in closed form
(the trigonometric solution of the characteristic cubic; Smith 1961) for all pixels at once.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.camera import CameraModel
from rovercam.errors import StereoError

__all__ = ["surface_normals"]

#: Rows per strip (plus the window's halo); float64 temporaries of ~10 MB at 5120 px wide.
_STRIP_ROWS = 256


def surface_normals(
    xyz: NDArray[np.float32],
    left_model: CameraModel,
    *,
    window: int = 15,
    min_fraction: float = 0.5,
) -> NDArray[np.float32]:
    """Unit surface normals from plane fits over square windows of an XYZ image.

    Parameters
    ----------
    xyz : (H, W, 3) float32 array
        Metres, in the model's frame; NaN = invalid.
    left_model : CameraModel
        The camera that saw the points: normals are turned toward its centre C.
    window : int, keyword-only
        Odd window side, pixels.
    min_fraction : float, keyword-only
        A normal needs at least this fraction of the window's pixels valid (and its own).

    Returns
    -------
    (H, W, 3) float32 array
        Unit vectors in the frame of ``xyz``, ``n . (C - P) > 0``; NaN where the pixel is
        invalid, the window too empty, or the points collinear.

    Raises
    ------
    rovercam.errors.StereoError
        A window that is not odd and >= 3, or ``xyz`` not (H, W, 3).
    """
    if window < 3 or window % 2 != 1:
        raise StereoError(f"window must be odd and >= 3, got {window!r}")
    if xyz.ndim != 3 or xyz.shape[2] != 3:
        raise StereoError(f"xyz must be (H, W, 3), got {xyz.shape}")
    h = xyz.shape[0]
    out = np.empty(xyz.shape, np.float32)
    c = np.asarray(left_model.c, dtype=np.float64)
    halo = window // 2

    def run(y0: int) -> None:
        y1 = min(h, y0 + _STRIP_ROWS)
        a, b = max(0, y0 - halo), min(h, y1 + halo)
        n = _strip_normals(xyz[a:b], c, window, min_fraction)
        out[y0:y1] = n[y0 - a:y1 - a]

    starts = range(0, h, _STRIP_ROWS)
    workers = min(len(starts), os.cpu_count() or 1, 4)
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:  # numpy and OpenCV release the GIL
            list(pool.map(run, starts))
    else:
        for y0 in starts:
            run(y0)
    return out


def _box_mean(img: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    return cv2.boxFilter(img, -1, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT)


def _strip_normals(xyz: NDArray[np.float32], c: NDArray[np.float64], k: int,
                   min_fraction: float) -> NDArray[np.float32]:
    # camera-centred coordinates keep the moments' cancellation small (site frames are far)
    p = xyz.astype(np.float64) - c
    ok = np.isfinite(p).all(axis=2)
    p[~ok] = 0.0
    n = _box_mean(ok.astype(np.float64), k)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / n
        m = [_box_mean(np.ascontiguousarray(p[:, :, i]), k) * inv for i in range(3)]
        cov = {}
        for i, j in ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)):
            cov[i, j] = _box_mean(p[:, :, i] * p[:, :, j], k) * inv - m[i] * m[j]
    normal = _smallest_eigenvector(cov[0, 0], cov[1, 1], cov[2, 2], cov[0, 1], cov[0, 2], cov[1, 2])
    # toward the camera: n . (C - P) > 0, i.e. n . p < 0 in camera-centred coordinates
    flip = (normal * p).sum(axis=2) > 0
    normal[flip] *= -1.0
    good = ok & (n >= min_fraction * k * k) & np.isfinite(normal).all(axis=2)
    normal[~good] = np.nan
    return normal.astype(np.float32)


def _smallest_eigenvector(a11, a22, a33, a12, a13, a23) -> NDArray[np.float64]:
    """Unit eigenvector (..., 3) of the smallest eigenvalue of symmetric 3x3 matrices."""
    q = (a11 + a22 + a33) / 3.0
    p1 = a12 * a12 + a13 * a13 + a23 * a23
    b11, b22, b33 = a11 - q, a22 - q, a33 - q
    p = np.sqrt((b11 * b11 + b22 * b22 + b33 * b33 + 2.0 * p1) / 6.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        det = (b11 * (b22 * b33 - a23 * a23) - a12 * (a12 * b33 - a23 * a13)
               + a13 * (a12 * a23 - b22 * a13))
        r = np.clip(det / (2.0 * p ** 3), -1.0, 1.0)
    phi = np.arccos(r) / 3.0
    lam = q + 2.0 * p * np.cos(phi + 2.0 * np.pi / 3.0)  # the smallest of the three roots
    # rows of (M - lam I); their pairwise cross products are along the null vector
    r0 = np.stack([a11 - lam, a12, a13], axis=-1)
    r1 = np.stack([a12, a22 - lam, a23], axis=-1)
    r2 = np.stack([a13, a23, a33 - lam], axis=-1)
    cands = [np.cross(r0, r1), np.cross(r0, r2), np.cross(r1, r2)]
    norms = [np.einsum("...i,...i->...", v, v) for v in cands]
    best = np.argmax(np.stack(norms, axis=-1), axis=-1)
    vec = np.where((best == 0)[..., None], cands[0], np.where((best == 1)[..., None], cands[1], cands[2]))
    with np.errstate(divide="ignore", invalid="ignore"):
        return vec / np.sqrt(np.maximum.reduce(norms))[..., None]
