"""Catalog: the catalog database (products, runs, outputs, lineage) and STAC records.

``Catalog(url)`` is SQLAlchemy 2.0 over the schema in ``catalog/schema.py`` (SQLite by default,
PostgreSQL by URL). ``mosaic_item`` builds the STAC item of a published mosaic version.
"""
from rovercam.catalog.db import (
    Catalog,
    LineageRecord,
    OutputRecord,
    ProductRecord,
    ProductState,
    RunRecord,
    RunStatus,
)
from rovercam.catalog.stac import item_id, item_to_bytes, mosaic_file_names, mosaic_item

__all__ = [
    "Catalog",
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
]
