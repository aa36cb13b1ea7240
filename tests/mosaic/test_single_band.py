"""Single-band (grayscale) frames through every mosaic stage: gains, both blenders, every
projection, in memory and GeoTIFF, pointing refinement, anaglyphs, build_mosaic, grouping.

Truth: the test world (conftest.py) converted to one band by a fixed weighted sum of its RGB
radiance, ``GRAY_FROM_RGB`` (the Rec. ITU-R BT.709 luminance weights; any fixed weights would
do), applied identically to the frames and to the truth. Every output pixel's truth is the
converted world along its own ray. Rendering is linear in the pixel values, so a gray mosaic
must also equal the weighted sum of the RGB mosaic of the same frames.
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from rovercam.camera.coordinates import azimuth_elevation
from rovercam.errors import MosaicError
from rovercam.metrics import psnr
from rovercam.mosaic.cylindrical import FrameGeometry
from rovercam.mosaic.gains import estimate_gains
from rovercam.mosaic.grouping import mosaic_name, split_by_bands
from rovercam.mosaic.plan import plan_projection
from rovercam.mosaic.projections import CylindricalProjection
from rovercam.mosaic.refine import refine_pointing, rotate_about_centre, rotation_matrices
from rovercam.mosaic.render import FrameStack, RenderOptions, render_geotiff, render_mosaic

#: Gray = R, G, B weighted by BT.709's luminance coefficients (they sum to 1, so the gray world
#: keeps the RGB world's 0.06 radiance range).
GRAY_FROM_RGB = np.array([0.2126, 0.7152, 0.0722], np.float32)

ROW = [(az, -5.0, 0.0) for az in (20.0, 40.0, 60.0)]


def gray(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) float32 by GRAY_FROM_RGB."""
    return np.einsum("...c,c->...", np.asarray(rgb, np.float32), GRAY_FROM_RGB).astype(np.float32)


class GrayScene:
    """A conftest Scene with its frames converted to one band (shape (H, W) or (H, W, 1))."""

    def __init__(self, scene, *, keep_axis: bool = False):
        self.scene = scene
        self.images = [gray(im)[..., None] if keep_axis else gray(im) for im in scene.images]

    def geoms(self, models=None):
        return self.scene.geoms(models)

    def load(self, i: int) -> np.ndarray:
        return self.images[i]

    def truth(self, az, el) -> np.ndarray:
        return gray(self.scene.truth(az, el))


def _truth_on_grid(scene, proj) -> np.ndarray:
    """Gray truth along every output pixel's ray from the cameras' common centre (the origin)."""
    yy, xx = np.mgrid[0 : proj.height, 0 : proj.width].astype(float)
    targets, at_inf = proj.targets(xx.ravel(), yy.ravel())
    d = targets if at_inf else targets / np.linalg.norm(targets, axis=1, keepdims=True)
    az, el = azimuth_elevation(d)
    return scene.truth(az.reshape(xx.shape), el.reshape(xx.shape))


#: (projection, pointings, frame field of view deg, plan keywords): each grid from plan_projection
#: on its frames, coarse enough to keep the test fast (accuracy does not depend on the output
#: scale while the grid does not reduce the frames 2x or more: every output pixel is then a
#: point sample of a frame along its ray).
PROJECTIONS = {
    "cylindrical": (ROW, 24.0, dict(scale_deg=0.1)),
    "equirectangular": (ROW, 24.0, dict(scale_deg=0.1)),
    "polar": ([(0.0, -25.0, 0.0), (90.0, -25.0, 0.0)], 30.0, dict(scale_deg=0.15)),
    "perspective": (ROW, 24.0, dict(scale_deg=0.1)),
    # ground 1 m below the cameras, seen from 11 to 29 deg down: 6 m either side, ~8 mm pixels
    # (fine enough that the grid never reduces a frame by 2 or more: where it does, the render
    # samples a box-filtered pyramid level and a point-sampled truth no longer applies)
    "vertical": ([(0.0, -20.0, 0.0), (20.0, -20.0, 0.0)], 24.0,
                 dict(scale_deg=0.15, camera_height_m=1.0, vertical_extent_m=6.0)),
}


