"""The staging folder a source fetches into: which remote paths may be written there, the hidden
temporary names files arrive under, and the fetch manifest.

The manifest (``.rovercam-fetch.json``, hidden) records each fetched file's size, sha256, ETag
and Last-Modified, so that a re-run transfers only new or changed products
(:meth:`rovercam.sources.Source.fetch`).
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from rovercam.errors import SourceError
from rovercam.sources.model import RemoteProduct, unsafe_reason

__all__ = ["MANIFEST_NAME", "part_name", "refusal", "load_manifest", "save_manifest"]

MANIFEST_NAME = ".rovercam-fetch.json"


def part_name(name: str) -> str:
    """The hidden temporary name of ``name`` while it arrives (``.<name>.<token>.part``), its
    name cut to 200 bytes so that it stays within MAX_NAME_BYTES."""
    stem = name.encode("utf-8", "surrogatepass")[:200].decode("utf-8", "ignore")
    return f".{stem}.{secrets.token_hex(6)}.part"


def refusal(product: RemoteProduct, dest: Path, real_dest: str) -> str | None:
    """Why ``product`` may not be written under ``dest``, or None."""
    if not product.files:
        return "no files"
    paths = [f.path for f in product.files]
    if product.primary not in paths:
        return f"entry {product.primary!r} is not among its files"
    for path in paths:
        reason = unsafe_reason(path)
        if reason is not None:
            return f"unsafe remote name: {reason}"
        real = os.path.realpath(dest / path)
        if os.path.commonpath([real, real_dest]) != real_dest:
            return f"{path!r} would be written outside the staging folder (symlink)"
    return None


def load_manifest(dest: Path) -> dict[str, dict[str, Any]]:
    """The manifest's ``files`` record of ``dest`` (empty when there is none yet).

    Raises
    ------
    rovercam.errors.SourceError
        The manifest is unreadable or malformed.
    """
    path = dest / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SourceError(str(path), f"unreadable fetch manifest: {exc}") from exc
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        raise SourceError(str(path), "fetch manifest without a 'files' object")
    return files


def save_manifest(dest: Path, files: dict[str, dict[str, Any]]) -> None:
    """Write ``files`` as the manifest of ``dest``, atomically (a temporary, then a rename)."""
    path = dest / MANIFEST_NAME
    tmp = dest / f".{MANIFEST_NAME}.{secrets.token_hex(6)}.part"
    tmp.write_text(json.dumps({"version": 1, "files": files}, indent=1, sort_keys=True),
                   encoding="utf-8")
    os.replace(tmp, path)
