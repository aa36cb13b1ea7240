"""Colour matrices, the sRGB curve and display encoding."""
from __future__ import annotations

import numpy as np
import pytest

from rovercam.errors import CalibrationError
from rovercam.radiometry import (
    SRGB_FROM_XYZ,
    XYZ_FROM_SRGB,
    apply_color_matrix,
    srgb_decode,
    srgb_encode,
    to_display,
)

# truth: IEC 61966-2-1:1999 (sRGB) - transfer curve breakpoints, D65 reference white
# XYZ = (0.9505, 1.0000, 1.0890), and the 4-digit RGB -> XYZ matrix.
IEC_D65_WHITE = np.array([0.9505, 1.0, 1.0890])
IEC_XYZ_FROM_SRGB = np.array(
    [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
)


@pytest.mark.parametrize(
    "linear, encoded",
    [
        (0.0, 0.0),
        (0.0031308, 0.04045),  # the breakpoint: 12.92 * 0.0031308 = 0.0404499
        (0.214041, 0.5),  # mid grey
        (0.2158605, 128 / 255),  # 8-bit code 128
        (0.18, 0.4613561),  # 18 % grey card
        (1.0, 1.0),
    ],
)
def test_srgb_curve_published_points(linear, encoded):
    # 2e-6: float32 resolution near 1 plus the 4-5 digit precision of the published values
    assert float(srgb_encode(linear)) == pytest.approx(encoded, abs=2e-6)
    assert float(srgb_decode(encoded)) == pytest.approx(linear, abs=2e-6)


def test_srgb_curve_is_continuous_and_round_trips():
    below, above = np.nextafter(np.float32(0.0031308), 0), np.float32(0.0031308) * np.float32(1.0001)
    assert abs(float(srgb_encode(above)) - float(srgb_encode(below))) < 1e-5
    x = np.linspace(0, 1, 10001, dtype=np.float32)
    np.testing.assert_allclose(srgb_decode(srgb_encode(x)), x, atol=2e-6)  # float32 round trip
    assert x[-1] == 1.0 and x[1] == np.float32(1e-4)  # the input is not modified in place
    assert srgb_encode(x).dtype == np.float32


def test_srgb_clips_and_keeps_nan():
    out = srgb_encode(np.array([-0.5, 2.0, np.nan]))
    assert out[0] == 0 and out[1] == 1 and np.isnan(out[2])


def test_d65_white_maps_to_linear_srgb_white():
    np.testing.assert_allclose(SRGB_FROM_XYZ @ IEC_D65_WHITE, 1.0, atol=1e-4)  # issue 6: 1e-4
    rgb = apply_color_matrix(IEC_D65_WHITE.astype(np.float32), SRGB_FROM_XYZ)
    np.testing.assert_allclose(rgb, 1.0, atol=1e-4)


def test_matrices_are_inverse_and_match_iec():
    np.testing.assert_allclose(XYZ_FROM_SRGB @ SRGB_FROM_XYZ, np.eye(3), atol=1e-12)
    # the 7-digit MIPL matrix agrees with the IEC 4-digit inverse to its printed precision
    np.testing.assert_allclose(XYZ_FROM_SRGB, IEC_XYZ_FROM_SRGB, atol=1e-4)
    with pytest.raises(ValueError):
        SRGB_FROM_XYZ[0, 0] = 1.0  # read-only constants


def test_apply_color_matrix_round_trip_and_shapes():
    img = np.random.default_rng(0).uniform(0, 1, (4, 5, 3)).astype(np.float32)
    xyz = apply_color_matrix(img, XYZ_FROM_SRGB)
    assert xyz.dtype == np.float32 and xyz.shape == (4, 5, 3)
    np.testing.assert_allclose(xyz[2, 3], XYZ_FROM_SRGB @ img[2, 3], rtol=1e-6)
    np.testing.assert_allclose(apply_color_matrix(xyz, SRGB_FROM_XYZ), img, atol=1e-6)
    with pytest.raises(ValueError):
        apply_color_matrix(np.ones((4, 2)), SRGB_FROM_XYZ)
    with pytest.raises(CalibrationError):
        apply_color_matrix(img, np.eye(2))


def test_to_display():
    white = 0.25  # W m^-2 sr^-1 nm^-1 shown as 255
    rad = np.array([[[0.25, 0.125, 0.0], [np.nan, 1.0, 0.25 * 0.2158605]]], np.float32)
    out = to_display(rad, white_radiance=white)
    assert out.dtype == np.uint8
    # 0.5 linear -> 0.7353569 encoded -> 187.5 -> 188; code 128 <-> linear 0.2158605
    assert out.tolist() == [[[255, 188, 0], [0, 255, 128]]]
    with pytest.raises(ValueError):
        to_display(rad, white_radiance=0.0)
    # one band of a grayscale camera, (H, W) or (H, W, 1): the same curve, the same shape
    assert to_display(rad[..., 1], white_radiance=white).tolist() == [[188, 255]]
    assert to_display(rad[..., 1:2], white_radiance=white).tolist() == [[[188], [255]]]
    for bad in (rad[..., :2], rad[0, 0]):  # two bands; a 1-D array
        with pytest.raises(ValueError):
            to_display(bad, white_radiance=1.0)


def test_percentile_white():
    from rovercam.radiometry import percentile_white

    values = np.arange(1, 1001, dtype=np.float32).reshape(20, 50)  # 1 .. 1000
    img = np.dstack([values, values])
    img[0, 0] = np.nan
    # numpy's linear percentile of the finite values (1000 per band, minus the NaN pixel)
    truth = np.percentile(np.concatenate([values.ravel()[1:]] * 2).astype(np.float64), 99.5)
    assert percentile_white(img) == pytest.approx(truth, rel=1e-12)
    with pytest.raises(ValueError, match="no finite"):
        percentile_white(np.full((3, 3), np.nan, np.float32))
    with pytest.raises(ValueError, match="not a usable white"):
        percentile_white(np.zeros((3, 3), np.float32))
