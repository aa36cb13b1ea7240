"""Raw raster decoding shared by the PDS3 and VICAR readers, with limits checked first.

Everything a label declares about the pixels (dimensions, sample size, record padding, offset)
is validated against :class:`Limits` and the file size *before* a byte is allocated: a label
that declares 10^9 lines is refused, not obeyed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rovercam.errors import DataSizeError, LabelContentError, ProductTooLargeError

__all__ = ["Limits", "Layout", "decode_raster"]

Layout = Literal["BSQ", "BIL", "BIP"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Largest image a reader accepts; checked before allocation.

    Parameters
    ----------
    max_lines, max_samples, max_bands : int
        Per-dimension limits.
    max_bytes : int
        Limit on the stored size of the image (prefix/suffix bytes included).
    """

    max_lines: int = 65536
    max_samples: int = 65536
    max_bands: int = 64
    max_bytes: int = 4 * 1024**3


def _count(value: object, name: str, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise LabelContentError(path, f"{name} = {value!r} is not a positive integer")
    return value


def decode_raster(
    path: str | os.PathLike[str],
    *,
    offset: int,
    dtype: np.dtype,
    layout: Layout,
    lines: object,
    samples: object,
    bands: object = 1,
    prefix_bytes: int = 0,
    suffix_bytes: int = 0,
    limits: Limits | None = None,
    source: str | None = None,
) -> np.ndarray:
    """Read a band-sequential, line- or sample-interleaved raster from a file.

    Parameters
    ----------
    path : path-like
        The data file.
    offset : int, keyword-only
        Byte offset of the first record.
    dtype : numpy.dtype
        Stored sample type with its byte order (``>i2`` for MSB_INTEGER 16-bit).
    layout : {"BSQ", "BIL", "BIP"}
        Band storage order.
    lines, samples, bands : int
        Declared dimensions (validated here).
    prefix_bytes, suffix_bytes : int
        Bytes before/after the pixels of each record (VICAR NBB; PDS3 LINE_PREFIX_BYTES).
    limits : Limits, optional
    source : str, optional
        Name for error messages (defaults to ``path``).

    Returns
    -------
    ndarray
        ``(lines, samples)`` when ``bands == 1`` else ``(lines, samples, bands)``, C order,
        native byte order, values as stored.

    Raises
    ------
    rovercam.errors.LabelContentError
        A dimension that is not a positive integer.
    rovercam.errors.ProductTooLargeError
        Dimensions or byte size beyond ``limits``.
    rovercam.errors.DataSizeError
        The raster does not fit in the file at ``offset``.
    """
    name = str(source if source is not None else path)
    limits = limits or Limits()
    nl = _count(lines, "LINES", name)
    ns = _count(samples, "LINE_SAMPLES", name)
    nb = _count(bands, "BANDS", name)
    if nl > limits.max_lines or ns > limits.max_samples or nb > limits.max_bands:
        raise ProductTooLargeError(
            name, f"label declares {nl} lines x {ns} samples x {nb} bands, beyond the limits "
                  f"{limits.max_lines} x {limits.max_samples} x {limits.max_bands}")
    if prefix_bytes < 0 or suffix_bytes < 0:
        raise LabelContentError(name, "negative record prefix or suffix")
    itemsize = dtype.itemsize
    n1, n2, n3 = {"BSQ": (ns, nl, nb), "BIL": (ns, nb, nl), "BIP": (nb, ns, nl)}[layout]
    record = prefix_bytes + n1 * itemsize + suffix_bytes
    total = record * n2 * n3
    if total > limits.max_bytes:
        raise ProductTooLargeError(
            name, f"label declares {total} bytes of pixels, beyond the limit {limits.max_bytes}")
    if offset < 0:
        raise DataSizeError(name, f"image offset {offset} is negative")
    size = os.path.getsize(path)
    if offset + total > size:
        raise DataSizeError(
            name, f"image needs bytes {offset}..{offset + total} but the file has {size} bytes")
    buf = bytearray(total)
    with open(path, "rb") as f:
        f.seek(offset)
        got = f.readinto(buf)
    if got != total:
        raise DataSizeError(name, f"read {got} of {total} image bytes (file changed?)")
    if prefix_bytes or suffix_bytes:
        raw = np.frombuffer(buf, np.uint8).reshape(n2 * n3, record)
        raw = np.ascontiguousarray(raw[:, prefix_bytes:prefix_bytes + n1 * itemsize])
        arr = raw.reshape(-1).view(dtype)
    else:
        arr = np.frombuffer(buf, dtype)
    if not dtype.isnative and itemsize > 1:
        arr = arr.byteswap(inplace=True).view(dtype.newbyteorder("="))
    arr = arr.reshape(n3, n2, n1)
    if layout == "BSQ":
        arr = arr.transpose(1, 2, 0)  # (bands, lines, samples) -> (lines, samples, bands)
    elif layout == "BIL":
        arr = arr.transpose(0, 2, 1)  # (lines, bands, samples) -> (lines, samples, bands)
    if nb == 1:
        return arr.reshape(nl, ns)
    return np.ascontiguousarray(arr)
