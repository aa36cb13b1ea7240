"""Tile pyramid layout and tile contents.

Truth: the layout rules in rovercam/viewer/pyramid.py's notes (level z reduced by 2**(top - z),
tiles from the top-left, edge tiles smaller), and block means of the written raster (the COG's
overviews are made by averaging, rovercam.storage.raster.write_cog).
"""
from __future__ import annotations

import numpy as np
import pytest
import rasterio

from rovercam.radiometry import to_display
from rovercam.storage import write_cog
from rovercam.viewer.pyramid import TileGrid, TileSource, encode_tile


@pytest.mark.parametrize("w, h, top, sizes", [
    (512, 256, 0, {0: (512, 256)}),
    (513, 100, 1, {0: (257, 50), 1: (513, 100)}),
    (30000, 15000, 6, {6: (30000, 15000), 3: (3750, 1875), 0: (469, 235)}),
])
def test_levels_halve_until_one_tile(w, h, top, sizes):
    g = TileGrid(w, h)
    assert g.top == top
    for z, size in sizes.items():
        assert g.level_size(z) == size
    assert g.tile_counts(0) == (1, 1)


def test_tile_windows_cover_the_image_exactly_once():
    g = TileGrid(1300, 700)
    for z in range(g.top + 1):
        cover = np.zeros((700, 1300), np.int32)
        for x, y in g.tiles(z):
            win, (th, tw) = g.window(z, x, y)
            cover[win.row_off:win.row_off + win.height, win.col_off:win.col_off + win.width] += 1
            assert 1 <= th <= 512 and 1 <= tw <= 512
        assert (cover == 1).all(), z
    assert g.top == 2 and g.contains(2, 2, 1)
    assert not g.contains(2, 3, 0) and not g.contains(3, 0, 0) and not g.contains(0, -1, 0)
    with pytest.raises(ValueError):
        g.window(0, 1, 0)


def test_tiles_are_display_encoded_block_means(tmp_path):
    rng = np.random.default_rng(1)
    h, w = 600, 1100
    radiance = (rng.random((h, w, 3)) * 0.08).astype(np.float32)
    path = write_cog(tmp_path / "r.tif", radiance)
    src = TileSource(lambda: rasterio.open(path), white_radiance=0.08)
    assert src.grid.top == 2
    full = src.read_rgb(2, 1, 0)  # full resolution: exactly to_display of the pixels
    np.testing.assert_array_equal(full, to_display(radiance[:512, 512:1024], white_radiance=0.08))
    half = src.read_rgb(1, 0, 0).astype(np.int32)  # the 2x overview: 2x2 block means (AVERAGE)
    means = radiance[:600, :1024].reshape(300, 2, 512, 2, 3).mean(axis=(1, 3)).astype(np.float32)
    truth = to_display(means, white_radiance=0.08).astype(np.int32)
    assert half.shape == (300, 512, 3)
    assert np.abs(half - truth).max() <= 1  # DN: float rounding of the mean at a level boundary
    assert src.tile(1, 0, 0) is src.tile(1, 0, 0)  # cached


def test_encode_tile_rejects_non_rgb():
    with pytest.raises(ValueError):
        encode_tile(np.zeros((4, 4), np.uint8))
    assert encode_tile(np.zeros((4, 4, 3), np.uint8), "png")[:4] == b"\x89PNG"


def test_one_band_cog_gives_grayscale_tiles(tmp_path):
    """A grayscale camera's COG: tiles are one-channel 8-bit images of to_display(band 1) (the
    browser decodes them to R = G = B, which the viewer's shader shows as gray)."""
    import cv2

    rng = np.random.default_rng(2)
    h, w = 600, 1100
    radiance = (rng.random((h, w)) * 0.05).astype(np.float32)
    radiance[:50] = np.nan  # uncovered
    path = write_cog(tmp_path / "g.tif", radiance, tags={"DISPLAY_WHITE_RADIANCE": "0.05"})
    src = TileSource(lambda: rasterio.open(path), white_radiance=None)
    assert src.bands == 1 and src.white_radiance == 0.05  # the COG's tag
    full = src.read_rgb(2, 1, 0)
    assert full.shape == (512, 512, 1)
    np.testing.assert_array_equal(full[..., 0], to_display(radiance[:512, 512:1024], white_radiance=0.05))
    for fmt in ("png", "jpg"):
        tile = cv2.imdecode(np.frombuffer(src.tile(2, 1, 0, fmt), np.uint8), cv2.IMREAD_UNCHANGED)
        assert tile.shape == (512, 512)  # one channel in the file
    png = cv2.imdecode(np.frombuffer(src.tile(2, 1, 0, "png"), np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(png, full[..., 0])  # PNG tiles are lossless


def test_tiles_without_a_white_scale_by_a_percentile_of_the_coarsest_level(tmp_path):
    rng = np.random.default_rng(4)
    radiance = (rng.random((600, 1100)) * 0.05).astype(np.float32)
    path = write_cog(tmp_path / "g.tif", radiance)  # no DISPLAY_WHITE_RADIANCE tag
    src = TileSource(lambda: rasterio.open(path), white_radiance=None)
    with rasterio.open(path) as ds:  # truth: level 0 is the 4x overview (one 512 px tile)
        level0 = ds.read(1, out_shape=(150, 275), resampling=rasterio.enums.Resampling.average)
    assert src.white_radiance == pytest.approx(float(np.percentile(level0, 99.5)), rel=1e-6)
