"""The planner's decisions (rovercam.pipeline.plan): reuse exactly what is stored under the key,
compute with the reason otherwise; no orchestrator involved.

Truth: what the test itself put in a temporary store, and the settings it changed.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from rovercam import cachekey, layout
from rovercam.config import load
from rovercam.ingest import IngestResult
from rovercam.pipeline import FrameRef, MosaicRef, Planner, PreviousRun, stages_to_refresh, summarize
from rovercam.pipeline.plan import ASKED, FRAME_FILE, MISSING, MOSAIC_FILE
from rovercam.storage import Store, arrayblob

SOL = 5


@pytest.fixture()
def settings(tmp_path):
    return load(environ={}, overrides={"storage": {"root": str(tmp_path / "store")},
                                       "calibration": {"search_path": [str(tmp_path / "cal")]}})


@pytest.fixture()
def store(settings):
    return Store.from_settings(settings)


def _item(pid: str, seq: str = "NCAM00001") -> IngestResult:
    return IngestResult(path=f"/in/{pid}.IMG", sha256="ab" * 32, state="ingested", product_id=pid, sol=SOL,
                        instrument="NAVCAM_LEFT", site=1, drive=2, sequence_id=seq, content_sha256=pid.ljust(64, "0"))


def _put(store: Store, key: str, data: bytes) -> None:
    folder, name = key.rsplit("/", 1)
    with store.transaction(folder, durable=False) as txn:
        txn.put(name, data)


def _frame(store: Store, key: str, shape: tuple[int, ...]) -> None:
    _put(store, key, arrayblob.pack(np.zeros(shape, np.float32), {}))


def test_a_stored_frame_is_reused_and_a_missing_one_computed(settings, store):
    items = [_item("NLB_1"), _item("NLB_2")]
    first = Planner(settings, store).calibrate(items)
    assert [d.action for d in first] == ["compute", "compute"] and {d.reason for d in first} == {MISSING}
    _frame(store, first[0].stored, (4, 6))
    again = Planner(settings, store).calibrate(items)
    assert again[0].reuse and str(again[0]) == f"reuse {first[0].stored}"
    assert again[0].stored == f"{layout.calibrated_prefix(SOL, 'NLB_1', again[0].key)}/{FRAME_FILE}"
    assert again[0].key == cachekey.calibrate_key(items[0].content_sha256, settings)
    assert again[1].action == "compute"
    asked = Planner(settings, store, refresh={"calibrate"}).calibrate(items)
    assert [d.reason for d in asked] == [ASKED, ASKED]  # stored, but asked for
    per_stage = settings.with_overrides({"prefect": {"chain_tasks": "per-stage"}})
    assert all(d.action == "compute" and "per-stage" in d.reason for d in Planner(per_stage, store).calibrate(items))


def test_reasons_name_what_changed_since_the_previous_run(settings, store):
    before = PreviousRun("1a2b3c4d5e6f", cachekey.fingerprint(settings))
    frames = [FrameRef(p, f"work/x/{p}/{FRAME_FILE}", "undistort") for p in ("NLB_1", "NLB_2")]
    for f in frames:
        _frame(store, f.key, (4, 6, 3))
    keys = {f.product_id: f"k-{f.product_id}" for f in frames}
    describe = {p: _item(p) for p in keys}.__getitem__
    [same] = Planner(settings, store, previous=before).mosaics(SOL, frames, keys, describe)
    assert same.decision.reason == MISSING  # nothing changed: the result is simply not there
    feather = settings.with_overrides({"mosaic": {"blend": "feather"}})
    [changed] = Planner(feather, store, previous=before).mosaics(SOL, frames, keys, describe)
    assert changed.decision.reason == f"{MISSING} (changed since run 1a2b3c4d: configuration [mosaic])"
    # the calibrate stage does not depend on [mosaic]
    [cal] = Planner(feather, store, previous=before).calibrate([_item("NLB_9")])
    assert cal.reason == MISSING


def test_mosaics_split_by_band_count_skip_small_groups_and_wait_for_missing_frames(settings, store):
    shapes = {"NLB_1": (4, 6), "NLB_2": (4, 6, 3), "NLB_3": (4, 6), "NLB_4": (4, 6, 3), "NLB_5": (4, 6, 3)}
    frames = [FrameRef(p, f"work/x/{p}/{FRAME_FILE}", "undistort") for p in shapes]
    for f in frames:
        _frame(store, f.key, shapes[f.product_id])
    seq = {"NLB_1": "S1", "NLB_2": "S1", "NLB_3": "S1", "NLB_4": "S1", "NLB_5": "S2"}
    describe = {p: _item(p, seq[p]) for p in shapes}.__getitem__
    keys = {p: f"k-{p}" for p in shapes}
    plans = Planner(settings, store).mosaics(SOL, frames, keys, describe)
    assert [(p.name, p.decision.action, [r.product_id for r in p.refs]) for p in plans] == [
        ("site1_drive2_S1_NAVCAM-LEFT_1BAND_CYL", "compute", ["NLB_1", "NLB_3"]),
        ("site1_drive2_S1_NAVCAM-LEFT_3BAND_CYL", "compute", ["NLB_2", "NLB_4"]),
        ("site1_drive2_S2_NAVCAM-LEFT_CYL", "skip", ["NLB_5"]),
    ]
    assert "min_frames" in plans[2].decision.reason
    assert plans[0].key == cachekey.mosaic_key(plans[0].name, ["k-NLB_1", "k-NLB_3"], settings)
    _put(store, plans[0].decision.stored, b"mosaic")
    assert plans[0].decision.stored.endswith(MOSAIC_FILE)
    assert Planner(settings, store).mosaics(SOL, frames, keys, describe)[0].decision.reuse
    # a dry run before calibration: a frame not stored yet leaves the split (and key) open
    missing = [*frames[:2], FrameRef("NLB_6", "work/x/NLB_6/frame.blob", "undistort")]
    describe6 = {**{p: _item(p, "S1") for p in shapes}, "NLB_6": _item("NLB_6", "S1")}.__getitem__
    [pending] = Planner(settings, store).mosaics(SOL, missing, {**keys, "NLB_6": "k6"}, describe6)
    assert pending.key is None and pending.decision.action == "compute" and "calibrated first" in pending.decision.reason
    [publish] = Planner(settings, store).publish([MosaicRef(pending.name, "", "")])
    assert publish.action == "compute" and publish.reason == "its mosaic is planned first"


def test_publish_reuses_the_recorded_result_of_its_key(settings, store):
    m = MosaicRef("M_CYL", "work/sol00005/mosaic/M_CYL/0123/mosaic.npz", "0123" * 16)
    [d] = Planner(settings, store).publish([m])
    assert d.key == cachekey.publish_key(m.key, settings)
    assert d.stored == f"prefect-results/publish-mosaic-{d.key}" and d.action == "compute"
    _put(store, d.stored, b"{}")
    assert Planner(settings, store).publish([m])[0].reuse
    assert Planner(settings, store, refresh={"publish"}).publish([m])[0].reason == ASKED


def test_the_sol_record_stands_in_only_while_its_published_files_exist(settings, store):
    products = [("/in/A.IMG", "aa" * 32), ("/in/B.IMG", "bb" * 32)]
    d = Planner(settings, store).sol(SOL, products)
    assert d.action == "compute" and d.reason == "no stored run record for this key"
    assert d.stored == layout.run_record_key(SOL, d.key) and d.unit == "sol00005"
    _put(store, "sol00005/mosaics/M/v1/m.tif", b"cog")
    _put(store, d.stored, json.dumps({"published": [{"cog_key": "sol00005/mosaics/M/v1/m.tif",
                                                     "png_key": "sol00005/mosaics/M/v1/m.png"}]}).encode())
    gone = Planner(settings, store).sol(SOL, products)
    assert gone.reason == "published file sol00005/mosaics/M/v1/m.png is missing"
    _put(store, "sol00005/mosaics/M/v1/m.png", b"png")
    assert Planner(settings, store).sol(SOL, products).reuse
    assert Planner(settings, store).sol(SOL, products, failures=1).reason == "this run already has 1 failure(s)"
    asked = Planner(settings, store, refresh=stages_to_refresh(["mosaic"])).sol(SOL, products)
    assert asked.reason == "refresh asked for mosaic, publish"
    other = Planner(settings, store, previous=PreviousRun("ff" * 16, Planner(settings, store).fingerprint(products)))
    assert other.sol(SOL, products[:1]).reason == \
        "no stored run record for this key (changed since run ffffffff: product files)"


def test_ingest_reuses_the_recorded_result_of_its_key(settings, store):
    [d] = Planner(settings, store).ingest(SOL, [("/in/A.IMG", "aa" * 32)])
    assert d.unit == "A.IMG" and d.key == cachekey.ingest_key("aa" * 32, settings, sol=SOL)
    assert d.stored == f"prefect-results/ingest-product-{d.key}" and d.action == "compute"
    _put(store, d.stored, b"{}")
    assert Planner(settings, store).ingest(SOL, [("/in/A.IMG", "aa" * 32)])[0].reuse


def test_summary_counts_actions_and_lists_reasons(settings, store):
    items = [_item("NLB_1"), _item("NLB_2")]
    plan = Planner(settings, store).calibrate(items)
    assert summarize(plan) == f"2 compute ({MISSING})"
    assert summarize([]) == "nothing"


def test_the_dry_run_refuses_a_storage_root_that_does_not_exist(tmp_path):
    from rovercam.errors import StorageError
    from rovercam.pipeline import plan_reprocess

    settings = load(environ={}, overrides={"storage": {"root": str(tmp_path / "nowhere")}})
    with pytest.raises(StorageError, match="nothing to plan"):
        plan_reprocess(SOL, settings)
    assert not (tmp_path / "nowhere").exists()
