"""Quaternions, rigid transforms, frame chains and azimuth/elevation (docs/conventions.md)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rovercam.camera.coordinates import (
    RigidTransform,
    azimuth_elevation,
    direction_from_azimuth_elevation,
    local_level_transform,
    matrix_to_quaternion,
    quaternion_to_matrix,
    transform_between,
    transform_from_frame,
)
from rovercam.errors import CameraModelError
from rovercam.products.model import CoordinateSystem

# MSL FLB_431397159EDR_F0141262FHAZ00323M1 label, ROVER_COORDINATE_SYSTEM group
FLB_ROVER = CoordinateSystem(
    name="ROVER_NAV_FRAME",
    quaternion=(0.423523, 0.00304319, 0.0215231, -0.905624),
    offset=(-176.437, -129.578, -0.203979),
    reference="SITE_FRAME",
)


def test_quaternion_about_z_is_hamilton() -> None:
    # truth: Hamilton q = (cos 45, 0, 0, sin 45) turns +x into +y (right-handed, 90 deg about z)
    half = math.sqrt(0.5)
    rot = quaternion_to_matrix((half, 0, 0, half))
    np.testing.assert_allclose(rot @ [1, 0, 0], [0, 1, 0], atol=1e-15)
    np.testing.assert_allclose(rot @ [0, 0, 1], [0, 0, 1], atol=1e-15)


def test_quaternion_is_normalised_first() -> None:
    # labels print 6 digits; a scaled quaternion is the same rotation
    q = np.array([0.423523, 0.00304319, 0.0215231, -0.905624])
    np.testing.assert_allclose(quaternion_to_matrix(3 * q), quaternion_to_matrix(q), atol=1e-15)
    rot = quaternion_to_matrix(q)
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-15)


def test_flb_rover_pointing_rotates_to_site() -> None:
    # truth: the FLB label: rover az/el (1.81594, -44.4866) -> site (233.876, -43.0257)
    direction = direction_from_azimuth_elevation([1.81594], [-44.4866])
    t_site_rover = transform_from_frame(FLB_ROVER)
    az, el = azimuth_elevation(t_site_rover.rotate(direction))
    assert az[0] % 360 == pytest.approx(233.876, abs=2e-3)  # deg, 6-digit label values
    assert el[0] == pytest.approx(-43.0257, abs=2e-3)  # deg


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=4, max_size=4).filter(lambda q: np.linalg.norm(q) > 0.1))
def test_matrix_quaternion_round_trip(q: list[float]) -> None:
    rot = quaternion_to_matrix(q)
    back = matrix_to_quaternion(rot)
    np.testing.assert_allclose(quaternion_to_matrix(back), rot, atol=1e-12)
    expected = np.asarray(q) / np.linalg.norm(q)
    expected = -expected if expected[0] < 0 else expected
    if abs(expected[0]) > 1e-6:  # q and -q are the same rotation; s >= 0 picks one
        np.testing.assert_allclose(back, expected, atol=1e-12)


def test_rigid_transform_chain_and_inverse() -> None:
    t_b_c = RigidTransform(quaternion_to_matrix((0.9, 0.1, -0.2, 0.3)), (1.0, 2.0, 3.0))
    t_a_b = RigidTransform(quaternion_to_matrix((0.5, 0.5, 0.5, 0.5)), (-4.0, 0.5, 7.0))
    pts = np.array([(1.0, 0.0, 0.0), (0.3, -2.0, 5.0)])
    np.testing.assert_allclose((t_a_b @ t_b_c).apply(pts), t_a_b.apply(t_b_c.apply(pts)), atol=1e-12)
    np.testing.assert_allclose(t_b_c.inverse().apply(t_b_c.apply(pts)), pts, atol=1e-12)


def test_transform_between_walks_the_chain() -> None:
    site_n = CoordinateSystem("SITE_FRAME_30", (1, 0, 0, 0), (36.576, -10.604, -1.15378), "SITE_FRAME_29")
    rover = CoordinateSystem("ROVER_NAV_FRAME", (0.174493, 0.034765, 0.0422949, -0.983135),
                            (94.6281, -118.938, -7.51133), "SITE_FRAME_30")
    frames = {f.name: f for f in (site_n, rover)}
    t = transform_between(frames, "ROVER_NAV_FRAME", "SITE_FRAME_29")
    expected = transform_from_frame(site_n) @ transform_from_frame(rover)
    np.testing.assert_allclose(t.r, expected.r, atol=1e-15)
    np.testing.assert_allclose(t.t, expected.t, atol=1e-12)
    back = transform_between(frames, "SITE_FRAME_29", "ROVER_NAV_FRAME")
    np.testing.assert_allclose((back @ t).r, np.eye(3), atol=1e-12)
    with pytest.raises(CameraModelError, match="no frame chain"):
        transform_between(frames, "ROVER_NAV_FRAME", "MCMF_FRAME")


def test_local_level_keeps_rover_origin_with_site_axes() -> None:
    t_site_rover = transform_from_frame(FLB_ROVER)
    t_local_rover = local_level_transform(t_site_rover)
    p_rover = np.array([[1.0, 2.0, -1.5]])
    # site = local + rover origin offset; directions in local equal those in site
    np.testing.assert_allclose(t_local_rover.apply(p_rover) + t_site_rover.t,
                               t_site_rover.apply(p_rover), atol=1e-12)


def test_azimuth_elevation_conventions() -> None:
    # truth: az = atan2(y, x) clockwise from +x (north), el = -asin(z) with z down
    dirs = np.array([(1, 0, 0), (0, 1, 0), (0, 0, -1), (1, -1, 0)], dtype=float)
    az, el = azimuth_elevation(dirs)
    np.testing.assert_allclose(az, [0, 90, 0, -45], atol=1e-12)
    np.testing.assert_allclose(el, [0, 0, 90, 0], atol=1e-12)
    az2, el2 = azimuth_elevation(direction_from_azimuth_elevation([123.0, -50.0], [-10.0, 33.0]))
    np.testing.assert_allclose(az2, [123.0, -50.0], atol=1e-12)
    np.testing.assert_allclose(el2, [-10.0, 33.0], atol=1e-12)
