"""Bad-pixel maps and repair."""
from __future__ import annotations

import numpy as np
import pytest

from rovercam.errors import CalibrationError
from rovercam.radiometry import load_bad_pixels, map_to_product, mosaic, repair_bad_pixels


def test_load_and_map_to_a_subframe(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_text("# hot pixels\n10 20\n 11,21  # comment\n\n500 500\n")
    xy = load_bad_pixels(f)
    assert xy.tolist() == [[10, 20], [11, 21], [500, 500]]
    # subframe at 1-based (first_line 11, first_sample 5) = 0-based origin (x 4, y 10):
    # detector (x 10, y 20) -> product (x 6, y 10); (500, 500) falls outside
    mask = map_to_product(xy, (40, 30), first_line=11, first_sample=5)
    assert [(int(y), int(x)) for y, x in zip(*np.nonzero(mask))] == [(10, 6), (11, 7)]
    # 2x2 binning: both land in binned pixel (x 3, y 5)
    binned = map_to_product(xy, (20, 15), first_line=11, first_sample=5, downsample=(2, 2))
    assert [(int(y), int(x)) for y, x in zip(*np.nonzero(binned))] == [(5, 3)]


def test_bad_file_lines_are_refused(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_text("1 2\nthree 4\n")
    with pytest.raises(CalibrationError, match="line 2"):
        load_bad_pixels(f)
    with pytest.raises(CalibrationError, match="not found"):
        load_bad_pixels(tmp_path / "absent.txt")


def test_repair_uses_same_colour_neighbours():
    # truth: an affine ramp per colour is reproduced exactly by the mean of symmetric neighbours
    y, x = np.mgrid[0:16, 0:16].astype(np.float32)
    rgb = np.stack([100 + 3 * x + y, 500 + x - 2 * y, 50 + 0.5 * x + 0.5 * y], axis=-1)
    raw = mosaic(rgb, "RGGB")
    bad = np.zeros((16, 16), bool)
    bad[[4, 7, 10], [4, 9, 12]] = True  # isolated: no bad pixel among another's neighbours
    broken = raw.copy()
    broken[bad] = 4095
    fixed = repair_bad_pixels(broken, bad, bayer=True)
    np.testing.assert_allclose(fixed, raw, atol=1e-4)  # DN
    grey = rgb[..., 1].copy()
    grey_broken = grey.copy()
    grey_broken[bad] = 0
    np.testing.assert_allclose(repair_bad_pixels(grey_broken, bad, bayer=False), grey, atol=1e-4)


def test_isolated_bad_pixel_without_good_neighbours_is_nan():
    bad = np.ones((3, 3), bool)
    assert np.isnan(repair_bad_pixels(np.ones((3, 3)), bad, bayer=False)).all()
