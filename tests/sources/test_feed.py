"""A raw-image JSON feed (Mars 2020 raw-images API shape) served on 127.0.0.1.

Truth: the served PNG bytes and the item fields (read back through read_product via the
written sidecar), and the real sidecar/PNG pair in ../shared/realdata/m2020 (MANIFEST.md).
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from rovercam.products import read_product
from rovercam.sources import FeedSource, open_source, sidecar_from_item

# CAHVORE of the real sol-670 Navcam product (../shared/realdata/m2020, MANIFEST.md)
MODEL = ("(0.950849,0.349753,-1.89429);(0.824195,0.0290508,0.565575);(2041.2,3032.24,1457.62);"
         "(-71.0941,9.0217,3538);(0.824089,0.0304646,0.565654);(0.000001736,0.0501396,-0.0171254);"
         "(-0.000000008,0.00000001,-0.000000029);2;0.0")
REAL_STEM = "NLF_0670_0726421423_362ECM_N0320604NCAM08111_01_095J01"


def _pid(i: int, sol: int = 670) -> str:
    return f"NLF_{sol:04d}_07264214{i:02d}_362ECM_N0320604NCAM08111_01_095J01"


def _item(base: str, pid: str, sol: int = 670) -> dict:
    """An item as the raw-images API returns it (nested camera/extended, strings for numbers)."""
    return {
        "imageid": pid[:-2], "sol": sol, "site": 32, "drive": "604",
        "date_taken_utc": "2023-01-08T03:53:04.187", "sample_type": "Full",
        "credit": "NASA/JPL-Caltech", "link": f"https://example.invalid/raw-images/{pid[:-2]}",
        "camera": {"instrument": "NAVCAM_LEFT", "filter_name": "UNK",
                   "camera_vector": "(0.868,-0.480,0.124)", "camera_model_type": "CAHVORE",
                   "camera_model_component_list": MODEL},
        "extended": {"mastAz": "1.19218", "mastEl": "-33.9935", "sclk": "726421425.133",
                     "scaleFactor": "1", "xyz": "(12.8213,60.1509,0.32331)",
                     "subframeRect": "(1,1,16,12)", "dimension": "(16,12)"},
        "image_files": {"full_res": f"{base}/{pid}.png", "small": f"{base}/{pid}_320.jpg"},
    }


@pytest.fixture
def feed(http_server):
    """``/images/*.png`` (3 products of sol 670, 1 of sol 669) and ``/feed/raw.json``, paged
    two items per page as the API pages (page, per_page, total_results)."""
    images = http_server.root / "images"
    images.mkdir()
    rng = np.random.default_rng(7)
    items = []
    for i, sol in ((1, 670), (2, 670), (3, 670), (4, 669)):
        pid = _pid(i, sol)
        ok, png = cv2.imencode(".png", rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
        (images / f"{pid}.png").write_bytes(png.tobytes())
        items.append(_item("/images", pid, sol))

    def publish(all_items: list[dict]) -> None:
        for page in range(0, (len(all_items) + 1) // 2):
            doc = {"images": all_items[2 * page: 2 * page + 2], "page": page, "per_page": 2,
                   "total_results": len(all_items), "type": "mars2020"}
            key = "/feed/raw.json" if page == 0 else f"/feed/raw.json?page={page}"
            http_server.pages[key] = (json.dumps(doc).encode(), "application/json")

    publish(items)
    return http_server, f"{http_server.base_url}/feed/raw.json", items, publish


def test_feed_url_opens_a_feed_source(feed):
    _, url, _, _ = feed
    assert isinstance(open_source(url), FeedSource)


def test_listing_follows_pages(feed):
    state, url, items, _ = feed
    src = open_source(url)
    assert src.sols() == [669, 670]
    assert src.latest_sols(1) == [670]
    products = src.list(670)
    assert [p.name for p in products] == [f"{_pid(i)}.png" for i in (1, 2, 3)]
    assert state.gets("/feed/raw.json") >= 1
    image, sidecar = products[0].files
    assert image.url == f"{state.base_url}/images/{_pid(1)}.png"
    assert sidecar.path == f"{_pid(1)}-metadata.json"
    meta = json.loads(sidecar.content)
    # the reader's keys (rovercam/products/rawsite.py), typed as in the real sidecar
    assert meta["instrument"] == "NAVCAM_LEFT" and meta["camera_model_type"] == "CAHVORE"
    assert meta["subframe_rect"] == [1.0, 1.0, 16.0, 12.0]
    assert meta["scale_factor"] == 1 and meta["drive"] == 604 and meta["sclk"] == 726421425.133
    assert meta["link"] == image.url


def test_fetched_items_read_back_through_the_sidecar(feed, tmp_path):
    state, url, items, _ = feed
    src = open_source(url)
    dest = tmp_path / "incoming" / "sol00670"
    result = src.fetch(src.list(670), dest)
    assert result.ok and len(result.new) == 3
    for i, fetched in zip((1, 2, 3), result.new):
        served = state.root / "images" / f"{_pid(i)}.png"
        assert Path(fetched.path) == dest / served.name
        assert hashlib.sha256(Path(fetched.path).read_bytes()).hexdigest() == \
            hashlib.sha256(served.read_bytes()).hexdigest()
        product = read_product(fetched.path)
        assert product.product_id == _pid(i)
        assert (product.sol, product.site, product.drive) == (670, 32, 604)
        assert product.instrument == "NAVCAM_LEFT"
        assert type(product.camera_model).__name__ == "CAHVORE"
        assert product.subframe.lines == 12 and product.warnings == []
        want = cv2.imdecode(np.frombuffer(served.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(product.image, want[:, :, ::-1])  # RGB order


def test_refetch_fetches_nothing_and_a_new_item_exactly(feed, tmp_path):
    state, url, items, publish = feed
    src = open_source(url)
    dest = tmp_path / "dest"
    src.fetch(src.list(670), dest)
    again = src.fetch(src.list(670), dest)
    assert again.new == () and len(again.unchanged) == 3
    assert all(state.gets(f"/images/{_pid(i)}.png") == 1 for i in (1, 2, 3))
    pid = _pid(9)
    shutil.copy2(state.root / "images" / f"{_pid(1)}.png", state.root / "images" / f"{pid}.png")
    publish([*items, _item("/images", pid)])
    third = src.fetch(src.list(670), dest)
    assert [(p.name, p.state) for p in third.new] == [(f"{pid}.png", "fetched")]


def test_templated_feed_reads_one_sol_and_the_newest_listing(feed):
    state, _, items, _ = feed
    newest = {"images": [items[0], items[3]]}
    state.pages["/api/?feed=raw_images&sol=670"] = (json.dumps({"images": items[:3]}).encode(),
                                                    "application/json")
    state.pages["/api/?feed=raw_images"] = (json.dumps(newest).encode(), "application/json")
    src = open_source(f"{state.base_url}/api/?feed=raw_images&sol={{sol}}")
    assert isinstance(src, FeedSource)
    assert src.sols() == [669, 670]
    assert len(src.list(670)) == 3


def test_traversal_in_an_image_url_is_refused(feed, tmp_path):
    state, url, items, publish = feed
    evil = _item("/images", _pid(5))
    evil["image_files"]["full_res"] = "/images/%2E%2E%2F%2E%2E%2Fevil.png"
    publish([items[0], evil])
    src = open_source(url)
    result = src.fetch(src.list(670), tmp_path / "dest")
    assert [p.name for p in result.products] == [f"{_pid(1)}.png"]
    assert [r.name for r in result.refused] == ["../../evil.png"]
    assert not list(tmp_path.rglob("*evil*"))


def test_a_non_http_image_url_fails_without_reading_it(feed, tmp_path):
    state, url, items, publish = feed
    bad = _item("/images", _pid(6))
    bad["image_files"]["full_res"] = "file:///etc/hostname.png"
    publish([bad])
    src = open_source(url)
    result = src.fetch(src.list(670), tmp_path / "dest")
    assert result.products == () and "not an http(s) URL" in result.failed[0].reason


@pytest.mark.realdata
def test_flat_items_pass_through_unchanged(realdata):
    # truth: the real sidecar is already in the reader's shape; only link is set to the image
    meta = json.loads((realdata / "m2020" / f"{REAL_STEM}-metadata.json").read_text())
    out = sidecar_from_item(meta, meta["link"])
    assert out == meta


@pytest.mark.realdata
def test_real_sidecar_and_png_through_a_feed(realdata, http_server, tmp_path):
    # truth: read_product of the real pair in ../shared/realdata/m2020 (MANIFEST.md)
    src_png = realdata / "m2020" / f"{REAL_STEM}.png"
    meta = json.loads((realdata / "m2020" / f"{REAL_STEM}-metadata.json").read_text())
    (http_server.root / "m").mkdir()
    shutil.copy2(src_png, http_server.root / "m" / src_png.name)
    meta["link"] = f"/m/{src_png.name}"
    http_server.pages["/feed.json"] = (json.dumps([meta]).encode(), "application/json")
    src = open_source(f"{http_server.base_url}/feed.json")
    result = src.fetch(src.list(670), tmp_path / "dest")
    assert result.ok and len(result.new) == 1
    got = read_product(result.new[0].path)
    want = read_product(src_png)
    assert got.product_id == want.product_id and got.sol == 670
    np.testing.assert_array_equal(got.image, want.image)
    assert got.camera_model == want.camera_model
