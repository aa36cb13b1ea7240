"""The stereo stage as a subflow: pairs found among a sol's calibrated frames, each published,
one terrain per site and drive, a rerun that computes nothing, a failing pair reported while the
rest go on.

The stereo, mesh and DEM libraries are the other issue-20 modules; here they are stand-ins that
return hand-built records (StereoProducts, Mesh, DEM), so the test holds the wiring, not the
3-D. Truth: the generated sol's pairs (the ``tiny`` profile: 4 Navcam left/right pairs of one
sequence, one site and drive) and what the store and catalog hold afterwards.
"""
from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.e2e


def _products(left, right, settings):
    from rovercam.stereo.products import StereoProducts

    h, w = 12, 16
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    xyz = np.dstack([2 + 0.1 * y, 0.1 * x, np.full_like(x, 1.9)]).astype(np.float32)
    rng = np.linalg.norm(xyz, axis=2).astype(np.float32)
    normals = np.dstack([np.zeros_like(x), np.zeros_like(x), -np.ones_like(x)]).astype(np.float32)
    model = left.camera_model
    return StereoProducts(model, model, "SITE_FRAME", np.ones((h, w), np.float32), xyz, rng, normals,
                          0.01 * rng, np.ones((h, w), np.float32))


@pytest.fixture()
def stand_ins(monkeypatch):
    """Stand-ins for the stereo, mesh and DEM functions; ``failing`` names left frames that fail."""
    from rovercam.pipeline import stereo as stage
    from rovercam.terrain import dem as dem_module
    from rovercam.terrain import mesh as mesh_module
    from rovercam.terrain.dem import DEM
    from rovercam.terrain.mesh import Mesh

    failing: set[str] = set()
    calls: list[str] = []

    def products(left, right, settings):
        calls.append(left.product_id)
        if left.product_id in failing:
            raise ValueError(f"{left.product_id}: no texture to match")
        return _products(left, right, settings)

    tri = Mesh(np.eye(3, dtype=np.float32), np.array([[0, 1, 2]], np.int32), "SITE_FRAME")
    monkeypatch.setattr(stage, "pair_products", products)
    monkeypatch.setattr(mesh_module, "mesh_from_xyz", lambda xyz, **kw: tri, raising=False)
    monkeypatch.setattr(mesh_module, "mesh_from_heights", lambda h, o, c, **kw: tri, raising=False)
    monkeypatch.setattr(dem_module, "dem_from_points", lambda xyz, **kw: DEM(
        -xyz[..., 2].astype(np.float32), (float(xyz[0, 0, 0]), float(xyz[0, 0, 1])), kw["cell_m"]), raising=False)
    monkeypatch.setattr(dem_module, "merge_dems", lambda dems: dems[0], raising=False)
    files = types.ModuleType("rovercam.terrain.meshfile")
    files.write_glb = lambda mesh, path: Path(path).write_bytes(b"glTF")
    files.write_ply = lambda mesh, path: Path(path).write_bytes(b"ply\n")
    monkeypatch.setitem(sys.modules, "rovercam.terrain.meshfile", files)
    return failing, calls


_ITEMS: list = []


@pytest.fixture()
def calibrated(tmp_path):
    from rovercam import cachekey, ingest
    from rovercam.config import load
    from rovercam.products import Limits
    from rovercam.synth import generate_sol

    from rovercam_tasks._runtime import catalog_for, store_for
    from rovercam_tasks.calibrate import calibrate_one

    sol_dir = tmp_path / "sol"
    generate_sol(sol_dir, sol=7, profile="tiny", seed=2, settings=load(environ={}))
    settings = load(environ={}, overrides={"storage": {"root": str(tmp_path / "store")},
                                           "calibration": {"search_path": [str(sol_dir / "calibration")]},
                                           "stereo_stage": {"enabled": True}})
    limits = Limits(**settings.limits.model_dump())
    items = [r for r in (ingest.ingest_one(p, limits=limits, store=store_for(settings), catalog=catalog_for(settings))
                         for p in ingest.discover(sol_dir / "raw")) if r.state == "ingested"]
    keys = {it.product_id: cachekey.calibrate_key(it.sha256, settings) for it in items}
    frames = [calibrate_one(it, settings, keys[it.product_id]) for it in items]
    _ITEMS[:] = items  # for a test that calibrates again
    return settings, frames, keys


def test_pairs_and_terrain_are_published_then_reused(prefect_harness, stand_ins, calibrated):
    from rovercam_flows.stages import stereo_stage
    from rovercam_tasks._runtime import catalog_for

    failing, calls = stand_ins
    settings, frames, keys = calibrated
    first = stereo_stage(frames, keys, settings, 7)
    assert len(first.pairs) == 4 and first.failed == () and first.reused == 0
    assert all(p["instrument"] == "NAVCAM_LEFT+NAVCAM_RIGHT" and p["name"].endswith("_STEREO") for p in first.pairs)
    assert all(len(p["inputs"]) == 2 for p in first.pairs)  # lineage: both eyes
    [terrain] = first.terrain
    assert terrain["pairs"] == [p["name"] for p in first.pairs]
    catalog = catalog_for(settings)
    assert len(catalog.outputs(sol=7, kind="stereo")) == 4 and len(catalog.outputs(sol=7, kind="terrain")) == 1

    calls.clear()
    again = stereo_stage(frames, keys, settings, 7)
    assert calls == [] and again.reused == 5  # 4 pairs + 1 terrain, nothing computed
    assert [p["output_id"] for p in again.pairs] == [p["output_id"] for p in first.pairs]

    asked = stereo_stage(frames, keys, settings, 7, refresh=True)
    assert len(calls) == 4 and asked.reused == 0
    assert all(p["reused"] for p in asked.pairs)  # the same bytes: the same versions