@pytest.fixture(scope="module")
def gray_row(scene_factory):
    return GrayScene(scene_factory(ROW))


@pytest.mark.parametrize("blend", ["multiband", "feather"])
@pytest.mark.parametrize("kind", list(PROJECTIONS))
def test_gray_mosaic_reproduces_the_gray_world(scene_factory, kind, blend):
    pointings, hfov, plan_kw = PROJECTIONS[kind]
    sc = GrayScene(scene_factory(pointings, hfov_deg=hfov))
    proj = plan_projection(sc.geoms(), kind, **plan_kw)
    img, idx = render_mosaic(FrameStack(sc.geoms(), sc.load), proj, options=RenderOptions(blend=blend, tile=256))
    assert img.shape == (proj.height, proj.width, 1) and img.dtype == np.float32
    covered = idx >= 0
    assert covered.sum() > 10_000
    assert np.isnan(img[~covered]).all() and np.isfinite(img[covered]).all()
    # as the RGB tests (test_render.py): bilinear resampling of a texture of >= 3 frame pixels
    # stays well above 40 dB of the world's 0.06 W m-2 sr-1 nm-1 range
    assert psnr(img[..., 0], _truth_on_grid(sc, proj), data_range=0.06, mask=covered) > 40.0


@pytest.mark.parametrize("blend", ["multiband", "feather"])
def test_gray_mosaic_is_the_weighted_sum_of_the_rgb_mosaic(scene_factory, blend):
    rgb_scene = scene_factory(ROW)
    sc = GrayScene(rgb_scene, keep_axis=True)  # (H, W, 1) frames this time
    proj = CylindricalProjection(0.0, 8.0, 0.1, 800, 260)
    opts = RenderOptions(blend=blend, tile=256, levels=3)
    g, gi = render_mosaic(FrameStack(sc.geoms(), sc.load), proj, options=opts)
    c, ci = render_mosaic(FrameStack(rgb_scene.geoms(), rgb_scene.load), proj, options=opts)
    np.testing.assert_array_equal(gi, ci)  # seams depend on geometry only
    # every step (bilinear warp, Laplacian pyramid, feathering) is linear in the pixel values:
    # equal up to float32 rounding, 1e-6 W m-2 sr-1 nm-1 (~2.5e-5 of the 0.04 level)
    np.testing.assert_allclose(g[..., 0], gray(c), rtol=0, atol=1e-6, equal_nan=True)


def test_gray_geotiff_render_is_one_float32_band_equal_to_memory(gray_row, tmp_path):
    import rasterio

    proj = CylindricalProjection(0.0, 8.0, 0.1, 800, 260)
    opts = RenderOptions(tile=256, levels=3)
    mem, idx = render_mosaic(FrameStack(gray_row.geoms(), gray_row.load), proj, options=opts)
    render_geotiff(FrameStack(gray_row.geoms(), gray_row.load), proj, tmp_path / "g.tif", options=opts)
    with rasterio.open(tmp_path / "g.tif") as ds:
        assert ds.count == 1 and ds.dtypes == ("float32",)
        disk = ds.read(1)
    np.testing.assert_array_equal(disk, mem[..., 0])  # bit-identical, NaN where uncovered


def test_a_stack_refuses_frames_of_another_band_count(scene_factory):
    sc = scene_factory(ROW[:2])
    images = [gray(sc.images[0]), sc.images[1]]
    stack = FrameStack(sc.geoms(), lambda i: images[i])
    stack.pixels(0)
    with pytest.raises(MosaicError, match="F1: 3 band"):
        stack.pixels(1)


