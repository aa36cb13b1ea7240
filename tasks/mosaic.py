"""Mosaic stage: refine, match and blend a group's calibrated frames onto the configured grid."""
from __future__ import annotations

from prefect import task

from rovercam import layout
from rovercam.config import Settings
from rovercam.mosaic.build import build_mosaic as build_mosaic_from_frames
from rovercam.mosaic.model import dumps_mosaic
from rovercam.pipeline.plan import MOSAIC_FILE
from rovercam.pipeline.results import TerrainRef
from rovercam.pipeline.stereo import mosaic_dem

from rovercam_tasks._cache import key_parameter
from rovercam_tasks._runtime import store_for
from rovercam_tasks._stage import FrameRef, load_frame

__all__ = ["MOSAIC_FILE", "build_mosaic"]


@task(name="build-mosaic", task_run_name="mosaic-{name}", cache_key_fn=key_parameter, persist_result=True)
def build_mosaic(name: str, refs: list[FrameRef], settings: Settings, sol: int, key: str = "",
                 terrains: list[TerrainRef] | None = None) -> str:
    """Build the mosaic and store it in the work area; returns its store key.

    ``key`` (:func:`rovercam.cachekey.mosaic_key`) names the stored mosaic and makes it reusable.
    ``terrains``: the published terrains a ``[mosaic] surface = "terrain"`` mosaic is projected
    onto (:func:`rovercam.pipeline.stereo.mosaic_terrains`), their DEMs read back from the store.
    """
    store = store_for(settings)
    loaders = [lambda r=r: load_frame(r, settings) for r in refs]
    dem = mosaic_dem(store, terrains) if terrains else None
    mosaic = build_mosaic_from_frames(name, loaders, settings, dem=dem)
    if terrains:
        mosaic.provenance.steps.append("terrain: " + ", ".join(t.dem for t in terrains))
    with store.transaction(layout.mosaic_work_prefix(sol, name, key or "unkeyed"), durable=False) as txn:
        txn.put(MOSAIC_FILE, dumps_mosaic(mosaic))
    return txn.keys[MOSAIC_FILE]
