"""COG / PNG / thumbnail encoders, checked by reading back with rasterio, rio-cogeo and OpenCV.

Truth: DEFLATE and PNG are lossless, so read-back pixels equal the input exactly; the COG
layout (512 px tiles, overviews down to one tile) is what rovercam.storage.raster documents and
what rio_cogeo.cogeo.cog_validate checks.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from affine import Affine

from rovercam.storage import thumbnail, write_cog, write_png

H, W = 1100, 1300  # > 2 tiles each way, so the COG gets overview levels 2 and 4


def smooth_radiance() -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    img = np.dstack([0.05 + 0.02 * np.sin(x / 70), 0.04 + 0.02 * np.cos(y / 50), 0.03 + x * 0 + y * 1e-5])
    return img.astype(np.float32)


def read(data: bytes | Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the test's own reader
        if isinstance(data, Path):
            src = rasterio.open(data)
            return src
        mem = MemoryFile(data)
        return mem.open()


@pytest.mark.filterwarnings("error")  # no NotGeoreferencedWarning (or any other) may leak
def test_float32_cog_round_trip_with_nan_nodata() -> None:
    img = smooth_radiance()
    mask = np.zeros((H, W), bool)
    mask[:200, :300] = True
    img[1000:, 1200:, 1] = np.nan  # NaN already in the data also stays nodata
    tags = {"MAP_PROJECTION_TYPE": "CYLINDRICAL", "PROVENANCE": '{"inputs": {"A": "ab"}}'}
    data = write_cog(None, img, nodata_mask=mask, tags=tags, band_descriptions=("R", "G", "B"),
                     units="W m-2 sr-1 nm-1")
    assert isinstance(data, bytes)
    with read(data) as src:
        assert src.driver == "GTiff" and src.count == 3 and src.dtypes == ("float32",) * 3
        assert src.crs is None
        assert np.isnan(src.nodata)
        assert src.profile["tiled"] and src.block_shapes == [(512, 512)] * 3
        assert src.compression.name.lower() == "deflate"
        assert src.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == "3"  # floating-point predictor
        assert src.overviews(1) == [2, 4]
        assert src.tags()["MAP_PROJECTION_TYPE"] == "CYLINDRICAL"
        assert src.tags()["PROVENANCE"] == tags["PROVENANCE"]
        assert src.descriptions == ("R", "G", "B") and src.units == ("W m-2 sr-1 nm-1",) * 3
        back = np.moveaxis(src.read(), 0, 2)
    expected = img.copy()
    expected[mask] = np.nan
    np.testing.assert_array_equal(back, expected)  # lossless, NaN in the same places


def test_cog_passes_rio_cogeo_validation(tmp_path: Path) -> None:
    cogeo = pytest.importorskip("rio_cogeo.cogeo", reason="rio-cogeo (test extra) not installed")
    path = write_cog(tmp_path / "m.tif", smooth_radiance(), tags={"A": "1"})
    assert path == tmp_path / "m.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        valid, errors, warns = cogeo.cog_validate(str(path))
    assert valid, (errors, warns)
    assert errors == []


def test_uint8_cog_with_mask_gets_alpha_band() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    mask = np.zeros((300, 400), bool)
    mask[:, :100] = True
    buf = io.BytesIO()
    data = write_cog(buf, img, nodata_mask=mask)
    assert buf.getvalue() == data
    with read(data) as src:
        assert src.count == 4 and src.nodata is None
        assert src.colorinterp == (ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha)
        assert src.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == "2"  # horizontal differencing
        np.testing.assert_array_equal(np.moveaxis(src.read([1, 2, 3]), 0, 2), img)
        alpha = src.read(4)
    np.testing.assert_array_equal(alpha, np.where(mask, 0, 255))


def test_cog_bytes_are_deterministic() -> None:
    img = smooth_radiance()[:600, :700]
    a = write_cog(None, img, tags={"X": "1"})
    b = write_cog(None, img.copy(), tags={"X": "1"})
    assert a == b  # content-hash idempotent publishing relies on this
    assert write_cog(None, img, tags={"X": "2"}) != a


def test_georeferenced_cog_keeps_crs() -> None:
    img = np.zeros((64, 64), np.float32)
    transform = Affine(0.001, 0.0, 137.4, 0.0, -0.001, -4.5)  # 1 mrad-ish pixels, north-up
    data = write_cog(None, img, crs="EPSG:4326", transform=transform)
    with read(data) as src:
        assert src.crs.to_epsg() == 4326
        assert src.transform == transform
        assert src.count == 1


@pytest.mark.parametrize(
    "kwargs, err",
    [
        (dict(image=np.zeros((4, 4, 3), np.float64)), TypeError),
        (dict(image=np.zeros((4, 4, 3, 1), np.float32)), ValueError),
        (dict(image=np.zeros((4, 4, 3), np.float32), nodata_mask=np.zeros((3, 4), bool)), ValueError),
        (dict(image=np.zeros((4, 4, 3), np.float32), band_descriptions=("R",)), ValueError),
        (dict(image=np.zeros((4, 4, 3), np.float32), crs="EPSG:4326"), ValueError),
        (dict(image=np.zeros((4, 4, 3), np.float32), tags={"A": 1}), TypeError),
    ],
)
def test_write_cog_validates_inputs(kwargs: dict, err: type) -> None:
    image = kwargs.pop("image")
    with pytest.raises(err):
        write_cog(None, image, **kwargs)


def test_png_round_trip_keeps_rgb_order_and_alpha() -> None:
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[:, :10] = (255, 0, 0)  # pure red: a BGR mix-up would read back blue
    rgb[:, 10:20] = (0, 200, 0)
    rgb[:, 20:] = (10, 20, 250)
    alpha = np.ones((20, 30), bool)
    alpha[0] = False
    data = write_png(rgb, alpha=alpha)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    bgra = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert bgra.shape == (20, 30, 4)
    np.testing.assert_array_equal(bgra[..., 2::-1], rgb)
    np.testing.assert_array_equal(bgra[..., 3], np.where(alpha, 255, 0))
    plain = cv2.imdecode(np.frombuffer(write_png(rgb), np.uint8), cv2.IMREAD_UNCHANGED)
    assert plain.shape == (20, 30, 3)
    np.testing.assert_array_equal(plain[..., ::-1], rgb)


def _png_ihdr(data: bytes) -> tuple[int, int]:
    """(bit depth, colour type) from the IHDR chunk (PNG specification, section 11.2.2:
    colour type 0 = gray, 2 = RGB, 4 = gray + alpha, 6 = RGBA)."""
    assert data[12:16] == b"IHDR"
    return data[24], data[25]


def test_png_of_one_band_is_8_bit_grayscale_with_optional_alpha() -> None:
    rng = np.random.default_rng(3)
    g = rng.integers(0, 256, (37, 53), dtype=np.uint8)  # odd sizes: row filtering edge cases
    alpha = rng.random((37, 53)) > 0.3
    for image in (g, g[..., None]):
        plain = write_png(image)
        assert _png_ihdr(plain) == (8, 0)
        np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(plain, np.uint8), cv2.IMREAD_UNCHANGED), g)
    for data in (write_png(g, alpha=alpha), write_png(np.dstack([g, np.where(alpha, 255, 0).astype(np.uint8)]))):
        assert _png_ihdr(data) == (8, 4)  # gray + alpha, not RGB
        # OpenCV decodes gray + alpha as BGRA with B = G = R = gray (lossless)
        bgra = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        for c in range(3):
            np.testing.assert_array_equal(bgra[..., c], g)
        np.testing.assert_array_equal(bgra[..., 3], np.where(alpha, 255, 0))
    assert write_png(g, alpha=alpha) == write_png(g, alpha=alpha)  # deterministic bytes
    with pytest.raises(ValueError, match="alpha"):
        write_png(np.dstack([g, g]), alpha=alpha)


def test_png_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        write_png(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError):
        write_png(np.zeros((4, 4, 3), np.uint8), alpha=np.ones((3, 4), bool))
    with pytest.raises(ValueError):
        write_png(np.zeros((4, 4, 4), np.uint8), alpha=np.ones((4, 4), bool))


@pytest.mark.parametrize(
    "shape, max_side, expected",
    [
        ((1000, 3000, 3), 512, (171, 512, 3)),  # 1000 * 512 / 3000 = 170.67 -> 171
        ((3000, 1000, 4), 512, (512, 171, 4)),
        ((100, 200, 3), 512, (100, 200, 3)),  # already small: unchanged
        ((1, 5000, 3), 512, (1, 512, 3)),  # never below one pixel
        ((1000, 3000), 512, (171, 512)),  # grayscale keeps its shape convention
        ((1000, 3000, 1), 512, (171, 512, 1)),
        ((1000, 3000, 2), 512, (171, 512, 2)),  # gray + alpha
    ],
)
def test_thumbnail_shape(shape: tuple, max_side: int, expected: tuple) -> None:
    img = np.full(shape, 77, np.uint8)
    out = thumbnail(img, max_side=max_side)
    assert out.shape == expected and out.dtype == np.uint8
    assert (out == 77).all()  # area averaging of a constant image is that constant
