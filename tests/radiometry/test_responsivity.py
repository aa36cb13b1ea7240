"""Responsivity terms and the Sun-Mars distance."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from rovercam.errors import CalibrationError
from rovercam.radiometry import f_number_at, mars_sun_distance_au, responsivity_at


def test_temperature_term_is_mipl_mastcamz_form():
    # truth: MIPL K = r0 / (1 + beta (T - T_ref)) (docs/calibration.md#radiance); k = 1 / K
    beta, r0 = -0.0015, 1 / 5e4
    k = responsivity_at([5e4], temperature_c=5.0, temperature_ref_c=-20.0, temperature_coefficients=(beta, 0.0))
    np.testing.assert_allclose(k, 1 / (r0 / (1 + beta * 25.0)), rtol=1e-12)
    assert responsivity_at([5e4], temperature_c=None, temperature_ref_c=-20.0,
                           temperature_coefficients=(beta, 0)).tolist() == [5e4]
    with pytest.raises(CalibrationError, match="not positive"):
        responsivity_at([1.0], temperature_c=1000.0, temperature_ref_c=0.0, temperature_coefficients=(-0.01, 0))


def test_f_number_term_is_the_aperture_area():
    # truth: collected light scales as 1 / f#^2
    np.testing.assert_allclose(responsivity_at([1.0, 2.0, 3.0], f_number=9.5, f_number_ref=6.7),
                               np.array([1.0, 2.0, 3.0]) * (6.7 / 9.5) ** 2, rtol=1e-12)
    assert f_number_at(26.0, [(110.0, 9.5), (26.0, 6.7)]) == 6.7
    assert f_number_at(200.0, [(26.0, 6.7), (110.0, 9.5)]) == 9.5


def test_sun_distance_spans_perihelion_to_aphelion():
    # truth: Mars' perihelion and aphelion distances 1.3814 and 1.6660 AU (a = 1.52368 AU, e = 0.0934)
    start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    d = np.array([mars_sun_distance_au(start + dt.timedelta(days=i)) for i in range(0, 700, 2)])
    assert abs(d.min() - 1.3814) < 1e-3 and abs(d.max() - 1.6660) < 1e-3  # AU
    # Mars perihelion 2020-08-03 (Ls 251): the minimum lands within a few days of it
    assert abs((start + dt.timedelta(days=2 * int(d.argmin())) - dt.datetime(2020, 8, 3, tzinfo=dt.timezone.utc)).days) <= 4
