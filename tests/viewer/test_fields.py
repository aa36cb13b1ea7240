"""Stereo and terrain outputs in the viewer's HTTP surface: false-colour tiles, multi-band values,
meshes served by byte range.

Truth: the analytic scene the fixture publishes (rovercam.testing.stereo.plane_scene: a pinhole
camera over a tilted plane, every stored value a closed-form function of the pixel), the
analytic mesh's vertex and face counts, the stored bytes (sha256 in the catalog), the contract's
band tags (docs/stereo.md), and a second GLB reader (pygltflib).
"""
from __future__ import annotations

import hashlib
import http.client
import json
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest
from test_server import _request

from rovercam.testing.stereo import analytic_mesh, plane_scene
from rovercam.viewer.fields import scalar_tile, vector_tile

SCENE = plane_scene()  # what the fixture published (its defaults)


def test_scalar_tile_round_trips_values_to_half_a_quantisation_step():
    v = np.array([[0.0, 2.5, 10.0, np.nan], [-1.0, 11.0, 7.3, 5.0]])
    t = scalar_tile(v, 0.0, 10.0)
    assert t.dtype == np.uint8 and t.shape == (2, 4, 3)
    assert t[..., 1].tolist() == [[255, 255, 255, 0], [255, 255, 255, 255]]  # G: the value exists
    assert t[0, 3, 0] == 0 and (t[..., 2] == 0).all()
    back = t[..., 0] / 255 * 10.0
    ok = np.isfinite(v) & (v >= 0) & (v <= 10)
    assert np.abs(back - v)[ok].max() <= 0.5 * 10 / 255 + 1e-12  # half of one 8-bit step of the range
    assert back[1, 0] == 0 and back[1, 1] == 10.0  # beyond the range: clipped to its ends
    with pytest.raises(ValueError):
        scalar_tile(np.zeros((2, 2, 2)), 0, 1)


def test_vector_tile_shows_unit_normals_as_half_n_plus_one():
    n = np.array([[[0.0, 0.0, -1.0], [0.6, -0.8, 0.0], [np.nan, np.nan, np.nan]]])
    t = vector_tile(n, [-1.0] * 3, [1.0] * 3)
    assert t[0, :2].tolist() == np.round(255 * (n[0, :2] + 1) / 2).astype(int).tolist()
    assert t[0, 2].tolist() == [0, 0, 0]  # no data: black


def test_index_lists_stereo_and_terrain_outputs_with_their_rasters_and_meshes(stereo_url, stereo_store):
    _, _, body = _request(stereo_url, "GET", "/api/outputs.json")
    outputs = {o["output_id"]: o for o in json.loads(body)["outputs"]}
    stereo, terrain = outputs[stereo_store.stereo_id], outputs[stereo_store.terrain_id]
    assert (stereo["kind"], terrain["kind"]) == ("stereo", "terrain")
    assert stereo["fields"] == ["normals.tif", "range.tif", "range_sigma.tif", "xyz.tif"]
    assert terrain["fields"] == ["dem.tif"]
    assert stereo["meshes"] == terrain["meshes"] == ["mesh.glb"]
    assert stereo["view"]["grid"]["width"] == 640 and stereo["thumbnail"].endswith("/thumbnail.png")


def test_product_document_describes_each_band_with_the_contract_tags(stereo_url, stereo_store):
    _, _, body = _request(stereo_url, "GET", f"/api/outputs/{stereo_store.stereo_id}.json")
    doc = json.loads(body)
    info = {f["name"]: f for f in doc["field_info"]}
    names = {k: [(b["name"], b["units"]) for b in f["bands"]] for k, f in info.items()}
    assert names == {"xyz.tif": [("X", "m"), ("Y", "m"), ("Z", "m")], "range.tif": [("RANGE", "m")],
                     "normals.tif": [("NX", "1"), ("NY", "1"), ("NZ", "1")],
                     "range_sigma.tif": [("RANGE_SIGMA", "m")]}
    assert info["xyz.tif"]["tags"] == {"frame": "SITE_FRAME", "mipl_product": "XYZ"}
    # the band range comes from the coarsest level (averages): inside the true range, near it
    rng = info["range.tif"]["bands"][0]
    true_lo, true_hi = float(np.nanmin(SCENE.range)), float(np.nanmax(SCENE.range))
    assert true_lo <= rng["lo"] < true_lo + 0.2 and true_hi - 0.5 < rng["hi"] <= true_hi  # m
    assert info["normals.tif"]["rgb"] == {"lo": [-1, -1, -1], "hi": [1, 1, 1]}
    assert info["range.tif"]["rgb"] is None
    media = {f["name"]: f["media_type"] for f in doc["files"]}
    assert media["mesh.glb"] == "model/gltf-binary" and media["mesh.ply"] == "application/x-ply"


