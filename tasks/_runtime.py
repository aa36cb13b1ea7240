"""Resources a task builds from Settings: the store and the catalog."""
from __future__ import annotations

from rovercam.catalog import Catalog
from rovercam.config import Settings
from rovercam.storage import Store


def store_for(settings: Settings) -> Store:
    """The configured store (local path or fsspec URL with ``[storage] options``)."""
    return Store.from_settings(settings)


def catalog_for(settings: Settings) -> Catalog:
    """The configured catalog database."""
    return Catalog(settings.catalog_url)


def work_key(sol: int | None, stage: str, product_id: str) -> str:
    """Store prefix for a frame after ``stage``: ``work/sol00100/<stage>/<product_id>``."""
    sol_part = f"sol{sol:05d}" if sol is not None else "unknown-sol"
    return f"work/{sol_part}/{stage}/{product_id}"
