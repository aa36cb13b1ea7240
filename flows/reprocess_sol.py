"""The ``reprocess-sol`` flow: run a sol's cataloged products through the pipeline again.

Parameters name the sol, optionally the cameras (instrument ids, or prefixes such as ``NAVCAM``),
the stages to rerun, and ``force``. Without ``stages`` or ``force`` everything whose inputs,
configuration and code are unchanged is reused, so only what a configuration change affects is
recomputed. Naming a stage recomputes it and every stage after it; ``force`` recomputes all.
"""
from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from rovercam import pipeline
from rovercam.config import load

from rovercam_flows.console import quiet_expected_tracebacks
from rovercam_flows.liveness import begin_run
from rovercam_flows.parameters import Cameras, ConfigFile, Force, Overrides, Sol, Stages
from rovercam_flows.stages import run_sol, sol_lock
from rovercam_tasks._runtime import catalog_for


def cataloged_paths(sol: int, settings: Any, cameras: list[str] | None = None) -> list[str]:
    """Paths of the sol's ingested products in the catalog (optionally of some cameras only)."""
    return pipeline.cataloged_paths(catalog_for(settings), sol, cameras)


def sol_settings(sol: int, settings: Any) -> tuple[Any, pipeline.SolReport]:
    """``settings`` with the calibration folders the sol came with searched first (remembered by
    its earlier runs: :mod:`rovercam.pipeline.calibration`), and a report that remembers them too."""
    folders = pipeline.remembered_calibration(catalog_for(settings), sol)
    if folders:
        get_run_logger().info("sol %d: calibration from %s first (as its earlier runs)", sol, ", ".join(folders))
    return pipeline.with_calibration(settings, folders), pipeline.SolReport(sol=sol, calibration=folders)


@flow(name="reprocess-sol", description="Reprocess one sol's cataloged products (chosen cameras and stages).")
def reprocess_sol(sol: Sol, cameras: Cameras = None, stages: Stages = None, force: Force = False,
                  config_file: ConfigFile = None, overrides: Overrides = None) -> dict[str, Any]:
    """Reprocess ``sol``; returns its report (see :class:`rovercam.pipeline.SolReport`).

    ``rovercam reprocess --dry-run`` prints what this would reuse and compute, and why
    (:func:`rovercam.pipeline.plan_reprocess`).
    """
    quiet_expected_tracebacks()
    begin_run()
    refresh = pipeline.stages_to_refresh(stages, force=force)
    loaded = load(config_file, overrides=overrides)
    with sol_lock(sol, loaded, flow_name="reprocess-sol") as run_id:  # one run per sol at a time
        settings, report = sol_settings(sol, loaded)
        report.run_id = run_id
        paths = cataloged_paths(sol, settings, cameras)
        get_run_logger().info("sol %d: %d cataloged product(s); recomputing %s", sol, len(paths),
                              ", ".join(sorted(refresh)) or "only what changed")
        return run_sol(sol, paths, settings, flow_name="reprocess-sol", refresh=refresh, report=report).to_dict()
