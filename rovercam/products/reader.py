"""``read_product``: one entry point for every product file rovercam reads.

It looks at the first bytes to pick the format: a PDS3/ODL label (attached, or a detached
``.LBL``), a pure VICAR file, a PDS4 XML label, a raw-image-site PNG/JPEG or its
``-metadata.json`` sidecar, or a data file whose detached label sits next to it.
"""
from __future__ import annotations

import os
from pathlib import Path

from rovercam.errors import LabelContentError, ProductError, UnsupportedProductError
from rovercam.products.fields import product_from_label
from rovercam.products.model import Product
from rovercam.products.pds3 import find_in_folder, read_pds3
from rovercam.products.pds4 import read_pds4
from rovercam.products.raster import Limits, decode_raster
from rovercam.products.rawsite import SIDECAR_SUFFIX, read_rawsite
from rovercam.products.vicar import (
    is_vicar,
    parse_vicar,
    to_label,
    vicar_dtype,
    vicar_layout,
)

__all__ = ["read_product"]

_ODL_STARTS = (b"PDS_VERSION_ID", b"ODL_VERSION_ID", b"SFDU_LABEL", b"CCSD")
_VICAR_HEAD = 64 * 1024


def _detached_label(path: Path) -> Path | None:
    """``X.LBL`` (or ``X.img.lbl``) next to ``path``, case-insensitively; None if absent."""
    for name in (path.with_suffix(".LBL").name, path.name + ".lbl"):
        try:
            return find_in_folder(path.parent, name, source=str(path))
        except LabelContentError:
            raise
        except ProductError:
            continue
    return None


def _read_vicar(path: Path, *, pixels: bool, limits: Limits | None) -> Product:
    source = str(path)
    with open(path, "rb") as f:
        head = f.read(_VICAR_HEAD)
    vicar = parse_vicar(head, source=source)
    if vicar.lblsize > len(head):  # a label longer than the first read
        with open(path, "rb") as f:
            head = f.read(min(vicar.lblsize, 16 * 2**20))
        vicar = parse_vicar(head, source=source)
    label = to_label(vicar, source=source)
    image = None
    if pixels:
        org, nl, ns, nb, nbb, nlb = vicar_layout(vicar.system, source=source)
        dtype = vicar_dtype(vicar.system, source=source)
        recsize = vicar.system.get("RECSIZE")
        n1 = {"BSQ": ns, "BIL": ns, "BIP": nb}[org]
        if recsize != nbb + n1 * dtype.itemsize:
            raise LabelContentError(source, f"VICAR RECSIZE={recsize!r} but NBB + N1 x pixel "
                                            f"size = {nbb + n1 * dtype.itemsize}")
        image = decode_raster(path, offset=vicar.lblsize + nlb * recsize, dtype=dtype,
                              layout=org, lines=nl, samples=ns, bands=nb, prefix_bytes=nbb,
                              limits=limits, source=source)
    return product_from_label(label, path=source, image=image)


def read_product(path: str | os.PathLike[str], *, pixels: bool = True,
                 limits: Limits | None = None) -> Product:
    """Read one camera product: its label, pixels, camera model and instrument state.

    Parameters
    ----------
    path : path-like
        A PDS3 file with an attached label, a detached ``.LBL`` label (its data file is found
        case-insensitively in the same folder, never elsewhere), a data file with such a label
        next to it, a pure VICAR file, a PDS4 XML label (its data file beside it), or a
        raw-image-site PNG/JPEG with its ``<stem>-metadata.json`` sidecar (either file).
    pixels : bool, keyword-only
        False reads the label alone (``image`` is None); the data file need not exist.
    limits : Limits, optional, keyword-only
        Largest image accepted; checked before any allocation.

    Returns
    -------
    Product
        ``image`` shaped (lines, samples) or (lines, samples, bands), native byte order, values as
        stored; ``subframe`` 1-based as the label gives it.

    Raises
    ------
    rovercam.errors.ProductError
        Every rejection is a subclass naming the file and the problem: LabelSyntaxError,
        LabelContentError (missing or impossible keywords, pointers leaving the folder),
        ProductTooLargeError, DataSizeError (truncated file, pointer outside the file),
        UnsupportedProductError; a missing file is a plain ProductError.

    Examples
    --------
    >>> product = read_product("FLB_431397159EDR_F0141262FHAZ00323M1.IMG")  # doctest: +SKIP
    >>> product.image.shape, product.camera_frame  # doctest: +SKIP
    ((1024, 1024), 'ROVER_NAV_FRAME')
    """
    p = Path(path)
    source = str(p)
    try:
        if not p.is_file():
            raise ProductError(source, "no such file")
        with open(p, "rb") as f:
            head = f.read(64)
        start = head.lstrip(b" \t\r\n")
        if start.startswith(_ODL_STARTS):
            return read_pds3(p, pixels=pixels, limits=limits)
        if start.startswith((b"<?xml", b"<Product", b"\xef\xbb\xbf<")):
            return read_pds4(p, pixels=pixels, limits=limits)
        label = _detached_label(p)  # a detached label describes its data file best
        if label is not None:
            return read_pds3(label, pixels=pixels, limits=limits)
        if is_vicar(head):
            return _read_vicar(p, pixels=pixels, limits=limits)
        if head.startswith((b"\x89PNG", b"\xff\xd8\xff")) \
                or p.name.lower().endswith(SIDECAR_SUFFIX):
            return read_rawsite(p, pixels=pixels, limits=limits)
        raise UnsupportedProductError(source, "not a PDS3, VICAR or known product file")
    except ProductError:
        raise
    except (OSError, MemoryError) as exc:
        raise ProductError(source, f"cannot read: {exc}") from exc
