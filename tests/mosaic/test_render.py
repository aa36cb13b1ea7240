"""Tiled rendering: accuracy against the world, seams, tiles vs whole, GeoTIFF, index map.

Truth: the test world's radiance along every output pixel's ray (conftest.py).
"""
from __future__ import annotations

import numpy as np
import pytest

from rovercam.metrics import psnr
from rovercam.mosaic.projections import CylindricalProjection, EquirectangularProjection, PolarProjection
from rovercam.mosaic.render import FrameStack, RenderOptions, render_geotiff, render_mosaic
from rovercam.mosaic.warp import sample_maps

ROW = [(az, -5.0, 0.0) for az in (20.0, 40.0, 60.0)]


@pytest.fixture(scope="module")
def row(scene_factory):
    return scene_factory(ROW)


def _grid() -> CylindricalProjection:
    return CylindricalProjection(0.0, 8.0, 0.1, 800, 260)


@pytest.mark.parametrize(("blend", "prefilter"), [("multiband", "footprint"), ("feather", "footprint"),
                                                  ("multiband", "supersample"), ("feather", "supersample")])
def test_mosaic_reproduces_the_world(row, blend, prefilter):
    proj = _grid()
    kernel = "cubic" if prefilter == "supersample" else "lanczos"
    opts = RenderOptions(blend=blend, tile=256, prefilter=prefilter, kernel=kernel)
    img, idx = render_mosaic(FrameStack(row.geoms(), row.load), proj, options=opts)
    az, el = proj.az_el_grid()
    covered = idx >= 0
    assert covered.mean() > 0.5
    assert np.isnan(img[~covered]).all() and np.isfinite(img[covered]).all()
    # bilinear resampling of a texture of >= 3 frame pixels: well above 40 dB of its 0.06 range
    assert psnr(img, row.truth(az, el), data_range=0.06, mask=covered) > 40.0


def test_index_map_names_the_most_central_frame_that_sees_each_pixel(row):
    proj = _grid()
    _, idx = render_mosaic(FrameStack(row.geoms(), row.load), proj, options=RenderOptions(tile=256))
    from rovercam.mosaic.warp import Window

    win = Window(0, proj.width, 0, proj.height)
    cen = []
    for g in row.geoms():
        mx, my = sample_maps(g, proj, win, step=1)
        c = np.minimum(np.minimum(mx + 0.5, g.width - 0.5 - mx) / g.width,
                       np.minimum(my + 0.5, g.height - 0.5 - my) / g.height)
        cen.append(np.where(c > 0, c, -np.inf))
    cen = np.stack(cen)
    expect = np.where(np.isfinite(cen.max(0)), cen.argmax(0), -1)
    # identical but where two frames are equally central to within the lattice maps' ~1e-4 px
    assert (idx == expect).mean() > 0.999
    assert set(np.unique(idx)) == {-1, 0, 1, 2}


def test_tiles_give_the_same_mosaic_as_one_big_tile(row):
    proj = _grid()
    opts = RenderOptions(tile=128, levels=3)
    small, i1 = render_mosaic(FrameStack(row.geoms(), row.load), proj, options=opts)
    big, i2 = render_mosaic(FrameStack(row.geoms(), row.load), proj, options=RenderOptions(tile=1024, levels=3))
    np.testing.assert_array_equal(i1, i2)
    # the pyramid margin makes tiles independent: float rounding only (1e-6 of the 0.04 level)
    np.testing.assert_allclose(small, big, rtol=0, atol=4e-8, equal_nan=True)


def test_geotiff_render_equals_in_memory_render(row, tmp_path):
    import rasterio

    proj = _grid()
    opts = RenderOptions(tile=256, levels=3)
    mem, idx = render_mosaic(FrameStack(row.geoms(), row.load), proj, options=opts)
    info = render_geotiff(FrameStack(row.geoms(), row.load), proj, tmp_path / "m.tif", index_path=tmp_path / "i.tif",
                          options=opts)
    assert info["levels"] == 3
    with rasterio.open(tmp_path / "m.tif") as ds:
        disk = np.moveaxis(ds.read(), 0, -1)
        tags = ds.tags()
    with rasterio.open(tmp_path / "i.tif") as ds:
        disk_idx = ds.read(1)
    np.testing.assert_array_equal(disk, mem)  # bit-identical, NaN where uncovered (sparse tiles)
    np.testing.assert_array_equal(disk_idx, idx)
    assert tags["MAP_PROJECTION_TYPE"] == "CYLINDRICAL"


