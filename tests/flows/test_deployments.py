"""Deployments file: read, checked, and turned into Prefect deployments with their schedules."""
from __future__ import annotations

import pytest

from rovercam.config import ConfigError


def test_default_deployments_cover_every_flow():
    from rovercam_flows.deployments import FLOWS, load_deployments

    specs = load_deployments()
    assert {s.flow for s in specs} == set(FLOWS)
    ingest = next(s for s in specs if s.flow == "ingest-sol")
    assert ingest.cron and ingest.parameters["latest"] == 1


def test_bad_deployment_files_are_refused_with_the_file_and_table(tmp_path):
    from rovercam_flows.deployments import load_deployments

    bad = tmp_path / "d.toml"
    bad.write_text('[x]\nflow = "no-such-flow"\n')
    with pytest.raises(ConfigError, match=r"d\.toml: \[x\] flow 'no-such-flow'"):
        load_deployments(bad)
    bad.write_text('[x]\nflow = "reprocess-sol"\ncronn = "* * * * *"\n')
    with pytest.raises(ConfigError, match="unknown key"):
        load_deployments(bad)


def test_build_gives_scheduled_and_on_demand_deployments(tmp_path):
    from rovercam_flows.deployments import build, load_deployments

    f = tmp_path / "d.toml"
    f.write_text('[nightly]\nflow = "catalog-report"\ncron = "0 3 * * *"\ntimezone = "UTC"\n'
                 '[again]\nflow = "reprocess-sol"\nparameters = { sol = 5 }\n')
    nightly, again = build(load_deployments(f), config_file="/etc/rovercam.toml")
    assert nightly.name == "nightly" and nightly.schedules[0].schedule.cron == "0 3 * * *"
    assert not again.schedules and again.parameters == {"sol": 5, "config_file": "/etc/rovercam.toml"}
    assert "rovercam" in again.tags


def test_stages_to_refresh_reruns_everything_after_the_earliest_stage():
    from rovercam.pipeline import stages_to_refresh

    assert stages_to_refresh(None) == set()
    assert stages_to_refresh(["mosaic"]) == {"mosaic", "publish"}
    assert stages_to_refresh(["debayer"]) == {"calibrate", "stereo", "mosaic", "publish"}  # a chain stage
    assert stages_to_refresh(["stereo"]) == {"stereo", "mosaic", "publish"}  # mosaics may lie on its terrain
    assert stages_to_refresh(["publish", "ingest"]) == {"ingest", "calibrate", "stereo", "mosaic", "publish"}
    assert stages_to_refresh([], force=True) == {"ingest", "calibrate", "stereo", "mosaic", "publish"}
    with pytest.raises(ValueError, match="unknown stage 'mosiac'"):
        stages_to_refresh(["mosiac"])
