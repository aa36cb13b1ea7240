"""Pose-first camera models (rovercam.camera.pose): site points land where the stated
convention (docs/conventions.md#camera-pose-yaw-pitch-roll) puts them.

Truth: SITE_FRAME's axes (+x north, +y east, +z down) and the pinhole law written out by hand
for each case (x = cx + f tan(...)), cmod's internal parameters of the CAHV part, and a look-at
construction of the mosaic truth cameras built from cross products, independent of the Euler
angles.
"""
from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from rovercam.camera import (
    CAHV,
    CAHVOR,
    camera_from_pose,
    pose_from_camera,
    rotation_from_yaw_pitch_roll,
    yaw_pitch_roll_from_rotation,
)
from rovercam.camera.coordinates import azimuth_elevation, direction_from_azimuth_elevation
from rovercam.errors import CameraModelError

F, W, H = 1000.0, 1024, 768
CX, CY = (W - 1) / 2, (H - 1) / 2
PX = 1e-9  # px: float64 round-off over a 1000 px focal length
DEG = 1e-9  # degrees


def cam(**kw):
    return camera_from_pose(kw.pop("position", (0.0, 0.0, 0.0)), focal_px=kw.pop("focal_px", F), width=W,
                            height=H, **kw)


def test_zero_pose_looks_north_with_east_to_the_right_and_down_below():
    c = cam()
    px = c.project(np.array([[10.0, 0.0, 0.0], [10.0, 1.0, 0.0], [10.0, 0.0, 1.0]]))
    np.testing.assert_allclose(px[0], [CX, CY], atol=PX)  # north: the principal point
    np.testing.assert_allclose(px[1], [CX + F * 0.1, CY], atol=PX)  # east of north: right
    np.testing.assert_allclose(px[2], [CX, CY + F * 0.1], atol=PX)  # below (z down): lower in the image


def test_yaw_90_looks_east_from_the_position():
    pos = (3.0, -2.0, -1.9)
    c = cam(position=pos, yaw_deg=90.0)
    np.testing.assert_allclose(c.c, pos)
    px = c.project(np.array([[3.0, 8.0, -1.9], [3.0 + 1.0, 8.0, -1.9]]))  # 10 m east; then 1 m north of that
    np.testing.assert_allclose(px[0], [CX, CY], atol=PX)
    np.testing.assert_allclose(px[1], [CX - F * 0.1, CY], atol=PX)  # north is on the left looking east


@pytest.mark.parametrize("yaw, pitch", [(0.0, 10.0), (35.0, -20.0), (-120.0, 45.0), (170.0, 80.0)])
def test_yaw_and_pitch_are_the_optical_axis_azimuth_and_elevation(yaw, pitch):
    c = cam(yaw_deg=yaw, pitch_deg=pitch, roll_deg=7.0)  # roll turns about the axis: no effect on it
    _, d = c.unproject(np.array([[CX, CY]]))
    az, el = azimuth_elevation(d)
    assert az[0] == pytest.approx(yaw, abs=DEG) and el[0] == pytest.approx(pitch, abs=DEG)


def test_pitch_up_raises_what_the_image_centre_sees():
    low, high = cam(pitch_deg=0.0), cam(pitch_deg=5.0)
    level_point = np.array([[10.0, 0.0, 0.0]])
    # the horizon moves down the image by f tan(5 deg) when the camera pitches up 5 degrees
    np.testing.assert_allclose(high.project(level_point)[0, 1] - low.project(level_point)[0, 1],
                               F * math.tan(math.radians(5.0)), atol=PX)


@pytest.mark.parametrize("roll", [10.0, -10.0])
def test_positive_roll_turns_the_image_right_side_down(roll):
    c = cam(roll_deg=roll)
    # a level point at azimuth a: y = cy - f sin(roll) tan(a), x = cx + f cos(roll) tan(a)
    a = math.radians(5.0)
    px = c.project(direction_from_azimuth_elevation(5.0, 0.0) * 10.0)[0]
    r = math.radians(roll)
    np.testing.assert_allclose(px, [CX + F * math.cos(r) * math.tan(a), CY - F * math.sin(r) * math.tan(a)], atol=PX)
    # the image-right direction points down (+z) for a positive roll
    _, d = c.unproject(np.array([[CX + 100.0, CY], [CX, CY]]))
    assert np.sign((d[0] - d[1])[2]) == np.sign(roll)


def test_intrinsics_are_cmods_internal_parameters():
    c = cam(yaw_deg=20.0, pitch_deg=-10.0, roll_deg=3.0, focal_px=(1000.0, 1010.0), principal_point=(500.0, 390.0))
    hs, hc, vs, vc, theta = c.internal()
    assert (hs, hc, vs, vc) == pytest.approx((1000.0, 500.0, 1010.0, 390.0), abs=1e-9)
    assert theta == pytest.approx(-math.pi / 2, abs=1e-12)  # H and V perpendicular (cmod's theta)
    _, d = c.unproject(np.array([[500.0, 390.0]]))
    np.testing.assert_allclose(azimuth_elevation(d), [[20.0], [-10.0]], atol=DEG)


