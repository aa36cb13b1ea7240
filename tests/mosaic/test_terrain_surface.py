"""Vertical mosaics on the terrain (``surface = "terrain"``): a raised box lands where it stands.

Truth: an analytic scene, level ground ``z = 0`` (SITE_FRAME, z down) with a box 0.3 m tall,
textured by closed-form radiance functions; frames are rendered by intersecting every pixel
centre's ray with the box (slab method) and the ground, so the true radiance of every ground
point seen from above is the texture itself.
"""
from __future__ import annotations

import numpy as np
import pytest

from rovercam.camera import camera_from_pose
from rovercam import config
from rovercam.config import MosaicSettings
from rovercam.errors import ConfigError, MosaicError
from rovercam.mosaic.cylindrical import FrameGeometry
from rovercam.mosaic.plan import plan_projection
from rovercam.mosaic.projections import VerticalProjection, projection_from_tags
from rovercam.mosaic.render import FrameStack, RenderOptions, render_mosaic
from rovercam.mosaic.surfaces import FAR_RANGE_M, Surface
from rovercam.terrain import DEM, dem_from_points

BOX = (1.8, 2.2, -0.2, 0.2)  # x (north) and y (east) extent, metres
BOX_H = 0.3                  # box height, metres (top at z = -0.3)
SIDE = 0.1                   # radiance of the box's sides
W, H = 320, 240


def ground_radiance(x, y):
    return 0.5 + 0.2 * np.sin(2 * np.pi * x / 0.37) * np.sin(2 * np.pi * y / 0.29)


def top_radiance(x, y):
    return 1.5 + 0.2 * np.cos(2 * np.pi * x / 0.23) * np.cos(2 * np.pi * y / 0.31)


def box_height(x, y):
    inside = (x >= BOX[0]) & (x <= BOX[1]) & (y >= BOX[2]) & (y <= BOX[3])
    return np.where(inside, BOX_H, 0.0)


