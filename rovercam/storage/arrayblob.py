"""Array + JSON metadata in one blob: how frames travel between pipeline tasks.

Layout (little-endian)::

    b"\\x93RCBLOB1"            8-byte magic
    meta length               uint64
    meta                      UTF-8 JSON
    array                     a complete .npy record (NumPy format 1.0 header + C-order data)

It is written with one copy of the pixels (none with :func:`pack_pieces`) and read with none (the array is a read-only view of
the blob), about 2.5x faster than an uncompressed ``.npz``, which copies twice and checksums the
zip members. No pickle is ever read or written. ``unpack`` refuses anything else with ValueError.
"""
from __future__ import annotations

import io
import json
import threading
from typing import IO, Any

import numpy as np

__all__ = ["pack", "pack_pieces", "unpack", "peek", "MAGIC"]

MAGIC = b"\x93RCBLOB1"

#: NumPy parses a .npy header with ``ast.literal_eval``; CPython 3.11's compiler keeps its AST
#: recursion depth in shared state, so parses in several threads at once can fail with
#: "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905; seen in CI when
#: a mosaic task's frame read raced other threads). Header reads take this lock.
_HEADER_LOCK = threading.Lock()


def _read_header(stream: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` of the .npy record at ``stream`` (magic included)."""
    with _HEADER_LOCK:
        np.lib.format.read_magic(stream)
        return np.lib.format.read_array_header_1_0(stream)


def pack(image: np.ndarray, meta: dict[str, Any]) -> bytes:
    """Encode ``image`` (any shape, a non-object dtype) and JSON-serialisable ``meta``."""
    return b"".join(pack_pieces(image, meta))


def pack_pieces(image: np.ndarray, meta: dict[str, Any]) -> tuple[bytes, memoryview | bytes]:
    """:func:`pack` as ``(head, pixels)``, not joined: ``pixels`` is a view of ``image`` (no copy
    when it is C-contiguous), for writers that take pieces (``Transaction.put``)."""
    image = np.ascontiguousarray(image)
    if image.dtype.hasobject:
        raise ValueError("object arrays cannot be packed")
    text = json.dumps(meta).encode()
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(image))
    data = memoryview(image.reshape(-1)).cast("B") if image.size else b""
    return b"".join([MAGIC, len(text).to_bytes(8, "little"), text, header.getvalue()]), data


def unpack(blob: bytes) -> tuple[np.ndarray, dict[str, Any]]:
    """Inverse of :func:`pack`: ``(image, meta)``; the image is a read-only view of ``blob``."""
    if blob[:8] != MAGIC:
        raise ValueError("not a rovercam array blob (bad magic)")
    n = int.from_bytes(blob[8:16], "little")
    meta = json.loads(bytes(blob[16:16 + n]).decode())
    stream = io.BytesIO(blob[16 + n:16 + n + 256])  # the .npy header is at most a few hundred bytes
    shape, fortran, dtype = _read_header(stream)
    if fortran or dtype.hasobject:
        raise ValueError("unexpected array layout in blob")
    start = 16 + n + stream.tell()
    count = int(np.prod(shape, dtype=np.int64))
    if len(blob) - start != count * dtype.itemsize:
        raise ValueError(f"truncated blob: {len(blob) - start} data bytes, expected {count * dtype.itemsize}")
    return np.frombuffer(blob, dtype=dtype, count=count, offset=start).reshape(shape), meta


def peek(stream: IO[bytes]) -> tuple[tuple[int, ...], np.dtype, dict[str, Any]]:
    """``(shape, dtype, meta)`` of a blob from its head only (the pixels are not read).

    For decisions that need a frame's size or band count but not its pixels (grouping frames
    into mosaics by band count). ``stream`` is positioned at the blob's start.
    """
    head = stream.read(16)
    if head[:8] != MAGIC or len(head) < 16:
        raise ValueError("not a rovercam array blob (bad magic)")
    n = int.from_bytes(head[8:16], "little")
    meta = json.loads(stream.read(n).decode())
    header = io.BytesIO(stream.read(256))  # the .npy header is at most a few hundred bytes
    shape, fortran, dtype = _read_header(header)
    if fortran or dtype.hasobject:
        raise ValueError("unexpected array layout in blob")
    return tuple(shape), dtype, meta
