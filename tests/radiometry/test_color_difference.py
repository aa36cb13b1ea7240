"""CIE L*a*b* and CIEDE2000 against Sharma, Wu & Dalal (2005), Table 1."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from rovercam.radiometry import XYZ_FROM_SRGB, delta_e_2000, lab_from_linear_srgb, lab_from_xyz

# truth: G. Sharma, W. Wu, E. N. Dalal (2005), Color Res. Appl. 30(1), Table 1: the 34 test
# pairs (L1, a1, b1, L2, a2, b2, Delta E 00), published to 4 decimals.
SHARMA = [
    (50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425),
    (50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615),
    (50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412),
    (50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, -1.1848, -84.8006, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, -0.9009, -85.5211, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669),
    (50.0000, -1.0000, 2.0000, 50.0000, 0.0000, 0.0000, 2.3669),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0010, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0012, 7.2195),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0010, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461),
    (50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065),
    (50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492),
    (50.0000, 2.5000, 0.0000, 61.0000, -5.0000, 29.0000, 22.8977),
    (50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030),
    (50.0000, 2.5000, 0.0000, 58.0000, 24.0000, 15.0000, 19.4535),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.2972, 0.0000, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 1.8634, 0.5757, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.2592, 0.3350, 1.0000),
    (60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644),
    (63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.2630),
    (61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620, 1.8731),
    (35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645),
    (22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373),
    (36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146),
    (90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441),
    (90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381),
    (6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377),
    (2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082),
]


def test_sharma_table_1():
    t = np.array(SHARMA)
    de = delta_e_2000(t[:, 0:3], t[:, 3:6])
    np.testing.assert_allclose(de, t[:, 6], rtol=0, atol=5e-5)  # Delta E, the table's 4 decimals


def test_symmetric_and_zero_on_identity():
    t = np.array(SHARMA)
    np.testing.assert_allclose(delta_e_2000(t[:, 3:6], t[:, 0:3]), delta_e_2000(t[:, 0:3], t[:, 3:6]), atol=1e-12)
    np.testing.assert_array_equal(delta_e_2000(t[:, 0:3], t[:, 0:3]), 0.0)


def test_agrees_with_colour_science_on_random_pairs():
    saved = np.get_printoptions()  # importing colour changes numpy's print options
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            colour = pytest.importorskip("colour")
    finally:
        np.set_printoptions(**saved)
    rng = np.random.default_rng(4)
    lab1 = rng.uniform([0, -80, -80], [100, 80, 80], (2000, 3))
    lab2 = lab1 + rng.normal(0, 6, (2000, 3))
    np.testing.assert_allclose(delta_e_2000(lab1, lab2), colour.delta_E(lab1, lab2, method="CIE 2000"),
                               rtol=1e-9, atol=1e-9)  # two implementations of one formula


def test_lab_of_white_and_black():
    # truth: CIE 15 — the reference white is L* = 100, a* = b* = 0; black is 0
    np.testing.assert_allclose(lab_from_linear_srgb([1.0, 1.0, 1.0]), [100.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(lab_from_linear_srgb([0.04, 0.04, 0.04], white=0.04), [100.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(lab_from_xyz([0.0, 0.0, 0.0], XYZ_FROM_SRGB.sum(axis=1)), [0.0, 0.0, 0.0], atol=1e-12)
    # 18 % grey: L* = 116 * 0.18^(1/3) - 16 = 49.496
    np.testing.assert_allclose(lab_from_linear_srgb([0.18] * 3)[0], 49.496, atol=1e-3)