def render(model) -> np.ndarray:
    ys, xs = np.mgrid[0:H, 0:W].astype(float)
    o, d = model.unproject(np.stack([xs.ravel(), ys.ravel()], 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        t_ground = np.where(d[:, 2] > 0, -o[:, 2] / d[:, 2], np.inf)
        lo = np.array([BOX[0], BOX[2], -BOX_H])
        hi = np.array([BOX[1], BOX[3], 0.0])
        t1, t2 = (lo - o) / d, (hi - o) / d
        t_near = np.minimum(t1, t2).max(axis=1)
        t_far = np.maximum(t1, t2).min(axis=1)
    box = (t_near <= t_far) & (t_near > 0)
    t = np.where(box, t_near, t_ground)
    p = o + d * t[:, None]
    rad = ground_radiance(p[:, 0], p[:, 1])
    on_top = box & np.isclose(p[:, 2], -BOX_H, atol=1e-9)
    rad = np.where(box, SIDE, rad)
    rad = np.where(on_top, top_radiance(p[:, 0], p[:, 1]), rad)
    rad = np.where(np.isfinite(t), rad, np.nan)
    return rad.reshape(H, W, 1).astype(np.float32)


@pytest.fixture(scope="module")
def pair():
    """Two cameras 0.3 m apart, 1.2 m above the ground, looking at the box 2 m ahead."""
    el = -np.degrees(np.arctan2(1.2, 2.0))
    models = [camera_from_pose((0.0, y, -1.2), yaw_deg=0.0, pitch_deg=el, roll_deg=0.0, focal_px=200.0,
                               width=W, height=H) for y in (-0.15, 0.15)]
    images = [render(m) for m in models]
    geoms = [FrameGeometry(f"EYE{i}", m, W, H) for i, m in enumerate(models)]
    return geoms, images


def _dem(cell=0.01, nan_north_of=None) -> DEM:
    # the box's heights gridded from points (4 per cell), as stereo XYZ would give them
    x, y = np.meshgrid(np.arange(1.0, 3.0, cell / 2), np.arange(-1.0, 1.0, cell / 2), indexing="ij")
    pts = np.stack([x, y, -box_height(x, y)], -1)
    dem = dem_from_points(pts, cell_m=cell)
    if nan_north_of is not None:
        xx, _ = dem.cell_centres()
        dem = DEM(np.where(xx > nan_north_of, np.nan, dem.heights).astype(np.float32), dem.origin, dem.cell_m)
    return dem


def _ortho(pair, dem):
    geoms, images = pair
    proj = VerticalProjection(3.0, -1.0, 0.01, 200, 250, 0.0, dem=dem)
    img, idx = render_mosaic(FrameStack(geoms, lambda i: images[i]), proj,
                             options=RenderOptions(tile=128, blend="feather", map_step=1))
    y, x = np.mgrid[0 : proj.height, 0 : proj.width]
    pts = proj.ground_points(x.ravel(), y.ravel())
    return img[..., 0], idx, pts[:, 0].reshape(x.shape), pts[:, 1].reshape(x.shape)


def _top_pixels(north, east, margin=0.04):
    return ((north > BOX[0] + margin) & (north < BOX[1] - margin)
            & (east > BOX[2] + margin) & (east < BOX[3] - margin))


def test_terrain_puts_the_box_top_where_it_stands_and_the_plane_smears_it(pair):
    on_dem, _, north, east = _ortho(pair, _dem())
    on_plane, _, _, _ = _ortho(pair, None)
    top = _top_pixels(north, east)
    truth = top_radiance(north[top], east[top])
    # on the terrain the top is the top's texture (tolerance: 5 % of its 1.5 level, from the
    # bilinear resampling of 2 cm frame pixels on a 1 cm grid)
    assert np.nanmedian(np.abs(on_dem[top] - truth)) < 0.075
    assert np.mean(on_dem[top] > 1.0) > 0.95
    # on the plane, the ground point under the box is seen through the box's front side
    assert np.mean(on_plane[top] > 1.0) < 0.05
    # and the bright top lands 0.4-0.9 m farther (ray to the top extended to z = 0: x * 1.2 / 0.9)
    bright = np.nan_to_num(on_plane, nan=0.0) > 1.0
    assert 2.3 < north[bright].mean() < 2.9
    bright_dem = np.nan_to_num(on_dem, nan=0.0) > 1.0
    assert abs(north[bright_dem & (north < BOX[1] + 0.02)].mean() - 2.0) < 0.03


def test_terrain_ground_in_front_of_the_box_matches_the_plane(pair):
    on_dem, idx, north, east = _ortho(pair, _dem())
    on_plane, _, _, _ = _ortho(pair, None)
    front = (north > 1.0) & (north < 1.7) & (idx >= 0)
    # the ground is z = 0 in both: the same mosaic (maps computed at every pixel in both)
    assert np.nanmax(np.abs(on_dem[front] - on_plane[front])) < 1e-5
    assert np.nanmax(np.abs(on_dem[front] - ground_radiance(north[front], east[front]))) < 0.03


def test_where_the_dem_has_no_height_the_level_plane_is_used(pair):
    # heights known south of x = 1.7 only: the box is not in the DEM, its pixels fall back to z = 0
    partial, _, north, east = _ortho(pair, _dem(nan_north_of=1.7))
    on_plane, _, _, _ = _ortho(pair, None)
    top = _top_pixels(north, east)
    assert np.nanmax(np.abs(partial[top] - on_plane[top])) < 1e-5
    known = (north > 1.0) & (north < 1.6)
    assert np.nanmax(np.abs(partial[known] - on_plane[known])) < 1e-5


def test_terrain_surface_intersects_rays_with_the_dem():
    surf = Surface.terrain(_dem(), 0.0)
    o = np.array([0.0, 0.0, -1.2])
    # a ray to the top's centre, one to the ground in front of the box, one above the horizon
    targets = np.array([[2.0, 0.05, -BOX_H], [1.5, -0.3, 0.0]])
    d = targets - o
    d = np.vstack([d, [1.0, 0.0, -0.01]])
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    p = surf.intersect(o, d)
    np.testing.assert_allclose(p[:2], targets, atol=1e-6)  # m; flat facets: the secant is exact
    np.testing.assert_allclose(np.linalg.norm(p[2] - o), FAR_RANGE_M, rtol=1e-9)
    # one origin per ray gives the same points
    np.testing.assert_allclose(surf.intersect(np.tile(o, (3, 1)), d), p, atol=1e-9)
    # past the DEM (x > 3 m) the fallback plane
    d_far = np.array([[4.0, 0.0, 1.2]]) / np.linalg.norm([4.0, 0.0, 1.2])
    np.testing.assert_allclose(surf.intersect(o, d_far), [[4.0, 0.0, 0.0]], atol=1e-9)


def test_terrain_surface_tags_and_validation():
    dem = _dem()
    surf = Surface.terrain(dem, 0.25)
    assert surf.tag == "TERRAIN" and surf.parameters()[:4] == (0.0, 0.0, 1.0, 0.25)
    # the tags cannot hold the heights: read back, a terrain is its fallback plane
    assert Surface.from_tag("TERRAIN", surf.parameters()) == Surface.ground(0.25)
    with pytest.raises(ValueError, match="needs its DEM"):
        Surface("terrain")
    with pytest.raises(ValueError, match="only a terrain surface"):
        Surface("plane", dem=dem)


def test_plan_refuses_terrain_off_vertical_and_without_a_dem(pair):
    geoms, _ = pair
    with pytest.raises(MosaicError, match="vertical"):
        plan_projection(geoms, "cylindrical", surface="terrain", dem=_dem())
    with pytest.raises(MosaicError, match="DEM"):
        plan_projection(geoms, "vertical", surface="terrain")
    proj = plan_projection(geoms, "vertical", surface="terrain", dem=_dem(), vertical_extent_m=3.0)
    assert proj.dem is not None and proj.to_tags()["SURFACE_MODEL"] == "TERRAIN"
    # read back from its tags (a published mosaic), it is the same grid over its fallback plane
    back = projection_from_tags(proj.to_tags(), proj.width, proj.height)
    assert back.dem is None and back.surface == "TERRAIN"
    assert back.surface_model == Surface.ground(proj.ground_z_m)
    np.testing.assert_allclose(back.ground_points([0.0], [0.0])[0, :2], proj.ground_points([0.0], [0.0])[0, :2])
    assert plan_projection(geoms, "vertical", surface="ground", dem=_dem()).dem is None


def test_settings_take_terrain_for_vertical_mosaics_only():
    assert MosaicSettings(projection="vertical", surface="terrain").surface == "terrain"
    with pytest.raises(ValueError, match="vertical"):
        MosaicSettings(projection="cylindrical", surface="terrain")
    with pytest.raises(ValueError):
        MosaicSettings(projection="vertical", surface="mesh")
    env = {"ROVERCAM_MOSAIC__SURFACE": "terrain"}
    with pytest.raises(ConfigError, match="vertical"):
        config.load(environ=env)  # the default projection is cylindrical
    loaded = config.load(environ={**env, "ROVERCAM_MOSAIC__PROJECTION": "vertical"})
    assert loaded.mosaic.surface == "terrain"


def test_ground_hidden_behind_the_box_from_both_eyes_is_left_empty(pair):
    on_dem, idx, north, east = _ortho(pair, _dem())
    # the box's shadow seen from 1.2 m: behind it out to x = 2.2 * 1.2 / 0.9 = 2.93 m; both eyes
    # (y = -0.15, 0.15) are hidden from the strip |y| < 0.05 between 2.3 and 2.8 m
    shadow = (north > 2.3) & (north < 2.8) & (np.abs(east) < 0.05)
    assert np.isnan(on_dem[shadow]).mean() > 0.95 and (idx[shadow] == -1).mean() > 0.95
    # (without the occlusion test the box's top would be drawn there a second time); beside the
    # shadow the ground is the ground
    beside = (north > 2.3) & (north < 2.8) & (np.abs(east) > 0.6) & (idx >= 0)
    assert beside.sum() > 100
    np.testing.assert_allclose(on_dem[beside], ground_radiance(north[beside], east[beside]), atol=0.03)


def test_hidden_marks_points_behind_the_box():
    surf = Surface.terrain(_dem(), 0.0)
    c = np.array([0.0, 0.0, -1.2])
    pts = np.array([[2.5, 0.0, 0.0], [1.5, 0.0, 0.0], [2.0, 0.0, -BOX_H], [2.5, 0.5, 0.0]])
    np.testing.assert_array_equal(surf.hidden(c, pts), [True, False, False, False])