def test_a_failing_pair_is_reported_and_the_others_go_on(prefect_harness, stand_ins, calibrated):
    from rovercam_flows.stages import stereo_stage

    failing, _ = stand_ins
    settings, frames, keys = calibrated
    left = sorted(f.product_id for f in frames if f.product_id.startswith("NL"))[0]
    failing.add(left)
    out = stereo_stage(frames, keys, settings, 7)
    [failure] = out.failed
    assert failure.product_id == left and failure.stage == "stereo" and "no texture to match" in failure.reason
    assert len(out.pairs) == 3 and len(out.terrain) == 1


def test_disabled_stage_does_nothing(prefect_harness, stand_ins, calibrated):
    from rovercam_flows.stages import stereo_stage

    _, calls = stand_ins
    settings, frames, keys = calibrated
    off = settings.with_overrides({"stereo_stage": {"enabled": False}})
    out = stereo_stage(frames, keys, off, 7)
    assert out.pairs == () and out.unpaired == () and calls == []


def test_a_sol_run_records_its_pairs_and_a_rerun_reuses_the_whole_sol(prefect_harness, stand_ins, tmp_path):
    import os

    from rovercam.config import load
    from rovercam.synth import generate_sol

    from rovercam_flows.ingest_sol import ingest_sol

    _, calls = stand_ins
    sol_dir = tmp_path / "sol"
    generate_sol(sol_dir, sol=8, profile="tiny", seed=4, settings=load(environ={}))
    root = tmp_path / "store"
    overrides = {"storage": {"root": str(root)}, "calibration": {"search_path": [str(sol_dir / "calibration")]},
                 "stereo_stage": {"enabled": True}}
    [first] = ingest_sol(source=str(sol_dir / "raw"), sol=8, overrides=overrides)
    assert len(first["stereo"]) == 4 and len(first["terrain"]) == 1 and first["unpaired"] == []
    assert "stereo" in first["stage_seconds"] and first["published"]  # the mosaics are still published
    assert not [f for f in first["failed"] if f["stage"] in ("stereo", "terrain")]

    calls.clear()
    [again] = ingest_sol(source=str(sol_dir / "raw"), sol=8, overrides=overrides)
    assert again["reused"] == {"sol": 1} and calls == []
    assert [p["output_id"] for p in again["stereo"]] == [p["output_id"] for p in first["stereo"]]

    lost = first["stereo"][0]
    os.remove(root / lost["keys"]["range"])  # a published file lost: the sol runs again, that pair too
    [third] = ingest_sol(source=str(sol_dir / "raw"), sol=8, overrides=overrides)
    assert third["reused"].get("sol") is None and third["reused"]["stereo"] == 4  # 3 pairs + the terrain
    assert calls == [lost["left"]]  # that pair's task ran again (what the store then does with the lost file
    # is Store.publish's business: it compares with the latest version's recorded checksums)


def test_pairs_without_points_in_range_leave_no_terrain_and_no_failure(prefect_harness, stand_ins, calibrated):
    """Pairs of the sky or of far terrain: the pairs are published, the terrain is reported as
    not made (with the reason), nothing fails."""
    from rovercam_flows.stages import stereo_stage
    from rovercam_tasks._runtime import catalog_for

    settings, frames, keys = calibrated
    near = settings.with_overrides({"stereo_stage": {"terrain_max_range_m": 0.5}})  # points are 2.7-4 m away
    out = stereo_stage(frames, keys, near, 7)
    assert len(out.pairs) == 4 and out.failed == () and out.dems == ()
    [terrain] = out.terrain
    assert terrain["skipped"] == "no pair has XYZ within [stereo_stage] terrain_max_range_m = 0.5 m of its left camera"
    assert catalog_for(near).outputs(sol=7, kind="terrain") == []


def test_a_mosaic_setting_does_not_make_new_versions_of_the_pairs(prefect_harness, stand_ins, calibrated):
    """A reprocess with another [mosaic] setting recalibrates the frames (their provenance names
    the run's whole configuration); the pairs' outputs hash only the sections they depend on,
    so the same bytes are published and each pair keeps its version."""
    from rovercam_flows.stages import stereo_stage
    from rovercam_tasks.calibrate import calibrate_one

    settings, frames, keys = calibrated
    first = stereo_stage(frames, keys, settings, 7)
    feather = settings.with_overrides({"mosaic": {"blend": "feather"}})
    assert feather.config_hash != settings.config_hash
    assert feather.sections_hash("stereo", "chain") == settings.sections_hash("stereo", "chain")
    again_frames = [calibrate_one(it, feather, keys[it.product_id]) for it in _ITEMS]  # a forced reprocess
    again = stereo_stage(again_frames, keys, feather, 7, refresh=True)
    assert [p["version"] for p in again.pairs] == [p["version"] for p in first.pairs]
    assert all(p["reused"] for p in again.pairs)
