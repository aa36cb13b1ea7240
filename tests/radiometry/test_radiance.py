"""Radiance from DN, zenith scaling and I/F (docs/calibration.md#radiance)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rovercam.errors import CalibrationError
from rovercam.radiometry import to_iof, to_radiance, zenith_scaling


def test_radiance_per_band():
    # L = DN / (t k): 1200 DN in 0.2 s with k = (3000, 6000, 12000) DN/s per W m^-2 sr^-1 nm^-1
    dn = np.full((2, 2, 3), 1200, dtype=np.uint16)
    out = to_radiance(dn, exposure_s=0.2, responsivity=[3000.0, 6000.0, 12000.0])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[1, 1], [2.0, 1.0, 0.5], rtol=1e-6)  # float32 rounding


def test_radiance_single_band_and_nan():
    dn = np.array([[0.0, np.nan, -4.0]], np.float32)
    out = to_radiance(dn, exposure_s=2.0, responsivity=[4.0])
    np.testing.assert_array_equal(out, [[0.0, np.nan, -0.5]])


@pytest.mark.parametrize("exposure", [0.0, -0.1, float("nan"), float("inf"), None, "0.1"])
def test_bad_exposure_is_refused(exposure):
    with pytest.raises(CalibrationError, match="exposure_s"):
        to_radiance(np.ones((2, 2)), exposure_s=exposure, responsivity=1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("resp", [0.0, -1.0, [1.0, 2.0], [1.0, 2.0, np.inf], np.ones((3, 1))])
def test_bad_responsivity_is_refused(resp):
    with pytest.raises(CalibrationError, match="responsivity"):
        to_radiance(np.ones((2, 2, 3)), exposure_s=1.0, responsivity=resp)


def test_zenith_scaling():
    # Z = mu exp(-(tau - tau_ref) / (6 mu)), mu = sin(elevation >= 5 deg)  (MIPL; docs/calibration.md)
    assert zenith_scaling(90.0, tau=0.3, tau_ref=0.3) == pytest.approx(1.0)
    assert zenith_scaling(30.0) == pytest.approx(0.5 * math.exp(-0.1))  # mu = 0.5, tau - ref = 0.3
    assert zenith_scaling(1.0) == zenith_scaling(5.0)  # clamp


def test_iof():
    # I/F = pi L d^2 / F_sun; L = F_sun / (pi d^2) is a perfect Lambertian at normal incidence
    f_sun, d = np.array([1.6, 1.8, 2.0]), 1.5
    radiance = np.ones((1, 1, 3)) * f_sun / (math.pi * d**2)
    np.testing.assert_allclose(to_iof(radiance, solar_irradiance=f_sun, distance_au=d), 1.0, rtol=1e-6)
    with pytest.raises(CalibrationError):
        to_iof(radiance, solar_irradiance=f_sun, distance_au=0.0)
