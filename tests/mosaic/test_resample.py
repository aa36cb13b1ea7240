"""Antialiased resampling (rovercam.mosaic.resample): level choice, coordinates, aliasing, edges.

Truth comes from the signals themselves: a sinusoid above the output grid's Nyquist frequency
must average out (its ideal band-limited image is its mean), a linear ramp's box-filtered levels
are the ramp itself, a constant stays constant next to no-data, and a step between two clipped
levels has no value outside them.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from rovercam.camera import CAHV
from rovercam.edl import ortho
from rovercam.edl.ground import Plane
from rovercam.edl.ortho import OrthoGrid, orthorectify
from rovercam.mosaic.resample import (MAX_LEVEL, blur_level, footprint_filter, footprint_level, level_coordinates,
                                      level_for_scale, make_level, map_scale, reduce_level, resample, supersample,
                                      supersample_filter)


def _maps(h: int, w: int, scale: float, *, x0: float = 0.0, y0: float = 0.0):
    """Level-0 maps of an output grid whose pixels are ``scale`` frame pixels (centres aligned)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    mx = x0 + (xx + 0.5) * scale - 0.5
    my = y0 + (yy + 0.5) * scale - 0.5
    return mx.astype(np.float32), my.astype(np.float32)


def _sample(image: np.ndarray, mx, my, *, antialias: bool, kernel="cubic", valid=None, saturation=None):
    lvl = make_level(np.ascontiguousarray(image, np.float32), valid, saturation=saturation)
    level = level_for_scale(map_scale(mx, my, image.shape[1], image.shape[0])) if antialias else 0
    for _ in range(level):
        lvl = reduce_level(lvl)
    lx, ly = level_coordinates(mx, my, level)
    return resample(lvl, lx, ly, kernel=kernel), level


@pytest.mark.parametrize(("scale", "level"), [(0.5, 0), (1.0, 0), (1.99, 0), (2.0, 1), (1.9995, 1), (2.97, 1),
                                              (4.0, 2), (7.9, 2), (1e9, MAX_LEVEL), (float("nan"), 0)])
def test_level_is_floor_log2_of_the_scale(scale, level):
    assert level_for_scale(scale) == level


@pytest.mark.parametrize("scale", [0.7, 1.0, 3.0, 5.5])
def test_map_scale_reads_the_scale_of_a_known_map(scale):
    mx, my = _maps(60, 80, scale)
    assert map_scale(mx, my, 1000, 1000) == pytest.approx(scale, rel=1e-5)
    # rotated by 30 degrees and stretched 2x along output y: the longer Jacobian column wins
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    yy, xx = np.mgrid[0:60, 0:80].astype(np.float64)
    rx = 500 + scale * (c * xx - 2 * s * yy)
    ry = 500 + scale * (s * xx + 2 * c * yy)
    assert map_scale(rx.astype(np.float32), ry.astype(np.float32), 1000, 1000) == pytest.approx(2 * scale, rel=1e-4)


def test_map_scale_ignores_the_map_outside_the_frame():
    mx, my = _maps(40, 40, 3.0)
    mx[:, 20:] = -1e5  # "not seen" (sample_maps' far value)
    assert map_scale(mx, my, 200, 200) == pytest.approx(3.0, rel=1e-5)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_level_coordinates_follow_the_box_pyramid(level):
    # the 2x2 block means of a ramp x + 2y are the ramp at the block centres, so sampling level L
    # bilinearly (which reproduces ramps) at the moved coordinates gives back the level-0
    # coordinates themselves, up to cv2.remap's 1/32-pixel position steps (1/64 of a level-L
    # pixel, 2**L / 64 frame pixels, times the ramp's slope of 3); a convention off by half a
    # pixel at any level would be off by 1.5 or more
    h, w = 512, 512
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    lvl = make_level((xx + 2 * yy)[..., None], None)
    for _ in range(level):
        lvl = reduce_level(lvl)
    assert lvl.level == level and lvl.image.shape[:2] == (h >> level, w >> level)
    mx, my = _maps(20, 20, 2.0 ** level * 0.9, x0=12.3 * 2**level, y0=10.7 * 2**level)
    out, _ = resample(lvl, *level_coordinates(mx, my, level), kernel="linear")
    np.testing.assert_allclose(out[..., 0], mx + 2 * my, atol=3 * 2**level / 64 + 1e-3)


