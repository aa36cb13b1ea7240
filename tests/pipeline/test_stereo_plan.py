"""The planner's stereo and terrain decisions (rovercam.pipeline.plan): keys from the frames'
calibrate keys and the stereo settings, reuse of recorded results, one terrain per site and drive;
terrain-surface mosaics keyed by their terrains, and failing by name without them.

Truth: what the test puts in a temporary store and the settings it changes.
"""
from __future__ import annotations

import numpy as np
import pytest

from rovercam import cachekey
from rovercam.config import load
from rovercam.errors import MosaicError
from rovercam.ingest import IngestResult
from rovercam.pipeline import FrameRef, Planner, StereoPair, TerrainRef, stages_to_refresh
from rovercam.pipeline.plan import ASKED, MISSING
from rovercam.pipeline.stereo import mosaic_terrains
from rovercam.storage import Store, arrayblob

PAIRS = [StereoPair("NLF_1", "NRF_1", "NAVCAM_LEFT", "NAVCAM_RIGHT", 0.1, 3, 42),
         StereoPair("NLF_2", "NRF_2", "NAVCAM_LEFT", "NAVCAM_RIGHT", 0.1, 3, 42),
         StereoPair("FLF_1", "FRF_1", "FRONT_HAZCAM_LEFT_A", "FRONT_HAZCAM_RIGHT_A", 0.0, 3, 43)]
KEYS = {pid: pid.ljust(64, "0") for p in PAIRS for pid in (p.left, p.right)}


@pytest.fixture()
def settings(tmp_path):
    return load(environ={}, overrides={"storage": {"root": str(tmp_path / "store")},
                                       "stereo_stage": {"enabled": True}})


def _record(store: Store, stored: str) -> None:
    folder, name = stored.rsplit("/", 1)
    with store.transaction(folder, durable=False) as txn:
        txn.put(name, b"{}")


def test_stereo_and_terrain_are_computed_then_reused(settings):
    store = Store.from_settings(settings)
    planner = Planner(settings, store)
    stereo = planner.stereo(PAIRS, KEYS)
    assert [d.unit for d in stereo] == ["NLF_1", "NLF_2", "FLF_1"]
    assert all(d.action == "compute" and d.reason == MISSING for d in stereo)
    assert stereo[0].stored == f"prefect-results/stereo-pair-{stereo[0].key}"
    terrain = planner.terrain(PAIRS, stereo)
    assert [(d.stage, d.unit) for d in terrain] == [("terrain", "SITE00003_DRIVE00042_TERRAIN"),
                                                    ("terrain", "SITE00003_DRIVE00043_TERRAIN")]
    for d in stereo + terrain:
        _record(store, d.stored)
    assert all(d.reuse for d in planner.stereo(PAIRS, KEYS) + planner.terrain(PAIRS, stereo))
    asked = Planner(settings, store, refresh=stages_to_refresh(["stereo"]))
    assert all(d.reason == ASKED for d in asked.stereo(PAIRS, KEYS) + asked.terrain(PAIRS, stereo))


def test_keys_follow_the_frames_and_the_stereo_settings(settings):
    store = Store.from_settings(settings)
    base = Planner(settings, store).stereo(PAIRS, KEYS)
    recalibrated = Planner(settings, store).stereo(PAIRS, {**KEYS, "NRF_2": "f" * 64})
    assert [a.key == b.key for a, b in zip(base, recalibrated)] == [True, False, True]
    finer = Planner(settings.with_overrides({"stereo_stage": {"mesh_max_error_m": 0.01}}), store).stereo(PAIRS, KEYS)
    assert all(a.key != b.key for a, b in zip(base, finer))
    assert all(a.key == b.key for a, b in zip(base, Planner(
        settings.with_overrides({"mosaic": {"blend": "feather"}}), store).stereo(PAIRS, KEYS)))
    no_terrain = settings.with_overrides({"stereo_stage": {"terrain": False}})
    assert Planner(no_terrain, store).terrain(PAIRS, base) == []


