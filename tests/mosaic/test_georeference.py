"""Mosaic files are georeferenced in degrees of azimuth/elevation (docs/conventions.md).

Cylindrical and equirectangular mosaics, as published (:func:`rovercam.publish.publish_mosaic`)
and as rendered to GeoTIFF (:func:`rovercam.mosaic.render.render_geotiff`), read back through
rasterio and through ``xarray.open_dataset(engine="rasterio")`` with x = azimuth and
y = elevation of each pixel's centre. Other projections have no geotransform and say in their
tags how pixels map to angles.

Truth: each projection's own pixel -> ray definition (``proj.rays``, turned into angles by
:func:`rovercam.camera.coordinates.azimuth_elevation`), and for the full-sphere grid the
literal layout its docstring gives (centres half a pixel inside -180..180 x -90..90 degrees).
Tolerances are float64 rounding of angles of a few hundred degrees (1e-9 degree).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from rovercam.camera.coordinates import azimuth_elevation
from rovercam.catalog import Catalog
from rovercam.mosaic.model import Mosaic
from rovercam.mosaic.projections import (
    GEOTRANSFORM_AZ_EL,
    GEOTRANSFORM_NONE,
    CylindricalProjection,
    EquirectangularProjection,
    PerspectiveProjection,
    PolarProjection,
    VerticalProjection,
    projection_from_tags,
)
from rovercam.mosaic.render import FrameStack, RenderOptions, render_geotiff
from rovercam.provenance import Provenance
from rovercam.publish import publish_mosaic
from rovercam.storage import Store

ANGLE_ATOL_DEG = 1e-9  # float64 rounding of angles up to ~400 degrees

AZ_EL_GRIDS = [
    CylindricalProjection(-35.0, 12.0, 0.1, 700, 240),  # a cropped panorama
    CylindricalProjection(170.0, 30.0, 0.25, 160, 90, frame="ROVER_NAV_FRAME"),  # crosses azimuth 180
    EquirectangularProjection.full_sphere(720),
]


def _probes(proj) -> list[tuple[int, int]]:
    """(x, y) pixels: the four corners and the centre pixel."""
    w, h = proj.width, proj.height
    return [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1), (w // 2, h // 2)]


def _own_angles(proj, x, y) -> tuple[np.ndarray, np.ndarray]:
    """The projection's own definition: the ray through pixel centre (x, y), as az/el degrees."""
    return azimuth_elevation(proj.rays(np.asarray(x, float), np.asarray(y, float)))


def _assert_azimuth(got, want) -> None:
    """Azimuths equal modulo 360 (the geotransform does not wrap; azimuth_elevation does)."""
    diff = (np.asarray(got) - np.asarray(want) + 180.0) % 360.0 - 180.0
    np.testing.assert_allclose(diff, 0.0, rtol=0, atol=ANGLE_ATOL_DEG)


def _image(proj) -> np.ndarray:
    rng = np.random.default_rng(3)
    return (rng.random((proj.height, proj.width, 1), dtype=np.float32) * np.float32(0.05)).astype(np.float32)


def _publish(proj, tmp_path: Path) -> Path:
    mosaic = Mosaic(
        name=f"GEO_{proj.kind}", sol=7, instrument="NAVCAM_LEFT", image=_image(proj), projection=proj,
        provenance=Provenance(inputs={"NLF_0007_A": "a" * 64}, steps=["mosaic"], software_version="0",
                              config_hash="c" * 64),
        start_time=dt.datetime(2021, 3, 1, tzinfo=dt.timezone.utc), display_white_radiance=0.05,
    )
    with Catalog(tmp_path / "catalog.db") as catalog:
        out = publish_mosaic(mosaic, store=Store(str(tmp_path / "store")), catalog=catalog)
    return out.cog_path


