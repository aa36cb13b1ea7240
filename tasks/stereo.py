"""Stereo stage: one pair's 3-D products, mesh and ``"stereo"`` output; one site and drive's
merged terrain (``"terrain"``). The work is :mod:`rovercam.pipeline.stereo`."""
from __future__ import annotations

import asyncio
from typing import Any

from prefect import task

from rovercam.config import Settings
from rovercam.pipeline.pairing import StereoPair
from rovercam.pipeline.results import FrameRef
from rovercam.pipeline.stereo import site_terrain, stereo_pair

from rovercam_tasks._cache import key_parameter
from rovercam_tasks._runtime import catalog_for, store_for
from rovercam_tasks._stage import load_frame
from rovercam_tasks.retry import retry_policy

__all__ = ["stereo", "terrain"]


@task(name="stereo-pair", task_run_name="stereo-{pair.left}", cache_key_fn=key_parameter, persist_result=True,
      **retry_policy(2, 5))
async def stereo(pair: StereoPair, frames: list[FrameRef], settings: Settings, sol: int,
                 run_id: str | None = None, key: str = "") -> dict[str, Any]:
    """Stereo products, mesh and output of one pair (``frames``: its two calibrated frames);
    returns what was published (:func:`rovercam.pipeline.stereo.stereo_pair`).

    ``key`` (:func:`rovercam.cachekey.stereo_key`) is the cache key: an unchanged pair is not
    matched again. The work runs in a thread the task awaits, so the task's timeout holds (an
    abandoned publish leaves only staging files, never a partial version); a transient storage
    fault is retried (``retry_policy``).
    """
    refs = {r.product_id: r for r in frames}

    def run() -> dict[str, Any]:
        return stereo_pair(pair, lambda pid: load_frame(refs[pid], settings), sol=sol, store=store_for(settings),
                           catalog=catalog_for(settings), settings=settings, run_id=run_id)

    return await asyncio.to_thread(run)


@task(name="terrain", task_run_name="terrain-{name}", cache_key_fn=key_parameter, persist_result=True,
      **retry_policy(2, 5))
async def terrain(name: str, pairs: list[dict[str, Any]], settings: Settings, sol: int, run_id: str | None = None,
                  key: str = "") -> dict[str, Any]:
    """The merged DEM and mesh of one site and drive's published ``pairs``, published as
    ``"terrain"`` (:func:`rovercam.pipeline.stereo.site_terrain`); cached by ``key``
    (:func:`rovercam.cachekey.terrain_key`)."""
    def run() -> dict[str, Any]:
        return site_terrain(name, pairs, sol=sol, store=store_for(settings), catalog=catalog_for(settings),
                            settings=settings, run_id=run_id)

    return await asyncio.to_thread(run)