def test_the_sol_key_holds_the_stereo_settings(settings):
    products = [("a.IMG", "1" * 64)]
    on = cachekey.sol_key(products, settings, calibration="c")
    off = cachekey.sol_key(products, settings.with_overrides({"stereo_stage": {"enabled": False}}), calibration="c")
    assert on != off
    assert "[stereo_stage]" in cachekey.fingerprint_parts("stereo") and "stereo code" in cachekey.fingerprint(
        settings, calibration="c")


def test_generated_sols_at_infinity_run_without_the_stereo_stage(tmp_path):
    from rovercam.synth import generate_sol

    from rovercam_flows.demo import at_infinity, generated_sol_settings

    sol = tmp_path / "sol"
    generate_sol(sol, sol=3, profile="tiny", seed=0)
    assert at_infinity(sol) and not at_infinity(tmp_path / "elsewhere")
    settings, overrides = generated_sol_settings(tmp_path / "root", sol)
    assert overrides["stereo_stage"] == {"enabled": False} and not settings.stereo_stage.enabled


def test_the_dry_run_plans_the_pairs_found_from_the_labels(tmp_path):
    from rovercam import ingest
    from rovercam.catalog import Catalog
    from rovercam.pipeline import plan_reprocess
    from rovercam.products import Limits
    from rovercam.synth import generate_sol

    sol = tmp_path / "sol"
    generate_sol(sol, sol=6, profile="tiny", seed=5)
    settings = load(environ={}, overrides={"storage": {"root": str(tmp_path / "store")},
                                           "calibration": {"search_path": [str(sol / "calibration")]}})
    catalog = Catalog(settings.catalog_url)
    for path in ingest.discover(sol / "raw"):
        ingest.ingest_one(path, limits=Limits(**settings.limits.model_dump()), store=Store.from_settings(settings),
                          catalog=catalog)
    catalog.close()
    off = plan_reprocess(6, settings.with_overrides({"stereo_stage": {"enabled": False}}))
    assert not [d for d in off if d.stage in ("stereo", "terrain")]
    assert settings.stereo_stage.enabled  # the default: every pair of a sol
    on = plan_reprocess(6, settings)
    stereo = [d for d in on if d.stage == "stereo"]
    assert len(stereo) == 4 and all(d.unit.startswith("NL") and d.action == "compute" for d in stereo)
    assert [d.unit for d in on if d.stage == "terrain"] == ["SITE00003_DRIVE01152_TERRAIN"]


TERRAIN = "SITE00003_DRIVE00042_TERRAIN"


def _mosaic_frames(store: Store) -> tuple[list[FrameRef], dict[str, str], object]:
    """Two stored Front Hazcam frames of site 3, drive 42: refs, calibrate keys, describe."""
    ids = ("FLF_1", "FRF_1")
    frames = [FrameRef(p, f"work/x/{p}/frame.blob", "undistort") for p in ids]
    for f in frames:
        folder, name = f.key.rsplit("/", 1)
        with store.transaction(folder, durable=False) as txn:
            txn.put(name, arrayblob.pack(np.zeros((4, 6), np.float32), {}))
    items = {p: IngestResult(path=f"/in/{p}.IMG", sha256="ab" * 32, state="ingested", product_id=p, sol=5,
                             instrument="FRONT_HAZCAM", site=3, drive=42, sequence_id="FHAZ00540") for p in ids}
    return frames, {p: f"k-{p}" for p in ids}, items.__getitem__


