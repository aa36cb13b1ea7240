"""Cache keys: what a result depends on, as one hex digest.

A key is the sha256 of the result's *input content* (product files by their sha256), the
configuration sections that change it, the calibration files it may read, and the code version.
Keys are computed before any work, so an orchestrator can tell what is already done without
reading intermediate results; the same key names where the result is stored, so a result on disk
is a result for exactly those inputs.

Which configuration a stage depends on (a change anywhere in a section recomputes the stage and
everything after it):

=============  ==================================================================
stage          depends on
=============  ==================================================================
ingest         the product file, ``[limits]``
calibrate      the product file, ``[chain]``, ``[limits]``, ``[cameras.*]``, calibration files
mosaic         its frames' calibrate keys, ``[mosaic]``
publish        the mosaic key, ``[publish]``
=============  ==================================================================
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import rovercam
from rovercam.config import Settings

__all__ = ["digest", "code_version", "calibration_fingerprint", "ingest_key", "calibrate_key", "mosaic_key",
           "publish_key", "product_content_sha256", "sol_key"]


def digest(*parts: object) -> str:
    """sha256 hex digest of JSON-serialisable ``parts`` (keys sorted, compact)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """``<version>+<sha256[:12] of the rovercam sources>``: changes whenever the code does.

    The library's ``.py`` files are hashed once per process (about 200 small files), so an edited
    checkout never reuses results computed by different code, even at the same version number.
    """
    root = Path(rovercam.__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return f"{rovercam.__version__}+{h.hexdigest()[:12]}"


def calibration_fingerprint(settings: Settings) -> str:
    """Digest of every file on the calibration search path (name, size, modification time).

    Replacing a LUT or a flat changes the fingerprint, so calibrated frames are recomputed.
    """
    entries: list[tuple[str, int, int]] = []
    for folder in settings.calibration_path:
        if not folder.is_dir():
            continue
        for dirpath, _, files in os.walk(folder):
            for name in files:
                st = os.stat(os.path.join(dirpath, name))
                entries.append((os.path.join(dirpath, name), st.st_size, st.st_mtime_ns))
    return digest(sorted(entries))


def _sections(settings: Settings, *names: str) -> dict:
    return settings.model_dump(mode="json", include=set(names))


def ingest_key(product_sha256: str, settings: Settings, *, sol: int | None = None) -> str:
    """Key of ingesting one product file (its content, the sol it is filed under, ``[limits]``)."""
    return digest("ingest", product_sha256, sol, _sections(settings, "limits"), code_version())


def calibrate_key(product_sha256: str, settings: Settings, *, calibration: str | None = None) -> str:
    """Key of the whole frame chain on one product.

    ``calibration`` is :func:`calibration_fingerprint` when the caller already computed it (it
    walks the search path).
    """
    cal = calibration if calibration is not None else calibration_fingerprint(settings)
    return digest("calibrate", product_sha256, _sections(settings, "chain", "limits", "cameras"), cal,
                   code_version())


def mosaic_key(name: str, frame_keys: Iterable[str], settings: Settings) -> str:
    """Key of one mosaic: its name, its frames' calibrate keys (any order), ``[mosaic]``."""
    return digest("mosaic", name, sorted(frame_keys), _sections(settings, "mosaic"), code_version())


def publish_key(mosaic_key_: str, settings: Settings) -> str:
    """Key of publishing one mosaic (the mosaic's key and ``[publish]``)."""
    return digest("publish", mosaic_key_, _sections(settings, "publish"), code_version())


def product_content_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 over every file of one product (:func:`rovercam.products.files.product_files`).

    A detached label and its data file, or a raw-site image and its JSON sidecar, travel together:
    a change to either changes the digest. Each file adds its name, then its bytes, in name order.
    Local paths only (fetch remote products first).
    """
    from rovercam.products.files import product_files

    h = hashlib.sha256()
    for member in sorted(p for p in product_files(path) if p.is_file()):
        h.update(member.name.encode())
        with open(member, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    return h.hexdigest()


def sol_key(products: Iterable[tuple[str, str]], settings: Settings, *, calibration: str | None = None) -> str:
    """Key of a whole sol run: its products' (file name, content sha256) pairs, every section that
    changes results, the calibration files and the code. Equal keys mean nothing needs redoing."""
    cal = calibration if calibration is not None else calibration_fingerprint(settings)
    return digest("sol", sorted(products), _sections(settings, "limits", "chain", "cameras", "mosaic", "publish"),
                   cal, code_version())
