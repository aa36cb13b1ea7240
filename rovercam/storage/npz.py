"""Array + JSON metadata in one .npz blob: how frames and mosaics travel between pipeline tasks."""
from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

__all__ = ["pack", "unpack"]


def pack(image: np.ndarray, meta: dict[str, Any]) -> bytes:
    """Encode ``image`` and JSON-serialisable ``meta`` as .npz bytes (no pickle)."""
    buf = io.BytesIO()
    np.savez(buf, image=image, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    return buf.getvalue()


def unpack(blob: bytes) -> tuple[np.ndarray, dict[str, Any]]:
    """Inverse of :func:`pack`: ``(image, meta)``."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return z["image"], json.loads(z["meta"].tobytes().decode())
