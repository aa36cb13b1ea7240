"""Byte ranges: the parser, the server's 206/416/HEAD answers, and GDAL reading a served COG.

Truth: RFC 9110 section 14 (``bytes=a-b`` inclusive, ``bytes=a-``, suffix ``bytes=-n``; 416
with ``Content-Range: bytes */size`` when nothing is selected), the stored bytes of the
fixture's published COG, and the raster as rasterio reads it from disk.
"""
from __future__ import annotations

import hashlib
import os
from urllib.parse import urlsplit

import http.client
import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from rovercam.viewer.ranges import ByteRange, RangeNotSatisfiable, iter_file, parse_range


@pytest.mark.parametrize("header, size, expected", [
    ("bytes=0-99", 1000, (0, 100)),
    ("bytes=10-10", 1000, (10, 11)),
    ("bytes=990-2000", 1000, (990, 1000)),   # an end past the file is cut to it
    ("bytes=500-", 1000, (500, 1000)),
    ("bytes=-100", 1000, (900, 1000)),
    ("bytes=-5000", 1000, (0, 1000)),        # a suffix longer than the file: all of it
    ("BYTES = 1 - 2", 1000, (1, 3)),
    (None, 1000, None),
    ("bytes=5-1", 1000, None),               # invalid: ignored, whole file
    ("bytes=0-1,5-9", 1000, None),           # several ranges: whole file (allowed by RFC 9110)
    ("items=0-1", 1000, None),
    ("bytes=-", 1000, None),
])
def test_parse_range(header, size, expected):
    r = parse_range(header, size)
    assert (None if r is None else (r.start, r.stop)) == expected


@pytest.mark.parametrize("header, size", [("bytes=1000-", 1000), ("bytes=1000-1001", 1000), ("bytes=-0", 1000),
                                          ("bytes=0-", 0), ("bytes=-1", 0)])
def test_unsatisfiable_ranges_raise(header, size):
    with pytest.raises(RangeNotSatisfiable, match=str(size)):
        parse_range(header, size)


def test_byte_range_content_range_is_inclusive():
    assert ByteRange(0, 100, 1000).content_range == "bytes 0-99/1000"
    with pytest.raises(ValueError):
        ByteRange(5, 5, 10)


def test_iter_file_reads_in_chunks_and_closes(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(bytes(range(256)) * 10)
    f = open(p, "rb")
    chunks = list(iter_file(f, 100, 1000, chunk=300))
    assert [len(c) for c in chunks] == [300, 300, 300, 100]
    assert b"".join(chunks) == p.read_bytes()[100:1100] and f.closed


# ---------------------------------------------------------------------------- over HTTP

def _get(server_url: str, path: str, method: str = "GET", **headers: str):
    u = urlsplit(server_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def cog(viewer_store):
    """(URL path, stored bytes, local path) of the left panorama's COG."""
    from rovercam.catalog import Catalog

    with Catalog(viewer_store.catalog_url) as catalog:
        rec = next(r for r in catalog.outputs() if r.output_id == viewer_store.left_id)
    key = next(k for k in rec.storage_keys.values() if k.endswith(f"{rec.name}.tif"))
    path = viewer_store.root / key
    return f"/files/{viewer_store.left_id}/{rec.name}.tif", path.read_bytes(), path


@pytest.mark.parametrize("header, first, last", [
    ("bytes=0-16383", 0, 16383),
    ("bytes=100-", 100, None),
    ("bytes=-512", -512, None),
])
def test_range_requests_get_206_with_the_stored_bytes(server_url, cog, header, first, last):
    path, data, _ = cog
    size = len(data)
    start = first % size
    stop = size if last is None else last + 1
    status, h, body = _get(server_url, path, Range=header)
    assert status == 206 and body == data[start:stop]
    assert h["content-range"] == f"bytes {start}-{stop - 1}/{size}"
    assert h["content-length"] == str(stop - start) and h["accept-ranges"] == "bytes"


def test_whole_file_head_and_unsatisfiable_range(server_url, cog):
    path, data, _ = cog
    status, h, body = _get(server_url, path)
    assert status == 200 and body == data and h["accept-ranges"] == "bytes"
    assert h["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'  # the catalog's checksum
    status, h, body = _get(server_url, path, method="HEAD")
    assert status == 200 and body == b"" and h["content-length"] == str(len(data))
    status, h, body = _get(server_url, path, Range=f"bytes={len(data)}-")
    assert status == 416 and h["content-range"] == f"bytes */{len(data)}"
    # If-Range with another version's ETag: the whole file, not a slice of the wrong version
    status, _, body = _get(server_url, path, Range="bytes=0-9", **{"If-Range": '"0000"'})
    assert status == 200 and body == data
    status, _, body = _get(server_url, path, Range="bytes=0-9", **{"If-Range": h["etag"]})
    assert status == 206 and body == data[:10]


def test_ranges_stay_inside_the_catalog(server_url, viewer_store):
    status, _, body = _get(server_url, f"/files/{viewer_store.left_id}/..%2F..%2Fsecret.txt", Range="bytes=0-")
    assert status in (400, 404) and b"not a catalog file" not in body
    status, _, _ = _get(server_url, f"/files/{viewer_store.left_id}/secret.txt", method="HEAD")
    assert status == 404


def test_gdal_vsicurl_reads_a_served_cog(server_url, cog):
    path, _, local = cog
    env = dict(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR", CPL_VSIL_CURL_ALLOWED_EXTENSIONS=".tif",
               GDAL_HTTP_MAX_RETRY="0", VSI_CACHE="FALSE", CPL_VSIL_CURL_NON_CACHED="/vsicurl/")
    url = f"/vsicurl/{server_url.rstrip('/')}{path}"
    window = Window(700, 300, 130, 90)
    with rasterio.Env(**env), rasterio.open(url) as served, rasterio.open(local) as disk:
        assert (served.width, served.height, served.count) == (disk.width, disk.height, disk.count)
        got, want = served.read(window=window), disk.read(window=window)
        assert served.tags()["MAP_PROJECTION_TYPE"] == "EQUIRECTANGULAR"
        ov = served.read(1, out_shape=(64, 128))  # an overview read through ranges too
    np.testing.assert_array_equal(got, want)  # the same bytes decoded: exact
    assert np.isfinite(ov).all()
    assert os.environ.get("CPL_VSIL_CURL_ALLOWED_EXTENSIONS") is None  # rasterio.Env restored it
