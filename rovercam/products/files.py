"""Which files of a folder make one product: the one place that pairs labels, data and sidecars.

A product is one or more files in one folder. The rules (names compared case-insensitively, as
the readers find files):

- ``X.LBL`` (detached PDS3 label) with ``X.IMG`` / ``X.DAT`` / ``X.VIC``; MER ``x.img.lbl``
  with ``x.img`` only;
- ``X.xml`` (PDS4 label) with ``X.IMG`` / ``X.DAT`` / ``X.VIC``;
- ``X-metadata.json`` (raw-image-site sidecar) with ``X.png`` / ``X.jpg`` / ``X.jpeg``; the
  image is the product's *entry* (the sidecar itself when no image is beside it);
- a data file no label covers stands alone (attached PDS3 label, pure VICAR).

The entry of a label product is its label, which stands for the whole product. Other files
(browse images without a sidecar, notes, checksums) belong to no product. A label whose data
file is missing is still a product: reading it reports what is missing.

Discovery (:func:`rovercam.ingest.discover`), remote sources (:mod:`rovercam.sources`) and
content hashes (:func:`rovercam.cachekey.product_content_sha256`) all group files here, so a
folder fetched from a source is discovered product for product, and a product's cache key
covers exactly the files its reader may open.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["DATA_SUFFIXES", "IMAGE_SUFFIXES", "SIDECAR_SUFFIX", "group_files", "product_entries",
           "product_members", "product_files"]

#: Suffixes of data files a label describes (lower case).
DATA_SUFFIXES = (".img", ".dat", ".vic")
#: Suffixes of raw-image-site images (lower case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: The raw-image-site JSON sidecar that turns ``X.png`` into a product (lower case).
SIDECAR_SUFFIX = "-metadata.json"


def group_files(names: Iterable[str]) -> list[tuple[str, list[str]]]:
    """Products among the file names of one folder.

    Parameters
    ----------
    names : iterable of str
        File names (not paths) of one folder; folders must not be among them.

    Returns
    -------
    list of (str, list of str)
        ``(entry, members)`` per product, labels and sidecars in name order first, then the
        data files no label covers. ``members`` lists the product's files in write order (data
        first, the label or sidecar last) and includes ``entry``. When two names differ only in
        case, the first in sorted order is used.

    Examples
    --------
    >>> group_files(["B.lbl", "B.IMG", "A.IMG", "notes.txt"])
    [('B.lbl', ['B.IMG', 'B.lbl']), ('A.IMG', ['A.IMG'])]
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
            # MER x.img.lbl describes x.img; X.LBL describes X.IMG, X.DAT or X.VIC
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


def product_entries(names: Iterable[str]) -> list[str]:
    """The entry of every product among the file names of one folder (:func:`group_files`)."""
    return [entry for entry, _ in group_files(names)]


def product_members(name: str, names: Iterable[str]) -> list[str]:
    """The files of the product ``name`` belongs to, among the file names of its folder.

    Parameters
    ----------
    name : str
        Any file of the product: its entry, its data file or its sidecar.
    names : iterable of str
        The file names of the folder (``name`` among them).

    Returns
    -------
    list of str
        The product's members in write order (:func:`group_files`); ``[name]`` when ``name``
        belongs to no product (a browse image, a note) or is not among ``names``.

    Examples
    --------
    >>> product_members("E.png", ["E.png", "E-metadata.json", "F.IMG"])
    ['E.png', 'E-metadata.json']
    """
    for _, members in group_files(names):
        if name in members:
            return members
    return [name]


def product_files(path: str | os.PathLike[str]) -> list[Path]:
    """The files of the local product ``path`` belongs to (:func:`product_members`).

    Parameters
    ----------
    path : path
        Any file of a product in a local folder.

    Returns
    -------
    list of Path
        Beside ``path``, in write order; ``[path]`` alone when it belongs to no product.
    """
    entry = Path(path)
    names = [p.name for p in entry.parent.iterdir() if p.is_file()]
    return [entry.parent / n for n in product_members(entry.name, names)]
