"""Descent orthomosaic and track against the generator's truth; CRS and GeoJSON round trips.

Truth: rovercam.synth (edl profile, tests/edl/conftest.py): true camera centres per frame in the
manifest, the albedo orthoimages and DEM of the landing area in truth/dem/. The fixture gives the
label poses a 0.1-degree pointing and a 0.5 %-of-altitude position error (sigma per axis).
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from rovercam.edl.descent import solve_descent
from rovercam.edl.ground import Plane, intersect, load_dem
from rovercam.edl.ortho import JEZERO_LAT_LON, OrthoGrid, local_crs, track_geojson
from rovercam.edl.sequence import EdlFrame
from rovercam.testing import score_levels, true_models


@pytest.fixture(scope="module")
def descent(edl_sol, edl_chain_frames):
    frames = sorted((EdlFrame.from_chain(f) for f in edl_chain_frames["EDL_RDCAM"]), key=lambda f: f.time_s)
    # three bad frames slipped into the sequence: black, saturated, blurred copies of real ones
    a, b, c = frames[2], frames[5], frames[7]
    sat = np.fmin(b.image, np.nanpercentile(b.image, 40))  # 60 % of the pixels clipped
    bad = [EdlFrame("BAD_BLACK", a.instrument, a.time_s + 0.5, a.image * 1e-4, a.model),
           EdlFrame("BAD_SATURATED", b.instrument, b.time_s + 0.5, sat.astype(np.float32), b.model),
           EdlFrame("BAD_BLURRED", c.instrument, c.time_s + 0.5,
                    cv2.GaussianBlur(c.image, (0, 0), 4.0), c.model)]
    seq = sorted(frames + bad, key=lambda f: f.time_s)
    dem = load_dem(edl_sol / "truth" / "dem" / "dem.json")
    return solve_descent(seq, dem), frames


def test_bad_frames_are_flagged_and_skipped(descent):
    result, frames = descent
    assert {s["product_id"]: s["reason"] for s in result.skipped} == {
        "BAD_BLACK": "black", "BAD_SATURATED": "saturated", "BAD_BLURRED": "blurred"}
    assert result.used == [f.product_id for f in frames]


def test_orthomosaic_geometry_matches_the_truth_orthoimage(descent, edl_sol):
    result, _ = descent
    s = score_levels(result.levels, edl_sol, models=result.models, truth_models=true_models(edl_sol))
    assert s["ortho_levels_scored"] >= 2
    # the bar: <= 1 output px RMS over >= 90 % of the covered area
    assert s["ortho_rms_px"] <= 1.0, s
    assert s["ortho_coverage_pct"] >= 90.0, s
    assert s["ortho_psnr_db"] > 18.0, s  # display luminance vs albedo after one gain (shading differs)
    # the exact shifts from the refined against the true camera models, over the same tiles: the
    # same RMS bar, and the image measure estimates them to within half an output pixel RMS
    assert s["ortho_model_rms_px"] <= 1.0, s
    assert abs(s["ortho_rms_px"] - s["ortho_model_rms_px"]) <= 0.5, s
    assert all("model_rms_px" in lev for lev in s["ortho_per_level"])


def test_levels_get_finer_towards_touchdown(descent):
    result, _ = descent
    cells = [lev.grid.cell_m for lev in result.levels]
    assert cells == sorted(cells, reverse=True) and len(cells) >= 3
    np.testing.assert_allclose(np.array(cells[:-1]) / np.array(cells[1:]), 4.0, rtol=1e-9)


def test_track_altitude_within_two_percent_of_truth(descent, edl_manifest):
    result, frames = descent
    errs, label_errs = [], []
    for p, f in zip(result.track, frames):
        ft = edl_manifest.frame(p["product_id"])
        alt = ft.extra["altitude_m"]
        errs.append(abs(p["z_m"] - ft.camera_centre_site[2]) / alt)
        label_errs.append(abs(f.model.c[2] - ft.camera_centre_site[2]) / alt)
    assert max(errs) <= 0.02, max(errs)  # the bar, fraction of altitude
    assert max(errs) < max(label_errs)   # the refinement improved on the perturbed labels


def test_cog_crs_and_transform_round_trip_through_rasterio(tmp_path):
    import rasterio
    from rasterio.crs import CRS

    from rovercam.storage.raster import write_cog

    crs = local_crs()
    grid = OrthoGrid(cell_m=0.25, north_max=120.0, east_min=-40.0, width=64, height=48)
    img = np.random.default_rng(0).random((48, 64, 3)).astype(np.float32)
    write_cog(tmp_path / "o.tif", img, crs=CRS.from_user_input(crs), transform=grid.transform)
    with rasterio.open(tmp_path / "o.tif") as ds:
        assert ds.crs == CRS.from_user_input(crs)
        assert ds.transform.almost_equals(grid.transform)
        # cell (0, 0) centre is at (east_min, north_max)
        assert ds.xy(0, 0) == pytest.approx((-40.0, 120.0))
        wkt = ds.crs.to_wkt()
    assert "Orthographic" in wkt and "3396190" in wkt


def test_local_plane_is_metric_at_the_landing_site():
    from pyproj import Geod, Transformer

    from rovercam.edl.ortho import MARS2000_GEOGRAPHIC

    tf = Transformer.from_crs(local_crs(), MARS2000_GEOGRAPHIC, always_xy=True)
    lon0, lat0 = tf.transform(0.0, 0.0)
    assert (lat0, lon0) == pytest.approx(JEZERO_LAT_LON, abs=1e-9)
    lon1, lat1 = tf.transform(5000.0, 0.0)  # 5 km east
    geod = Geod(a=3396190.0, b=3376200.0)
    dist = geod.inv(lon0, lat0, lon1, lat1)[2]
    assert dist == pytest.approx(5000.0, rel=1e-5)  # orthographic scale at 5 km from the centre


def test_track_geojson_has_one_point_per_frame(descent):
    result, _ = descent
    doc = json.loads(track_geojson(result.track, local_crs()))
    line, *points = doc["features"]
    assert line["geometry"]["type"] == "LineString" and len(points) == len(result.track)
    lon, lat, alt = line["geometry"]["coordinates"][0]
    assert lat == pytest.approx(JEZERO_LAT_LON[0], abs=0.1) and lon == pytest.approx(JEZERO_LAT_LON[1], abs=0.1)
    assert alt == pytest.approx(result.track[0]["altitude_m"], abs=1e-3)


def test_ray_ground_intersection_on_a_plane():
    o = np.array([[0.0, 0.0, -100.0], [5.0, 5.0, -50.0]])
    d = np.array([[0.0, 0.0, 1.0], [0.6, 0.0, 0.8]])
    p = intersect(o, d, Plane(3.0))  # ground 3 m up: z = -3
    np.testing.assert_allclose(p, [[0, 0, -3.0], [5 + 47 * 0.75, 5, -3.0]], atol=1e-9)
