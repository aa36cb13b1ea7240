"""Gain compensation: known per-frame gains are recovered from the overlaps alone.

Truth: the gains the frames were multiplied by (conftest.py renders them exactly).
"""
from __future__ import annotations

import numpy as np
import pytest

from rovercam.errors import MosaicError
from rovercam.mosaic.gains import estimate_gains, overlapping_pairs

POINTINGS = [(az, el, 0.0) for el in (-9.0, 6.0) for az in (10.0, 30.0, 50.0, 70.0)]
GAINS = [1.12, 0.9, 1.0, 0.87, 1.14, 1.05, 0.93, 0.98]


@pytest.mark.parametrize("model", ["gain", "gain_offset"])
def test_known_gains_are_recovered(scene_factory, model):
    sc = scene_factory(POINTINGS, gains=GAINS)
    sol = estimate_gains(sc.geoms(), sc.load, model=model)
    corrected = sol.factors * np.asarray(GAINS)
    # ratios fixed by the overlaps: to 0.1 % with gains alone; with offsets too, a gain change
    # trades against an offset over the narrow range of levels in an overlap: to 1 %
    assert np.ptp(corrected) / corrected.mean() < (1e-3 if model == "gain" else 1e-2)
    # the default global scale "mean": mean(1 / c) = 1, the mean frame gain is 1 (the inputs
    # taken as right on average)
    assert np.mean(1 / sol.factors) == pytest.approx(1.0, abs=1e-9)
    if model == "gain_offset":
        np.testing.assert_allclose(sol.offsets, 0.0, atol=1e-3)  # radiance (3 % of the level); none added
    assert sol.pairs >= 10 and max(sol.pair_rms.values()) < 0.05


def test_offsets_are_recovered_with_the_offset_model(scene_factory):
    sc = scene_factory(POINTINGS[:4])
    offsets = np.array([0.0, 0.002, -0.001, 0.0015])  # radiance, ~5 % of the mean level
    images = [im + o for im, o in zip(sc.images, offsets)]
    sol = estimate_gains(sc.geoms(), lambda i: images[i], model="gain_offset")
    # corrected = g (I + o) + o': with g ~ 1 the correction undoes o up to a common constant
    net = sol.factors * offsets + sol.offsets
    assert np.ptp(net) < 1.5e-4  # radiance: 0.5 % of the mean level
    assert np.ptp(sol.factors) < 5e-3


def test_pairs_follow_the_fields_of_view(scene_factory):
    sc = scene_factory([(0.0, 0.0, 0.0), (20.0, 0.0, 0.0), (120.0, 0.0, 0.0)])
    assert overlapping_pairs(sc.geoms()) == [(0, 1)]
    with pytest.raises(MosaicError, match="no overlapping"):
        estimate_gains(sc.geoms()[1:], lambda i: sc.images[i + 1])
