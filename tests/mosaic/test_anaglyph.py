"""Anaglyphs: after epipolar rectification a scene at infinity is the same in both eyes, row for row.

Truth: for a world at infinity, two cameras sharing A, H and V see every direction at the same
pixel (their centres differ by the baseline only), so the rectified eyes must agree.
"""
from __future__ import annotations

import numpy as np

from rovercam.camera import CAHV
from rovercam.testing import pointing_camera


def test_rectified_eyes_agree_row_for_row(scene_factory):
    from rovercam.mosaic.anaglyph import make_anaglyph

    sc = scene_factory([(30.0, -8.0, 0.0)])
    f = sc.models[0].internal().hs
    left = pointing_camera(30.0, -8.0, f, sc.width, sc.height, roll_deg=1.5)
    right = pointing_camera(29.0, -8.6, f, sc.width, sc.height, roll_deg=-1.0)  # toed in, pitched
    east = np.array([-np.sin(np.radians(30)), np.cos(np.radians(30)), 0.0])
    right = CAHV(right.c + 0.42 * east, right.a, right.h, right.v)  # 42 cm baseline to the right
    a = make_anaglyph(sc.render(left), sc.render(right), left, right)
    np.testing.assert_allclose(a.left_model.a, a.right_model.a)
    both = np.isfinite(a.image).all(axis=2)
    assert both.mean() > 0.7
    # red (left) and cyan (right) agree wherever both eyes see: < 1 % of the level (resampling)
    diff = np.abs(a.image[..., 0] - a.image[..., 1])[both]
    assert np.percentile(diff, 99) < 0.01 * np.mean(a.image[..., 0][both]) * 3
    # and the unrectified eyes do not (the rows were misaligned by the pitch and roll)
    raw_l, raw_r = sc.render(left).mean(axis=2), sc.render(right).mean(axis=2)
    assert np.percentile(np.abs(raw_l - raw_r), 99) > 10 * np.percentile(diff, 99)
