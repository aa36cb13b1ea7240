"""Mastcam-Z multispectral cubes: band placement, wavelengths, co-registration, NetCDF round trip."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest
import xarray as xr

from rovercam.errors import RovercamError
from rovercam.radiometry import MASTCAMZ_FILTERS, build_cube, write_cube


@dataclass
class _F:
    product_id: str
    image: np.ndarray
    filter: str | None
    units: str = "radiance_camera"


def _scene(h=96, w=128, dx=0.0, dy=0.0):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = x - dx, y - dy
    return (0.05 + 0.02 * np.sin(x / 5.0) * np.cos(y / 7.0) + 0.01 * np.sin((x + 2 * y) / 3.3)).astype(np.float32)


def test_bands_sorted_by_wavelength_with_truth_coordinates():
    frames = [_F("ZL1", _scene(), "L1"), _F("ZL6", _scene(), "L6"),
              _F("ZL0", np.stack([_scene()] * 3, axis=-1), "L0")]
    cube = build_cube(frames, register=False)
    # truth: Hayes et al. 2021 Table 2 (docs/cameras.md): L6 442, L0B 480, L0G 544, L0R 630, L1 800 nm
    assert list(cube.band.values) == ["L6", "L0B", "L0G", "L0R", "L1"]
    np.testing.assert_array_equal(cube.wavelength_nm, [442, 480, 544, 630, 800])
    assert cube.data.shape == (5, 96, 128) and cube.data.dtype == np.float32
    assert list(cube.product_id.values) == ["ZL6", "ZL0", "ZL0", "ZL0", "ZL1"]
    assert MASTCAMZ_FILTERS["R6"] == (1022.0, 19.0)


def _texture(h=96, w=128):
    rng = np.random.default_rng(5)
    return (0.05 + 0.01 * cv2.GaussianBlur(rng.standard_normal((h, w)), (0, 0), 1.2)).astype(np.float32)


def test_registration_recovers_a_known_shift():
    tex = _texture()
    ref = _F("A", tex, "L3")
    shift = np.float32([[1, 0, 2.4], [0, 1, -1.3]])  # content moved by (+2.4, -1.3) px
    moved = _F("B", cv2.warpAffine(tex, shift, tex.shape[::-1], flags=cv2.INTER_CUBIC,
                                   borderMode=cv2.BORDER_REFLECT), "L5")
    cube = build_cube([ref, moved], reference_band="L3")
    b = list(cube.band.values).index("L5")
    # truth: the applied shift; phase correlation is sub-pixel on a smooth texture
    np.testing.assert_allclose([cube.shift_x[b], cube.shift_y[b]], [-2.4, 1.3], atol=0.1)  # px
    inner = (slice(8, -8), slice(8, -8))
    np.testing.assert_allclose(cube.data[b].values[inner], ref.image[inner], atol=2e-3)  # radiance (texture sd 0.004)


def test_refusals():
    with pytest.raises(RovercamError, match="one eye"):
        build_cube([_F("A", _scene(), "L1"), _F("B", _scene(), "R1")])
    with pytest.raises(RovercamError, match="duplicated"):
        build_cube([_F("A", _scene(), "L1"), _F("B", _scene(), "L1")])
    with pytest.raises(RovercamError, match="no filter"):
        build_cube([_F("A", _scene(), None)])


def test_netcdf_round_trip(tmp_path):
    cube = build_cube([_F("A", _scene(), "L1"), _F("B", _scene(), "L2")], register=False, attrs={"sol": 100})
    path = write_cube(cube, tmp_path / "cube.nc")
    back = xr.load_dataset(path)
    np.testing.assert_array_equal(back.data.values, cube.data.values)
    np.testing.assert_array_equal(back.wavelength_nm.values, cube.wavelength_nm.values)
    assert back.attrs["sol"] == 100 and back.data.attrs["units"] == "radiance_camera"
    with pytest.raises(RovercamError, match=".nc"):
        write_cube(cube, tmp_path / "cube.h5")
