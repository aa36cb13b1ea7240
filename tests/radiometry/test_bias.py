"""Bias subtraction and the working dtype."""
from __future__ import annotations

import numpy as np
import pytest

from rovercam.errors import CalibrationError
from rovercam.radiometry import as_working, subtract_bias


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.float64])
def test_as_working_keeps_values_and_gives_float32(dtype):
    a = np.array([0, 100, 255], dtype=dtype)
    w = as_working(a)
    assert w.dtype == np.float32
    assert w.tolist() == [0.0, 100.0, 255.0]  # never divided by the dtype maximum


def test_as_working_copy_semantics_and_refusals():
    f = np.zeros(3, np.float32)
    assert as_working(f) is f
    assert as_working(f, copy=True) is not f
    for bad in (np.array([True]), np.array([1 + 1j]), np.array(["a"])):
        with pytest.raises(TypeError):
            as_working(bad)


def test_bias_below_signal_goes_negative_not_wrapping():
    # the uint16 trap: 100 - 127 must be -27, not 65509.
    dn = np.array([[100, 4095]], dtype=np.uint16)
    out = subtract_bias(dn, 127)
    assert out.dtype == np.float32
    assert out.tolist() == [[-27.0, 3968.0]]


def test_bias_per_band_and_frames():
    dn = np.full((2, 3, 3), 200, dtype=np.uint16)
    np.testing.assert_array_equal(subtract_bias(dn, [10, 20, 30])[0, 0], [190, 180, 170])
    frame = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = subtract_bias(dn, frame)  # (H, W) frame broadcast over bands
    np.testing.assert_array_equal(out[..., 2], 200 - frame)
    np.testing.assert_array_equal(subtract_bias(dn, np.ones((2, 3, 3))), np.full((2, 3, 3), 199))


@pytest.mark.parametrize(
    "bias",
    [[1.0, 2.0], np.ones((3, 2)), np.ones((2, 3, 2)), [np.nan, 0, 0]],
)
def test_bias_that_does_not_fit_is_refused(bias):
    with pytest.raises(CalibrationError):
        subtract_bias(np.zeros((2, 3, 3), np.uint16), bias)