@pytest.mark.parametrize("pattern", ["sinusoid", "checkerboard"])
def test_antialiasing_removes_most_aliasing_energy_of_a_3x_reduction(pattern):
    # truth: the pattern lies above the output grid's Nyquist frequency (periods of 2.2 to 2.3
    # and 2 frame pixels, output pixels of 3), so its ideal band-limited image is its mean
    h, w = 600, 600
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if pattern == "sinusoid":
        image = 0.5 + 0.25 * np.sin(2 * np.pi * xx / 2.2) + 0.25 * np.sin(2 * np.pi * yy / 2.3)
    else:
        image = ((xx.astype(int) + yy.astype(int)) % 2).astype(np.float32)
    mx, my = _maps(150, 150, 3.0, x0=0.37, y0=0.61)
    mean = float(image.mean())
    (bilinear, _), _ = _sample(image[..., None], mx, my, antialias=False, kernel="linear")
    (aa, _), level = _sample(image[..., None], mx, my, antialias=True)
    assert level == 1
    alias_bilinear = float(np.mean((bilinear - mean) ** 2))  # aliasing energy: what is not the mean
    alias_aa = float(np.mean((aa - mean) ** 2))
    assert alias_aa < 0.5 * alias_bilinear, (alias_aa, alias_bilinear)


def test_pyramid_weights_blocks_by_validity():
    image = np.array([[1.0, 3.0, 5.0, 5.0], [2.0, 0.0, 5.0, 5.0]], np.float32)[..., None]
    valid = np.array([[1, 1, 1, 1], [1, 0, 1, 1]], np.float32)
    lvl = reduce_level(make_level(image, valid))
    assert lvl.image[0, 0, 0] == pytest.approx(2.0)  # (1 + 3 + 2) / 3: the no-data pixel has no say
    assert lvl.image[0, 1, 0] == pytest.approx(5.0)
    np.testing.assert_allclose(lvl.valid, [[0.75, 1.0]])
    np.testing.assert_array_equal(lvl.safe, [[0, 255]])  # the kernel must not read a partial block


def test_no_data_does_not_bleed_and_the_kernel_falls_back_beside_it():
    # truth: a constant radiance 0.04 with a no-data block; every sample that counts as valid
    # (bilinear validity > 0.999, what the render and the orthomosaic accept) is exactly 0.04
    image = np.full((200, 200, 3), 0.04, np.float32)
    valid = np.ones((200, 200), np.float32)
    valid[80:120, 60:140] = 0
    image[valid == 0] = 0.0
    for scale in (0.8, 1.0, 2.5, 4.3):
        mx, my = _maps(int(190 / scale), int(190 / scale), scale, x0=2.2, y0=3.1)
        (out, v), _ = _sample(image, mx, my, antialias=True, valid=valid)
        ok = v > 0.999
        assert ok.any() and (~ok).any()
        np.testing.assert_allclose(out[ok], 0.04, rtol=1e-5)
        assert out.max() <= 0.04 * (1 + 1e-5) and out.min() >= 0.0  # no lobe beside the hole


