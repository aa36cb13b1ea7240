"""The process-edl flow on a small generated EDL sol, under a Prefect test server.

Truth: the generator's manifest (which products exist, the one truncated on purpose), the
frames the flow published (read back independently with rasterio / OpenCV).
"""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def edl_run(edl_sol, tmp_path_factory, prefect_harness):
    from rovercam_flows.process_edl import process_edl

    root = tmp_path_factory.mktemp("edl-store")
    overrides = {"storage": {"root": str(root)},
                 "calibration": {"search_path": [str(edl_sol / "calibration"), "data/calibration"]}}
    report = process_edl(sol=100, input_dir=str(edl_sol / "raw"), overrides=overrides)
    return root, report


def test_every_sequence_is_published_and_the_bad_product_quarantined(edl_run, edl_manifest):
    _, report = edl_run
    assert report["failed"] == []
    assert len(report["quarantined"]) == len(edl_manifest.expected_bad) == 1
    assert sorted(report["ingested"]) == sorted(edl_manifest.product_ids)
    assert {d["instrument"] for d in report["descents"]} == {"EDL_RDCAM"}
    assert {v["instrument"] for v in report["videos"]} == {"EDL_PUCAM1", "EDL_DDCAM", "EDL_RUCAM"}


def test_published_cogs_are_georeferenced_and_the_track_is_geojson(edl_run):
    import rasterio
    from rasterio.crs import CRS

    from rovercam.edl.ortho import local_crs

    root, report = edl_run
    d = report["descents"][0]
    levels = [k for k in d["keys"] if k.startswith("level")]
    assert len(levels) == len(d["levels"]) >= 3
    for k, lev in zip(sorted(levels, key=lambda s: int(s[5:])), d["levels"]):
        with rasterio.open(root / d["keys"][k]) as ds:
            assert ds.crs == CRS.from_user_input(local_crs())
            assert ds.transform.a == pytest.approx(lev["cell_m"]) and ds.transform.e == pytest.approx(-lev["cell_m"])
            assert (ds.width, ds.height) == (lev["width"], lev["height"]) and ds.count == 3
    track = json.loads((root / d["keys"]["track"]).read_text())
    assert len(track["features"]) == 1 + len(d["track"])
    item = json.loads((root / d["keys"]["item"]).read_text())
    assert {"track", "thumbnail", *levels} <= set(item["assets"])


def test_videos_read_back_and_events_are_in_the_catalog(edl_run):
    from rovercam.storage.video import mp4_frames

    from rovercam.catalog import Catalog
    from rovercam.config import load

    root, report = edl_run
    for v in report["videos"]:
        sizes = [img.shape[1::-1] for img in mp4_frames(root / v["video_key"])]
        assert len(sizes) == v["frames"] == 3 and {tuple(s) for s in sizes} == {tuple(v["size"])}
    catalog = Catalog(load(environ={}, overrides={"storage": {"root": str(root)}}).catalog_url)
    kinds = {o.kind for o in catalog.outputs(sol=100)}
    assert {"ortho", "sequence", "contact-sheet", "event"} <= kinds
    events = {o.name for o in catalog.outputs(sol=100, kind="event")}
    assert "EDL_PUCAM1_parachute_in_view" in events and "EDL_RDCAM_touchdown" in events
    ortho = catalog.outputs(sol=100, kind="ortho")[0]
    assert len(catalog.lineage(ortho.output_id)) == len(report["descents"][0]["track"])
