"""How a sol run ends in the catalog (completed or failed), and the calibration a sol remembers.

Truth: hand-built reports whose outcome is stated in issue 17 (a run that failed everything is
failed; a partial success is completed with its failures listed) and a real SQLite catalog.
"""
from __future__ import annotations

import pytest

from rovercam.catalog import Catalog
from rovercam.config import load
from rovercam.pipeline import SolReport, remembered_calibration, with_calibration


def _report(**kw) -> SolReport:
    base = dict(sol=7, products_found=3, ingested=["A", "B", "C"])
    return SolReport(**{**base, **kw})


def _fail(pid: str, stage: str) -> dict:
    return {"product_id": pid, "stage": stage, "reason": "boom"}


@pytest.mark.parametrize("report, failed", [
    (_report(published=[{"name": "m"}]), False),
    (_report(failed=[_fail("A", "calibrate")], published=[{"name": "m"}]), False),  # partial: completed
    (_report(failed=[_fail(p, "calibrate") for p in "ABC"]), True),  # no product calibrated
    (_report(ingested=[], quarantined=[{"path": p, "reason": "bad"} for p in "ABC"]), True),
    (_report(failed=[_fail("m1", "mosaic"), _fail("m2", "publish")]), True),  # every mosaic failed
    (_report(failed=[_fail("m1", "mosaic")], published=[{"name": "m2"}]), False),
    (_report(products_found=0, ingested=[], failed=[_fail("x.IMG", "fetch")]), True),  # every fetch failed
    (_report(products_found=0, ingested=[]), False),  # nothing to do is not a failure
    (_report(failed=[_fail(p, "calibrate") for p in "ABC"], reused={"sol": 1}), False),
    (_report(failed=[_fail("RDCAM", "edl")], ingested=["A"]), True),
])
def test_a_run_that_failed_everything_is_failed(report, failed):
    assert (report.failure() is not None) is failed


def test_the_catalog_records_the_status_and_the_reason(tmp_path):
    settings = load(environ={}, overrides={"storage": {"root": str(tmp_path)}})
    with Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as catalog:
        bad = _report(failed=[_fail(p, "calibrate") for p in "ABC"])
        bad.start(catalog, flow="reprocess-sol", settings=settings)
        bad.finish(catalog)
        good = _report(failed=[_fail("A", "calibrate")], published=[{"name": "m"}])
        good.start(catalog, flow="reprocess-sol", settings=settings)
        good.finish(catalog)
        aborted = _report()
        aborted.start(catalog, flow="ingest-sol", settings=settings)
        aborted.abort(catalog, "fetch failed: /x: no such folder")
        runs = {r.run_id: r for r in catalog.runs(sol=7)}
    assert runs[bad.run_id].status == "failed"
    assert runs[bad.run_id].summary["reason"].startswith("no product calibrated")
    assert runs[good.run_id].status == "completed" and len(runs[good.run_id].summary["failed"]) == 1
    assert runs[aborted.run_id].status == "failed" and "no such folder" in runs[aborted.run_id].summary["reason"]


def test_a_sol_remembers_the_calibration_it_came_with(tmp_path):
    own = tmp_path / "sol" / "calibration"
    own.mkdir(parents=True)
    settings = load(environ={}, overrides={"storage": {"root": str(tmp_path)}})
    with Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as catalog:
        assert remembered_calibration(catalog, 7) == []
        first = SolReport(sol=7, calibration=[str(own)])
        first.start(catalog, flow="ingest-sol", settings=settings)
        first.finish(catalog)
        later = SolReport(sol=7)  # a run that recorded none does not hide the earlier one
        later.start(catalog, flow="catalog-report", settings=settings)
        later.finish(catalog)
        assert remembered_calibration(catalog, 7) == [str(own)]
        assert remembered_calibration(catalog, 8) == []
    searched = with_calibration(settings, [str(own)])
    assert searched.calibration_path[0] == own.resolve()
    assert searched.calibration_path[1:] == settings.calibration_path
    assert with_calibration(searched, [str(own)]) is searched  # already there: unchanged
    assert with_calibration(settings, []) is settings


def test_a_missing_calibration_file_names_the_folders_searched_and_the_setting(tmp_path):
    import numpy as np

    from rovercam import chain
    from rovercam.errors import CalibrationError
    from rovercam.products.model import CFA, Companding, ProductMeta

    meta = ProductMeta(product_id="NLM_0100_TEST", instrument="NAVCAM_LEFT", mission="M2020", sol=100,
                       companding=Companding("SOFTWARE", "LUT9", "companded", 12), cfa=CFA("RGGB", "encoded"))
    frame = chain.Frame(meta=meta, image=np.zeros((4, 6), np.uint8), units="code")
    gone = tmp_path / "gone"
    settings = load(environ={}, overrides={"calibration": {"search_path": [str(gone)], "strict": True}})
    with pytest.raises(CalibrationError) as info:
        chain.decompand(frame, settings)
    message = str(info.value)
    assert f"{gone / 'luts'} (no such folder)" in message and "[calibration] search_path" in message
    assert all(str(p / "luts") in message for p in settings.calibration_path)
