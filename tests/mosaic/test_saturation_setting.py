"""``[mosaic] saturation``: the clipping level the resampler keeps its kernel away from.

Truth: two-valued frames of the test world (conftest.py): a dark floor at half the clipping
level, and plateaus clipped at the level where the world is brightest, as a saturated sensor
clips them. A sample whose kernel support meets a clipped pixel is bilinear, within the range of
its 2 x 2 neighbourhood; one whose support does not sees only the floor and gives the floor; a
feathered blend is a weighted mean. So with the level set every mosaic pixel lies in [floor,
level]; without it the Lanczos kernel's negative lobes over- and undershoot at the plateaus'
edges (rovercam.mosaic.resample, docs/mosaics.md#resampling).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from rovercam import cachekey
from rovercam.config import load
from rovercam.errors import ConfigError

ROW = [(az, -5.0, 0.0) for az in (20.0, 40.0, 60.0)]


def test_default_is_off_and_bad_values_are_refused():
    assert load(environ={}).mosaic.saturation == 0.0
    assert load(environ={"ROVERCAM_MOSAIC__SATURATION": "0.05"}).mosaic.saturation == 0.05
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match=r"mosaic\.saturation"):
            load(overrides={"mosaic": {"saturation": bad}}, environ={})


def test_pipeline_toml_states_the_default():
    text = (Path(__file__).parents[2] / "config" / "pipeline.toml").read_text()
    section = text.split("[mosaic]", 1)[1].split("\n[", 1)[0]
    assert "\nsaturation = 0.0\n" in section


def test_saturation_is_in_the_mosaic_key_only():
    base = load(environ={})
    clipped = base.with_overrides({"mosaic": {"saturation": 0.05}})
    assert cachekey.mosaic_key("M", ["k"], base) != cachekey.mosaic_key("M", ["k"], clipped)
    assert cachekey.calibrate_key("ab" * 32, base, calibration="c") == cachekey.calibrate_key(
        "ab" * 32, clipped, calibration="c")


def _frames(scene, bright: float, level: float):
    from rovercam.chain import Frame
    from rovercam.products.model import ProductMeta

    t0 = dt.datetime(2021, 5, 30, 10, 0, tzinfo=dt.timezone.utc)
    return [Frame(ProductMeta(product_id=f"GRAY_{i}", mission="", instrument="TEST_GRAYCAM", camera_model=m,
                              camera_frame="SITE_FRAME", exposure_s=0.01, sol=100,
                              start_time=t0 + dt.timedelta(seconds=i)),
                  image=np.where(im.mean(axis=2) >= bright, np.float32(level), np.float32(level / 2)),
                  units="radiance_camera")
            for i, (m, im) in enumerate(zip(scene.models, scene.images))]


@pytest.fixture(scope="module")
def clipped(scene_factory):
    sc = scene_factory(ROW)
    bright = float(np.percentile(np.concatenate([im.mean(axis=2).ravel() for im in sc.images]), 80))
    level = 0.04
    return _frames(sc, bright, level), level


def _build(frames, **mosaic):
    from rovercam.mosaic.build import build_mosaic

    settings = load(overrides={"mosaic": {"refine_pointing": False, "gains": "none", "blend": "feather",
                                          "scale_deg": 0.05, "tile": 256, **mosaic}}, environ={})
    return build_mosaic("GRAY_CLIPPED", [lambda f=f: f for f in frames], settings)


def test_the_setting_reaches_the_render_and_stops_ringing_at_clipped_pixels(clipped):
    frames, level = clipped
    free = _build(frames)
    values = free.image[..., 0][free.index >= 0]
    assert values.max() > level * 1.01 and values.min() < level / 2 * 0.99  # the kernel's lobes, unguarded
    safe = _build(frames, saturation=level)
    values = safe.image[..., 0][safe.index >= 0]
    tol = 1e-5  # the mean of 16 float32 sub-samples of one value rounds by a few 1e-6
    assert values.max() <= level * (1 + tol) and values.min() >= level / 2 * (1 - tol)
    assert (values >= level * (1 - tol)).mean() > 0.05  # the plateaus are there, at the level


def test_the_level_follows_the_correction_factors(clipped, monkeypatch):
    """The level is in the frames' units before gain correction: FrameStack scales it per frame."""
    from rovercam.mosaic import build

    seen = []
    real = build.FrameStack

    def spy(*args, **kw):
        seen.append(kw.get("saturation"))
        return real(*args, **kw)

    monkeypatch.setattr(build, "FrameStack", spy)
    frames, level = clipped
    _build(frames, saturation=level)
    _build(frames)
    assert seen == [level, None]
    stack = real(_geoms(frames), lambda i: frames[i].image,
                 factors=[2.0, 1.0, 0.5], saturation=level)
    for i, factor in enumerate((2.0, 1.0, 0.5)):  # corrected frame i is clipped at factor x level
        lvl = stack.level(i, 0)
        np.testing.assert_array_equal(lvl.safe == 0, lvl.image[..., 0] >= np.float32(factor * level))
        assert (lvl.safe == 0).any()


def _geoms(frames):
    from rovercam.mosaic.cylindrical import frame_geometry

    return [frame_geometry(f.product_id, f.camera_model, f.camera_frame, f.coordinate_systems,
                           f.image.shape[1], f.image.shape[0]) for f in frames]