def test_no_overshoot_beyond_the_neighbourhood_range_near_saturation():
    # truth: a sharp step from 0.01 to a clipped 0.08; near clipped pixels the kernel falls back to
    # bilinear, which never leaves the range of its 2x2 neighbourhood, so nothing leaves [0.01, 0.08]
    image = np.full((64, 64, 1), 0.01, np.float32)
    image[:, 32:] = 0.08
    mx, my = _maps(60, 120, 0.5, x0=2.0, y0=2.0)
    (free, _), _ = _sample(image, mx, my, antialias=True)
    assert free.max() > 0.08 * 1.01 and free.min() < 0.01 * 0.99  # the cubic lobes, unguarded
    (safe, _), _ = _sample(image, mx, my, antialias=True, saturation=0.08)
    assert safe.max() <= 0.08 * (1 + 1e-6)
    away = np.abs(mx - 31.5) > 3  # the kernel is kept away from the clipped pixels
    np.testing.assert_allclose(safe[away], free[away], rtol=1e-5)  # bilinear = cubic on flat parts


def _nadir_camera(altitude_m: float, width: int, focal_px: float) -> CAHV:
    """A pinhole looking straight down from ``altitude_m`` (image x east, y south), SITE_FRAME."""
    a = np.array([0.0, 0.0, 1.0])
    east, south = np.array([0.0, 1.0, 0.0]), np.array([-1.0, 0.0, 0.0])
    c = (width - 1) / 2.0
    return CAHV((0.0, 0.0, -altitude_m), a, focal_px * east + c * a, focal_px * south + c * a)


def test_edl_orthorectification_goes_through_the_antialiased_resampler(monkeypatch):
    # a 1-pixel checkerboard seen at 0.5 m per pixel on a 2 m grid (4x reduction): its ideal
    # image is its mean; the ortho path must take pyramid level 2 and keep no-data out
    built = []
    monkeypatch.setattr(ortho, "reduce_level", lambda lvl: built.append(lvl.level + 1) or reduce_level(lvl))
    width = 256
    model = _nadir_camera(100.0, width, 200.0)  # GSD 100 / 200 = 0.5 m
    yy, xx = np.mgrid[0:width, 0:width]
    image = (0.02 + 0.04 * ((xx + yy) % 2)).astype(np.float32)
    image[:40, :] = np.nan  # no-data along the north edge: north > (127.5 - 39.5) * 0.5 = 44 m
    grid = OrthoGrid(cell_m=2.0, north_max=60.0, east_min=-60.0, width=61, height=61)
    res = orthorectify(image, model, grid, Plane(0.0))
    assert res is not None
    patch, _ = res
    assert built == [1, 2]
    finite = np.isfinite(patch[..., 0])
    assert finite.mean() > 0.5
    np.testing.assert_allclose(patch[finite], 0.04, atol=1e-3)  # checkerboard averaged, no zeros pulled in
    north = grid.coordinates()[0]
    assert not finite[north > 45.0].any()  # seen only through no-data (and its half-pixel edge): NaN
    assert finite[(north < 40.0) & (north > -60.0)].all()


def test_a_constant_border_is_kept_out_of_the_kernel():
    # truth: a constant 0.04 frame; beyond its edges is 0 (border="constant", the premultiplied
    # cylindrical render's weights): samples whose bilinear taps are inside stay exactly 0.04 and
    # no sample leaves [0, 0.04]
    image = np.full((50, 60, 1), 0.04, np.float32)
    lvl = make_level(image, None)
    mx, my = _maps(60, 70, 1.0, x0=-4.3, y0=-4.6)
    out, _ = resample(lvl, mx, my, border="constant")
    inside = (mx >= 0) & (mx <= 59) & (my >= 0) & (my <= 49)
    np.testing.assert_allclose(out[inside], 0.04, rtol=1e-6)
    assert out.min() >= 0.0 and out.max() <= 0.04 * (1 + 1e-6)


@pytest.mark.parametrize(("scale", "level", "sigma"), [(0.8, 0, 0.0), (1.0, 0, 0.0), (1.8, 0, 0.45), (2.0, 1, 0.0),
                                                       (2.92, 1, 0.6), (4.0, 2, 0.0), (6.0, 2, 0.65),
                                                       (float("inf"), 0, 0.0)])