@pytest.mark.parametrize("proj", AZ_EL_GRIDS, ids=lambda p: f"{p.kind}-{p.az_start_deg:g}")
def test_geotransform_gives_each_pixel_centre_its_own_angles(proj):
    xs, ys = (np.array(v, float) for v in zip(*_probes(proj)))
    t = proj.geotransform
    az, el = t @ (xs + 0.5, ys + 0.5)  # GDAL: pixel (x, y)'s centre is at (x + 1/2, y + 1/2)
    own_az, own_el = _own_angles(proj, xs, ys)
    _assert_azimuth(az, own_az)
    np.testing.assert_allclose(el, own_el, rtol=0, atol=ANGLE_ATOL_DEG)
    grid_az, grid_el = proj.az_el_grid()  # the unwrapped law az = az_start + x s
    np.testing.assert_allclose(az, grid_az[ys.astype(int), xs.astype(int)], rtol=0, atol=ANGLE_ATOL_DEG)
    np.testing.assert_allclose(el, grid_el[ys.astype(int), xs.astype(int)], rtol=0, atol=ANGLE_ATOL_DEG)


def test_full_sphere_grid_edges_are_the_sphere():
    p = EquirectangularProjection.full_sphere(720)
    t = p.geotransform
    # truth: the layout in EquirectangularProjection's docstring (pixel edges at -180, 180, 90, -90)
    assert t @ (0, 0) == (-180.0, 90.0)
    assert t @ (p.width, p.height) == (180.0, -90.0)
    np.testing.assert_allclose(t @ (0.5, 0.5), (-179.75, 89.75), rtol=0, atol=ANGLE_ATOL_DEG)


@pytest.mark.filterwarnings("error::rasterio.errors.NotGeoreferencedWarning")  # georeferenced now
@pytest.mark.parametrize("proj", AZ_EL_GRIDS, ids=lambda p: f"{p.kind}-{p.az_start_deg:g}")
def test_published_cog_reads_as_az_el_in_rasterio(proj, tmp_path):
    path = _publish(proj, tmp_path)
    with rasterio.open(path) as src:
        assert src.crs is None  # no CRS describes directions from a rover
        assert src.transform == proj.geotransform
        tags = src.tags()
        for x, y in _probes(proj):
            az, el = src.xy(y, x)  # rasterio: (row, col), pixel centre
            own_az, own_el = _own_angles(proj, [x], [y])
            _assert_azimuth(az, own_az)
            np.testing.assert_allclose(el, own_el, rtol=0, atol=ANGLE_ATOL_DEG)
    assert tags["GEOTRANSFORM"] == GEOTRANSFORM_AZ_EL
    assert tags["COORDINATE_SYSTEM_NAME"] == proj.frame
    assert (tags["POSITIVE_AZIMUTH_DIRECTION"], tags["POSITIVE_ELEVATION_DIRECTION"]) == ("CLOCKWISE", "UP")
    assert projection_from_tags(tags, proj.width, proj.height) == proj


