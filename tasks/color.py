"""Color stage: camera RGB -> XYZ -> linear sRGB radiance."""
from __future__ import annotations

from prefect import task

from rovercam.config import Settings

from rovercam_tasks._stage import FrameRef, run_stage


@task(name="color", task_run_name="color-{ref.product_id}")
def color(ref: FrameRef, settings: Settings) -> FrameRef:
    return run_stage("color", ref, settings)
