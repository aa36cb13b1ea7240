"""Resources a task builds from Settings: the store, the catalog, Prefect's result storage."""
from __future__ import annotations

import hashlib
import threading

from rovercam.catalog import Catalog
from rovercam.config import Settings
from rovercam.storage import Store

_saved_blocks: set[str] = set()
_lock = threading.Lock()


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


def result_storage_for(settings: Settings) -> str:
    """Slug of the Prefect block that persists cached task results under the storage root.

    Task results (small references and reports, never pixels) go to ``<root>/prefect-results``:
    a LocalFileSystem block for a local root, a RemoteFileSystem (fsspec, so S3 with the same
    ``[storage] options``) for a URL root. The block is saved once per process and root.
    """
    from prefect.filesystems import LocalFileSystem, RemoteFileSystem

    root = settings.storage_root
    name = "rovercam-results-" + hashlib.sha256(root.encode()).hexdigest()[:12]
    if "://" in root:
        slug, block = f"remote-file-system/{name}", RemoteFileSystem(
            basepath=root.rstrip("/") + "/prefect-results", settings=dict(settings.storage.options))
    else:
        slug, block = f"local-file-system/{name}", LocalFileSystem(basepath=f"{root}/prefect-results")
    from prefect.settings import PREFECT_API_URL

    marker = f"{PREFECT_API_URL.value()}|{slug}"  # one save per API (ephemeral: None) and root
    with _lock:
        if marker not in _saved_blocks:
            block.save(name, overwrite=True)
            _saved_blocks.add(marker)
    return slug
