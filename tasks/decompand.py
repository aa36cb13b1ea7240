"""Decompand stage: read an ingested product and undo onboard companding (starts the frame chain)."""
from __future__ import annotations

from prefect import task

from rovercam import chain
from rovercam.config import Settings
from rovercam.ingest import IngestResult

from rovercam_tasks._stage import FrameRef, frame_from_ingested, save_frame


@task(name="decompand", task_run_name="decompand-{item.product_id}")
def decompand(item: IngestResult, settings: Settings) -> FrameRef:
    """Start the chain from the product file, refusing it if it changed since ingest."""
    return save_frame(chain.decompand(frame_from_ingested(item, settings), settings), "decompand", settings)