@pytest.mark.parametrize("yaw, pitch, roll", [(0.0, 0.0, 0.0), (33.0, -12.0, 4.0), (-150.0, 60.0, -170.0),
                                              (179.0, -89.0, 20.0), (90.0, 0.0, 180.0)])
def test_round_trips(yaw, pitch, roll):
    r = rotation_from_yaw_pitch_roll(yaw, pitch, roll)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-15)
    assert np.linalg.det(r) == pytest.approx(1.0, abs=1e-15)
    assert yaw_pitch_roll_from_rotation(r) == pytest.approx((yaw, pitch, roll), abs=DEG)
    pos = np.array([1.0, 2.0, -1.9])
    c = camera_from_pose(pos, yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll, focal_px=F, width=W, height=H)
    back_pos, *angles = pose_from_camera(c)
    np.testing.assert_allclose(back_pos, pos)
    assert tuple(angles) == pytest.approx((yaw, pitch, roll), abs=DEG)
    same = camera_from_pose(pos, r_frame_camera=r, focal_px=F, width=W, height=H)
    for name in "cahv":
        np.testing.assert_array_equal(getattr(same, name), getattr(c, name))


def test_looking_straight_down_keeps_the_turn_in_yaw():
    r = rotation_from_yaw_pitch_roll(30.0, -90.0, 0.0)
    yaw, pitch, roll = yaw_pitch_roll_from_rotation(r)
    assert (yaw, pitch, roll) == pytest.approx((30.0, -90.0, 0.0), abs=1e-6)
    np.testing.assert_allclose(rotation_from_yaw_pitch_roll(yaw, pitch, roll), r, atol=1e-12)


def _look_at(az, el, roll, f, w, h):
    """The mosaic truth cameras' construction: axis from az/el, right = z x axis, down = axis x right,
    then (right, down) turned by roll."""
    a = direction_from_azimuth_elevation(az, el)[0]
    right = np.cross([0.0, 0.0, 1.0], a)
    right /= np.linalg.norm(right)
    down = np.cross(a, right)
    r = math.radians(roll)
    right, down = math.cos(r) * right + math.sin(r) * down, -math.sin(r) * right + math.cos(r) * down
    return a, f * right + (w - 1) / 2 * a, f * down + (h - 1) / 2 * a


@pytest.mark.parametrize("az, el, roll", [(0.0, 0.0, 0.0), (18.3, -16.2, 0.4), (-97.0, 29.0, -0.5), (250.0, -3.0, 12.0)])
def test_agrees_with_the_mosaic_truth_cameras(az, el, roll):
    from rovercam.testing import pointing_camera

    a, h, v = _look_at(az, el, roll, 3000.0, 1648, 1200)
    for model in (pointing_camera(az, el, 3000.0, 1648, 1200, roll_deg=roll),
                  camera_from_pose((0, 0, 0), yaw_deg=az, pitch_deg=el, roll_deg=roll, focal_px=3000.0,
                                   width=1648, height=1200)):
        np.testing.assert_allclose(model.a, a, rtol=0, atol=1e-15)
        np.testing.assert_allclose(model.h, h, rtol=0, atol=1e-11)  # px-sized components: 1e-15 relative
        np.testing.assert_allclose(model.v, v, rtol=0, atol=1e-11)


def test_radial_distortion_gives_cahvor_about_the_optical_axis():
    plain = cam(yaw_deg=40.0, pitch_deg=-5.0)
    none = cam(yaw_deg=40.0, pitch_deg=-5.0, radial=(0.0, 0.0, 0.0))
    barrel = cam(yaw_deg=40.0, pitch_deg=-5.0, radial=(0.0, 0.05, 0.0))
    assert isinstance(plain, CAHV) and isinstance(none, CAHVOR)
    np.testing.assert_array_equal(none.o, none.a)
    pts = direction_from_azimuth_elevation([40.0, 50.0, 32.0], [-5.0, 2.0, -12.0]) * 20.0
    np.testing.assert_allclose(none.project(pts), plain.project(pts), atol=PX)
    # R1 > 0: d' = d + mu l pushes off-axis points outward; the axis stays at the principal point
    r_plain = np.hypot(*(plain.project(pts) - [CX, CY]).T)
    r_barrel = np.hypot(*(barrel.project(pts) - [CX, CY]).T)
    assert r_barrel[0] == pytest.approx(0.0, abs=1e-6) and np.all(r_barrel[1:] > r_plain[1:])


@pytest.mark.parametrize("kwargs, message", [
    (dict(yaw_deg=10.0, r_frame_camera=np.eye(3)), "not both"),
    (dict(r_frame_camera=np.diag([1.0, 1.0, -1.0])), "R_frame_camera: rotation must be orthonormal with determinant"),
    (dict(focal_px=0.0), "focal_px must be positive"),
    (dict(focal_px=(1000.0, -1.0)), "focal_px must be positive"),
    (dict(pitch_deg=float("nan")), "pitch_deg must be finite"),
    (dict(position=(0.0, 0.0)), "component position must have 3 values"),
])
def test_bad_poses_are_refused(kwargs, message):
    with pytest.raises(CameraModelError, match=message):
        cam(**kwargs)


def test_module_example_runs():
    from rovercam.camera import pose

    assert doctest.testmod(pose).failed == 0
