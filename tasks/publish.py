"""Publish stage: COG + PNG preview + STAC item, committed atomically, then the catalog row."""
from __future__ import annotations

import asyncio
from pathlib import PurePosixPath

from prefect import task
from prefect.runtime import task_run

from rovercam.config import Settings
from rovercam.mosaic.model import loads_mosaic
from rovercam.publish import publish_mosaic

from rovercam_tasks._cache import key_parameter
from rovercam_tasks._runtime import catalog_for, store_for
from rovercam_tasks.retry import retry_policy


def _run_name() -> str:
    return f"publish-{PurePosixPath(task_run.parameters['mosaic_key']).parent.parent.name}"


@task(name="publish-mosaic", task_run_name=_run_name, cache_key_fn=key_parameter, persist_result=True,
      **retry_policy(2, 5))
async def publish(mosaic_key: str, settings: Settings, run_id: str | None = None, key: str = "") -> dict:
    """Publish one stored mosaic; returns what was written (keys, version, catalog id).

    Publishing is idempotent by content (the store reuses an identical latest version); ``key``
    (:func:`rovercam.cachekey.publish_key`) lets an unchanged mosaic skip even the encoding.
    The work runs in a thread the task awaits, so the task's timeout is enforced: a publish that
    hangs on storage fails the task (and is retried) while the abandoned attempt can only leave
    staging files, never a partial version (see rovercam.storage).
    """
    return await asyncio.to_thread(_publish, mosaic_key, settings, run_id)


def _publish(mosaic_key: str, settings: Settings, run_id: str | None) -> dict:
    store = store_for(settings)
    mosaic = loads_mosaic(store.read_bytes(mosaic_key))
    pub = publish_mosaic(mosaic, store=store, catalog=catalog_for(settings), run_id=run_id)
    return {
        "name": mosaic.name, "instrument": mosaic.instrument, "sol": mosaic.sol,
        "width": mosaic.projection.width, "height": mosaic.projection.height,
        "coverage": round(mosaic.coverage, 4), "output_id": pub.output_id, "version": pub.version,
        "reused": pub.reused, "cog_key": pub.cog_key, "png_key": pub.png_key, "stac_key": pub.stac_key,
        "cog_path": str(pub.cog_path) if pub.cog_path else None,
        "png_path": str(pub.png_path) if pub.png_path else None,
        "thumbnail_key": pub.thumbnail_key,
        "stac_path": str(pub.stac_path) if pub.stac_path else None,
    }
