"""Colour difference: CIE L*a*b* and the CIEDE2000 colour-difference formula.

Used to measure the frame chain's colour fidelity against the synthetic generator's truth
(mean Delta E 2000 over a frame). Formulas:

- XYZ -> L*a*b*: CIE 15:2004 (``f(t) = t^(1/3)`` above ``(6/29)^3``, linear below), relative to a
  reference white (D65 for sRGB: the XYZ of linear sRGB (1, 1, 1)).
- CIEDE2000: G. Sharma, W. Wu, E. N. Dalal (2005), "The CIEDE2000 color-difference formula:
  implementation notes, supplementary test data, and mathematical observations", Color Research
  and Application 30(1), 21-30, equations (1)-(22), with k_L = k_C = k_H = 1.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.radiometry.color import XYZ_FROM_SRGB

__all__ = ["lab_from_xyz", "lab_from_linear_srgb", "delta_e_2000"]

_EPSILON = (6.0 / 29.0) ** 3
_KAPPA = (29.0 / 6.0) ** 2 / 3.0  # slope of the linear segment of f(t)


def lab_from_xyz(xyz: ArrayLike, white_xyz: ArrayLike) -> NDArray[np.float64]:
    """CIE 1976 L*a*b* from XYZ.

    Parameters
    ----------
    xyz : (..., 3) array_like
        Tristimulus values, the same scale as ``white_xyz``.
    white_xyz : (3,) array_like
        Reference white (``Y_n`` usually 1 or 100).

    Returns
    -------
    (..., 3) ndarray of float64
        L* in 0..100 for 0 <= Y <= Y_n, a*, b*. NaN propagates.
    """
    t = np.asarray(xyz, dtype=np.float64) / np.asarray(white_xyz, dtype=np.float64)
    f = np.where(t > _EPSILON, np.cbrt(t), _KAPPA * t + 4.0 / 29.0)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def lab_from_linear_srgb(rgb: ArrayLike, *, white: float = 1.0) -> NDArray[np.float64]:
    """L*a*b* (D65 white) of linear sRGB values.

    Parameters
    ----------
    rgb : (..., 3) array_like
        Linear sRGB components (e.g. radiance on sRGB primaries).
    white : float, keyword-only
        The value of each component that is reference white (for radiance, the radiance shown
        as display white; ``CameraSettings.display_white_radiance``).

    Returns
    -------
    (..., 3) ndarray of float64
    """
    rgb = np.asarray(rgb, dtype=np.float64) / float(white)
    xyz = rgb @ XYZ_FROM_SRGB.T
    return lab_from_xyz(xyz, XYZ_FROM_SRGB.sum(axis=1))


def delta_e_2000(lab1: ArrayLike, lab2: ArrayLike) -> NDArray[np.float64]:
    """CIEDE2000 colour difference (Sharma, Wu & Dalal 2005), k_L = k_C = k_H = 1.

    Parameters
    ----------
    lab1, lab2 : (..., 3) array_like
        CIE L*a*b* colours; broadcast against each other.

    Returns
    -------
    (...) ndarray of float64
        Delta E 00, symmetric in its arguments. NaN where either colour is NaN.

    Examples
    --------
    >>> round(float(delta_e_2000([50.0, 2.6772, -79.7751], [50.0, 0.0, -82.7485])), 4)
    2.0425
    """
    a = np.asarray(lab1, dtype=np.float64)
    b = np.asarray(lab2, dtype=np.float64)
    l1, a1, b1 = a[..., 0], a[..., 1], a[..., 2]
    l2, a2, b2 = b[..., 0], b[..., 1], b[..., 2]
    # (2)-(7): a' rescaled by G, chroma and hue (degrees in [0, 360), 0 for a neutral colour)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2.0
    c7 = c_bar**7
    g = 0.5 * (1.0 - np.sqrt(c7 / (c7 + 25.0**7)))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0
    neutral = (c1p * c2p) == 0
    # (8)-(10): differences
    dlp = l2 - l1
    dcp = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dh = np.where(neutral, 0.0, dh)
    dhp = 2.0 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2.0)
    # (12)-(14): means; the mean hue goes the short way round the circle
    lbp = (l1 + l2) / 2.0
    cbp = (c1p + c2p) / 2.0
    hsum = h1p + h2p
    far = np.abs(h1p - h2p) > 180.0
    hbp = np.where(far, np.where(hsum < 360.0, (hsum + 360.0) / 2.0, (hsum - 360.0) / 2.0), hsum / 2.0)
    hbp = np.where(neutral, hsum, hbp)
    # (15)-(22): weighting functions and the rotation term
    t = (1.0 - 0.17 * np.cos(np.radians(hbp - 30.0)) + 0.24 * np.cos(np.radians(2.0 * hbp))
         + 0.32 * np.cos(np.radians(3.0 * hbp + 6.0)) - 0.20 * np.cos(np.radians(4.0 * hbp - 63.0)))
    d_theta = 30.0 * np.exp(-(((hbp - 275.0) / 25.0) ** 2))
    cbp7 = cbp**7
    r_c = 2.0 * np.sqrt(cbp7 / (cbp7 + 25.0**7))
    s_l = 1.0 + 0.015 * (lbp - 50.0) ** 2 / np.sqrt(20.0 + (lbp - 50.0) ** 2)
    s_c = 1.0 + 0.045 * cbp
    s_h = 1.0 + 0.015 * cbp * t
    r_t = -np.sin(np.radians(2.0 * d_theta)) * r_c
    tl, tc, th = dlp / s_l, dcp / s_c, dhp / s_h
    return np.sqrt(tl * tl + tc * tc + th * th + r_t * tc * th)
