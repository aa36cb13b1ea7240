"""Catalog: the catalog database (products, runs, outputs, lineage) and STAC records.

``Catalog(url)`` is SQLAlchemy 2.0 over the schema in ``catalog/schema.py`` (SQLite by default,
PostgreSQL by URL), migrated by alembic on open (``catalog/migrate.py``). ``mosaic_item`` builds
the STAC item of a published mosaic version; ``search_outputs``/``search_products``/
``lineage_report`` query the catalog; ``export_stac`` writes a static STAC catalog with
collections per mission, camera and kind. ``hold_sol`` keeps one run per sol at a time (a lease
row in the catalog, ``catalog/lease.py``).
"""
from rovercam.catalog.db import (
    Catalog,
    LineageRecord,
    OutputRecord,
    ProductRecord,
    ProductState,
    RunRecord,
    RunStatus,
    open_existing,
)
from rovercam.catalog.export import export_stac, validate_stac
from rovercam.catalog.lease import (
    LeaseRecord,
    SolLease,
    acquire_sol,
    hold_sol,
    reap_stale_leases,
    sol_holder,
    sol_leases,
    stale_reason,
)
from rovercam.catalog.query import Lineage, LineageInput, lineage_report, search_outputs, search_products
from rovercam.catalog.stac import item_id, item_to_bytes, mosaic_file_names, mosaic_item

__all__ = [
    "Catalog",
    "open_existing",
    "ProductRecord",
    "RunRecord",
    "OutputRecord",
    "LineageRecord",
    "ProductState",
    "RunStatus",
    "mosaic_item",
    "mosaic_file_names",
    "item_id",
    "item_to_bytes",
    "search_outputs",
    "search_products",
    "lineage_report",
    "Lineage",
    "LineageInput",
    "export_stac",
    "validate_stac",
    "LeaseRecord",
    "SolLease",
    "acquire_sol",
    "hold_sol",
    "reap_stale_leases",
    "sol_holder",
    "sol_leases",
    "stale_reason",
]
