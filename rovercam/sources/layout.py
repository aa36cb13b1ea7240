"""Where a sol's products sit in a folder tree.

Sol folders (names compared case-insensitively; docs/sources.md shows examples):

- the root itself when its name is ``sol<N>`` (``.../synthetic/sol00100``): a one-sol source;
- ``<root>/sol<N>/`` and ``<root>/SOL<N>/`` (drop folders, MSL-style volumes);
- ``<root>/DATA/SOL<N>/`` (PDS3 volumes);
- ``<root>/sol/<N>/`` and ``<root>/DATA/sol/<N>/`` (Mars 2020 PDS4 bundles: ``data_raw_ncam/sol/00100``);
- otherwise the tree is *flat*: every product anywhere under the root, its sol read from its
  product id (files whose names are no product id are left out, with a log line).

Inside a sol folder every sub-folder is searched (``ids/edr/ncam/...``); hidden names are
skipped. Files are grouped per folder by :func:`rovercam.products.files.group_files` (re-exported
here with its suffix constants), the rules :func:`rovercam.ingest.discover` uses too, so that a
fetched folder is discovered product for product.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rovercam.products.files import DATA_SUFFIXES, IMAGE_SUFFIXES, SIDECAR_SUFFIX, group_files

__all__ = ["Entry", "sol_of_folder", "group_files", "DATA_SUFFIXES", "IMAGE_SUFFIXES",
           "SIDECAR_SUFFIX"]

_SOL_FOLDER = re.compile(r"sol_?(\d{1,6})", re.IGNORECASE)
_DIGITS = re.compile(r"\d{1,6}")


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a folder listing.

    ``handle`` is what the backend needs to list or open it again (a URL or a path);
    ``name`` is the decoded name as the listing gives it (not yet checked for safety).
    """

    name: str
    is_dir: bool
    handle: Any
    size: int | None = None
    mtime: str | None = None
    etag: str | None = None


def sol_of_folder(name: str, *, parent: str | None = None) -> int | None:
    """The sol a folder name stands for, or None.

    ``sol00100`` / ``SOL00100`` / ``sol_100`` give 100; a bare number (``00100``) does too when
    its parent folder is named ``sol`` (Mars 2020 bundles).
    """
    name = name.rstrip("/")
    m = _SOL_FOLDER.fullmatch(name)
    if m:
        return int(m.group(1))
    if parent is not None and parent.rstrip("/").lower() == "sol" and _DIGITS.fullmatch(name):
        return int(name)
    return None
