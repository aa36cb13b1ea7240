"""``rovercam demo`` then ``rovercam reprocess`` on the same storage root, with no extra settings:
the sol remembers the calibration it came with (issue 17). And a sol whose source folder does not
exist fails at once, recorded as a failed run.

Truth: the demo's own run (everything stored), the plan and the report of the reprocess after it,
and the catalog's run rows.
"""
from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.e2e

SOL = 31


@pytest.fixture(scope="module")
def demo(tmp_path_factory, prefect_harness):
    from rovercam_flows.demo import run_demo

    root = tmp_path_factory.mktemp("demo-reprocess") / "store"
    result = run_demo(root, sol=SOL, profile="tiny", seed=5)
    return {"root": root, "result": result}


def _settings(root):
    from rovercam.config import load

    return load(environ={}, overrides={"storage": {"root": str(root)}})  # as `--out DIR` alone gives


def test_the_dry_run_after_the_demo_reuses_every_frame(demo):
    from rovercam.pipeline import plan_reprocess

    first = demo["result"].report
    assert first["published"] and not first["failed"] and first["calibration"]
    plan = plan_reprocess(SOL, _settings(demo["root"]))
    calibrate = [d for d in plan if d.stage == "calibrate"]
    assert len(calibrate) == len(first["ingested"]) > 0
    # every frame, mosaic and publish is reused; the sol record is keyed by the products the demo
    # fetched, bad ones included, where reprocess takes the cataloged ones only
    units = [d for d in plan if d.stage not in ("sol", "stereo", "terrain")]
    assert all(d.reuse for d in units), [str(d) for d in units if not d.reuse]
    # the demo's world lies at infinity, so it ran without the stereo stage; a reprocess with the
    # default settings (the stage on) makes its pairs, and says why
    stereo = [d for d in plan if d.stage == "stereo"]
    assert all(d.action == "compute" and d.reason.endswith("configuration [stereo_stage])") for d in stereo), \
        [str(d) for d in stereo]


def test_reprocess_after_the_demo_works_with_no_extra_settings(demo):
    from rovercam.catalog import Catalog

    from rovercam_flows.reprocess_sol import reprocess_sol

    report = reprocess_sol(sol=SOL, overrides={"storage": {"root": str(demo["root"])}}, stages=["calibrate"])
    assert not report["failed"] and report["status"] == "completed"
    assert len(report["published"]) == len(demo["result"].report["published"])
    assert report["calibration"] == demo["result"].report["calibration"]
    with Catalog(_settings(demo["root"]).catalog_url) as catalog:
        latest = catalog.runs(sol=SOL, limit=1)[0]
    assert latest.flow == "reprocess-sol" and latest.status == "completed"


def test_a_missing_source_folder_fails_at_once_and_the_run_is_failed(tmp_path, prefect_harness):
    from rovercam.catalog import Catalog
    from rovercam.errors import SourceError

    from rovercam_flows.ingest_sol import ingest_sol

    root = tmp_path / "store"
    t0 = time.perf_counter()
    with pytest.raises(SourceError, match="no such folder"):
        ingest_sol(source=str(tmp_path / "nowhere"), sol=1, overrides={"storage": {"root": str(root)}})
    assert time.perf_counter() - t0 < 20  # s: no retries (they used to wait 10 s and 60 s)
    with Catalog(_settings(root).catalog_url) as catalog:
        [run] = catalog.runs(sol=1)
    assert run.status == "failed" and "no such folder" in run.summary["reason"]
