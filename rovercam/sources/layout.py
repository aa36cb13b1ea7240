"""Where a sol's products sit in a folder tree, and which files make one product.

Sol folders (names compared case-insensitively; docs/sources.md shows examples):

- the root itself when its name is ``sol<N>`` (``.../synthetic/sol00100``): a one-sol source;
- ``<root>/sol<N>/`` and ``<root>/SOL<N>/`` (drop folders, MSL-style volumes);
- ``<root>/DATA/SOL<N>/`` (PDS3 volumes);
- ``<root>/sol/<N>/`` and ``<root>/DATA/sol/<N>/`` (Mars 2020 PDS4 bundles: ``data_raw_ncam/sol/00100``);
- otherwise the tree is *flat*: every product anywhere under the root, its sol read from its
  product id (files whose names are no product id are left out, with a log line).

Inside a sol folder every sub-folder is searched (``ids/edr/ncam/...``); hidden names are
skipped. Files are grouped per folder exactly as :func:`rovercam.ingest.discover` selects
entries, so that a fetched folder is discovered product for product.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Entry", "sol_of_folder", "group_files", "DATA_SUFFIXES", "IMAGE_SUFFIXES",
           "SIDECAR_SUFFIX"]

DATA_SUFFIXES = (".img", ".dat", ".vic")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SIDECAR_SUFFIX = "-metadata.json"

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


def group_files(names: list[str]) -> list[tuple[str, list[str]]]:
    """Products among the file names of one folder: ``[(entry, members), ...]``.

    ``members`` lists the product's files in write order (data first, the label or sidecar
    last) and includes ``entry``. The selection mirrors :func:`rovercam.ingest.discover`:

    - ``X.LBL`` (detached PDS3 label) with ``X.IMG``/``.DAT``/``.VIC``; MER ``x.img.lbl`` with ``x.img``;
    - ``X.xml`` (PDS4 label) with ``X.IMG``/``.DAT``/``.VIC``;
    - ``X-metadata.json`` (raw-site sidecar) with ``X.png``/``.jpg``/``.jpeg``; the entry is the
      image (the sidecar alone when no image is beside it);
    - a data file no label covers stands alone (attached label, pure VICAR).

    Other files (browse images without a sidecar, notes, checksums) are not products.
    Names are compared case-insensitively, as the readers do.
    """
    lower: dict[str, str] = {}
    for n in sorted(names):
        lower.setdefault(n.lower(), n)
    covered: set[str] = set()
    groups: list[tuple[str, list[str]]] = []

    def present(candidates: list[str]) -> list[str]:
        return [lower[c] for c in candidates if c in lower]

    for low, name in lower.items():
        if low.endswith(".lbl"):
            inner = low[:-4]
            data = [inner] if inner.endswith(DATA_SUFFIXES) else [inner + s for s in DATA_SUFFIXES]
            covered.update(data)
            groups.append((name, [*present(data), name]))
        elif low.endswith(".xml"):
            data = [low[:-4] + s for s in DATA_SUFFIXES]
            covered.update(data)
            groups.append((name, [*present(data), name]))
        elif low.endswith(SIDECAR_SUFFIX):
            stem = low[: -len(SIDECAR_SUFFIX)]
            images = present([stem + s for s in IMAGE_SUFFIXES])
            covered.update(stem + s for s in IMAGE_SUFFIXES)
            groups.append((images[0] if images else name, [*images, name]))
    for low, name in lower.items():
        if low.endswith(DATA_SUFFIXES) and low not in covered:
            groups.append((name, [name]))
    return groups
