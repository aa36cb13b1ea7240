"""The global scale of gain compensation: mean, reference and calibrated (docs/mosaics.md).

Truth: the frame gains the frames were multiplied by (conftest.py renders them exactly,
frame = gain x truth). Overlaps fix every ratio, so the correction factors are ``c_i = k / g_i``
and each scale choice predicts the level ``k`` every corrected frame ends at: ``mean``,
``mean(1 / c) = 1`` gives ``k = mean(g)``; ``reference`` r: ``k = g_r``; ``calibrated``: ``k`` is
the geometric mean of the anchors' gains.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from rovercam.config import load
from rovercam.errors import ConfigError, MosaicError
from rovercam.mosaic.gains import estimate_gains

POINTINGS = [(az, el, 0.0) for el in (-9.0, 6.0) for az in (10.0, 30.0, 50.0, 70.0)]
GAINS = np.array([1.12, 0.9, 1.0, 0.87, 1.14, 1.05, 0.93, 0.98])
RATIO_TOL = 1e-3  # relative: the overlaps fix the ratios to 0.1 % (test_gains.py)


@pytest.fixture(scope="module")
def scene(scene_factory):
    return scene_factory(POINTINGS, gains=GAINS)


def _level(sol) -> np.ndarray:
    """Where each corrected frame ends, relative to the truth: c_i g_i."""
    return sol.factors * GAINS


def test_mean_scale_is_the_default_and_keeps_the_mean_frame_gain(scene):
    sol = estimate_gains(scene.geoms(), scene.load)
    assert sol.scale == "mean"
    assert np.mean(1 / sol.factors) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(_level(sol), GAINS.mean(), rtol=RATIO_TOL)


@pytest.mark.parametrize("model", ["gain", "gain_offset"])
def test_reference_frame_keeps_its_values(scene, model):
    sol = estimate_gains(scene.geoms(), scene.load, model=model, scale="reference", reference="F3")
    assert sol.factors[3] == pytest.approx(1.0, abs=1e-12) and sol.offsets[3] == pytest.approx(0.0, abs=1e-15)
    # every frame brought to frame 3's level (its gain 0.87 stays in the mosaic)
    np.testing.assert_allclose(_level(sol), GAINS[3], rtol=RATIO_TOL if model == "gain" else 1e-2)


def test_calibrated_scale_has_geometric_mean_one_over_the_anchors(scene):
    anchors = [0, 2, 5]
    sol = estimate_gains(scene.geoms(), scene.load, scale="calibrated", anchors=anchors)
    assert np.exp(np.mean(np.log(sol.factors[anchors]))) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(_level(sol), np.exp(np.mean(np.log(GAINS[anchors]))), rtol=RATIO_TOL)
    every = estimate_gains(scene.geoms(), scene.load, scale="calibrated")
    np.testing.assert_allclose(_level(every), np.exp(np.mean(np.log(GAINS))), rtol=RATIO_TOL)


def test_scales_differ_only_by_one_common_factor(scene):
    sols = [estimate_gains(scene.geoms(), scene.load, scale="mean"),
            estimate_gains(scene.geoms(), scene.load, scale="reference", reference="F6"),
            estimate_gains(scene.geoms(), scene.load, scale="calibrated")]
    for sol in sols[1:]:
        ratio = sol.factors / sols[0].factors
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(scale="median"), r"unknown global scale 'median'; choose one of mean, reference, calibrated"),
    (dict(scale="reference"), r"needs the reference frame's product id"),
    (dict(scale="reference", reference="F99"), r"reference frame 'F99' is not one of the 8 frames"),
    (dict(scale="mean", reference="F1"), r"only used with global scale 'reference', not 'mean'"),
    (dict(scale="calibrated", anchors=[]), r"anchor frames must be a non-empty subset of 0..7"),
    (dict(scale="calibrated", anchors=[8]), r"anchor frames must be a non-empty subset of 0..7"),
])
def test_bad_scale_arguments_are_refused_before_any_work(scene, kwargs, message):
    def load(i):
        raise AssertionError("no frame may be read before the arguments are checked")

    with pytest.raises(MosaicError, match=message):
        estimate_gains(scene.geoms(), load, **kwargs)


# --- configuration and build_mosaic ------------------------------------------------------------

def test_config_default_and_validation():
    assert load(environ={}).mosaic.gain_scale == "mean"
    one = load(environ={"ROVERCAM_MOSAIC__GAIN_SCALE": "reference", "ROVERCAM_MOSAIC__GAIN_REFERENCE": "GRAY_2"})
    assert one.mosaic.gain_reference == ["GRAY_2"]  # one id from the environment is a list of one
    with pytest.raises(ConfigError, match=r"mosaic\.gain_scale: Input should be 'mean', 'reference' or 'calibrated'"):
        load(overrides={"mosaic": {"gain_scale": "brightest"}}, environ={})
    with pytest.raises(ConfigError, match=r"gain_scale = 'reference' needs gain_reference"):
        load(overrides={"mosaic": {"gain_scale": "reference"}}, environ={})
    with pytest.raises(ConfigError, match=r"gain_reference is only used with gain_scale = 'reference'"):
        load(overrides={"mosaic": {"gain_reference": ["GRAY_1"]}}, environ={})


def test_global_scale_is_in_the_mosaic_key_only():
    from rovercam import cachekey

    base = load(environ={})
    ref = base.with_overrides({"mosaic": {"gain_scale": "reference", "gain_reference": ["GRAY_1"]}})
    cal = base.with_overrides({"mosaic": {"gain_scale": "calibrated"}})
    keys = {cachekey.mosaic_key("M", ["k"], s) for s in (base, ref, cal)}
    assert len(keys) == 3
    assert cachekey.calibrate_key("ab" * 32, ref, calibration="c") == cachekey.calibrate_key("ab" * 32, base,
                                                                                              calibration="c")


BUILD_GAINS = np.array([1.0, 1.08, 0.95])
ROW = [(az, -5.0, 0.0) for az in (20.0, 40.0, 60.0)]


def _frames(scene, flat_fielded=(False, False, False)):
    from rovercam.chain import Frame
    from rovercam.products.model import ProductMeta

    t0 = dt.datetime(2021, 5, 30, 10, 0, tzinfo=dt.timezone.utc)
    return [Frame(ProductMeta(product_id=f"GRAY_{i}", mission="", instrument="TEST_GRAYCAM", camera_model=m,
                              camera_frame="SITE_FRAME", exposure_s=0.01, sol=100,
                              start_time=t0 + dt.timedelta(seconds=i)),
                  image=im.mean(axis=2).astype(np.float32), units="radiance_camera", flat_fielded=ff)
            for i, (m, im, ff) in enumerate(zip(scene.models, scene.images, flat_fielded))]


def _build(scene_factory, flat_fielded=(False, False, False), **mosaic):
    from rovercam.mosaic.build import build_mosaic

    sc = scene_factory(ROW, gains=BUILD_GAINS)
    settings = load(overrides={"mosaic": {"refine_pointing": False, "scale_deg": 0.1, "tile": 256, **mosaic}},
                    environ={})
    frames = _frames(sc, flat_fielded)
    return sc, build_mosaic("GRAY_SCALE", [lambda f=f: f for f in frames], settings)


def _mosaic_level(sc, m) -> float:
    """Median of mosaic / truth over covered pixels: the level the frames were brought to."""
    truth = sc.truth(*m.projection.az_el_grid()).mean(axis=2)
    covered = m.index >= 0
    return float(np.median(m.image[..., 0][covered] / truth[covered]))


def test_build_with_a_reference_frame(scene_factory):
    sc, m = _build(scene_factory, gain_scale="reference", gain_reference=["NOT_HERE", "GRAY_1"])
    assert m.extra["gain_scale"] == {"method": "reference", "reference": "GRAY_1"}
    assert m.extra["correction_factors"][1] == pytest.approx(1.0, abs=1e-6)
    assert any("global scale reference GRAY_1" in step for step in m.provenance.steps)  # COG tag and STAC
    assert _mosaic_level(sc, m) == pytest.approx(BUILD_GAINS[1], rel=2e-3)


def test_build_with_the_calibrated_scale_anchors_on_the_best_calibrated_frames(scene_factory):
    # frames 0 and 2 flat-fielded (level 2), frame 1 not (level 1): only 0 and 2 set the scale
    sc, m = _build(scene_factory, flat_fielded=(True, False, True), gain_scale="calibrated")
    assert m.extra["gain_scale"] == {"method": "calibrated", "anchors": ["GRAY_0", "GRAY_2"]}
    assert any("global scale calibrated, 2 anchor frame(s)" in step for step in m.provenance.steps)
    assert _mosaic_level(sc, m) == pytest.approx(np.sqrt(BUILD_GAINS[0] * BUILD_GAINS[2]), rel=2e-3)


def test_build_refuses_a_reference_that_is_not_among_its_frames(scene_factory):
    with pytest.raises(MosaicError, match=r"GRAY_SCALE: mosaic.gain_scale = 'reference' needs exactly one "
                                          r"reference frame; none of mosaic.gain_reference \[OTHER_1\]"):
        _build(scene_factory, gain_scale="reference", gain_reference=["OTHER_1"])
    with pytest.raises(MosaicError, match=r"2 \(GRAY_0, GRAY_2\) of mosaic.gain_reference"):
        _build(scene_factory, gain_scale="reference", gain_reference=["GRAY_0", "GRAY_2"])
