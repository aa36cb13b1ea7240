"""Projections and surfaces: forward/inverse round trips, the azimuth wrap, tags round trips.

Truth: analytic geometry (a ray's pixel must give back the ray; a plane/sphere intersection must
lie on the surface along the ray).
"""
from __future__ import annotations

import numpy as np
import pytest

from rovercam.camera.coordinates import azimuth_elevation, direction_from_azimuth_elevation
from rovercam.mosaic.projections import (
    CylindricalProjection,
    EquirectangularProjection,
    PerspectiveProjection,
    PolarProjection,
    VerticalProjection,
    projection_from_tags,
)
from rovercam.mosaic.surfaces import FAR_RANGE_M, Surface

PROJECTIONS = [
    CylindricalProjection(-40.0, 20.0, 0.1, 800, 400),
    EquirectangularProjection.full_sphere(720),
    PolarProjection.around_nadir(10.0, 0.2),
    PerspectiveProjection(30.0, -10.0, 500.0, 640, 480, origin=(1.0, 2.0, -1.5)),
    VerticalProjection(5.0, -5.0, 0.02, 501, 501, ground_z_m=0.5, origin=(0.0, 0.0, -1.4)),
]


@pytest.mark.parametrize("proj", PROJECTIONS, ids=lambda p: p.kind)
def test_pixels_of_rays_give_back_the_pixels(proj):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, proj.width - 1, 500)
    y = rng.uniform(0, proj.height - 1, 500)
    back = proj.pixels(proj.rays(x, y))
    # analytic inverse: float64 round trip, 1e-6 px
    np.testing.assert_allclose(back, np.stack([x, y], 1), atol=1e-6)


@pytest.mark.parametrize("proj", PROJECTIONS, ids=lambda p: p.kind)
def test_tags_round_trip(proj):
    again = projection_from_tags(proj.to_tags(), proj.width, proj.height)
    assert again == proj
    np.testing.assert_allclose(again.rays(np.array([3.0]), np.array([7.0])), proj.rays(np.array([3.0]), np.array([7.0])))


def test_cylindrical_keeps_its_old_tag_reader():
    p = CylindricalProjection(10.0, 5.0, 0.05, 100, 50)
    assert CylindricalProjection.from_tags(p.to_tags(), 100, 50) == p
    with pytest.raises(ValueError, match="not a cylindrical"):
        CylindricalProjection.from_tags(EquirectangularProjection.full_sphere(8).to_tags(), 8, 4)


def test_equirectangular_wraps_and_tiles_the_sphere():
    p = EquirectangularProjection.full_sphere(3600)
    assert p.periodic_width == 3600 and p.height == 1800
    x = np.array([0.0, 100.5, 3599.0])
    # x and x + width are the same ray: the grid wraps with no seam
    np.testing.assert_allclose(p.rays(x + 3600, x * 0 + 10), p.rays(x, x * 0 + 10), atol=1e-12)
    # pixel centres sit half a pixel inside the sphere's edges (pixels are areas tiling it)
    az, el = p.az_el_grid()
    assert az[0, 0] == pytest.approx(-180 + 0.05) and az[0, -1] == pytest.approx(180 - 0.05)
    assert el[0, 0] == pytest.approx(90 - 0.05) and el[-1, 0] == pytest.approx(-90 + 0.05)
    # a ray just east of -180 and one just west of +180 land on opposite ends of the same row
    xy = p.pixels(direction_from_azimuth_elevation(np.array([-179.99, 179.99]), np.array([0.0, 0.0])))
    assert xy[0, 0] == pytest.approx(-0.5 + 0.01 / 0.1) and xy[1, 0] == pytest.approx(3599.5 - 0.01 / 0.1)


def test_polar_centre_is_the_nadir_and_north_is_up():
    p = PolarProjection.around_nadir(0.0, 0.5)
    az, el = azimuth_elevation(p.rays(np.array([p.centre_x, p.centre_x, p.centre_x + 20]),
                                      np.array([p.centre_y, p.centre_y - 20, p.centre_y])))
    assert el[0] == pytest.approx(-90.0)
    assert az[1] == pytest.approx(0.0, abs=1e-9) and el[1] == pytest.approx(-80.0)  # up = north
    assert az[2] == pytest.approx(90.0) and el[2] == pytest.approx(-80.0)  # right = east


def test_vertical_pixels_are_ground_points():
    p = PROJECTIONS[-1]
    pts, at_inf = p.targets(np.array([0.0, 250.0]), np.array([0.0, 250.0]))
    assert not at_inf
    np.testing.assert_allclose(pts, [[5.0, -5.0, 0.5], [0.0, 0.0, 0.5]], atol=1e-12)  # metres


def test_surface_intersections_lie_on_the_surface_along_the_ray():
    rng = np.random.default_rng(1)
    d = rng.normal(size=(200, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    o = np.array([0.3, -0.2, -1.5])
    ground = Surface.ground(0.4)
    pts = ground.intersect(o, d)
    hit = d[:, 2] > 0  # looking down (z down) meets the ground
    np.testing.assert_allclose(pts[hit, 2], 0.4, atol=1e-9)  # metres
    np.testing.assert_allclose(np.linalg.norm(pts[~hit] - o, axis=1), FAR_RANGE_M)  # misses: far away
    sphere = Surface("sphere", centre=(0.0, 0.0, -1.0), distance_m=5.0)
    pts = sphere.intersect(o, d)
    np.testing.assert_allclose(np.linalg.norm(pts - [0.0, 0.0, -1.0], axis=1), 5.0, atol=1e-9)
    t = np.einsum("ij,ij->i", pts - o, d)
    np.testing.assert_allclose(pts, o + d * t[:, None], atol=1e-9)
    assert (t > 0).all()
    assert Surface.from_tag(sphere.tag, sphere.parameters()) == sphere
