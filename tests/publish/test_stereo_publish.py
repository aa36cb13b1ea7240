"""Stereo and terrain outputs (rovercam.publish.stereo): the files the issue-20 contract fixes, COGs
that read back without warnings, STAC that validates, lineage to both eyes, idempotent republish.

Truth: the arrays the test builds (StereoProducts and Mesh records by hand), the contract's file
names and tags (docs/stereo.md#pipeline), and the STAC 1.1 schemas shipped with pystac.
"""
from __future__ import annotations

import datetime as dt
import importlib
import json
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio

from rovercam import layout
from rovercam.camera.cahv import CAHV
from rovercam.catalog import Catalog
from rovercam.catalog.export import validate_stac
from rovercam.publish.stereo import (GLTF_MEDIA_TYPE, PLY_MEDIA_TYPE, STEREO_FILES, publish_stereo, publish_terrain,
                                     write_stereo_files)
from rovercam.storage import Store
from rovercam.stereo.products import StereoProducts
from rovercam.terrain.dem import DEM
from rovercam.terrain.mesh import Mesh

UTC = dt.timezone.utc
START = dt.datetime(2021, 5, 30, 10, 0, tzinfo=UTC)
LEFT, RIGHT = ("NLF_0100_0673000000_A", "a" * 64), ("NRF_0100_0673000000_A", "b" * 64)
H, W = 40, 60


@pytest.fixture(autouse=True)
def meshfile(monkeypatch):
    """The mesh writers (rovercam.terrain.meshfile, the "mesh" helper's); a stand-in writing the
    vertex and face counts when they are not in this tree yet."""
    try:
        importlib.import_module("rovercam.terrain.meshfile")
    except ImportError:
        stub = types.ModuleType("rovercam.terrain.meshfile")
        stub.write_glb = lambda mesh, path: Path(path).write_bytes(b"glTF" + bytes([len(mesh.faces)]))
        stub.write_ply = lambda mesh, path: Path(path).write_bytes(f"ply\n{len(mesh.vertices)}\n".encode())
        monkeypatch.setitem(sys.modules, "rovercam.terrain.meshfile", stub)


