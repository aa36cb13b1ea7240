"""Resources a task builds from Settings: the store, the catalog, Prefect's result storage."""
from __future__ import annotations

import hashlib
import threading
from typing import Any

from rovercam.catalog import Catalog
from rovercam.config import Settings
from rovercam.pipeline.plan import RESULTS_PREFIX
from rovercam.storage import Store

_saved_blocks: dict[str, Any] = {}
_catalogs: dict[str, Catalog] = {}
_lock = threading.Lock()


def store_for(settings: Settings) -> Store:
    """The configured store (local path or fsspec URL with ``[storage] options``)."""
    return Store.from_settings(settings)


def catalog_for(settings: Settings) -> Catalog:
    """The configured catalog database (one per URL and process: opening checks migrations)."""
    url = settings.catalog_url
    with _lock:
        catalog = _catalogs.get(url)
        if catalog is None:
            catalog = _catalogs[url] = Catalog(url)
    return catalog


def result_storage_for(settings: Settings) -> Any:
    """The Prefect block that persists cached task results under the storage root.

    Task results (small references and reports, never pixels) go to ``<root>/prefect-results``:
    a LocalFileSystem block for a local root, a RemoteFileSystem (fsspec, so S3 with the same
    ``[storage] options``) for a URL root. The block is saved once per process, API and root, and
    the saved *instance* is returned: a slug would make every task read the block back from the
    API twice (~0.1 s per task here), an instance costs nothing.
    """
    from prefect.filesystems import LocalFileSystem, RemoteFileSystem
    from prefect.settings import PREFECT_API_URL

    root = settings.storage_root
    name = "rovercam-results-" + hashlib.sha256(root.encode()).hexdigest()[:12]
    marker = f"{PREFECT_API_URL.value()}|{name}"  # one save per API (ephemeral: None) and root
    with _lock:
        block = _saved_blocks.get(marker)
        if block is None:
            if "://" in root:
                block = RemoteFileSystem(basepath=f"{root.rstrip('/')}/{RESULTS_PREFIX}",
                                         settings=dict(settings.storage.options))
            else:
                block = LocalFileSystem(basepath=f"{root}/{RESULTS_PREFIX}")
            block.save(name, overwrite=True)
            _saved_blocks[marker] = block
    return block
