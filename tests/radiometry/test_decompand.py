"""Companding, decompanding, and PIG's rule for when to decompand."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rovercam.products.model import Companding
from rovercam.radiometry import compand, decompand, design_sqrt_lut, load_lut, needs_decompanding

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"
LUTS = REALDATA / "luts"
needs_realdata = pytest.mark.skipif(not LUTS.is_dir(), reason=f"real LUTs not found at {LUTS}")

LUT2 = design_sqrt_lut("SYN_LUT2")
LUT0_LIKE = design_sqrt_lut("SYN_LUT0", in_bits=11, floor_dn=2, pedestal_dn=0, top_dn=2025, max_dn=2033)


def _nearest_codes_brute_force(dn: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Truth by definition: argmin |value - dn|, lowest code on ties (argmin's first index)."""
    return np.argmin(np.abs(values.astype(float)[None, :] - dn.astype(float)[:, None]), axis=1)


def test_decompand_is_the_table_lookup():
    codes = np.arange(256, dtype=np.uint8).reshape(16, 16)
    dn = decompand(codes, LUT2)
    assert dn.dtype == np.uint16 and dn.shape == (16, 16)
    np.testing.assert_array_equal(dn.ravel(), LUT2.values)


@pytest.mark.realdata
@needs_realdata
def test_decompand_real_lut2_sample_points():
    lut = load_lut(LUTS / "M20_LUT2_v2a.txt")
    # truth: M20 LUT2 sample points (docs/calibration.md#decompanding)
    codes = np.array([[2, 16, 128], [192, 254, 255]], dtype=np.uint8)
    assert decompand(codes, lut).tolist() == [[127, 193, 1329], [2504, 4035, 4095]]


@pytest.mark.parametrize("lut", [LUT2, LUT0_LIKE], ids=["lut2", "lut0"])
def test_compand_picks_the_nearest_code_for_every_dn(lut):
    dn = np.arange(0, lut.dn_max + 200)
    expected = _nearest_codes_brute_force(dn, lut.values)
    np.testing.assert_array_equal(compand(dn.astype(np.uint16), lut), expected)
    np.testing.assert_array_equal(compand(dn.astype(np.int32), lut), expected)
    np.testing.assert_array_equal(compand(dn.astype(np.float32), lut), expected)


@pytest.mark.realdata
@needs_realdata
def test_compand_on_a_table_with_repeated_values():
    lut = load_lut(LUTS / "M20_MCZ_LUT0.txt")  # codes 2 and 3 both expand to 3
    dn = np.arange(0, 2100)
    np.testing.assert_array_equal(compand(dn.astype(np.uint16), lut), _nearest_codes_brute_force(dn, lut.values))
    assert compand(np.uint16(3), lut) == 2


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=-50, max_value=5000, allow_nan=False), min_size=1, max_size=64))
def test_compand_float_dn_is_nearest(values):
    dn = np.array(values)
    np.testing.assert_array_equal(compand(dn, LUT2), _nearest_codes_brute_force(dn, LUT2.values))


def test_round_trips():
    codes = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(compand(decompand(codes, LUT2), LUT2), codes)  # distinct values
    dn = np.arange(0, 4096, dtype=np.uint16)
    err = np.abs(decompand(compand(dn, LUT2), LUT2).astype(int) - dn)
    half_step = np.diff(LUT2.values.astype(int)).max() / 2  # largest half bin, DN
    assert err.max() <= half_step


def test_out_of_range_dn_saturate():
    dn = np.array([-5.0, 1e9, 70000.0])
    assert compand(dn, LUT2).tolist() == [0, 255, 255]
    assert compand(np.array([-3, 99999], dtype=np.int64), LUT2).tolist() == [0, 255]


def test_bad_inputs():
    with pytest.raises(ValueError, match="0..255"):
        decompand(np.array([0, 256], dtype=np.uint16), LUT2)
    with pytest.raises(TypeError):
        decompand(np.array([1.0]), LUT2)
    with pytest.raises(ValueError, match="NaN"):
        compand(np.array([np.nan]), LUT2)
    assert decompand(np.array([[3, 255]], dtype=np.uint16), LUT2).tolist() == [LUT2.values[[3, 255]].tolist()]


# truth: PigFileModel::isIlutNeededSBM (VICAR PIG) as docs/calibration.md#decompanding states it.
@pytest.mark.parametrize(
    "companding, expected",
    [
        (Companding("HARDWARE", "LUT2"), True),
        (Companding("SOFTWARE", "MMM_LUT0"), True),
        (Companding("software", "LUT3"), True),
        (Companding("SOFTWARE_INVERTED", "LUT3"), False),  # MER ILF: already expanded
        (Companding("HARDWARE_INVERTED", "LUT3", state="companded"), False),
        (Companding("NONE", "NONE"), False),
        (Companding("HARDWARE", "LUT2", state="expanded"), False),  # PDS4 Expanded wins
        (Companding("NONE", "LUT2", state="companded"), True),  # PDS4 Companded
        (Companding(), False),
    ],
)
def test_needs_decompanding_follows_pig(companding, expected):
    assert needs_decompanding(companding) is expected
