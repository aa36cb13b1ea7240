"""Calibration images on a product's grid (rovercam.radiometry.calfile).

Truth: the definition of a subframe (1-based full-resolution origin) and of pixel averaging
(the mean of each ds x ds detector bin), applied to a flat whose pixel values encode their own
detector coordinates.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from rovercam.errors import CalibrationError
from rovercam.radiometry.calfile import calibration_image, map_to_frame, normalise_flat

DET = (64, 48)  # detector samples, lines


def _coordinate_flat(scale: int = 1) -> np.ndarray:
    """A flat at 1/scale of the detector whose value is 1000 + x + 0.001 y (bin centres)."""
    h, w = DET[1] // scale, DET[0] // scale
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    x = (xx + 0.5) * scale - 0.5
    y = (yy + 0.5) * scale - 0.5
    return (1000.0 + x + 0.001 * y).astype(np.float32)


def test_a_tile_is_the_flat_cropped_at_its_subframe_origin():
    flat = _coordinate_flat()
    out = map_to_frame(flat, (10, 16), first_line=21, first_sample=33, downsample=(1, 1), detector=DET,
                       kind="flat")
    np.testing.assert_allclose(out, flat[20:30, 32:48], rtol=0, atol=1e-3)


def test_a_binned_product_sees_the_mean_of_each_bin():
    flat = _coordinate_flat()
    out = map_to_frame(flat, (12, 16), first_line=1, first_sample=1, downsample=(4, 4), detector=DET,
                       kind="flat")
    truth = flat.reshape(12, 4, 16, 4).mean(axis=(1, 3))  # mean of each 4x4 detector bin
    np.testing.assert_allclose(out, truth, rtol=0, atol=1e-3)


def test_a_coarse_flat_serves_a_binned_product_of_its_scale():
    coarse = _coordinate_flat(scale=2)  # flat at half resolution (like ECAM sf2 flats)
    out = map_to_frame(coarse, (6, 8), first_line=9, first_sample=17, downsample=(2, 2), detector=DET,
                       kind="flat")
    np.testing.assert_allclose(out, coarse[4:10, 8:16], rtol=0, atol=1e-3)


def test_a_flat_of_the_product_size_is_used_as_it_is_and_others_do_not_cover():
    flat = _coordinate_flat()
    same = map_to_frame(flat, flat.shape, first_line=1, first_sample=1, downsample=(1, 1), detector=None,
                        kind="flat")
    np.testing.assert_array_equal(same, flat)
    # beyond the detector, or no detector to place it on: not covered (the chain records it)
    assert map_to_frame(flat, (10, 16), first_line=45, first_sample=1, downsample=(1, 1), detector=DET,
                        kind="flat") is None
    assert map_to_frame(flat, (10, 16), first_line=1, first_sample=1, downsample=(1, 1), detector=None,
                        kind="flat") is None


def test_a_mask_marks_a_bin_bad_when_any_of_its_pixels_is():
    mask = np.zeros((DET[1], DET[0]), bool)
    mask[5, 9] = True
    out = map_to_frame(mask, (12, 16), first_line=1, first_sample=1, downsample=(4, 4), detector=DET,
                       kind="mask")
    assert out.dtype == bool and out.sum() == 1 and out[1, 2]


def test_image_files_are_normalised_and_masks_ignore_alpha(tmp_path):
    flat8 = np.full((40, 60, 3), 100, np.uint8)
    flat8[10:30, 15:45] = 200  # the central quarter
    flat8[0, 0] = 0  # masked corner
    cv2.imwrite(str(tmp_path / "flat.png"), flat8)
    flat = calibration_image(tmp_path / "flat.png", kind="flat")
    assert flat.ndim == 2 and flat.dtype == np.float32  # a grey RGB image is one band
    assert flat[20, 30] == pytest.approx(1.0) and flat[0, 0] == 0.0 and flat[39, 59] == pytest.approx(0.5)
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., 3] = 255  # opaque everywhere: alpha is not a bad pixel
    rgba[3, 4, 2] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), rgba)
    bad = calibration_image(tmp_path / "mask.png", kind="mask")
    assert bad.sum() == 1 and bad[3, 4]
    with pytest.raises(CalibrationError, match="not found"):
        calibration_image(tmp_path / "absent.png", kind="flat")


def test_normalise_flat_divides_each_band_by_its_central_mean():
    flat = np.ones((8, 8, 3), np.float32) * np.array([2.0, 4.0, 8.0], np.float32)
    np.testing.assert_allclose(normalise_flat(flat), 1.0)
