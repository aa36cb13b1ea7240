"""HTTP byte ranges (RFC 9110 section 14): which bytes of a file a ``Range`` header asks for.

The viewer serves one range per request, the way GDAL's ``/vsicurl/`` and browsers read a COG:
``bytes=a-b`` (inclusive), ``bytes=a-`` (to the end) and ``bytes=-n`` (the last ``n``). A header
that is not a single well-formed byte range is ignored (the whole file is sent, as RFC 9110
allows); a well-formed range that starts past the end is unsatisfiable (HTTP 416).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from rovercam.errors import RovercamError

__all__ = ["ByteRange", "RangeNotSatisfiable", "parse_range", "iter_file"]

_RANGE = re.compile(r"^\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*$", re.IGNORECASE)

#: Bytes per read when streaming a file (a COG block is 512 x 512 x 4 B at most before DEFLATE).
CHUNK_BYTES = 256 * 1024


class RangeNotSatisfiable(RovercamError, ValueError):
    """A well-formed byte range that selects nothing of a ``size``-byte file (HTTP 416)."""

    def __init__(self, header: str, size: int):
        super().__init__(header, size)
        self.header, self.size = header, size

    def __str__(self) -> str:
        return f"range {self.header!r} selects nothing of a {self.size}-byte file"


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``[start, stop)`` of a ``size``-byte file (``0 <= start < stop <= size``)."""

    start: int
    stop: int
    size: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.stop <= self.size:
            raise ValueError(f"bad byte range [{self.start}, {self.stop}) of {self.size} bytes")

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def content_range(self) -> str:
        """The ``Content-Range`` value, ``bytes first-last/size`` (inclusive)."""
        return f"bytes {self.start}-{self.stop - 1}/{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The byte range a ``Range`` header asks of a ``size``-byte file.

    Parameters
    ----------
    header : str or None
        The ``Range`` header value, e.g. ``"bytes=0-16383"``, ``"bytes=-512"``, ``"bytes=100-"``.
    size : int
        File size, bytes.

    Returns
    -------
    ByteRange or None
        None when there is no header or it is not one well-formed byte range (several ranges,
        another unit, ``b < a``): the whole file is answered (200). An end past the file is
        cut to the file; a suffix longer than the file is the whole file.

    Raises
    ------
    RangeNotSatisfiable
        The range starts at or past the end, asks for a zero-length suffix, or the file is empty.
    """
    if header is None:
        return None
    m = _RANGE.match(header)
    if m is None:
        return None
    first, last = _bounded(m.group(1)), _bounded(m.group(2))
    if first == "" and last == "":
        return None
    if first == "":  # suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable(header, size)
        return ByteRange(max(0, size - n), size, size)
    start = int(first)
    if last != "" and int(last) < start:
        return None  # syntactically invalid: ignored
    if start >= size:
        raise RangeNotSatisfiable(header, size)
    stop = size if last == "" else min(size, int(last) + 1)
    return ByteRange(start, stop, size)


def _bounded(digits: str) -> str:
    """A byte position as decimal digits, capped at 10**18 (far past any file): Python refuses
    ``int()`` of more than 4300 digits, and any longer number means the same as 10**18 here."""
    digits = digits.lstrip("0") or ("0" if digits else "")
    return digits if len(digits) <= 18 else "1" + "0" * 18


def iter_file(f: IO[bytes], start: int, length: int, *, chunk: int = CHUNK_BYTES) -> Iterator[bytes]:
    """``length`` bytes of ``f`` from ``start``, ``chunk`` bytes at a time; closes ``f`` at the end."""
    try:
        f.seek(start)
        left = length
        while left > 0:
            data = f.read(min(chunk, left))
            if not data:
                break
            left -= len(data)
            yield data
    finally:
        f.close()
