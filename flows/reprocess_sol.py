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

from rovercam_flows.stages import run_sol
from rovercam_tasks._runtime import catalog_for


def cataloged_paths(sol: int, settings: Any, cameras: list[str] | None = None) -> list[str]:
    """Paths of the sol's ingested products in the catalog (optionally of some cameras only)."""
    return pipeline.cataloged_paths(catalog_for(settings), sol, cameras)


@flow(name="reprocess-sol", description="Reprocess one sol's cataloged products (chosen cameras and stages).")
def reprocess_sol(sol: int, cameras: list[str] | None = None, stages: list[str] | None = None,
                  force: bool = False, config_file: str | None = None,
                  overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Reprocess ``sol``; returns its report (see :class:`rovercam.pipeline.SolReport`).

    ``rovercam reprocess --dry-run`` prints what this would reuse and compute, and why
    (:func:`rovercam.pipeline.plan_reprocess`).
    """
    settings = load(config_file, overrides=overrides)
    refresh = pipeline.stages_to_refresh(stages, force=force)
    paths = cataloged_paths(sol, settings, cameras)
    get_run_logger().info("sol %d: %d cataloged product(s); recomputing %s", sol, len(paths),
                          ", ".join(sorted(refresh)) or "only what changed")
    return run_sol(sol, paths, settings, flow_name="reprocess-sol", refresh=refresh).to_dict()
