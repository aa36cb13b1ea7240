"""The viewer's HTTP surface: read-only, confined to catalog contents.

Truth: the catalog rows and stored bytes of the fixture's published panoramas (conftest), and
HTTP semantics (405 for methods the server refuses, 404/400 for anything not cataloged).
"""
from __future__ import annotations

import hashlib
import http.client
import json
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest


def _request(server_url: str, method: str, raw_path: str, body: bytes | None = None):
    """Send ``raw_path`` exactly as given (no client-side normalisation of ``..``)."""
    u = urlsplit(server_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.putrequest(method, raw_path, skip_accept_encoding=True)
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_outputs_index_lists_the_cataloged_panoramas(server_url, viewer_store):
    status, headers, body = _request(server_url, "GET", "/api/outputs.json")
    assert status == 200 and headers["content-type"].startswith("application/json")
    outputs = {o["output_id"]: o for o in json.loads(body)["outputs"]}
    assert set(outputs) == {viewer_store.left_id, viewer_store.right_id}
    left = outputs[viewer_store.left_id]
    assert left["stereo_partner"] == viewer_store.right_id
    pano = left["view"]["panorama"]
    # EquirectangularProjection.full_sphere(2048): centres at -180 + s/2, 90 - s/2, s = 360/2048
    assert pano["scale_deg"] == pytest.approx(360 / 2048, abs=1e-12)
    assert pano["az_start_deg"] == pytest.approx(-180 + 180 / 2048, abs=1e-12)
    assert pano["periodic_width"] == 2048
    assert left["view"]["grid"] == {"width": 2048, "height": 1024, "tile": 512, "top": 2}


def test_product_document_has_lineage_and_files_with_their_checksums(server_url, viewer_store):
    status, _, body = _request(server_url, "GET", f"/api/outputs/{viewer_store.left_id}.json")
    assert status == 200
    doc = json.loads(body)
    assert [i["product_id"] for i in doc["inputs"]] == ["SYN_SYNCAM_LEFT_0001", "SYN_SYNCAM_LEFT_0002"]
    for f in doc["files"]:
        st, _, data = _request(server_url, "GET", "/" + f["url"])
        assert st == 200 and hashlib.sha256(data).hexdigest() == f["sha256"], f["name"]


def test_tile_is_the_display_encoding_of_the_radiance(server_url, viewer_store):
    from viewer_truth import display_of

    from rovercam.mosaic.projections import EquirectangularProjection

    status, headers, body = _request(server_url, "GET", f"/tiles/{viewer_store.left_id}/2/1/0.jpg")
    assert status == 200 and headers["content-type"] == "image/jpeg" and "immutable" in headers["cache-control"]
    tile = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)[..., ::-1].astype(np.float64)
    assert tile.shape == (512, 512, 3)
    az, el = EquirectangularProjection.full_sphere(2048).az_el_grid()
    truth = display_of(az[:512, 512:1024], el[:512, 512:1024])
    # JPEG quality 90 on smooth content: mean error well under 2 DN (8-bit display levels)
    assert np.abs(tile - truth).mean() < 2.0


@pytest.mark.parametrize("path", [
    "/tiles/{id}/3/0/0.jpg",             # no level 3 in a 2048-px pyramid
    "/tiles/{id}/2/4/0.jpg",             # past the last column
    "/tiles/{id}/2/-1/0.jpg",
    "/tiles/NOPE-v1/0/0/0.jpg",
    "/files/{id}/secret.txt",            # in the storage root, not a file of this output
    "/files/{id}/../../secret.txt",
    "/files/{id}/..%2F..%2F..%2Fsecret.txt",
    "/files/{id}/%2e%2e/%2e%2e/%2e%2e/catalog.sqlite",
    "/files/..%2Fcatalog.sqlite/x",
    "/static/../../../etc/passwd",
    "/static/..%2F..%2Fserver.py",
    "/catalog.sqlite",
    "/sol00042/",
    "/api/outputs/..%5C..%5Ccatalog.sqlite.json",
    "/api/outputs/NOPE.json",
])
def test_traversal_and_unknown_paths_get_404_or_400(server_url, viewer_store, path):
    status, _, body = _request(server_url, "GET", path.format(id=viewer_store.left_id))
    assert status in (400, 404), (path, status)
    assert b"not a catalog file" not in body and b"SQLite" not in body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_server_refuses_writes(server_url, viewer_store, method):
    path = f"/files/{viewer_store.left_id}/SYN_NAVCAM-LEFT_EQR_thumb.png"
    status, headers, _ = _request(server_url, method, path, body=b"overwrite")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert (viewer_store.root / "catalog.sqlite").is_file()
    st, _, data = _request(server_url, "GET", path)
    assert st == 200 and data != b"overwrite"


def test_pages_carry_a_strict_content_security_policy(server_url):
    status, headers, body = _request(server_url, "GET", "/")
    assert status == 200 and b'src="static/app.js"' in body
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp  # nothing loads from elsewhere


def test_value_route_reads_the_stored_radiance_at_a_direction_or_pixel(server_url, viewer_store):
    from viewer_truth import UNITS, radiance_at_pixel

    base = f"/api/outputs/{viewer_store.left_id}/value.json"
    s = 360 / 2048  # full_sphere(2048): pixel (x, y) looks at az = -180 + (x + 1/2) s, el = 90 - (y + 1/2) s
    for query, (x, y) in [(f"az={-180 + 100.6 * s}&el={90 - 200.4 * s}", (100, 200)),  # nearest centre
                          (f"az={180 + 100.5 * s}&el={90 - 200.5 * s}", (100, 200)),  # azimuth wraps
                          ("x=1500.4&y=700.6", (1500, 701))]:
        status, headers, body = _request(server_url, "GET", f"{base}?{query}")
        doc = json.loads(body)
        assert status == 200 and (doc["x"], doc["y"]) == (x, y), (query, doc)
        assert doc["units"] == UNITS and doc["bands"] == ["R", "G", "B"]
        np.testing.assert_allclose(doc["values"], radiance_at_pixel(x, y), rtol=1e-6)  # float32 as stored
    status, _, body = _request(server_url, "GET", f"{base}?x=5000&y=3")
    assert status == 200 and json.loads(body)["values"] is None  # outside the raster
    for bad in ["az=1", "az=1&el=2&x=3&y=4", "az=nan&el=0", "x=a&y=1", ""]:
        status, _, _ = _request(server_url, "GET", f"{base}?{bad}")
        assert status == 400, bad
    assert _request(server_url, "GET", "/api/outputs/NOPE-v1/value.json?x=1&y=1")[0] == 404
