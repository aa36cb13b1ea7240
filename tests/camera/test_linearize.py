"""Linearization, remap grids, stereo rectification and OpenCV intrinsics."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from camera_realdata import RealModel
from rovercam.camera import (
    CAHV, CAHVOR, CAHVORE, inverse_remap_grid, linearize, rectify_pair, remap_grid, to_opencv,
)
from rovercam.errors import CameraModelError

# MER front Hazcam flight model (as in camera_realdata.py; a strong fisheye with a moving pupil)
HAZ = CAHVORE(
    (0.606185, -0.043367, -0.234891), (0.712013, 0.037316, 0.701174), (353.341, 474.873, 350.82),
    (44.0102, 16.904, 683.916), (0.712953, 0.038186, 0.700171), (3e-06, -0.013032, -0.00754),
    (0.000942, 0.00228, 0.001613), mtype=3, mparm=0.37,
)
NAV = CAHVOR(
    (0.491222, -0.0717236, -1.24143), (0.921657, -0.230518, 0.312107), (757.076, 1071.6, 160.227),
    (91.7479, -27.7504, 1319.48), (0.920759, -0.206185, 0.331197), (0.00096, -0.002183, 0.018547),
)


def _sample(grid: tuple[np.ndarray, np.ndarray], px: np.ndarray) -> np.ndarray:
    """Bilinear sample of a remap grid at (x, y) pixels: what cv2.remap does between pixels."""
    coords = [px[:, 1], px[:, 0]]
    return np.column_stack([map_coordinates(g.astype(np.float64), coords, order=1) for g in grid])


def _inner_pixels(size: tuple[int, int], n: int = 4000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform((0, 0), (size[0] - 1, size[1] - 1), (n, 2))


@pytest.mark.parametrize(("model", "size"), [(NAV, (1024, 1024)), (HAZ, (1024, 1024))])
@pytest.mark.parametrize("fov", ["min", "max"])
def test_linearized_model_keeps_centre_and_plane(model, size, fov) -> None:
    lin = linearize(model, *size, fov=fov)
    np.testing.assert_array_equal(lin.c, model.c)
    # the same axis, as the unit vector of the label's A (|A| - 1 ~ 5e-7 here)
    np.testing.assert_allclose(lin.a, model.a / np.linalg.norm(model.a), rtol=0, atol=1e-15)
    assert lin.internal().theta == pytest.approx(-math.pi / 2, abs=1e-12)  # orthogonal H, V
    # the extreme perimeter rays land on the borders: "min" keeps every output pixel inside
    # the original image, "max" keeps every original pixel inside the output
    w, h = size
    grid = remap_grid(lin, size, model)
    if fov == "min":
        assert np.nanmin(grid[0]) >= -1e-3 and np.nanmax(grid[0]) <= w - 1 + 1e-3  # px
        assert np.nanmin(grid[1]) >= -1e-3 and np.nanmax(grid[1]) <= h - 1 + 1e-3  # px
    else:
        back = inverse_remap_grid(lin, model, size)
        # pixels whose rays are within linearize's 80 deg limit (fisheye corners reach 92)
        yy, xx = np.mgrid[0:h:4, 0:w:4]
        _, dirs = model.unproject(np.column_stack([xx.ravel(), yy.ravel()]).astype(float))
        inside = (np.degrees(np.arccos(dirs @ lin.a)) < 80.0).reshape(xx.shape)
        assert inside.mean() > 0.9
        for g, limit in zip(back, (w - 1, h - 1)):
            kept = g[::4, ::4][inside]
            assert kept.min() >= -1e-3 and kept.max() <= limit + 1e-3  # px


@pytest.mark.parametrize("range_m", [None, 2.0])
@pytest.mark.parametrize(("model", "size"), [(NAV, (1024, 1024)), (HAZ, (1024, 1024))])
def test_resampled_then_linear_projection_matches_original(model, size, range_m) -> None:
    # issue 3: resampling with the grid and projecting with the linear model lands within
    # 0.01 px of projecting with the original model, across the image
    lin = linearize(model, *size)
    grid = remap_grid(lin, size, model, range_m=range_m)
    origins, dirs = lin.unproject(_inner_pixels(size))
    if range_m is None:
        truth = model.project_directions(dirs)
        via_grid = _sample(grid, lin.project_directions(dirs))
    else:
        pts = origins + range_m * dirs
        truth = model.project(pts)
        via_grid = _sample(grid, lin.project(pts))
    np.testing.assert_allclose(via_grid, truth, rtol=0, atol=0.01)  # px


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["msl_flb", "msl_nrb", "m2020_nlf_0629", "mer_frh"])
def test_real_linearization_resamples_within_0_01_px(real_models: dict[str, RealModel], name) -> None:
    rm = real_models[name]
    lin = linearize(rm.model, *rm.size)
    grid = remap_grid(lin, rm.size, rm.model)
    _, dirs = lin.unproject(_inner_pixels(rm.size))
    via_grid = _sample(grid, lin.project_directions(dirs))
    np.testing.assert_allclose(via_grid, rm.model.project_directions(dirs), rtol=0, atol=0.01)  # px


def test_remap_grid_moves_an_image_like_the_models_say() -> None:
    # cv2.remap with the grid puts a bright dot where the linear model projects its direction
    size = (512, 512)
    small = HAZ.scaled(0.5, 0.5)
    lin = linearize(small, *size)
    direction = lin.unproject(np.array([(300.0, 200.0)]))[1]
    src_px = small.project_directions(direction)[0]
    image = np.zeros(size[::-1], np.float32)
    yy, xx = np.mgrid[0:size[1], 0:size[0]]
    image[:] = np.exp(-((xx - src_px[0]) ** 2 + (yy - src_px[1]) ** 2) / (2 * 2.0**2))
    out = cv2.remap(image, *remap_grid(lin, size, small), cv2.INTER_LINEAR)
    peak = np.unravel_index(np.argmax(out), out.shape)
    assert (peak[1], peak[0]) == (300, 200)


def test_remap_grid_is_cached_and_read_only() -> None:
    lin = linearize(NAV, 256, 256)
    first = remap_grid(lin, (256, 256), NAV.scaled(0.25, 0.25))
    again = remap_grid(linearize(NAV, 256, 256), (256, 256), NAV.scaled(0.25, 0.25))
    assert first[0] is again[0]
    assert first[0].dtype == np.float32 and first[0].shape == (256, 256)
    with pytest.raises(ValueError):
        first[0][0, 0] = 1.0


def test_remap_fast_path_matches_generic_path() -> None:
    # The CAHV-at-infinity shortcut (dot products) against unproject + project_directions
    lin = linearize(HAZ, 1024, 1024, fov="max")
    fast = remap_grid(lin, (1024, 1024), HAZ)
    px = _inner_pixels((1024, 1024)).round()
    generic = HAZ.project_directions(lin.unproject(px)[1])
    got = np.column_stack([g[px[:, 1].astype(int), px[:, 0].astype(int)] for g in fast])
    ok = np.isfinite(generic).all(axis=1)
    assert np.array_equal(ok, np.isfinite(got).all(axis=1))
    np.testing.assert_allclose(got[ok], generic[ok], rtol=0, atol=1e-3)  # px, float32 grid


def test_bad_linearize_arguments() -> None:
    with pytest.raises(CameraModelError, match="fov"):
        linearize(NAV, 100, 100, fov="wide")  # type: ignore[arg-type]
    with pytest.raises(CameraModelError, match="range_m"):
        remap_grid(NAV, (10, 10), NAV, range_m=-1.0)


def _pair_from(left: CAHVORE | CAHVOR) -> tuple:
    """A right eye: the left model moved 42.4 cm along its image x (Navcam baseline,
    docs/cameras.md) and toed in by 0.3 deg about its vertical, as real pairs are slightly misaligned."""
    _, hc, _, vc, _ = left.internal()
    x_dir = (left.h - hc * left.a) / np.linalg.norm(left.h - hc * left.a)
    axis = (left.v - vc * left.a) / np.linalg.norm(left.v - vc * left.a)
    ang = math.radians(0.3)
    kx = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(3) + math.sin(ang) * kx + (1 - math.cos(ang)) * kx @ kx
    right = left.transformed(rot, left.c + 0.424 * x_dir - rot @ left.c)
    return left, right


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["m2020_nlf_0629", "msl_flb"])
def test_rectified_pair_puts_points_on_the_same_row(real_models: dict[str, RealModel], name) -> None:
    # issue 3: a 3-D point projects to the same row (<= 0.01 px) in both rectified images
    left, right = _pair_from(real_models[name].model)
    size = real_models[name].size
    rect_l, rect_r = rectify_pair(left, right, size)
    np.testing.assert_array_equal(rect_l.v, rect_r.v)
    origins, dirs = left.unproject(_inner_pixels(size, 500))
    for range_m in (1.0, 5.0, 50.0):
        pts = origins + range_m * dirs
        pl, pr = rect_l.project(pts), rect_r.project(pts)
        ok = np.isfinite(pl).all(axis=1) & np.isfinite(pr).all(axis=1)
        assert ok.mean() > 0.9
        np.testing.assert_allclose(pl[ok, 1], pr[ok, 1], rtol=0, atol=0.01)  # px
        assert (pl[ok, 0] - pr[ok, 0] > 0).all()  # disparity is positive, left minus right
    # and through the grids: the row of the rectified pixel samples the right source pixel
    for rect, model in ((rect_l, left), (rect_r, right)):
        grid = remap_grid(rect, size, model, range_m=None)
        _, d = rect.unproject(_inner_pixels(size, 500, seed=3) * 0.8 + 0.1 * np.array(size))
        via = _sample(grid, rect.project_directions(d))
        np.testing.assert_allclose(via, model.project_directions(d), rtol=0, atol=0.01)  # px


def test_opencv_pinhole_matches_cahvor_with_o_along_a() -> None:
    # cv2.projectPoints ignores K's skew: use orthogonal H, V (a linearized model's)
    lin = linearize(NAV, 1024, 1024)
    model = CAHVOR((0.1, 0.2, 0.3), lin.a, lin.h, lin.v, lin.a, (0.002, -0.03, 0.01))
    cam = to_opencv(model)
    assert cam.kind == "pinhole"
    pts = model.unproject(_inner_pixels((1024, 1024), 200))[1] * 3.0 + model.c
    rvec, _ = cv2.Rodrigues(cam.r_cam_model)
    px, _ = cv2.projectPoints(pts, rvec, -cam.r_cam_model @ cam.c, cam.k, cam.dist)
    np.testing.assert_allclose(px[:, 0, :], model.project(pts), rtol=0, atol=1e-6)  # px


def test_opencv_fisheye_matches_cahvore_l0() -> None:
    # A as the label gives it (not unit length); O along A, unit length (see the refusals below)
    o_unit = HAZ.a / np.linalg.norm(HAZ.a)
    model = CAHVORE((0, 0, 0), HAZ.a, HAZ.h, HAZ.v, o_unit, (0.001, -0.02, 0.004), (0, 0, 0), mtype=2)
    cam = to_opencv(model, allow_skew=True)  # cv2.fisheye takes the skew as alpha
    assert cam.kind == "fisheye"
    dirs = model.unproject(_inner_pixels((1024, 1024), 200))[1]
    dirs = dirs[np.degrees(np.arccos(dirs @ model.a)) < 80]
    rvec, _ = cv2.Rodrigues(cam.r_cam_model)
    px, _ = cv2.fisheye.projectPoints(
        (5.0 * dirs)[:, None, :], rvec, np.zeros(3), cam.k, cam.dist, alpha=cam.k[0, 1] / cam.k[0, 0]
    )
    np.testing.assert_allclose(px[:, 0, :], model.project(5.0 * dirs), rtol=0, atol=1e-6)  # px


def test_opencv_refuses_inexact_conversions() -> None:
    with pytest.raises(CameraModelError, match="off A"):
        to_opencv(NAV, allow_skew=True)
    o_unit = HAZ.a / np.linalg.norm(HAZ.a)
    with pytest.raises(CameraModelError, match="entrance"):
        to_opencv(CAHVORE((0, 0, 0), HAZ.a, HAZ.h, HAZ.v, o_unit, (0, 0, 0), (0.01, 0, 0), mtype=2),
                  allow_skew=True)
    # cmod's l = d - (d.O) O with an off-unit O has an axial part OpenCV cannot express
    with pytest.raises(CameraModelError, match="not unit length"):
        to_opencv(CAHVORE((0, 0, 0), HAZ.a, HAZ.h, HAZ.v, HAZ.a, (0, 0, 0), (0, 0, 0), mtype=2),
                  allow_skew=True)
    cahv = CAHV((0, 0, 0), NAV.a, NAV.h, NAV.v)  # H, V 1e-4 rad off orthogonal
    with pytest.raises(CameraModelError, match="skew"):
        to_opencv(cahv)
    cam = to_opencv(cahv, allow_skew=True)
    assert cam.kind == "pinhole" and cam.k[0, 1] != 0.0