def test_terrain_mosaic_keys_hold_their_terrains_keys(settings):
    store = Store.from_settings(settings)
    frames, keys, describe = _mosaic_frames(store)
    on_terrain = settings.with_overrides({"mosaic": {"projection": "vertical", "surface": "terrain"}})
    [plain] = Planner(settings, store).mosaics(5, frames, keys, describe, terrain={TERRAIN: "t1"})
    assert plain.terrain == ()  # other surfaces: the key as it always was
    assert plain.key == cachekey.mosaic_key(plain.name, keys.values(), settings)
    [one] = Planner(on_terrain, store).mosaics(5, frames, keys, describe, terrain={TERRAIN: "t1"})
    assert one.terrain == (TERRAIN,)
    assert one.key == cachekey.mosaic_key(one.name, keys.values(), on_terrain, terrain=["t1"])
    [again] = Planner(on_terrain, store).mosaics(5, frames, keys, describe, terrain={TERRAIN: "t1"})
    [newer] = Planner(on_terrain, store).mosaics(5, frames, keys, describe, terrain={TERRAIN: "t2"})
    [without] = Planner(on_terrain, store).mosaics(5, frames, keys, describe)
    assert again.key == one.key and len({one.key, newer.key, without.key}) == 3


def test_a_terrain_mosaic_names_the_stereo_settings_that_changed_since_the_last_run(settings):
    from rovercam.pipeline import PreviousRun

    store = Store.from_settings(settings)
    frames, keys, describe = _mosaic_frames(store)
    on_terrain = settings.with_overrides({"mosaic": {"projection": "vertical", "surface": "terrain"}})
    before = PreviousRun("1a2b3c4d5e6f", cachekey.fingerprint(on_terrain))
    finer = on_terrain.with_overrides({"stereo": {"min_correlation": 0.6}})
    [mosaic] = Planner(finer, store, previous=before).mosaics(5, frames, keys, describe, terrain={TERRAIN: "t2"})
    assert mosaic.decision.reason == f"{MISSING} (changed since run 1a2b3c4d: configuration [stereo])"
    [level] = Planner(settings.with_overrides({"stereo": {"min_correlation": 0.6}}), store,
                      previous=PreviousRun("1a2b3c4d5e6f", cachekey.fingerprint(settings))).mosaics(
        5, frames, keys, describe)
    assert level.decision.reason == MISSING  # a level-plane mosaic does not depend on [stereo]


def test_a_terrain_mosaic_without_its_terrain_fails_naming_the_setting(settings):
    on_terrain = settings.with_overrides({"mosaic": {"projection": "vertical", "surface": "terrain"}})
    ref = TerrainRef(TERRAIN, "t1", f"sol00005/terrains/{TERRAIN}/v1/dem.tif")
    assert mosaic_terrains("M", (TERRAIN,), [ref], on_terrain) == (ref,)
    off = on_terrain.with_overrides({"stereo_stage": {"enabled": False}})
    with pytest.raises(MosaicError, match=r"^M: \[mosaic\] surface = 'terrain' needs the stereo stage: "
                                          r"set \[stereo_stage\] enabled = true$"):
        mosaic_terrains("M", (TERRAIN,), None, off)
    with pytest.raises(MosaicError, match=r"set \[stereo_stage\] terrain = true"):
        mosaic_terrains("M", (TERRAIN,), [ref], on_terrain.with_overrides({"stereo_stage": {"terrain": False}}))
    with pytest.raises(MosaicError, match="published no terrain SITE00003_DRIVE00043_TERRAIN"):
        mosaic_terrains("M", (TERRAIN, "SITE00003_DRIVE00043_TERRAIN"), [ref], on_terrain)


def test_terrain_takes_only_points_within_its_range():
    from rovercam.pipeline.stereo import terrain_points

    xyz = np.arange(4 * 3 * 3, dtype=np.float32).reshape(4, 3, 3)
    rng = np.array([[1.0, 29.9, 30.0], [30.1, np.nan, 5.0], [1e6, 2.0, 3.0], [0.5, 31.0, 7.0]], np.float32)
    out = terrain_points(xyz, rng, 30.0)
    keep = rng <= 30.0
    assert np.array_equal(out[keep], xyz[keep])
    assert np.isnan(out[~keep]).all()
    assert not np.isnan(xyz).any()  # the input is not changed
