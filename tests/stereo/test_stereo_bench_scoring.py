"""The stereo bench's scoring (``benchmarks/stereo.py``): both the pipeline's products and the
bare OpenCV baseline go through the same :func:`score_pair`, so "as fast at better accuracy" is
measured on one truth. Truth: the analytic sphere-before-a-wall scene (tests/stereo), its XYZ
ray-cast through each original eye.
"""
from __future__ import annotations

import numpy as np
from stereo_scenes import SIZE, camera_pair, pixel_grid, render, sphere_before_wall

from rovercam.config import StereoSettings
from rovercam.stereo import stereo_products

from rovercam_benchmarks.stereo import opencv_as_products, opencv_baseline, score_pair


def _truth_xyz(scene, model) -> np.ndarray:
    w, h = SIZE
    origins, dirs = model.unproject(pixel_grid(w, h))
    t, _ = scene.intersect(origins, dirs)
    return (origins + np.where(np.isfinite(t), t, np.nan)[:, None] * dirs).reshape(h, w, 3)


def test_both_paths_are_scored_alike_and_ours_is_the_more_accurate():
    scene = sphere_before_wall()
    left, right = camera_pair()
    li, ri = render(scene, left), render(scene, right)
    settings = StereoSettings(min_range_m=1.0)
    truth_l, truth_r = _truth_xyz(scene, left), _truth_xyz(scene, right)
    ours = score_pair(stereo_products(li, ri, left, right, frame="ROVER_NAV_FRAME", settings=settings),
                      left, right, truth_l, truth_r, range_limit_m=10.0)
    baseline = opencv_baseline(li, ri, left, right, settings=settings)
    cv = score_pair(opencv_as_products(baseline), left, right, truth_l, truth_r, range_limit_m=10.0)
    assert ours["both_see_px"] == cv["both_see_px"] > 0.5 * SIZE[0] * SIZE[1]  # one truth for both
    assert 0.0 < cv["coverage_pct"] < ours["coverage_pct"]
    assert ours["range_median_rel_err_pct"] < cv["range_median_rel_err_pct"] < 2.0
    assert ours["range_p90_rel_err_pct"] < cv["range_p90_rel_err_pct"]
