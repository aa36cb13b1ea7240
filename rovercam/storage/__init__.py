"""Storage: one fsspec-backed store with atomic, versioned publish, and the raster encoders.

``Store`` guards keys (relative POSIX paths inside the root only), stages every write under a
hidden temporary prefix, verifies checksums, and commits by rename (or a version pointer on
object stores), retrying transient faults (``RetryPolicy``, ``[storage] retries``).
``write_cog`` / ``write_png`` / ``thumbnail`` encode published rasters; ``open_tiled_geotiff``
opens a sparse tiled GeoTIFF for window-by-window writes.
"""
from rovercam.storage.raster import (
    COG_BLOCKSIZE,
    open_tiled_geotiff,
    thumbnail,
    write_cog,
    write_png,
)
from rovercam.storage.retry import RetryPolicy
from rovercam.storage.store import PublishedVersion, Store
from rovercam.storage.transaction import Data, Transaction

__all__ = [
    "Store",
    "Transaction",
    "PublishedVersion",
    "RetryPolicy",
    "Data",
    "write_cog",
    "write_png",
    "thumbnail",
    "open_tiled_geotiff",
    "COG_BLOCKSIZE",
]
