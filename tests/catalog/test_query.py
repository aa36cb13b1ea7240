"""Catalog searches, lineage, STAC export, and the ``rovercam catalog`` verb.

Truth: what was published (sample mosaics with known sols, cameras, versions and input time
spans from rovercam.testing.sample_mosaic) and the STAC 1.1 schemas shipped with
pystac (offline).
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from rovercam.catalog import Catalog
from rovercam.catalog.export import export_stac, validate_stac
from rovercam.catalog.query import lineage_report, search_outputs, search_products
from rovercam.cli import main
from rovercam.errors import CatalogError
from rovercam.publish import publish_mosaic
from rovercam.storage import Store
from rovercam.testing import sample_mosaic

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("catalog-query")
    store = Store(str(root))
    with Catalog(root / "catalog.sqlite") as cat:
        run_id = cat.start_run("process-sol", sol=100, software_version="0.1.0", config_hash="c" * 64)
        first = sample_mosaic(0, width=120, height=60)
        for pid, sha in first.provenance.inputs.items():
            cat.record_product(pid, sha, sol=100, instrument="NAVCAM_LEFT",
                               start_time=first.start_time, path=f"/drop/{pid}.IMG")
        cat.record_quarantine("/drop/bad.IMG", "e" * 64, "truncated", sol=101)
        for m in (first, sample_mosaic(1, width=120, height=60),
                  sample_mosaic(2, instrument="NAVCAM_RIGHT", width=120, height=60),
                  sample_mosaic(3, sol=200, instrument="MCZ_LEFT", width=120, height=60)):
            publish_mosaic(m, store=store, catalog=cat, run_id=run_id)
        yield root, store, cat


def ids(rows) -> list[str]:
    return [r.output_id for r in rows]


def test_search_outputs_by_sol_camera_kind_and_version(published) -> None:
    _, _, cat = published
    left_v1, left_v2 = "M2020-sol00100-NAVCAM_LEFT_00100_CYL-v1", "M2020-sol00100-NAVCAM_LEFT_00100_CYL-v2"
    right, mcz = "M2020-sol00100-NAVCAM_RIGHT_00100_CYL-v1", "M2020-sol00200-MCZ_LEFT_00200_CYL-v1"
    assert ids(search_outputs(cat)) == [left_v1, left_v2, right, mcz]
    assert ids(search_outputs(cat, sol=100, camera="navcam", latest_only=True)) == [left_v2, right]
    assert ids(search_outputs(cat, camera="NAVCAM_RIGHT")) == [right]
    assert ids(search_outputs(cat, camera="NAV")) == []  # a family is a whole prefix before "_"
    assert ids(search_outputs(cat, sols=(150, 250), kind="mosaic", mission="M2020")) == [mcz]
    assert search_outputs(cat, kind="video") == []


def test_search_outputs_by_time_window(published) -> None:
    _, _, cat = published
    # sample_mosaic: sol 100 starts 2021-02-18 + 102.75 d + seed h, lasting 5 minutes.
    seed1_start = dt.datetime(2021, 5, 31, 19, 0, tzinfo=UTC)
    hit = search_outputs(cat, since=seed1_start + dt.timedelta(minutes=4),
                         until=seed1_start + dt.timedelta(minutes=30))
    assert ids(hit) == ["M2020-sol00100-NAVCAM_LEFT_00100_CYL-v2"]
    naive = search_outputs(cat, since=dt.datetime(2021, 5, 31, 19, 4), until=dt.datetime(2021, 5, 31, 19, 30))
    assert ids(naive) == ids(hit)  # naive times are UTC


def test_search_products(published) -> None:
    _, _, cat = published
    assert [p.product_id for p in search_products(cat, camera="NAVCAM")] == [
        "NLF_0100_673000000_A", "NLF_0100_673000010_A"]
    assert [p.reason for p in search_products(cat, sols=(101, 101), state="quarantined")] == ["truncated"]


def test_lineage_report(published) -> None:
    _, _, cat = published
    lin = lineage_report(cat, "M2020-sol00100-NAVCAM_LEFT_00100_CYL-v1")
    assert lin.run is not None and lin.run.flow == "process-sol"
    assert [(i.link.product_id, i.product is not None) for i in lin.inputs] == [
        ("NLF_0100_673000000_A", True), ("NLF_0100_673000010_A", True)]
    right = lineage_report(cat, "M2020-sol00100-NAVCAM_RIGHT_00100_CYL-v1")
    assert all(i.product is None for i in right.inputs)  # inputs ingested elsewhere
    with pytest.raises(CatalogError, match="no output"):
        lineage_report(cat, "nope")


def test_export_stac_is_valid_offline_and_points_at_the_published_bytes(published, tmp_path: Path) -> None:
    _, store, cat = published
    result = export_stac(cat, store, tmp_path / "stac")
    assert (result["items"], result["collections"]) == (4, 1 + 3 + 3)  # mission, cameras, kinds
    docs = {p.relative_to(tmp_path / "stac").as_posix(): json.loads(p.read_text())
            for p in (tmp_path / "stac").rglob("*.json") if not p.name.endswith(".stac.json")}
    for doc in docs.values():
        validate_stac(doc)  # offline, against pystac's shipped schemas
    kind_col = docs["M2020/M2020-NAVCAM_LEFT/M2020-NAVCAM_LEFT-mosaic/collection.json"]
    assert kind_col["type"] == "Collection" and kind_col["summaries"]["platform"] == ["perseverance"]
    interval = kind_col["extent"]["temporal"]["interval"][0]
    assert interval == ["2021-05-31T18:00:00Z", "2021-05-31T19:05:00Z"]
    item = docs["M2020/M2020-NAVCAM_LEFT/M2020-NAVCAM_LEFT-mosaic/M2020-sol00100-NAVCAM_LEFT_00100_CYL-v2/"
                "M2020-sol00100-NAVCAM_LEFT_00100_CYL-v2.json"]
    assert item["collection"] == "M2020-NAVCAM_LEFT-mosaic"
    data = item["assets"]["data"]
    assert data["roles"] == ["data"] and data["type"].startswith("image/tiff; application=geotiff")
    assert data["href"] == "./NAVCAM_LEFT_00100_CYL.tif"  # relative: next to the item
    import hashlib

    item_dir = tmp_path / "stac/M2020/M2020-NAVCAM_LEFT/M2020-NAVCAM_LEFT-mosaic/M2020-sol00100-NAVCAM_LEFT_00100_CYL-v2"
    assert "1220" + hashlib.sha256((item_dir / data["href"]).read_bytes()).hexdigest() == data["file:checksum"]
    assert item["properties"]["rovercam:provenance"]["inputs"]


def test_validate_stac_reports_the_violation() -> None:
    with pytest.raises(CatalogError, match="invalid"):
        validate_stac({"type": "Feature", "stac_version": "1.1.0", "id": "x", "geometry": None,
                       "properties": {}, "links": [], "assets": {}})  # no datetime
    with pytest.raises(CatalogError, match="not a STAC"):
        validate_stac({"type": "Thing"})


def test_catalog_verb(published, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _, _ = published
    assert main(["catalog", "--out", str(root), "outputs", "--camera", "navcam", "--latest", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["output_id"] for r in rows] == ["M2020-sol00100-NAVCAM_LEFT_00100_CYL-v2",
                                              "M2020-sol00100-NAVCAM_RIGHT_00100_CYL-v1"]
    assert main(["catalog", "outputs", "--out", str(root), "--sols", "150-250", "--since",
                 "2021-01-01T00:00Z", "--json"]) == 0
    assert [r["sol"] for r in json.loads(capsys.readouterr().out)] == [200]
    assert main(["catalog", "--out", str(root), "lineage", "M2020-sol00100-NAVCAM_LEFT_00100_CYL-v1", "--json"]) == 0
    lin = json.loads(capsys.readouterr().out)
    assert len(lin["inputs"]) == 2 and lin["run"]["flow"] == "process-sol"
    assert main(["catalog", "--out", str(root), "products", "--state", "quarantined", "--json"]) == 0
    assert [p["reason"] for p in json.loads(capsys.readouterr().out)] == ["truncated"]
    assert main(["catalog", "--out", str(root), "export-stac", str(tmp_path / "stac"), "--camera", "MCZ_LEFT"]) == 0
    assert "1 items" in capsys.readouterr().out
    assert main(["catalog", "--out", str(root), "lineage", "nope"]) == 2


@pytest.mark.parametrize("include_data", [False, True])
def test_export_site_stac_links_the_sites_own_files(published, tmp_path: Path, include_data: bool) -> None:
    """The site's STAC items point at the site's copies under files/<id>/ by relative hrefs; a
    COG the site does not hold is left out; the site still works after a move."""
    import hashlib
    import shutil

    import pystac

    from rovercam.viewer import Library, export_site

    root, store, cat = published
    site = export_site(Library(cat, store), tmp_path / "site", include_data=include_data)
    moved = tmp_path / "moved"
    shutil.move(str(site.root), str(moved))
    items = list(pystac.Catalog.from_file(str(moved / "stac" / "catalog.json")).get_items(recursive=True))
    assert len(items) == site.stac_items == 3  # the newest version of each of the 3 outputs
    for item in items:
        assert ("data" in item.assets) is include_data
        for asset in item.assets.values():
            assert asset.href.startswith("../../../../../files/")
            path = Path(asset.get_absolute_href()).resolve()
            assert path.is_relative_to(moved.resolve()) and path.is_file()
            assert asset.extra_fields["file:checksum"] == "1220" + hashlib.sha256(path.read_bytes()).hexdigest()
        validate_stac(item.to_dict(include_self_link=False, transform_hrefs=False))