def test_multiband_spreads_a_gain_step_that_a_hard_seam_shows(scene_factory):
    sc = scene_factory(ROW[:2], gains=[1.0, 1.1])  # a 10 % mismatch left by calibration
    proj = _grid()
    az, el = proj.az_el_grid()
    truth = sc.truth(az, el)

    def max_step(blend, feather=0.5):
        img, idx = render_mosaic(FrameStack(sc.geoms(), sc.load), proj,
                                 options=RenderOptions(blend=blend, feather=feather, tile=256, levels=4))
        # the local gain: mosaic / truth averaged down a band of rows, per column
        ratio = np.nanmean((img / truth).mean(axis=2)[100:160], axis=0)
        return np.nanmax(np.abs(np.diff(ratio)))

    hard = max_step("feather", feather=0.0)
    assert hard > 0.04  # unweighted overlap: the 10 % step shows as two 5 % steps at its edges
    # multiband: the step is spread over the widest band (16 px at 4 levels); feathering over its ramp
    assert max_step("multiband") < 0.2 * hard
    assert max_step("feather") < 0.2 * hard


def test_equirectangular_frame_across_the_wrap_lands_on_both_edges(scene_factory):
    sc = scene_factory([(179.0, -5.0, 0.0), (-170.0, -5.0, 0.0)])
    proj = EquirectangularProjection.full_sphere(3600)
    img, idx = render_mosaic(FrameStack(sc.geoms(), sc.load), proj, options=RenderOptions(tile=512))
    band = slice(850, 1000)
    assert (idx[band, :50] >= 0).any() and (idx[band, -50:] >= 0).any()
    az, el = proj.az_el_grid()
    covered = idx >= 0
    assert psnr(img, sc.truth(az, el), data_range=0.06, mask=covered) > 40.0


def test_polar_mosaic_of_a_downward_look(scene_factory):
    sc = scene_factory([(0.0, -25.0, 0.0), (90.0, -25.0, 0.0)], hfov_deg=30.0)
    proj = PolarProjection.around_nadir(-5.0, 0.15)
    img, idx = render_mosaic(FrameStack(sc.geoms(), sc.load), proj, options=RenderOptions(tile=256))
    from rovercam.camera.coordinates import azimuth_elevation

    yy, xx = np.mgrid[0 : proj.height, 0 : proj.width].astype(float)
    az, el = azimuth_elevation(proj.rays(xx.ravel(), yy.ravel()))
    truth = sc.truth(az.reshape(xx.shape), el.reshape(xx.shape))
    covered = idx >= 0
    assert covered.mean() > 0.03
    assert psnr(img, truth, data_range=0.06, mask=covered) > 40.0


@pytest.mark.parametrize(("level", "sigma"), [(1, 0.6), (2, 0.0), (0, 0.8)])
def test_levels_filtered_as_loaded_equal_levels_of_the_corrected_frame(level, sigma):
    # a frame without no-data is filtered as loaded and corrected at its level; the same level
    # made from the corrected frame (a cached level 0) must agree, and a frame with no-data must
    # still get its mask
    from rovercam.mosaic.cylindrical import FrameGeometry

    rng = np.random.default_rng(3)
    img = rng.random((64, 96, 3)).astype(np.float32)
    holed = img.copy()
    holed[10:14, 20:30] = np.nan
    frames = [img, holed]
    geoms = [FrameGeometry(f"F{i}", None, 96, 64) for i in range(2)]
    stack = FrameStack(geoms, lambda i: frames[i], factors=[1.2, 0.9], offsets=[0.01, 0.0])
    direct = stack.level(0, level, sigma)
    ref = FrameStack(geoms, lambda i: frames[i], factors=[1.2, 0.9], offsets=[0.01, 0.0])
    ref.level(0, 0)  # cached corrected level 0: the level is made from it
    np.testing.assert_allclose(direct.image, ref.level(0, level, sigma).image, rtol=1e-5, atol=1e-6)
    assert direct.valid is None
    assert stack.level(1, level, sigma).valid is not None
