"""DEMs: bilinear heights, gridding XYZ points, merging.

Truth: analytic surfaces (a plane, which bilinear interpolation reproduces exactly, and a smooth
sinusoid whose gridding error is bounded by its curvature) and hand-counted medians.
"""
from __future__ import annotations

import numpy as np
import pytest

from rovercam.terrain import DEM, dem_from_points, merge_dems
from rovercam.terrain.dem import MAX_CELLS


def _plane_dem(rows=5, cols=4, origin=(1.0, -2.0), cell=0.5):
    x0, y0 = origin
    i, j = np.mgrid[0:rows, 0:cols]
    h = 0.3 + 0.2 * (x0 + i * cell) - 0.1 * (y0 + j * cell)  # height = 0.3 + 0.2 x - 0.1 y
    return DEM(h.astype(np.float32), origin, cell)


def test_height_at_is_exact_on_a_plane_and_nan_outside():
    dem = _plane_dem()
    rng = np.random.default_rng(0)
    x = rng.uniform(1.0, 3.0, 200)
    y = rng.uniform(-2.0, -0.5, 200)
    np.testing.assert_allclose(dem.height_at(x, y), 0.3 + 0.2 * x - 0.1 * y, atol=1e-6)  # m, float32 heights
    # cell centres exactly, the far edges included
    np.testing.assert_allclose(dem.height_at([1.0, 3.0], [-2.0, -0.5]), [0.7, 0.95], atol=1e-6)
    assert np.isnan(dem.height_at([0.99, 3.01, 2.0, 2.0], [-1.0, -1.0, -2.01, -0.49])).all()
    np.testing.assert_allclose(dem.z_at(2.0, -1.0), -(0.3 + 0.4 + 0.1), atol=1e-6)


def test_height_at_broadcasts_and_ignores_unknown_cells_of_zero_weight():
    h = np.array([[0.0, 1.0, np.nan], [2.0, 3.0, 4.0]], np.float32)
    dem = DEM(h, (0.0, 0.0), 1.0)
    assert dem.height_at(np.zeros((2, 3)), 0.5).shape == (2, 3)
    assert dem.height_at(0.0, 0.5)[()] == pytest.approx(0.5)
    assert dem.height_at(0.5, 0.5)[()] == pytest.approx(1.5)  # mean of the four corners
    assert np.isnan(dem.height_at(0.5, 1.5))  # weighs the unknown cell
    assert dem.height_at(1.0, 1.5)[()] == pytest.approx(3.5)  # the unknown cell has weight 0 here
    assert dem.height_at(0.0, 1.0)[()] == pytest.approx(1.0)


def test_dem_from_points_grids_a_smooth_surface():
    # 1 M points on height = 0.3 sin(x) + 0.1 y; a 2 cm cell holds ~4 points
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 4, 1_000_000), rng.uniform(-2, 2, 1_000_000)
    xyz = np.stack([x, y, -(0.3 * np.sin(x) + 0.1 * y)], 1)
    dem = dem_from_points(xyz, cell_m=0.02)
    assert dem.frame == "SITE_FRAME" and dem.heights.dtype == np.float32
    assert dem.origin == (0.0, -2.0) and dem.shape == (201, 201)
    xx, yy = dem.cell_centres()
    err = dem.heights - (0.3 * np.sin(xx) + 0.1 * yy)
    # the median of points within +-1 cm of the centre: the slope (<= 0.32) times 1 cm bounds it
    assert np.nanmax(np.abs(err)) < 0.0035
    assert abs(float(np.nanmedian(err))) < 2e-4  # m, no bias
    assert np.isfinite(dem.heights).mean() > 0.99


def test_dem_from_points_takes_the_median_and_an_xyz_image_with_nan():
    img = np.full((2, 3, 3), np.nan)
    img[0, 0] = (0.0, 0.0, -1.0)
    img[0, 1] = (0.01, 0.01, -2.0)
    img[0, 2] = (-0.01, 0.0, -9.0)  # a blunder: the median ignores it
    img[1, 0] = (0.0, -0.01, -1.5)
    img[1, 1] = (0.5, 0.0, -4.0)
    dem = dem_from_points(img, cell_m=0.1, fill_holes=False)
    assert dem.shape == (6, 1)
    assert dem.heights[0, 0] == pytest.approx(1.75)  # median of 1, 2, 9, 1.5
    assert dem.heights[5, 0] == pytest.approx(4.0)
    assert np.isnan(dem.heights[1:5, 0]).all()


