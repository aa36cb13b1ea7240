"""Ingest stage: discover a sol's product files, validate and catalog each (bad ones quarantined)."""
from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.runtime import task_run

from rovercam import ingest
from rovercam.config import Settings
from rovercam.products import Limits

from rovercam_tasks._cache import key_parameter
from rovercam_tasks._runtime import catalog_for, store_for
from rovercam_tasks.retry import retry_policy


@task(name="discover-products", **retry_policy(2, 2))
def discover_products(input_dir: str) -> list[str]:
    """Product files under ``input_dir``."""
    return [str(p) for p in ingest.discover(Path(input_dir))]


def _run_name() -> str:
    return f"ingest-{Path(task_run.parameters['path']).name}"


@task(name="ingest-product", task_run_name=_run_name, cache_key_fn=key_parameter, persist_result=True,
      **retry_policy(2, 2))
def ingest_product(path: str, settings: Settings, sol: int | None = None, key: str = "") -> ingest.IngestResult:
    """Validate one product; a bad product comes back as a quarantined result, not a failure.

    ``key`` (:func:`rovercam.cachekey.ingest_key`) makes an unchanged file's result reusable.
    """
    limits = Limits(**settings.limits.model_dump())
    return ingest.ingest_one(path, limits=limits, store=store_for(settings), catalog=catalog_for(settings), sol_hint=sol)
