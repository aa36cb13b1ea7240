"""The whole plan of reprocessing a cataloged sol, read-only (``rovercam reprocess --dry-run``).

The same :class:`~rovercam.pipeline.plan.Planner` the flows use, stage after stage, without
running anything: product labels are read (not pixels) to group frames into mosaics, calibrated
frames' heads to split groups by band count. Nothing is written, not even a missing catalog.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from rovercam import cachekey
from rovercam.catalog import Catalog
from rovercam.config import Settings
from rovercam.errors import CatalogError, ParameterError, ProductError, StorageError
from rovercam.ingest import IngestResult
from rovercam.pipeline.calibration import remembered_calibration, with_calibration
from rovercam.pipeline.pairing import pair_frames
from rovercam.pipeline.plan import Decision, Planner, previous_run
from rovercam.pipeline.results import FrameRef, MosaicRef
from rovercam.pipeline.stages import stages_to_refresh
from rovercam.products import Limits, ProductMeta, read_product
from rovercam.storage import Store

__all__ = ["cataloged_paths", "check_cameras", "plan_reprocess"]


def cataloged_paths(catalog: Catalog, sol: int, cameras: Sequence[str] | None = None) -> list[str]:
    """Paths of the sol's ingested products in the catalog (optionally of some cameras only:
    instrument ids or prefixes such as ``NAVCAM``), sorted."""
    wanted = [c.upper() for c in cameras or []]
    rows = catalog.products(sol=sol)
    return sorted({r.path for r in rows if r.state == "ingested" and r.path
                   and (not wanted or any((r.instrument or "").upper().startswith(c) for c in wanted))})


def check_cameras(catalog: Catalog, sol: int, cameras: Sequence[str] | None) -> None:
    """Refuse cameras the sol's ingested products do not have (by instrument id or prefix).

    Raises
    ------
    ParameterError
        A camera matches no instrument of the sol; the message lists the sol's instruments.
    """
    if not cameras:
        return
    instruments = sorted({r.instrument for r in catalog.products(sol=sol) if r.state == "ingested" and r.instrument})
    unknown = [c for c in cameras if not any(i.upper().startswith(c.upper()) for i in instruments)]
    if unknown:
        raise ParameterError(f"cameras: sol {sol} has no camera {', '.join(repr(c[:64]) for c in unknown)}; "
                             f"cameras: {', '.join(instruments) or 'none (no ingested products)'}")


def _described(path: str, content_sha256: str, settings: Settings) -> tuple[IngestResult, ProductMeta] | None:
    """What ingest would record for ``path`` (from its label alone), with the label's metadata;
    None when it would not ingest."""
    try:
        product = read_product(path, pixels=False, limits=Limits(**settings.limits.model_dump()))
    except (ProductError, OSError):
        return None
    return IngestResult(path=path, sha256="", state="ingested", product_id=product.product_id, sol=product.sol,
                        instrument=product.instrument, product_type=product.product_type, site=product.site,
                        drive=product.drive, sequence_id=product.sequence_id,
                        content_sha256=content_sha256), product.meta


def _open_existing(settings: Settings) -> tuple[Catalog, Store]:
    """The catalog and store of ``settings``, refusing to create either."""
    root = settings.storage_root
    if "://" not in root and not Path(root).is_dir():
        raise StorageError(f"{root}: no storage root here; nothing to plan")
    url = settings.catalog_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise CatalogError(f"{url}: no catalog here; nothing to plan")
    return Catalog(url), Store.from_settings(settings)


def plan_reprocess(sol: int, settings: Settings, *, cameras: Sequence[str] | None = None,
                   stages: Sequence[str] | None = None, force: bool = False) -> list[Decision]:
    """What ``reprocess-sol`` with these arguments would reuse and compute, unit by unit.

    Parameters
    ----------
    sol : int
    settings : Settings
        As the flow would load them (storage root, catalog, configuration); the calibration
        folders the sol came with are searched first, as the flow does
        (:mod:`rovercam.pipeline.calibration`).
    cameras, stages, force
        As for the reprocess-sol flow.

    Returns
    -------
    list of Decision
        The sol record, then every product's ingest and calibration, every stereo pair and
        site/drive terrain (pairs found from the labels), every mosaic and every publish.
        Products whose label does not read have no calibrate row (ingest would
        quarantine them).

    Raises
    ------
    StorageError, CatalogError
        The storage root or the catalog does not exist.
    ValueError
        An unknown stage name.
    """
    refresh = stages_to_refresh(stages, force=force)
    catalog, store = _open_existing(settings)
    try:
        # the calibration the sol came with, searched first, as reprocess-sol does
        settings = with_calibration(settings, remembered_calibration(catalog, sol))
        paths = cataloged_paths(catalog, sol, cameras)
        planner = Planner(settings, store, refresh=refresh, previous=previous_run(catalog, sol))
    finally:
        catalog.close()
    products = [(p, cachekey.product_content_sha256(p)) for p in paths]
    plan = [planner.sol(sol, products), *planner.ingest(sol, products)]
    described = [d for p, sha in products if (d := _described(p, sha, settings)) is not None]
    items = [it for it, _ in described]
    calibrate = planner.calibrate(items)
    plan += calibrate
    terrain: dict[str, str] | None = None  # the terrains' keys, which terrain-surface mosaic keys hold
    if settings.stereo_stage.enabled:
        from rovercam.pipeline.stereo import partner_lookup

        pairs = pair_frames([m for _, m in described], partner_lookup(settings),
                            tolerance_s=settings.stereo_stage.pair_tolerance_s).pairs
        stereo = planner.stereo(pairs, {it.product_id: d.key for it, d in zip(items, calibrate)})
        terrains = planner.terrain(pairs, stereo)
        plan += stereo + terrains
        terrain = {d.unit: d.key for d in terrains}
    frames = [FrameRef(it.product_id or "", d.stored, "undistort") for it, d in zip(items, calibrate)]
    by_id = {it.product_id: it for it in items}
    mosaics = planner.mosaics(sol, frames, {f.product_id: d.key for f, d in zip(frames, calibrate)},
                              by_id.__getitem__, terrain=terrain)
    plan += [m.decision for m in mosaics]
    built = [MosaicRef(m.name, m.decision.stored, m.key or "") for m in mosaics if m.decision.action != "skip"]
    return plan + planner.publish(built)