def test_footprint_filter_matches_the_footprint_variance(scale, level, sigma):
    # total variance, frame pixels^2: the frame pixel (1/12), then for L >= 1 level L - 1's box
    # ((4^(L-1) - 1)/12), the Gaussian on level L - 1 and the last 2 x 2 mean (4^(L-1)/4)
    assert footprint_filter(scale) == (level, pytest.approx(sigma, abs=1e-9))
    if math.isfinite(scale) and scale > 1:
        if level == 0:
            total = 1 / 12 + sigma**2
        else:
            d2 = 4 ** (level - 1)
            total = 1 / 12 + (d2 - 1) / 12 + sigma**2 * d2 + d2 / 4
        assert total == pytest.approx(scale**2 / 12, rel=0.06)  # sigma rounded to 0.05


def test_the_footprint_gaussian_keeps_no_data_out():
    image = np.full((40, 40, 1), 0.03, np.float32)
    valid = np.ones((40, 40), np.float32)
    image[:, 20:] = 0.0
    valid[:, 20:] = 0.0
    out = blur_level(make_level(image, valid), 1.5)
    np.testing.assert_allclose(out.image[:, :20], 0.03, rtol=1e-5)  # the mean of valid pixels only
    assert (out.image[:, 20:] == 0).all() and out.valid is valid and out.sigma == 1.5


def test_the_footprint_prefilter_averages_out_detail_finer_than_the_grid():
    # a sinusoid of period 2.5 frame pixels sampled 2.92x coarser: its footprint average is
    # (nearly) its mean; the footprint prefilter leaves less of it than the box pyramid alone
    yy, xx = np.mgrid[0:300, 0:300].astype(np.float32)
    image = (0.05 + 0.02 * np.sin(2 * np.pi * xx / 2.5) * np.sin(2 * np.pi * yy / 2.5))[..., None]
    mx, my = _maps(90, 90, 2.92, x0=10, y0=10)
    scale = map_scale(mx, my, 300, 300)
    residual = {}
    for name, (level, sigma) in {"pyramid": (level_for_scale(scale), 0.0), "footprint": footprint_filter(scale)}.items():
        lvl = make_level(np.ascontiguousarray(image), None)
        for _ in range(level - (1 if sigma > 0 else 0)):
            lvl = reduce_level(lvl)
        if sigma > 0:
            lvl = footprint_level(lvl, sigma)
        out, _ = resample(lvl, *level_coordinates(mx, my, level), kernel="lanczos")
        residual[name] = float(np.sqrt(np.mean((out - 0.05) ** 2)))
    assert residual["footprint"] < 0.5 * residual["pyramid"]


def test_where_takes_the_kernel_only_at_the_chosen_samples():
    rng = np.random.default_rng(5)
    lvl = make_level(rng.random((60, 80, 3), dtype=np.float32), None)
    mx, my = _maps(40, 50, 1.3, x0=3.2, y0=2.7)
    full, _ = resample(lvl, mx, my, kernel="lanczos")
    lin, _ = resample(lvl, mx, my, kernel="linear")
    where = np.zeros(mx.shape, bool)
    where[10:30, 5:25] = True
    part, _ = resample(lvl, mx, my, kernel="lanczos", where=where)
    np.testing.assert_allclose(part[where], full[where], atol=1e-6)
    np.testing.assert_array_equal(part[~where], lin[~where])
    everywhere, _ = resample(lvl, mx, my, kernel="lanczos", where=np.ones(mx.shape, bool))
    np.testing.assert_allclose(everywhere, full, atol=1e-6)


@pytest.mark.parametrize(("scale", "expected"), [(0.8, (0, 1)), (1.0, (0, 1)), (1.5, (0, 2)), (2.92, (0, 4)),
                                                 (4.2, (1, 3)), (9.0, (2, 3))])
def test_supersample_filter_spaces_sub_samples_at_most_three_quarters_of_a_level_pixel(scale, expected):
    assert supersample_filter(scale) == expected