def products() -> StereoProducts:
    """A level ground 1.9 m below a camera at the site origin, seen over a (H, W) grid."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    xyz = np.dstack([2.0 + 0.05 * y, -1.5 + 0.05 * x, np.full_like(x, 1.9)]).astype(np.float32)
    xyz[:5] = np.nan  # sky: no match
    rng = np.linalg.norm(xyz, axis=2).astype(np.float32)
    normals = np.zeros_like(xyz)
    normals[..., 2] = -1.0
    normals[~np.isfinite(rng)] = np.nan
    model = CAHV(c=[0, 0, 0], a=[1, 0, 0], h=[100, 300, 0], v=[100, 0, 300])
    return StereoProducts(model, CAHV(c=[0, 0.42, 0], a=[1, 0, 0], h=[100, 300, 0], v=[100, 0, 300]),
                          "SITE_FRAME", np.where(np.isfinite(rng), 5.0, np.nan).astype(np.float32), xyz, rng,
                          normals, (0.002 * rng ** 2).astype(np.float32), np.ones((H, W), np.float32))


def mesh() -> Mesh:
    v = np.array([[2, -1.5, 1.9], [2, 1.5, 1.9], [4, -1.5, 1.9]], np.float32)
    return Mesh(v, np.array([[0, 1, 2]], np.int32), "SITE_FRAME")


@pytest.fixture()
def where(tmp_path):
    store, catalog = Store(str(tmp_path / "store")), Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    yield store, catalog
    catalog.close()


def lineage(catalog, output_id):
    return {r.product_id: r.product_sha256 for r in catalog.lineage(output_id)}


def _publish(store, catalog, **kw):
    return publish_stereo(products(), name=layout.stereo_name(LEFT[0]), sol=100, store=store, catalog=catalog,
                          left=LEFT, right=RIGHT, instrument="NAVCAM_LEFT+NAVCAM_RIGHT", start_time=START, **kw)


def test_a_pair_publishes_the_contract_files(where):
    store, catalog = where
    pub = _publish(store, catalog, mesh=mesh())
    names = {Path(k).name for k in pub.keys.values()}
    assert set(STEREO_FILES.values()) <= names
    assert pub.kind == "stereo" and pub.version == 1
    assert pub.keys["xyz"].startswith(f"sol00100/stereos/{LEFT[0]}_STEREO/v1/")
    [row] = catalog.outputs(sol=100, kind="stereo")
    assert lineage(catalog, row.output_id) == {LEFT[0]: LEFT[1], RIGHT[0]: RIGHT[1]}  # both eyes
    assert (row.units, row.calibration_level) == ("m", None)  # geometry: metres, no radiometric level
    item = json.loads(store.read_bytes(pub.keys["item"]))
    validate_stac(item)
    assert item["assets"]["mesh_glb"]["type"] == GLTF_MEDIA_TYPE
    assert item["assets"]["mesh_ply"]["type"] == PLY_MEDIA_TYPE
    assert item["properties"]["rovercam:kind"] == "stereo"
    assert item["properties"]["rovercam:valid_fraction"] == pytest.approx(35 / 40)
    again = _publish(store, catalog, mesh=mesh())
    assert again.reused and again.version == 1  # identical bytes: nothing written


@pytest.mark.parametrize("key, names, units, mipl", [
    ("xyz", ["X", "Y", "Z"], "m", "XYZ"), ("range", ["RANGE"], "m", "RNG"),
    ("normals", ["NX", "NY", "NZ"], "1", "UVW"), ("range_sigma", ["RANGE_SIGMA"], "m", None),
])
def test_cogs_carry_band_tags_nan_nodata_and_read_without_warnings(where, key, names, units, mipl):
    store, catalog = where
    pub = _publish(store, catalog)
    truth = products()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NotGeoreferencedWarning included
        with rasterio.open(pub.paths[key]) as ds:
            data = np.moveaxis(ds.read(), 0, -1)
            assert ds.dtypes[0] == "float32" and np.isnan(ds.nodata)
            assert [ds.tags(b)["name"] for b in range(1, ds.count + 1)] == names
            assert {ds.tags(b)["units"] for b in range(1, ds.count + 1)} == {units}
            assert ds.tags()["frame"] == "SITE_FRAME"
            assert mipl is None or ds.tags()["mipl_product"] == mipl
    expected = np.asarray(getattr(truth, key), np.float32).reshape(data.shape)
    np.testing.assert_array_equal(data, expected)  # lossless (DEFLATE), NaN where invalid


def test_no_mesh_no_mesh_files(where):
    store, catalog = where
    pub = _publish(store, catalog)
    assert "mesh_glb" not in pub.keys and "mesh_ply" not in pub.keys


def test_wrong_shapes_are_refused(where):
    store, catalog = where
    p = products()
    bad = StereoProducts(p.left_model, p.right_model, p.frame, p.disparity, p.xyz[..., :2], p.range, p.normals,
                         p.range_sigma, p.left_rectified)
    with pytest.raises(Exception, match="xyz"):
        publish_stereo(bad, name="X", sol=100, store=store, catalog=catalog, left=LEFT, right=RIGHT,
                       instrument="NAVCAM_LEFT+NAVCAM_RIGHT", start_time=START)
    assert catalog.outputs(sol=100) == []


def test_terrain_publishes_the_dem_with_its_grid(where):
    store, catalog = where
    heights = np.full((20, 30), -1.9, np.float32)
    heights[0, 0] = np.nan
    dem = DEM(heights, (1.0, -2.0), 0.1)
    pub = publish_terrain(dem, mesh(), name=layout.terrain_name(3, 42), sol=100, store=store, catalog=catalog,
                          inputs=dict([LEFT, RIGHT]), instrument="NAVCAM_LEFT+NAVCAM_RIGHT", start_time=START)
    assert pub.kind == "terrain" and pub.keys["dem"].startswith("sol00100/terrains/SITE00003_DRIVE00042_TERRAIN/v1/")
    assert {Path(k).name for k in pub.keys.values()} >= {"dem.tif", "mesh.glb", "mesh.ply"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with rasterio.open(pub.paths["dem"]) as ds:
            np.testing.assert_array_equal(ds.read(1), heights)
            # cell [i, j] centre: x = 1.0 + 0.1 i (north, rows), y = -2.0 + 0.1 j (east, columns)
            east, north = ds.transform @ (3 + 0.5, 7 + 0.5)  # column 3, row 7, pixel centre
            assert (north, east) == pytest.approx((1.0 + 0.7, -2.0 + 0.3))
            assert ds.tags(1)["name"] == "HEIGHT" and ds.tags(1)["units"] == "m"
    [row] = catalog.outputs(sol=100, kind="terrain")
    assert lineage(catalog, row.output_id) == dict([LEFT, RIGHT])
    assert (row.units, row.calibration_level) == ("m", None)
    validate_stac(json.loads(store.read_bytes(pub.keys["item"])))


def test_the_published_dem_reads_back_exactly(where):
    from rovercam.pipeline.stereo import stored_dem

    store, catalog = where
    rng = np.random.default_rng(3)
    heights = rng.normal(-0.3, 0.2, (17, 23)).astype(np.float32)
    heights[2:5, 7] = np.nan
    dem = DEM(heights, (0.1 + 0.2, -2.05), 0.05)  # origin and cell not exact in binary
    pub = publish_terrain(dem, mesh(), name=layout.terrain_name(3, 42), sol=100, store=store, catalog=catalog,
                          inputs=dict([LEFT, RIGHT]), instrument="FRONT_HAZCAM_LEFT_A+FRONT_HAZCAM_RIGHT_A",
                          start_time=START)
    back = stored_dem(store, pub.keys["dem"])
    assert back.heights.dtype == np.float32
    np.testing.assert_array_equal(back.heights, heights)  # NaN where NaN, every height bit for bit
    assert (back.origin, back.cell_m, back.frame) == (dem.origin, dem.cell_m, dem.frame)


def test_write_stereo_files_writes_what_a_published_pair_holds(tmp_path):
    files = write_stereo_files(products(), tmp_path / "pair", mesh=mesh())
    assert {p.name for p in files.values()} == set(STEREO_FILES.values()) - {"thumbnail.png"}
    with rasterio.open(files["range"]) as ds:
        np.testing.assert_array_equal(ds.read(1), products().range)
