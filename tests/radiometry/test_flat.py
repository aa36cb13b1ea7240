"""Flat-field files, division, and the onboard radial flat."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio

from rovercam.errors import CalibrationError
from rovercam.radiometry import apply_flat, load_flat, radial_flat, write_flat


def _flat(shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 1.5, shape).astype(np.float32)


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 3)])
def test_flat_round_trip_is_bit_exact(tmp_path, shape):
    flat = _flat(shape)
    flat[0, 0] = np.nan  # masked pixel survives
    path = write_flat(tmp_path / "flat.tif", flat)
    back = load_flat(path)
    assert back.dtype == np.float32 and back.shape == shape
    np.testing.assert_array_equal(back, flat)


def test_three_band_flat_is_stored_in_rgb_order(tmp_path):
    # truth: an independent reader (GDAL via rasterio) sees band 1 = R.
    flat = np.stack([np.full((4, 6), v, np.float32) for v in (0.8, 1.0, 1.2)], axis=-1)
    path = write_flat(tmp_path / "rgb.tiff", flat)
    with rasterio.open(path) as ds:
        assert ds.count == 3 and ds.dtypes[0] == "float32"
        np.testing.assert_array_equal(ds.read(1), flat[..., 0])
        np.testing.assert_array_equal(ds.read(3), flat[..., 2])


def test_flat_file_errors(tmp_path):
    with pytest.raises(CalibrationError, match="not found"):
        load_flat(tmp_path / "absent.tif")
    (tmp_path / "junk.tif").write_bytes(b"not a tiff")
    with pytest.raises(CalibrationError, match="not a readable image"):
        load_flat(tmp_path / "junk.tif")
    with pytest.raises(CalibrationError, match=".tif"):
        write_flat(tmp_path / "flat.png", np.ones((2, 2)))
    with pytest.raises(CalibrationError, match="shape"):
        write_flat(tmp_path / "flat.tif", np.ones((2, 2, 2)))
    assert not list(tmp_path.glob(".flat*"))  # no temporary left behind


def test_apply_flat_divides_and_broadcasts():
    img = np.full((4, 5, 3), 100, dtype=np.uint16)
    flat = np.full((4, 5), 0.5, np.float32)
    out = apply_flat(img, flat)
    assert out.dtype == np.float32 and out.shape == (4, 5, 3)
    np.testing.assert_array_equal(out, 200.0)
    per_band = np.ones((4, 5, 3), np.float32) * np.float32([1, 2, 4])
    np.testing.assert_array_equal(apply_flat(img, per_band)[0, 0], [100, 50, 25])


def test_untrustworthy_flat_pixels_become_nan():
    img = np.full((2, 3), 10.0, np.float32)
    flat = np.array([[1.0, 0.04, 0.05], [0.0, np.nan, -1.0]], np.float32)
    out = apply_flat(img, flat, min_flat=0.05)
    expected = np.array([[10.0, np.nan, 200.0], [np.nan, np.nan, np.nan]], np.float32)
    np.testing.assert_array_equal(out, expected)


def test_apply_flat_refuses_mismatched_shapes():
    with pytest.raises(CalibrationError, match="does not fit"):
        apply_flat(np.ones((4, 5)), np.ones((5, 4)))
    with pytest.raises(CalibrationError, match="does not fit"):
        apply_flat(np.ones((4, 5)), np.ones((4, 5, 3)))
    with pytest.raises(CalibrationError, match="min_flat"):
        apply_flat(np.ones((4, 5)), np.ones((4, 5)), min_flat=0)


def test_radial_flat_polynomial():
    # s = 1 + a r^2 + b r^4 + c r^6 (docs/calibration.md#flat-fields); at (x=3, y=4) from
    # centre (0, 0), r^2 = 25.
    s = radial_flat((5, 4), (0.0, 0.0, 1e-3, 1e-6, 1e-9))
    assert s.shape == (5, 4) and s.dtype == np.float32
    assert s[4, 3] == pytest.approx(1 + 25e-3 + 625e-6 + 15625e-9, rel=1e-6)  # float32
    assert np.all(radial_flat((3, 3), (1, 1, 0, 0, 0)) == 1)
    # detector origin and downsampling: product pixel (1, 0) is detector x = 10 + 2 * 1 = 12.
    s2 = radial_flat((1, 2), (12.0, 5.0, 0.5, 0, 0), origin=(10.0, 5.0), scale=(2.0, 2.0))
    assert s2[0, 1] == 1.0
