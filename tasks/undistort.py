"""Undistort stage: resample through the camera model's CAHV linearization."""
from __future__ import annotations

from prefect import task

from rovercam.config import Settings

from rovercam_tasks._stage import FrameRef, run_stage


@task(name="undistort", task_run_name="undistort-{ref.product_id}")
def undistort(ref: FrameRef, settings: Settings) -> FrameRef:
    return run_stage("undistort", ref, settings)
