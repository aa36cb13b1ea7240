"""Responsivity at the instrument state, and the Sun-Mars distance for I/F.

MIPL's radiance equation (docs/calibration.md#radiance) divides DN by an inverse responsivity that
depends on the detector temperature and, for Mastcam-Z, multiplies by ``(f#/f#_ref)^2`` for the
zoom's f-number. rovercam configures a *responsivity* ``k`` (DN s^-1 per W m^-2 sr^-1 nm^-1) at a
reference state and scales it here:

``k(T, f#) = k_ref * (1 + b1 (T - T_ref) + b2 (T - T_ref)^2) * (f#_ref / f#)^2``

The temperature factor is MIPL's Mastcam-Z form ``K = r0 / (1 + beta (T - T_ref))`` inverted
(``b1 = beta``, ``b2 = 0``), with a quadratic term for cameras calibrated that way. A smaller
aperture (larger f-number) collects ``(f#_ref/f#)^2`` of the light.
"""
from __future__ import annotations

import datetime as _dt
import math
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.errors import CalibrationError

__all__ = ["responsivity_at", "f_number_at", "mars_sun_distance_au"]


def responsivity_at(
    responsivity_ref: ArrayLike,
    *,
    temperature_c: float | None = None,
    temperature_ref_c: float | None = None,
    temperature_coefficients: tuple[float, float] = (0.0, 0.0),
    f_number: float | None = None,
    f_number_ref: float | None = None,
) -> NDArray[np.float64]:
    """Responsivity per band at a temperature and f-number.

    Parameters
    ----------
    responsivity_ref : (B,) array_like
        DN s^-1 per W m^-2 sr^-1 nm^-1 at ``temperature_ref_c`` and ``f_number_ref``.
    temperature_c : float or None, keyword-only
        Detector temperature, degrees C (INSTRUMENT_TEMPERATURE). None: no temperature term.
    temperature_ref_c : float or None, keyword-only
        Temperature of the calibration; None disables the term.
    temperature_coefficients : (b1, b2), keyword-only
        Fractional change per degree C and per degree C squared.
    f_number, f_number_ref : float or None, keyword-only
        The product's f-number and the calibration's; the term applies when both are given.

    Returns
    -------
    (B,) ndarray of float64

    Raises
    ------
    CalibrationError
        A non-positive result (a temperature far outside the calibrated range) or f-number.

    Examples
    --------
    >>> responsivity_at([100.0], f_number=8.0, f_number_ref=4.0).tolist()
    [25.0]
    """
    k = np.asarray(responsivity_ref, dtype=np.float64).copy()
    if temperature_c is not None and temperature_ref_c is not None:
        dt = float(temperature_c) - float(temperature_ref_c)
        b1, b2 = temperature_coefficients
        factor = 1.0 + b1 * dt + b2 * dt * dt
        if not factor > 0:
            raise CalibrationError(
                "responsivity", f"temperature factor {factor:g} at {temperature_c} C is not positive"
            )
        k *= factor
    if f_number is not None and f_number_ref is not None:
        if not (f_number > 0 and f_number_ref > 0):
            raise CalibrationError("responsivity", f"f-numbers must be positive, got {f_number}, {f_number_ref}")
        k *= (float(f_number_ref) / float(f_number)) ** 2
    return k


def f_number_at(focal_length_mm: float, table: Sequence[tuple[float, float]]) -> float:
    """The f-number at a focal length, interpolated linearly in a (focal mm, f#) table.

    Parameters
    ----------
    focal_length_mm : float
        The product's focal length (label FOCAL_LENGTH; Mastcam-Z 26-110 mm).
    table : sequence of (focal_length_mm, f_number)
        Calibration points, any order; outside the table the end values hold.

    Returns
    -------
    float

    Raises
    ------
    CalibrationError
        An empty table.

    Examples
    --------
    >>> f_number_at(68.0, [(26.0, 6.7), (110.0, 9.5)])
    8.1
    """
    if not table:
        raise CalibrationError("f_number_table", "empty f-number table")
    pts = np.asarray(sorted(table), dtype=np.float64)
    return round(float(np.interp(float(focal_length_mm), pts[:, 0], pts[:, 1])), 12)


# Allison & McEwen (2000), Planet. Space Sci. 48, 215 (the Mars24 algorithm), steps A-B:
# mean anomaly M = 19.3871 + 0.52402073 dt (deg, dt = days from J2000 TT) and the heliocentric
# distance r = 1.52367934 (1.00436 - 0.09309 cos M - 0.004336 cos 2M - 0.00031 cos 3M
# - 0.00003 cos 4M) AU.
_J2000 = _dt.datetime(2000, 1, 1, 12, 0, 0, tzinfo=_dt.timezone.utc)
_TT_MINUS_UTC_S = 69.184  # 37 leap seconds (since 2017) + 32.184 s; earlier dates are off < 6 s


def mars_sun_distance_au(when: _dt.datetime) -> float:
    """Sun-Mars distance at a UTC time (Allison & McEwen 2000), astronomical units.

    Parameters
    ----------
    when : datetime
        UTC; a naive datetime is taken as UTC.

    Returns
    -------
    float
        Between 1.381 AU (perihelion) and 1.666 AU (aphelion); accurate to ~1e-4 AU, far below
        what I/F needs (the d^2 term then errs < 0.02 %).

    Examples
    --------
    >>> round(mars_sun_distance_au(_dt.datetime(2000, 1, 6)), 4)
    1.3936
    """
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    days = (when - _J2000).total_seconds() / 86400.0 + _TT_MINUS_UTC_S / 86400.0
    m = math.radians(19.3871 + 0.52402073 * days)
    return 1.52367934 * (
        1.00436 - 0.09309 * math.cos(m) - 0.004336 * math.cos(2 * m)
        - 0.00031 * math.cos(3 * m) - 0.00003 * math.cos(4 * m)
    )
