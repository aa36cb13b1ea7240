"""Fetch stage: find a source's sols and copy a sol's new products into the storage root.

Products land in ``<root>/incoming/sol<NNNNN>/`` (the staging folder keeps a manifest, so an
unchanged product is not transferred twice). Unsafe remote names are refused and transfer errors
reported per product; the sol goes on with the rest.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from prefect import task

from rovercam import layout
from rovercam import ingest
from rovercam.config import ConfigError, Settings
from rovercam.sources import open_source

from rovercam_tasks.retry import retry_policy


def incoming_dir(sol: int, settings: Settings) -> Path:
    """``<root>/incoming/sol<NNNNN>`` (a local storage root is required for fetching)."""
    root = settings.storage_root
    if "://" in root:
        raise ConfigError(f"ingest-sol fetches into a local storage root; {root!r} is a URL "
                          "(use reprocess-sol on products already ingested, or a local root)")
    return layout.incoming_dir(root, sol)


def incoming_paths(sol: int, settings: Settings) -> list[str]:
    """Product entries staged for ``sol`` (what ingest gets), sorted."""
    folder = incoming_dir(sol, settings)
    return [str(p) for p in ingest.discover(folder)] if folder.is_dir() else []


@task(name="find-sols", **retry_policy(2, 5))
def find_sols(source: str, settings: Settings, latest: int = 1) -> list[int]:
    """The ``latest`` sols ``source`` has."""
    return open_source(source, settings=settings).latest_sols(latest)


def fetch_sol(source: str, sol: int, settings: Settings) -> dict[str, Any]:
    """Fetch a sol's new products from ``source`` into its staging folder; a summary of what came."""
    src = open_source(source, settings=settings)
    # ends with a complete report (what arrived, what did not) before the task timeout strikes
    result = src.fetch(src.list(sol), incoming_dir(sol, settings),
                       deadline_s=0.9 * settings.prefect.fetch_timeout_s)
    return {
        "fetched": [p.name for p in result.products if p.state in ("fetched", "updated")],
        "unchanged": [p.name for p in result.products if p.state == "unchanged"],
        "refused": [{"path": f"{source}: {p.name}", "reason": p.reason} for p in result.refused],
        "failed": [{"product_id": p.name, "stage": "fetch", "reason": p.reason} for p in result.failed],
    }


@task(name="fetch-new-products", task_run_name="fetch-sol{sol}", **retry_policy(2, 10))
async def fetch_new(source: str, sol: int, settings: Settings) -> dict[str, Any]:
    """Copy the sol's new or changed products from ``source`` into the staging folder.

    Runs in a thread the task awaits, so the task timeout (``[prefect] fetch_timeout_s``, set by
    the flow) is enforced; each request also has its own socket timeout and retries.
    """
    return await asyncio.to_thread(fetch_sol, source, sol, settings)
