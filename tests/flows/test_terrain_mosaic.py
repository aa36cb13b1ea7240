"""A sol run with ``[mosaic] surface = "terrain"``: the stereo stage's terrain reaches the mosaic
stage, the vertical mosaic of the Front Hazcam pair is published on it, a rerun reuses it, new
stereo results make a new one, and without the stereo stage the mosaic fails with the setting
to change while the run goes on.

Truth: a generated ``stereo`` sol (its Front Hazcam pair only, rendered as in the whole profile)
and what the store and the published COG hold afterwards.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SOL = 121


@pytest.fixture(scope="module")
def sol_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rovercam.synth.mission import generate_terrain_sol
    from rovercam.synth.sol import sclk_to_utc

    out = tmp_path_factory.mktemp("terrain-mosaic") / "sol"
    generate_terrain_sol(out, sol=SOL, profile="stereo", seed=1, settings=None, progress=None,
                         pointing_error_deg=0.0, utc=sclk_to_utc, xyz_truth=False,
                         select=lambda s: s.pair == "front_hazcam")
    return out


@pytest.fixture(scope="module")
def overrides(sol_dir: Path) -> dict:
    # stereo matched out to 8 m (the Hazcams see the horizon: matches near zero disparity would put
    # points kilometres away, and the site's DEM grid would span them); the two eyes in one mosaic
    # (group_by without the instrument); a 6 x 6 m map of 3 cm pixels around the cameras (step =
    # scale_deg in radians x vertical_extent_m / 2); no pointing refinement: the generated labels
    # carry the true pointing
    return {"storage": {"root": str(sol_dir.parent / "store")},
            "calibration": {"search_path": [str(sol_dir / "calibration")]},
            "stereo_stage": {"enabled": True},
            "mosaic": {"projection": "vertical", "surface": "terrain", "group_by": ["site", "drive", "sequence_id"],
                       "vertical_extent_m": 3.0, "scale_deg": 1.1459, "refine_pointing": False}}


@pytest.fixture(scope="module")
def first(prefect_harness, sol_dir: Path, overrides: dict) -> dict:
    from rovercam_flows.ingest_sol import ingest_sol

    [report] = ingest_sol(source=str(sol_dir / "raw"), sol=SOL, overrides=overrides)
    return report


def _tags(root: Path, key: str) -> dict[str, str]:
    import rasterio

    with rasterio.open(root / key) as ds:
        return ds.tags()


def test_the_vertical_mosaic_is_published_on_the_terrain(first, overrides):
    assert first["failed"] == [] and len(first["stereo"]) == 1
    [terrain] = first["terrain"]
    [mosaic] = first["published"]
    tags = _tags(Path(overrides["storage"]["root"]), mosaic["cog_key"])
    assert tags["MAP_PROJECTION_TYPE"] == "VERTICAL" and tags["SURFACE_MODEL"] == "TERRAIN"
    assert terrain["keys"]["dem"] in tags["ROVERCAM_PROVENANCE"]  # which DEM it was projected onto


def test_a_rerun_reuses_it_and_new_stereo_results_make_a_new_one(first, sol_dir, overrides):
    from rovercam_flows.reprocess_sol import reprocess_sol

    again = reprocess_sol(sol=SOL, stages=["publish"], overrides=overrides)
    assert again["reused"]["stereo"] == 2 and again["reused"]["mosaic"] == 1  # pair + terrain, the mosaic
    assert [p["cog_key"] for p in again["published"]] == [p["cog_key"] for p in first["published"]]

    matched = {**overrides, "stereo": {"uniqueness_ratio": 12}}  # another DEM
    changed = reprocess_sol(sol=SOL, overrides=matched)
    assert changed["failed"] == [] and changed["reused"]["stereo"] == 0 and changed["reused"]["mosaic"] == 0
    [mosaic] = changed["published"]
    assert _tags(Path(overrides["storage"]["root"]), mosaic["cog_key"])["SURFACE_MODEL"] == "TERRAIN"


def test_without_the_stereo_stage_the_mosaic_fails_naming_the_setting(first, overrides):
    from rovercam_flows.reprocess_sol import reprocess_sol

    off = {**overrides, "stereo_stage": {"enabled": False}}
    report = reprocess_sol(sol=SOL, overrides=off)
    [failure] = report["failed"]
    assert failure["stage"] == "mosaic" and failure["reason"].endswith(
        "[mosaic] surface = 'terrain' needs the stereo stage: set [stereo_stage] enabled = true")
    assert report["published"] == [] and report["stereo"] == []  # no fallback to another surface
    assert "publish" in report["stage_seconds"]  # the run went on to its end