GAIN_POINTINGS = [(az, el, 0.0) for el in (-9.0, 6.0) for az in (10.0, 30.0, 50.0, 70.0)]
GAINS = [1.12, 0.9, 1.0, 0.87, 1.14, 1.05, 0.93, 0.98]


def test_known_gains_are_recovered_from_gray_frames(scene_factory):
    sc = GrayScene(scene_factory(GAIN_POINTINGS, gains=GAINS))
    sol = estimate_gains(sc.geoms(), sc.load, model="gain")
    corrected = sol.factors * np.asarray(GAINS)
    # as with RGB frames (test_gains.py): ratios fixed by the overlaps to 0.1 %
    assert np.ptp(corrected) / corrected.mean() < 1e-3
    assert np.mean(1 / sol.factors) == pytest.approx(1.0, abs=1e-9)


def test_gray_frames_refine_a_known_perturbation(scene_factory):
    pointings = [(az, el, 0.0) for el in (-12.0, 4.0) for az in (0.0, 20.0, 40.0, 60.0)]
    sc = GrayScene(scene_factory(pointings, width=400, height=300, hfov_deg=25.0))
    rng = np.random.default_rng(7)
    p = rng.uniform(-1, 1, (len(pointings), 3))
    p -= p.mean(axis=0)
    p *= math.radians(1.0) / np.abs(p).max()
    geoms = [FrameGeometry(g.product_id, rotate_about_centre(g.model, p[k]), g.width, g.height)
             for k, g in enumerate(sc.geoms())]
    ref = refine_pointing(geoms, sc.load)
    # as with RGB frames (test_refine.py): tie residual under 0.3 px, every pointing back to
    # truth within 0.02 deg (~0.3 px at 0.06 deg/px)
    assert ref.rms_px < 0.3 and ref.rms_before_px > 5.0
    import cv2

    err = [math.degrees(np.linalg.norm(cv2.Rodrigues(rotation_matrices(ref.rotations[k])[0]
                                                     @ rotation_matrices(p[k])[0])[0]))
           for k in range(len(p))]
    assert max(err) < 0.02, err


def test_gray_eyes_make_a_grey_anaglyph(scene_factory):
    from rovercam.camera import CAHV
    from rovercam.mosaic.anaglyph import make_anaglyph
    from rovercam.testing import pointing_camera

    sc = scene_factory([(30.0, -8.0, 0.0)])
    f = sc.models[0].internal().hs
    left = pointing_camera(30.0, -8.0, f, sc.width, sc.height, roll_deg=1.5)
    right = pointing_camera(29.0, -8.6, f, sc.width, sc.height, roll_deg=-1.0)
    east = np.array([-np.sin(np.radians(30)), np.cos(np.radians(30)), 0.0])
    right = CAHV(right.c + 0.42 * east, right.a, right.h, right.v)
    a = make_anaglyph(gray(sc.render(left)), gray(sc.render(right))[..., None], left, right)
    assert a.image.shape[2] == 3 and a.left.shape[2] == 1 and a.right.shape[2] == 1
    both = np.isfinite(a.image).all(axis=2)
    assert both.mean() > 0.7
    # as test_anaglyph.py: red (left) and cyan (right) agree within 3 % of the level (99th pct)
    diff = np.abs(a.image[..., 0] - a.image[..., 1])[both]
    assert np.percentile(diff, 99) < 0.03 * np.mean(a.image[..., 0][both])
    with pytest.raises(MosaicError, match="RGB eyes"):
        make_anaglyph(gray(sc.render(left)), gray(sc.render(right)), left, right, mode="colour")


# --- grouping ---------------------------------------------------------------------------------

