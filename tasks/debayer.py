"""Debayer stage: demosaic Bayer-encoded frames (Malvar-He-Cutler by default)."""
from __future__ import annotations

from prefect import task

from rovercam.config import Settings

from rovercam_tasks._stage import FrameRef, run_stage


@task(name="debayer", task_run_name="debayer-{ref.product_id}")
def debayer(ref: FrameRef, settings: Settings) -> FrameRef:
    return run_stage("debayer", ref, settings)
