"""End to end: a tiny synthetic sol through the process-sol flow on a Prefect test server.

Truth: the generator's radiance world, sampled on the published mosaic's own grid.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, prefect_harness):
    from rovercam_flows.demo import run_demo

    base = tmp_path_factory.mktemp("e2e")
    root = base / "store"
    first = run_demo(root, sol=7, profile="tiny", seed=3)
    second = run_demo(root, sol=7, profile="tiny", seed=3)  # identical inputs: idempotent
    return base, root, first, second


def test_every_good_product_is_processed_and_the_bad_one_quarantined(tiny_run):
    _, root, result, _ = tiny_run
    report = result.report
    assert report["failed"] == []
    assert len(report["quarantined"]) == 1
    q = report["quarantined"][0]
    assert Path(q["path"]).name in q["reason"]  # the message names the product file
    assert len(report["ingested"]) == report["products_found"] - 1
    # the bad file is preserved in the store's quarantine with its reason
    reasons = list((root / "quarantine").rglob("reason.json"))
    assert len(reasons) == 1 and json.loads(reasons[0].read_text())["reason"] == q["reason"]


def test_one_mosaic_per_navcam_eye_matches_truth(tiny_run):
    _, _, result, _ = tiny_run
    published = result.report["published"]
    assert sorted(p["instrument"] for p in published) == ["NAVCAM_LEFT", "NAVCAM_RIGHT"]
    for p in published:
        # display-scale PSNR of the published COG against the truth world on the same grid
        assert result.psnr_db[p["name"]] > 30.0, (p["name"], result.psnr_db)
        assert result.coverage[p["name"]] > 0.5


def test_published_files_stac_and_catalog_agree(tiny_run):
    import rasterio

    from rovercam.catalog import Catalog

    _, root, result, _ = tiny_run
    catalog = Catalog(result.settings.catalog_url)
    outputs = catalog.outputs(sol=7)
    assert {o.name for o in outputs} == {p["name"] for p in result.report["published"]}
    for p in result.report["published"]:
        with rasterio.open(p["cog_path"]) as ds:
            assert ds.count == 3 and ds.dtypes[0] == "float32"
            assert ds.tags()["MAP_PROJECTION_TYPE"] == "CYLINDRICAL"
        item = json.loads(Path(p["stac_path"]).read_text())
        assert item["type"] == "Feature" and item["properties"]["datetime"]
        assert {"data", "overview"} <= {r for a in item["assets"].values() for r in a.get("roles", [])}
        lineage = catalog.lineage(p["output_id"])
        assert len(lineage) >= 2  # every input frame of the mosaic is recorded
    products = catalog.products(sol=7)
    assert sum(1 for r in products if r.state == "ingested") == len(result.report["ingested"])


def test_rerun_is_idempotent_and_nothing_is_written_outside_the_root(tiny_run):
    base, root, first, second = tiny_run
    assert [p["version"] for p in second.report["published"]] == [p["version"] for p in first.report["published"]]
    assert sorted(os.listdir(base)) == ["store"]


def test_demo_command_runs_as_users_run_it(tmp_path):
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home")}
    env.pop("PREFECT_API_URL", None)
    out = subprocess.run(
        [sys.executable, "-m", "rovercam.cli", "demo", "--profile", "tiny", "--sol", "3", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Published mosaics" in out.stdout and "PSNR" in out.stdout
    assert list((tmp_path / "out").rglob("*.tif")) and (tmp_path / "out" / "catalog.sqlite").is_file()