def test_a_group_of_mixed_band_counts_splits_into_named_mosaics():
    fields = ["site", "drive", "sequence_id", "instrument"]
    key = (4, 218, "NCAM00100", "NAVCAM_LEFT")
    frames = {"a": 1, "b": 3, "c": 1, "d": 3, "e": 1}
    split = split_by_bands(list(frames), frames.__getitem__)
    assert split == [(1, ["a", "c", "e"]), (3, ["b", "d"])]
    names = [mosaic_name(key, fields, "cylindrical", bands=b) for b, _ in split]
    assert names == ["site4_drive218_NCAM00100_NAVCAM-LEFT_1BAND_CYL",
                     "site4_drive218_NCAM00100_NAVCAM-LEFT_3BAND_CYL"]
    # no split, no suffix: names of single-band-count groups are unchanged
    same = split_by_bands(["a", "c"], frames.__getitem__)
    assert same == [(None, ["a", "c"])]
    assert mosaic_name(key, fields, "cylindrical", bands=same[0][0]) == "site4_drive218_NCAM00100_NAVCAM-LEFT_CYL"


# --- build_mosaic -----------------------------------------------------------------------------

def _frames(scene, images, units="radiance_camera"):
    from rovercam.chain import Frame
    from rovercam.products.model import ProductMeta

    t0 = dt.datetime(2021, 5, 30, 10, 0, tzinfo=dt.timezone.utc)
    return [Frame(ProductMeta(product_id=f"GRAY_{i}", mission="", instrument="TEST_GRAYCAM", camera_model=m,
                              camera_frame="SITE_FRAME", exposure_s=0.01, sol=100,
                              start_time=t0 + dt.timedelta(seconds=i)), image=im, units=units)
            for i, (m, im) in enumerate(zip(scene.models, images))]


def _settings(**mosaic):
    from rovercam.config import load

    return load(overrides={"mosaic": {"refine_pointing": False, "scale_deg": 0.1, "tile": 256, **mosaic}},
                environ={})


BUILD_GAINS = [1.0, 1.08, 0.95]  # exposure errors calibration left, one per frame


@pytest.mark.parametrize("blend", ["multiband", "feather"])
def test_build_mosaic_of_gray_frames(scene_factory, blend):
    from rovercam.mosaic.build import build_mosaic

    sc = scene_factory(ROW, gains=BUILD_GAINS)
    frames = _frames(sc, [gray(im) for im in sc.images])
    m = build_mosaic("GRAY_TEST", [lambda f=f: f for f in frames], _settings(blend=blend))
    assert m.image.shape[2] == 1 and m.image.dtype == np.float32
    assert m.extra["units"] == "radiance_camera" and m.extra["bands"] == 1
    assert m.display_white_radiance is None  # the camera is not configured: previews use a percentile
    covered = m.index >= 0
    assert covered.mean() > 0.5
    # gain compensation makes the frames agree and keeps mean(1 / c) = 1 (gains.py), which puts
    # every frame at mean(BUILD_GAINS) times the truth; against that, the 40 dB of the RGB tests
    level = np.float32(np.mean(BUILD_GAINS))
    truth = gray(sc.truth(*m.projection.az_el_grid())) * level
    assert psnr(m.image[..., 0], truth, data_range=0.06, mask=covered) > 40.0


@pytest.mark.parametrize("change, message", [
    (dict(units="radiance_srgb"), r"GRAY_1: units 'radiance_srgb' differ from GRAY_0's 'radiance_camera'"),
    (dict(bands=3), r"GRAY_1: 3 band\(s\), GRAY_0 has 1"),
    (dict(units="dn"), r"GRAY_1: mosaics take calibrated float frames, got units 'dn'"),
])
def test_build_mosaic_refuses_frames_that_do_not_match(scene_factory, change, message):
    from rovercam.mosaic.build import build_mosaic

    sc = scene_factory(ROW[:2])
    frames = _frames(sc, [gray(im) for im in sc.images])
    odd = frames[1]
    odd.units = change.get("units", odd.units)
    if "bands" in change:
        odd.image = sc.images[1]
    with pytest.raises(MosaicError, match=message):
        build_mosaic("MIXED", [lambda f=f: f for f in frames], _settings())
