"""Reprocessing through the flows (Prefect test server): an unchanged sol is not recomputed, a
configuration change recomputes only what depends on it, bad products never fail the sol."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

SOL = 21


@pytest.fixture(scope="module")
def sol(tmp_path_factory, prefect_harness):
    from rovercam.config import load
    from rovercam.synth import generate_sol
    from rovercam.synth.corrupt import corrupt_products

    from rovercam_flows.ingest_sol import ingest_sol

    base = tmp_path_factory.mktemp("reprocess")
    sol_dir, root = base / "drop", base / "store"
    manifest = generate_sol(sol_dir, sol=SOL, profile="tiny", seed=8, settings=load(environ={}))
    bad = [p.path.rsplit("/", 1)[-1] for p in manifest.expected_bad]
    damaged = corrupt_products(sol_dir / "raw", count=2, seed=3, exclude=bad)
    overrides = {"storage": {"root": str(root)},
                 "calibration": {"search_path": [str(sol_dir / "calibration"), "data/calibration"]}}
    [first] = ingest_sol(source=str(sol_dir / "raw"), sol=SOL, overrides=overrides)
    return {"root": root, "overrides": overrides, "first": first, "damaged": {**damaged, **{b: "truncated" for b in bad}},
            "source": str(sol_dir / "raw")}


def test_bad_products_are_quarantined_and_listed_while_the_sol_completes(sol):
    from rovercam.pipeline import SolReport
    from rovercam_tasks.artifacts import summary_markdown

    first = sol["first"]
    assert not first["failed"] and len(first["published"]) == 2
    names = sorted(q["path"].rsplit("/", 1)[-1] for q in first["quarantined"])
    assert names == sorted(sol["damaged"])
    assert all(q["reason"] for q in first["quarantined"])
    text = summary_markdown(SolReport(**first))
    assert "quarantined: 3" in text and all(n in text for n in names)


def test_unchanged_sol_reruns_nothing(sol):
    from rovercam_flows.ingest_sol import ingest_sol

    [again] = ingest_sol(source=sol["source"], sol=SOL, overrides=sol["overrides"])
    assert again["reused"] == {"sol": 1}
    assert [p["version"] for p in again["published"]] == [p["version"] for p in sol["first"]["published"]]
    assert len(again["quarantined"]) == len(sol["first"]["quarantined"])


def test_mosaic_change_reuses_calibrated_frames_and_publishes_a_new_version(sol):
    from rovercam_flows.reprocess_sol import reprocess_sol

    overrides = {**sol["overrides"], "mosaic": {"blend": "feather"}}
    report = reprocess_sol(sol=SOL, overrides=overrides)
    assert report["reused"]["calibrate"] == len(report["ingested"]) > 0  # no frame recomputed
    assert report["reused"]["mosaic"] == 0
    assert sorted(p["version"] for p in report["published"]) == [2, 2]


def test_named_stage_reruns_it_and_identical_output_keeps_the_version(sol):
    from rovercam_flows.reprocess_sol import reprocess_sol

    overrides = {**sol["overrides"], "mosaic": {"blend": "feather"}}
    report = reprocess_sol(sol=SOL, cameras=["NAVCAM_LEFT"], stages=["publish"], overrides=overrides)
    assert report["ingested"] and all(p.startswith("NLM") for p in report["ingested"])  # the left eye only
    [pub] = report["published"]
    assert pub["version"] == 2 and pub["reused"]  # republished, same bytes: no new version
