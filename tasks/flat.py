"""Flat stage: bias, flat field, exposure and responsivity to spectral radiance."""
from __future__ import annotations

from prefect import task

from rovercam.config import Settings

from rovercam_tasks._stage import FrameRef, run_stage


@task(name="flat", task_run_name="flat-{ref.product_id}")
def flat(ref: FrameRef, settings: Settings) -> FrameRef:
    return run_stage("flat", ref, settings)