@pytest.mark.parametrize("x, y", [(320, 479), (17, 300), (600, 200), (101, 130)])
def test_value_route_reads_every_band_of_each_float_product(stereo_url, stereo_store, x, y):
    base = f"/api/outputs/{stereo_store.stereo_id}/value.json?x={x}&y={y}"
    truth = {"xyz.tif": SCENE.xyz[y, x], "range.tif": [SCENE.range[y, x]],
             "normals.tif": SCENE.normals[y, x], "range_sigma.tif": [SCENE.range_sigma[y, x]]}
    for name, want in truth.items():
        status, _, body = _request(stereo_url, "GET", f"{base}&file={name}")
        doc = json.loads(body)
        assert status == 200 and (doc["x"], doc["y"], doc["file"]) == (x, y, name)
        np.testing.assert_array_equal(np.array(doc["values"], np.float32), np.asarray(want, np.float32))  # as stored
        assert doc["band_units"] == (["1"] * 3 if name == "normals.tif" else ["m"] * len(want))
    # no file: the output's default raster (range)
    doc = json.loads(_request(stereo_url, "GET", base)[2])
    assert doc["bands"] == ["RANGE"] and doc["values"] == [float(SCENE.range[y, x])]


def test_value_route_no_data_unknown_files_and_the_terrain_heights(stereo_url, stereo_store):
    base = f"/api/outputs/{stereo_store.stereo_id}/value.json"
    assert np.isnan(SCENE.range[0, 0])  # the sky
    doc = json.loads(_request(stereo_url, "GET", f"{base}?x=0&y=0&file=xyz.tif")[2])
    assert doc["values"] == [None, None, None]
    for bad in ("mesh.glb", "nope.tif", "..%2Fcatalog.sqlite", "SYN_NAVCAM_STEREO_0001.stac.json"):
        assert _request(stereo_url, "GET", f"{base}?x=1&y=1&file={bad}")[0] in (400, 404), bad
    doc = json.loads(_request(stereo_url, "GET",
                              f"/api/outputs/{stereo_store.terrain_id}/value.json?x=20&y=20&file=dem.tif")[2])
    # the fixture's heights: 0.8 exp(-r^2 / (2 (4/6)^2)) m at cell (20, 20) = (0, 0) m
    assert doc["bands"] == ["HEIGHT"] and doc["band_units"] == ["m"] and doc["values"][0] == pytest.approx(0.8, abs=1e-6)


def test_scalar_tiles_carry_the_value_and_its_mask(stereo_url, stereo_store):
    # range.tif is 640 x 480: two levels; level 1 is full resolution, tile (0, 0) is 512 x 480
    doc = json.loads(_request(stereo_url, "GET", f"/api/outputs/{stereo_store.stereo_id}.json")[2])
    band = next(f for f in doc["field_info"] if f["name"] == "range.tif")["bands"][0]
    status, headers, body = _request(stereo_url, "GET", f"/tiles/{stereo_store.stereo_id}/range.tif/1/1/0/0.png")
    assert status == 200 and headers["content-type"] == "image/png" and "immutable" in headers["cache-control"]
    tile = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    assert tile.shape == (480, 512, 3)
    truth = SCENE.range[:, :512]
    np.testing.assert_array_equal(tile[..., 1] == 255, np.isfinite(truth))
    value = band["lo"] + tile[..., 0] / 255 * (band["hi"] - band["lo"])
    inside = np.isfinite(truth) & (truth >= band["lo"]) & (truth <= band["hi"])
    assert np.abs(value - truth)[inside].max() <= 0.5 * (band["hi"] - band["lo"]) / 255 + 1e-4  # half a step, m
    status, _, body = _request(stereo_url, "GET", f"/tiles/{stereo_store.stereo_id}/normals.tif/rgb/0/0/0.png")
    rgb = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    assert rgb.shape == (240, 320, 3)  # level 0: halved
    up = SCENE.normals[-1, 0]
    assert np.abs(rgb[-1, 0].astype(int) - np.round(255 * (up + 1) / 2)).max() <= 1  # (n + 1) / 2


