"""The pipeline as plain function calls (no orchestration), for benchmarks and fault trials.

:func:`plain_sol` ingests product files, runs the frame chain on each ingested product, builds
every mosaic the settings group them into and publishes it: what the ``ingest-sol`` flow does,
one call after another in this process, with no Prefect, no caching and no retries of its own.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["plain_sol"]


def plain_sol(paths: Iterable[str | Path], sol: int, settings: Any, *, store: Any, catalog: Any,
              before_publish: Callable[[], None] | None = None) -> int:
    """Ingest, calibrate, mosaic and publish the products at ``paths`` as sol ``sol``.

    Parameters
    ----------
    paths : iterable of path
        Product files (as :func:`rovercam.ingest.discover` finds them).
    sol : int
        The sol they belong to (a hint for products whose label does not say).
    settings : rovercam.config.Settings
    store, catalog : rovercam.storage.Store, rovercam.catalog.Catalog
    before_publish : callable, optional
        Called once, after every frame is calibrated and before the first mosaic is built
        (a fault trial switches its faults on here).

    Returns
    -------
    int
        The number of mosaics published.
    """
    from rovercam import chain, ingest
    from rovercam.bands import band_count
    from rovercam.mosaic.build import build_mosaic
    from rovercam.mosaic.grouping import group_records, mosaic_name, split_by_bands
    from rovercam.products import Limits, read_product
    from rovercam.publish import publish_mosaic

    limits = Limits(**settings.limits.model_dump())
    results = [ingest.ingest_one(p, limits=limits, store=store, catalog=catalog, sol_hint=sol) for p in paths]
    ok = {r.product_id: r for r in results if r.state == "ingested"}
    frames = {pid: chain.process_product(read_product(r.path, limits=limits), settings, sha256=r.sha256)
              for pid, r in ok.items()}
    if before_publish is not None:
        before_publish()
    fields = settings.mosaic.group_by
    published = 0
    for key, members in group_records(list(frames), fields, describe=lambda pid: ok[pid]).items():
        for bands, pids in split_by_bands(members, lambda pid: band_count(frames[pid].image)):
            if len(pids) >= settings.mosaic.min_frames:
                name = mosaic_name(key, fields, settings.mosaic.projection, bands=bands)
                mosaic = build_mosaic(name, [lambda p=p: frames[p] for p in pids], settings)
                publish_mosaic(mosaic, store=store, catalog=catalog)
                published += 1
    return published
