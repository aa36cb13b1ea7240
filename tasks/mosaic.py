"""Mosaic stage: refine, match and blend a group's calibrated frames onto the configured grid."""
from __future__ import annotations

from prefect import task

from rovercam import layout
from rovercam.config import Settings
from rovercam.mosaic.build import build_mosaic as build_mosaic_from_frames
from rovercam.mosaic.model import dumps_mosaic
from rovercam.pipeline.plan import MOSAIC_FILE

from rovercam_tasks._cache import key_parameter
from rovercam_tasks._runtime import store_for
from rovercam_tasks._stage import FrameRef, load_frame

__all__ = ["MOSAIC_FILE", "build_mosaic"]


@task(name="build-mosaic", task_run_name="mosaic-{name}", cache_key_fn=key_parameter, persist_result=True)
def build_mosaic(name: str, refs: list[FrameRef], settings: Settings, sol: int, key: str = "") -> str:
    """Build the mosaic and store it in the work area; returns its store key.

    ``key`` (:func:`rovercam.cachekey.mosaic_key`) names the stored mosaic and makes it reusable.
    """
    loaders = [lambda r=r: load_frame(r, settings) for r in refs]
    mosaic = build_mosaic_from_frames(name, loaders, settings)
    with store_for(settings).transaction(layout.mosaic_work_prefix(sol, name, key or "unkeyed"), durable=False) as txn:
        txn.put(MOSAIC_FILE, dumps_mosaic(mosaic))
    return txn.keys[MOSAIC_FILE]
