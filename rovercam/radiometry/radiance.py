"""Radiance from DN: exposure and responsivity, zenith scaling, I/F (docs/calibration.md#radiance).

Units: radiance L in W m^-2 sr^-1 nm^-1; responsivity k in DN s^-1 per (W m^-2 sr^-1 nm^-1),
per band; so ``L = DN / (t * k)`` for bias-subtracted, flat-fielded DN and exposure ``t`` in s.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.errors import CalibrationError
from rovercam.radiometry.dtypes import as_working

__all__ = ["to_radiance", "zenith_scaling", "to_iof"]


def _per_band(
    values: float | ArrayLike, image: NDArray[np.float32], what: str
) -> NDArray[np.float64]:
    """A scalar or one value per band, validated positive and finite, shaped to broadcast."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim > 1:
        raise CalibrationError(
            what, f"expected a scalar or one value per band, got shape {v.shape}"
        )
    if v.ndim == 1:
        bands = image.shape[2] if image.ndim == 3 else 1
        if v.shape[0] != bands:
            raise CalibrationError(what, f"{v.shape[0]} values for an image with {bands} band(s)")
        if image.ndim == 2:
            v = v[0]
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise CalibrationError(what, f"must be positive and finite, got {v.tolist()}")
    return v


def _is_positive_number(value: object) -> bool:
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return real and math.isfinite(value) and value > 0  # type: ignore[arg-type]


def to_radiance(
    dn_above_bias: ArrayLike,
    *,
    exposure_s: float,
    responsivity: float | ArrayLike,
) -> NDArray[np.float32]:
    """Convert bias-subtracted (and flat-fielded) DN to spectral radiance.

    Parameters
    ----------
    dn_above_bias : (H, W) or (H, W, B) array_like
        DN above the bias, after the flat.
    exposure_s : float, keyword-only
        Exposure time in seconds (EXPOSURE_DURATION converted from ms), plus any overhead term.
    responsivity : float or (B,) array_like, keyword-only
        DN s^-1 per (W m^-2 sr^-1 nm^-1), one per band (R, G, B for a debayered frame) or one for
        all. Temperature and f-number terms are folded in by the caller.

    Returns
    -------
    ndarray of float32, shape of the input
        L = DN / (exposure_s * responsivity), W m^-2 sr^-1 nm^-1. NaN stays NaN.

    Raises
    ------
    CalibrationError
        exposure_s not positive and finite (MIPL writes 0 for zero exposure; rovercam refuses),
        or a responsivity that is not positive, finite and one per band.

    Examples
    --------
    >>> to_radiance(np.float32([[200.0]]), exposure_s=0.5, responsivity=4000.0)
    array([[0.1]], dtype=float32)
    """
    if not _is_positive_number(exposure_s):
        raise CalibrationError(
            "exposure", f"exposure_s must be a positive, finite number of seconds, got {exposure_s!r}"
        )
    work = as_working(dn_above_bias)
    k = _per_band(responsivity, work, "responsivity")
    scale = (1.0 / (float(exposure_s) * k)).astype(np.float32)
    return np.multiply(work, scale, dtype=np.float32)


def zenith_scaling(
    solar_elevation_deg: float,
    *,
    tau: float = 0.6,
    tau_ref: float = 0.3,
    min_elevation_deg: float = 5.0,
) -> float:
    """MIPL's zenith scaling factor Z for "scaled spectral radiance" (RAS products).

    ``Z = mu * exp(-(tau - tau_ref) / (6 mu))`` with ``mu = sin(elevation)``, the elevation
    clamped to at least ``min_elevation_deg`` (docs/calibration.md#radiance). Divide radiance by Z.

    Parameters
    ----------
    solar_elevation_deg : float
        Sun elevation above the local horizon, degrees.
    tau, tau_ref : float, keyword-only
        Atmospheric optical depth and its reference (MIPL defaults 0.6 and 0.3).
    min_elevation_deg : float, keyword-only
        Clamp, degrees.

    Returns
    -------
    float
        Z, unitless.

    Examples
    --------
    >>> round(zenith_scaling(90.0, tau=0.3), 6)
    1.0
    """
    mu = math.sin(math.radians(max(float(solar_elevation_deg), float(min_elevation_deg))))
    return mu * math.exp(-(tau - tau_ref) / (6.0 * mu))


def to_iof(
    radiance: ArrayLike, *, solar_irradiance: float | ArrayLike, distance_au: float
) -> NDArray[np.float32]:
    """Radiance to I/F (radiance factor): ``I/F = pi L d^2 / F_sun``.

    Parameters
    ----------
    radiance : (H, W) or (H, W, B) array_like
        W m^-2 sr^-1 nm^-1.
    solar_irradiance : float or (B,) array_like, keyword-only
        Band solar irradiance at 1 AU, W m^-2 nm^-1.
    distance_au : float, keyword-only
        Sun-Mars distance, AU.

    Returns
    -------
    ndarray of float32
        Unitless I/F.
    """
    if not _is_positive_number(distance_au):
        raise CalibrationError("iof", f"distance_au must be positive, got {distance_au!r}")
    work = as_working(radiance)
    f_sun = _per_band(solar_irradiance, work, "solar_irradiance")
    scale = (math.pi * distance_au**2 / f_sun).astype(np.float32)
    return np.multiply(work, scale, dtype=np.float32)