def _area_mean_of_waves(mx: np.ndarray, my: np.ndarray, waves, side: float) -> np.ndarray:
    """Exact mean of sum(a sin(2 pi x / px) sin(2 pi y / py)) over squares ``side`` wide at (mx, my)."""
    out = np.full(mx.shape, 0.05)
    for a, px, py in waves:
        kx, ky = math.pi * side / px, math.pi * side / py
        out = out + a * np.sin(2 * np.pi * mx / px) * np.sin(2 * np.pi * my / py) * (np.sin(kx) / kx) * (np.sin(ky) / ky)
    return out


def test_supersampling_matches_exact_area_sampling_better_than_the_footprint_prefilter():
    # point samples of sinusoids up to near the frame's Nyquist frequency, reduced 2.92x: truth
    # is their exact mean over each output pixel's square (what the mosaic benchmark's area truth
    # approximates with 4 x 4 rays)
    waves = [(0.01, 2.6, 3.1), (0.008, 4.3, 2.7), (0.012, 7.0, 5.5), (0.006, 3.3, 9.0)]
    yy, xx = np.mgrid[0:320, 0:320].astype(np.float64)
    image = _area_mean_of_waves(xx, yy, waves, 1e-9)[..., None].astype(np.float32)
    scale = 2.92
    mx, my = _maps(90, 90, scale, x0=12, y0=12)
    truth = _area_mean_of_waves(mx.astype(np.float64), my.astype(np.float64), waves, scale)
    level, sigma = footprint_filter(scale)
    lvl = footprint_level(reduce_level(make_level(image, None)) if level > 1 else make_level(image, None), sigma)
    old, _ = resample(lvl, *level_coordinates(mx, my, level), kernel="lanczos")
    level, n = supersample_filter(scale)
    new, _ = supersample(make_level(image, None), *level_coordinates(mx, my, level), n, kernel="cubic")
    err_old = float(np.sqrt(np.mean((old[..., 0] - truth) ** 2)))
    err_new = float(np.sqrt(np.mean((new[..., 0] - truth) ** 2)))
    assert err_new < 0.4 * err_old  # about 1/5


def test_supersample_takes_sub_samples_only_where_asked_and_keeps_no_data_out():
    rng = np.random.default_rng(7)
    image = rng.random((80, 90, 2), dtype=np.float32)
    valid = np.ones((80, 90), np.float32)
    valid[:, 60:] = 0.0
    image[:, 60:] = 0.0
    lvl = make_level(image, valid)
    mx, my = _maps(30, 30, 2.5, x0=2.0, y0=1.0)
    full, v = supersample(lvl, mx, my, 3)
    assert v is not None and full.shape == (30, 30, 2)
    inside = (v >= 1.0)
    assert inside.any() and np.all(full[inside] >= 0.0) and np.all(full[inside] <= 1.0)
    where = np.zeros(mx.shape, bool)
    where[5:20, 3:12] = True
    part, _ = supersample(lvl, mx, my, 3, where=where)
    np.testing.assert_allclose(part[where], full[where], atol=1e-6)
    lin, _ = resample(lvl, mx, my, kernel="linear")
    np.testing.assert_array_equal(part[~where], lin[~where])


def test_footprints_carry_numpy_gradient_at_the_chosen_pixels():
    from rovercam.mosaic.resample import footprints

    rng = np.random.default_rng(4)
    mx = (rng.random((7, 9)) * 50).astype(np.float32)
    my = (rng.random((7, 9)) * 50).astype(np.float32)
    where = rng.random((7, 9)) < 0.6
    where[0, 0] = where[-1, -1] = where[3, 0] = where[0, 4] = True  # edges: one-sided differences
    feet = footprints(mx, my, 3, where=where)
    expected = [mx, my, np.gradient(mx, axis=1), np.gradient(my, axis=1), np.gradient(mx, axis=0),
                np.gradient(my, axis=0)]
    for got, want in zip((feet.x, feet.y, feet.xu, feet.yu, feet.xv, feet.yv), expected):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want[where])
    assert len(feet.offsets()) == 9 and feet.offsets()[0] == (np.float32(-1 / 3), np.float32(-1 / 3))