def test_small_holes_are_filled_and_large_ones_stay_empty():
    x, y = np.meshgrid(np.arange(20) * 0.1, np.arange(20) * 0.1, indexing="ij")
    keep = np.ones(x.shape, bool)
    keep[5, 5] = False          # a one-cell hole
    keep[10:16, 10:16] = False  # a 6 x 6 hole
    pts = np.stack([x[keep], y[keep], np.full(keep.sum(), -2.0)], 1)
    dem = dem_from_points(pts, cell_m=0.1)
    assert dem.heights[5, 5] == pytest.approx(2.0)
    assert np.isnan(dem.heights[11:15, 11:15]).all()  # the hole's inside stays unknown
    raw = dem_from_points(pts, cell_m=0.1, fill_holes=False)
    assert np.isnan(raw.heights[5, 5])


def test_dem_from_points_bounds_and_validation():
    pts = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, -1.0], [100.0, 100.0, 0.0]])
    dem = dem_from_points(pts, cell_m=0.5, bounds=(-0.3, 1.2, -0.2, 1.1))
    assert dem.origin == (0.0, 0.0) and dem.shape == (3, 3)
    assert dem.heights[2, 2] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cell_m"):
        dem_from_points(pts, cell_m=0.0)
    with pytest.raises(ValueError, match="shape"):
        dem_from_points(np.zeros((4, 2)), cell_m=1.0)
    with pytest.raises(ValueError, match="no finite"):
        dem_from_points(np.full((3, 3), np.nan), cell_m=1.0)
    with pytest.raises(ValueError, match="bounds"):
        dem_from_points(np.array([[0.0, 0.0, 0.0], [1e4, 1e4, 0.0]]), cell_m=0.001)
    assert 1e4 / 0.001 > MAX_CELLS**0.5


def test_merge_dems_unions_averages_or_keeps_the_first():
    a = DEM(np.array([[1.0, 1.0], [1.0, np.nan]], np.float32), (0.0, 0.0), 0.5)
    b = DEM(np.array([[3.0, 3.0], [3.0, 3.0]], np.float32), (0.5, 0.5), 0.5)
    m = merge_dems([a, b])
    assert m.origin == (0.0, 0.0) and m.shape == (3, 3)
    expect = np.array([[1, 1, np.nan], [1, 3, 3], [np.nan, 3, 3]], np.float32)
    np.testing.assert_array_equal(m.heights, expect)  # a's (1, 1) is unknown: b's alone
    a2 = DEM(np.array([[1.0, 1.0], [1.0, 1.0]], np.float32), (0.0, 0.0), 0.5)
    assert merge_dems([a2, b]).heights[1, 1] == pytest.approx(2.0)
    assert merge_dems([a2, b], overlap="first").heights[1, 1] == pytest.approx(1.0)
    assert merge_dems([b, a2], overlap="first").heights[1, 1] == pytest.approx(3.0)
    # merged heights are where the inputs put them
    np.testing.assert_allclose(m.height_at([0.5, 1.0], [0.5, 0.5]), [3.0, 3.0])


def test_merge_dems_refuses_mismatched_grids():
    a = DEM(np.zeros((2, 2), np.float32), (0.0, 0.0), 0.5)
    with pytest.raises(ValueError, match="lattice"):
        merge_dems([a, DEM(np.zeros((2, 2), np.float32), (0.25, 0.0), 0.5)])
    with pytest.raises(ValueError, match="cell"):
        merge_dems([a, DEM(np.zeros((2, 2), np.float32), (0.0, 0.0), 0.25)])
    with pytest.raises(ValueError, match="frames"):
        merge_dems([a, DEM(np.zeros((2, 2), np.float32), (0.0, 0.0), 0.5, "ROVER_NAV_FRAME")])
    with pytest.raises(ValueError, match="at least one"):
        merge_dems([])


def test_dems_of_two_point_sets_merge_on_one_lattice():
    rng = np.random.default_rng(2)
    p1 = np.c_[rng.uniform(0, 1, 5000), rng.uniform(0, 1, 5000), np.zeros(5000)]
    p2 = np.c_[rng.uniform(0.73, 2, 5000), rng.uniform(0.31, 1, 5000), np.full(5000, -1.0)]
    m = merge_dems([dem_from_points(p1, cell_m=0.1), dem_from_points(p2, cell_m=0.1)])
    assert m.height_at(0.2, 0.2) == pytest.approx(0.0) and m.height_at(1.8, 0.8) == pytest.approx(1.0)