@pytest.mark.parametrize("path", [
    "/tiles/{id}/range.tif/2/1/0/0.png",      # range has one band
    "/tiles/{id}/range.tif/rgb/1/0/0.png",    # and so no RGB
    "/tiles/{id}/range.tif/1/2/0/0.png",      # no level 2
    "/tiles/{id}/range.tif/1/1/2/0.png",      # past the last column
    "/tiles/{id}/mesh.glb/1/0/0/0.png",
    "/tiles/{id}/preview.png/1/0/0/0.png",
    "/tiles/{id}/..%2Frange.tif/1/0/0/0.png",
    "/tiles/NOPE-v1/range.tif/1/0/0/0.png",
])
def test_field_tiles_that_do_not_exist_get_404_or_400(stereo_url, stereo_store, path):
    assert _request(stereo_url, "GET", path.format(id=stereo_store.stereo_id))[0] in (400, 404), path


def test_mesh_is_served_as_gltf_binary_whole_and_by_byte_range(stereo_url, stereo_store):
    import pygltflib

    path = f"/files/{stereo_store.stereo_id}/mesh.glb"
    status, headers, body = _request(stereo_url, "GET", path)
    doc = json.loads(_request(stereo_url, "GET", f"/api/outputs/{stereo_store.stereo_id}.json")[2])
    sha = next(f["sha256"] for f in doc["files"] if f["name"] == "mesh.glb")
    assert status == 200 and headers["content-type"] == "model/gltf-binary"
    assert hashlib.sha256(body).hexdigest() == sha and headers["etag"] == f'"{sha}"'
    assert body[:4] == b"glTF"
    gltf = pygltflib.GLTF2.load_from_bytes(body)  # a second reader
    prim = gltf.meshes[0].primitives[0]
    mesh = analytic_mesh()
    assert gltf.accessors[prim.attributes.POSITION].count == len(mesh.vertices) == 24 * 24
    assert gltf.accessors[prim.indices].count == 3 * len(mesh.faces) == 3 * 2 * 23 * 23
    assert prim.attributes.COLOR_0 is not None
    parts = urlsplit(stereo_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Range": "bytes=12-27"})
        r = conn.getresponse()
        part = r.read()
        assert r.status == 206 and r.getheader("content-range") == f"bytes 12-27/{len(body)}"
        assert part == body[12:28] and r.getheader("content-type") == "model/gltf-binary"
    finally:
        conn.close()
    status, headers, _ = _request(stereo_url, "GET", f"/files/{stereo_store.stereo_id}/mesh.ply")
    assert status == 200 and headers["content-type"] == "application/x-ply"


def test_static_export_holds_the_scalar_tiles_and_the_meshes(stereo_library, tmp_path, stereo_store):
    from rovercam.viewer import export_site

    result = export_site(stereo_library, tmp_path / "site")
    assert result.outputs == 2
    sid = stereo_store.stereo_id
    for rel in ["range.tif/1/1/0/0.png", "range.tif/1/0/0/0.png", "xyz.tif/3/1/1/0.png", "xyz.tif/rgb/0/0/0.png",
                "normals.tif/rgb/1/0/0.png", "range_sigma.tif/1/1/1/0.png"]:
        assert (result.root / "tiles" / sid / rel).is_file(), rel
    assert (result.root / "tiles" / stereo_store.terrain_id / "dem.tif" / "1" / "0" / "0" / "0.png").is_file()
    assert (result.root / "files" / sid / "mesh.glb").read_bytes()[:4] == b"glTF"
    assert not (result.root / "files" / sid / "range.tif").exists()  # COGs only with include_data
    detail = json.loads((result.root / "api" / "outputs" / f"{sid}.json").read_text())
    assert [f["name"] for f in detail["field_info"]] == detail["fields"]