@pytest.mark.parametrize("proj", AZ_EL_GRIDS, ids=lambda p: f"{p.kind}-{p.az_start_deg:g}")
def test_published_cog_reads_as_az_el_in_xarray(proj, tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("rioxarray", reason="rioxarray (test extra) gives xarray its rasterio engine")
    path = _publish(proj, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # rioxarray's use of affine
        ds = xr.open_dataset(path, engine="rasterio")
    with ds:
        assert ds.band_data.dims == ("band", "y", "x")
        x_coord, y_coord = ds["x"].values, ds["y"].values
        value = ds.band_data.values
    assert x_coord.shape == (proj.width,) and y_coord.shape == (proj.height,)
    for x, y in _probes(proj):
        own_az, own_el = _own_angles(proj, [x], [y])
        _assert_azimuth(x_coord[x], own_az)
        np.testing.assert_allclose(y_coord[y], own_el, rtol=0, atol=ANGLE_ATOL_DEG)
    np.testing.assert_array_equal(value[0], _image(proj)[..., 0])  # the same pixels at those coordinates
    # selecting by angle finds the pixel whose centre has that angle
    x, y = _probes(proj)[-1]
    az, el = proj.az_el_grid()
    picked = ds.band_data.sel(x=az[y, x], y=el[y, x], method="nearest")
    assert float(picked.values[0]) == value[0, y, x]


@pytest.mark.filterwarnings("error::rasterio.errors.NotGeoreferencedWarning")
@pytest.mark.parametrize("proj", [CylindricalProjection(0.0, 8.0, 0.1, 800, 260),
                                  EquirectangularProjection.full_sphere(1440)], ids=lambda p: p.kind)
def test_rendered_geotiff_and_index_map_carry_the_geotransform(proj, scene_factory, tmp_path):
    sc = scene_factory([(az, -5.0, 0.0) for az in (20.0, 40.0)])
    render_geotiff(FrameStack(sc.geoms(), sc.load), proj, tmp_path / "m.tif", index_path=tmp_path / "i.tif",
                   options=RenderOptions(tile=256, levels=3))
    for name in ("m.tif", "i.tif"):
        with rasterio.open(tmp_path / name) as src:
            assert src.crs is None and src.transform == proj.geotransform
            for x, y in _probes(proj):
                az, el = src.xy(y, x)
                own_az, own_el = _own_angles(proj, [x], [y])
                _assert_azimuth(az, own_az)
                np.testing.assert_allclose(el, own_el, rtol=0, atol=ANGLE_ATOL_DEG)
            assert src.tags()["GEOTRANSFORM"] == GEOTRANSFORM_AZ_EL


OTHER_PROJECTIONS = [
    PolarProjection.around_nadir(10.0, 0.5),
    PerspectiveProjection(30.0, -10.0, 300.0, 320, 240),
    VerticalProjection(5.0, -5.0, 0.05, 201, 201, ground_z_m=0.5, origin=(0.0, 0.0, -1.4)),
]


@pytest.mark.parametrize("proj", OTHER_PROJECTIONS, ids=lambda p: p.kind)
def test_other_projections_state_the_pixel_law_without_a_geotransform(proj, tmp_path):
    assert proj.geotransform is None
    tags = proj.to_tags()
    assert tags["GEOTRANSFORM"] == GEOTRANSFORM_NONE
    law = tags["PIXEL_TO_ANGLES"]
    # the law names every parameter tag of the projection; the angles' definition names the
    # frame and the origin the directions start from
    params = set(tags) - {"MAP_PROJECTION_TYPE", "COORDINATE_SYSTEM_NAME", "SURFACE_MODEL", "SURFACE_PARAMETERS",
                          "PROJECTION_ORIGIN_VECTOR", "POSITIVE_AZIMUTH_DIRECTION",
                          "POSITIVE_ELEVATION_DIRECTION", "AZIMUTH_ELEVATION_DEFINITION", "PIXEL_TO_ANGLES",
                          "GEOTRANSFORM"}
    assert params and all(name in law for name in params), (params, law)
    assert all(name in tags["AZIMUTH_ELEVATION_DEFINITION"]
               for name in ("COORDINATE_SYSTEM_NAME", "PROJECTION_ORIGIN_VECTOR"))
    path = _publish(proj, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # expected: pixel coordinates only
        with rasterio.open(path) as src:
            assert src.crs is None and src.transform.is_identity
            back = src.tags()
    assert back["PIXEL_TO_ANGLES"] == law
    assert projection_from_tags(back, proj.width, proj.height) == proj


def test_polar_pixel_law_in_the_tags_is_the_projection():
    # the formula the tags state, evaluated by hand, against the projection's own rays
    p = PolarProjection.around_nadir(10.0, 0.5)
    cx, cy, s = p.centre_x, p.centre_y, p.scale_deg
    x, y = np.array([0.0, p.width - 1.0, cx, cx + 7.0]), np.array([cy, 3.0, 0.0, cy + 2.0])
    az = np.degrees(np.arctan2(x - cx, cy - y))
    el = -90.0 + np.hypot(x - cx, y - cy) * s
    own_az, own_el = _own_angles(p, x, y)
    _assert_azimuth(az, own_az)
    np.testing.assert_allclose(el, own_el, rtol=0, atol=ANGLE_ATOL_DEG)


@pytest.mark.parametrize("frame, zero", [("SITE_FRAME", "(north)"), ("ROVER_NAV_FRAME", "(rover forward)")])
def test_tags_name_the_frame_and_where_azimuth_zero_points(frame, zero):
    tags = dataclasses.replace(EquirectangularProjection.full_sphere(8), frame=frame).to_tags()
    assert tags["COORDINATE_SYSTEM_NAME"] == frame
    assert f"from +X {zero}" in tags["AZIMUTH_ELEVATION_DEFINITION"]
