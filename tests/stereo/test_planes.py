"""Slanted planes for the holes (rovercam.stereo.planes, fill_planes) and the score-aware
uniqueness check (rovercam.stereo.occlusion)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from rovercam.config import StereoSettings, load
from rovercam.errors import StereoError
from rovercam.stereo import hidden_in_right, plane_fill, plane_search

H, W, MARGIN = 160, 200, 40


def _texture(seed: int, shape=(H, W + 120)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.random(shape).astype(np.float32), (0, 0), 1.5)
    return (tex - tex.min()) / (tex.max() - tex.min())


def _slanted_pair(d0=20.0, a=0.3, b=0.15, seed=0, margin=MARGIN):
    """A rectified pair of one textured plane: disparity d0 + a x + b y (x, y left pixels).

    The right eye sees left column x at x - d; its image column u is rectified column
    u - MARGIN. The left image is the texture itself, so the right column x_r holds the
    texture at the left column x with x - d(x, y) = x_r.
    """
    tex = _texture(seed)
    left = tex[:, :W].copy()
    ys, us = np.mgrid[0:H, 0:W + margin].astype(np.float32)
    x_r = us - margin
    x_l = (x_r + d0 + b * ys) / (1.0 - a)
    right = cv2.remap(tex, x_l.astype(np.float32), ys, cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT,
                      borderValue=np.nan)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    return left, right, (d0 + a * xx + b * yy).astype(np.float32)


def _holes(truth):
    d = truth.copy()
    d[40:90, 60:130] = np.nan     # a hole wider than any window
    d[110:118, 20:180] = np.nan   # a band
    return d


def test_plane_fill_recovers_a_slanted_surface():
    # the window of a plane follows the slant exactly: the holes of a slanted plane (0.3 px/px
    # across, 0.15 down: blocks see it sheared) are filled at the truth
    left, right, truth = _slanted_pair()
    start = _holes(truth)
    filled, zncc = plane_fill(left, right, start, right_margin=MARGIN)
    holes = np.isnan(start)
    inner = holes.copy()
    inner[:, :10] = inner[:, -10:] = False  # windows that leave the texture are not searched
    got = np.isfinite(filled) & inner
    assert got.sum() >= 0.95 * inner.sum()
    err = np.abs(filled - truth)[got]
    assert np.median(err) <= 0.1 and np.percentile(err, 99) <= 0.5
    assert (zncc[got] >= 0.7).all() and np.isnan(zncc[~holes]).all()


def test_plane_fill_keeps_matches_and_is_reproducible():
    left, right, truth = _slanted_pair(seed=1)
    start = _holes(truth)
    start[5:10, 150:160] = truth[5:10, 150:160] + 3.0  # a wrong match is not the fill's to judge
    one, z1 = plane_fill(left, right, start, right_margin=MARGIN, seed=4)
    two, z2 = plane_fill(left, right, start, right_margin=MARGIN, seed=4)
    kept = np.isfinite(start)
    np.testing.assert_array_equal(one[kept], start[kept])
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(z1, z2)
    assert one.dtype == np.float32


def test_plane_fill_leaves_holes_it_cannot_verify():
    # the right eye sees other texture over the hole (an occluder): no plane correlates there
    left, right, truth = _slanted_pair(seed=2)
    start = _holes(truth)
    other = _texture(99)[:, :W + MARGIN]
    rows, cols = slice(30, 100), slice(0, 160)
    right[rows, cols] = other[rows, cols]
    filled, _ = plane_fill(left, right, start, right_margin=MARGIN)
    hole = np.isnan(start)[40:90, 60:130]
    assert np.isfinite(filled[40:90, 60:130][hole]).mean() <= 0.03  # 1.3 %; 19.5 % with 7 x 7 at 0.7
    # no texture on the left: nothing is filled
    flat = np.full_like(left, 0.5)
    filled, _ = plane_fill(flat, right, start, right_margin=MARGIN, min_texture=1e-3)
    assert np.isnan(filled[np.isnan(start)]).all()


def test_plane_fill_checks_its_inputs():
    left, right, truth = _slanted_pair()
    with pytest.raises(StereoError, match="right_margin"):
        plane_fill(left, right, truth, right_margin=MARGIN + 1)
    with pytest.raises(StereoError, match="claims"):
        plane_fill(left, right, truth, right_margin=MARGIN, claims=truth[:10])
    with pytest.raises(StereoError, match="window"):
        plane_fill(left, right, truth, right_margin=MARGIN, window=4)
    # nothing to fill: the matches come back
    filled, zncc = plane_fill(left, right, truth, right_margin=MARGIN)
    np.testing.assert_array_equal(filled, truth)
    assert np.isnan(zncc).all()


def test_hidden_in_right_by_score():
    # one right pixel, two left pixels: the nearer claim hides the farther match unless the
    # match correlates clearly better (then the claim is the mismatch)
    d = np.full((1, 40), np.nan, np.float32)
    claims = np.full((1, 40), np.nan, np.float32)
    d[0, 10] = 5.0       # lands on right column 5
    claims[0, 20] = 15.0  # nearer, lands on right column 5 too
    assert hidden_in_right(d, claims)[0, 10]
    strong, weak = np.full_like(d, np.nan), np.full_like(d, np.nan)
    strong[0, 10], weak[0, 20] = 0.95, 0.70
    assert not hidden_in_right(d, claims, scores=strong, claim_scores=weak)[0, 10]
    weak[0, 20] = 0.90  # within 0.1: the claim still counts
    assert hidden_in_right(d, claims, scores=strong, claim_scores=weak)[0, 10]
    with pytest.raises(StereoError, match="both"):
        hidden_in_right(d, claims, scores=strong)


def test_plane_search_finds_steep_ground_from_random_starts():
    # ground seen by a hazard camera: disparity 60-210 px growing by 0.8 px per row, no
    # starting guess at all; the search interval is the whole 0..256 px
    left, right, truth = _slanted_pair(d0=60.0, a=0.1, b=0.8, seed=3, margin=260)
    d = plane_search(left, right, min_disparity=0, num_disparities=256, right_margin=260)
    assert d.shape == truth.shape and d.dtype == np.float32
    inner = np.zeros(truth.shape, bool)
    inner[12:-12, 12:-12] = True
    found = np.isfinite(d) & inner
    assert found.sum() >= 0.9 * inner.sum()
    err = np.abs(d - truth)[found]
    assert np.median(err) <= 0.25 and np.percentile(err, 95) <= 1.0  # a guide for +-16 px passes
    again = plane_search(left, right, min_disparity=0, num_disparities=256, right_margin=260)
    np.testing.assert_array_equal(d, again)


def test_plane_search_checks_its_inputs():
    left, right, _ = _slanted_pair()
    with pytest.raises(StereoError, match="right_margin"):
        plane_search(left, right, min_disparity=0, num_disparities=64, right_margin=0)
    with pytest.raises(StereoError, match="too small"):
        plane_search(left[:10, :10], right[:10, :10 + MARGIN], min_disparity=0, num_disparities=64,
                     right_margin=MARGIN)


def test_fill_planes_setting():
    assert StereoSettings().fill_planes is False and StereoSettings().coarse_search == "sgbm"
    stereo = load(None).stereo
    assert stereo.fill_planes is False and stereo.coarse_search == "sgbm"
    rear = stereo.for_camera("REAR_HAZCAM_LEFT")
    assert rear.fill_planes is True and rear.coarse_search == "planes"
