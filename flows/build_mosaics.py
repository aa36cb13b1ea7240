"""The ``build-mosaics`` flow: (re)build and publish a sol's mosaics, optionally with another
projection or grouping, from frames already calibrated (reused from the store)."""
from __future__ import annotations

from typing import Any

from prefect import flow

from rovercam.config import load

from rovercam_flows.reprocess_sol import cataloged_paths, sol_settings
from rovercam_flows.console import quiet_expected_tracebacks
from rovercam_flows.liveness import begin_run
from rovercam_flows.parameters import Cameras, ConfigFile, Force, Overrides, Projection, Sol
from rovercam_flows.stages import run_sol, sol_lock


@flow(name="build-mosaics", description="Build and publish a sol's mosaics from its calibrated frames.")
def build_mosaics(sol: Sol, cameras: Cameras = None, projection: Projection = None, force: Force = False,
                  config_file: ConfigFile = None, overrides: Overrides = None) -> dict[str, Any]:
    """Mosaics of ``sol`` (``projection`` overrides ``[mosaic] projection``); ``force`` rebuilds
    them even when an identical build is stored."""
    quiet_expected_tracebacks()
    begin_run()
    extra = {"mosaic": {"projection": projection}} if projection else {}
    loaded = load(config_file, overrides=overrides).with_overrides(extra)
    refresh = {"mosaic", "publish"} if force else set()
    with sol_lock(sol, loaded, flow_name="build-mosaics") as run_id:  # one run per sol at a time
        settings, report = sol_settings(sol, loaded)
        report.run_id = run_id
        return run_sol(sol, cataloged_paths(sol, settings, cameras), settings, flow_name="build-mosaics",
                       refresh=refresh, report=report).to_dict()
