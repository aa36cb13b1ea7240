"""Product sources: find a sol's raw products and fetch the new ones into a staging folder.

Three kinds, chosen from the location string by :func:`open_source`:

- a local folder (a path or ``file://``), and an fsspec URL prefix (``s3://bucket/prefix``):
  :class:`FilesystemSource`;
- an HTTP archive laid out like a PDS volume (``http(s)://host/volume/``), read through its HTML
  directory listings: :class:`HttpVolumeSource`;
- a raw-image JSON feed in the style of the Mars 2020 raw-images API (an ``http(s)`` URL ending
  in ``.json``, with a query string, or containing ``{sol}``): :class:`FeedSource`.

Every source has ``sols()``, ``latest_sols(n)``, ``list(sol)`` and ``fetch(products, dest_dir)``
(:class:`Source`). The folder layouts accepted are in :mod:`rovercam.sources.layout` and
docs/sources.md. Nothing here imports Prefect.

Example
-------
>>> from rovercam.sources import open_source
>>> src = open_source("https://archive.example/m2020/data_raw_ncam/")  # doctest: +SKIP
>>> sol = src.latest_sols(1)[0]                                         # doctest: +SKIP
>>> result = src.fetch(src.list(sol), f"/data/root/incoming/sol{sol:05d}")  # doctest: +SKIP
>>> result.new_paths                                                    # doctest: +SKIP
"""
from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any, Literal

from rovercam.sources.feed import FeedSource, sidecar_from_item
from rovercam.sources.filesystem import FilesystemSource, source_calibration
from rovercam.sources.layout import group_files, sol_of_folder
from rovercam.sources.model import (
    FetchedProduct,
    FetchProblem,
    FetchResult,
    RemoteFile,
    RemoteProduct,
    display_name,
    unsafe_reason,
)
from rovercam.sources.source import (
    MANIFEST_NAME,
    Source,
    SourceRefusedError,
    SourceUnavailableError,
    TransientSourceError,
    is_label_file,
)
from rovercam.sources.volume import HttpVolumeSource

if TYPE_CHECKING:  # pragma: no cover
    from rovercam.config import Settings

__all__ = [
    "open_source",
    "SourceKind",
    "Source",
    "FilesystemSource",
    "source_calibration",
    "HttpVolumeSource",
    "FeedSource",
    "RemoteFile",
    "RemoteProduct",
    "FetchedProduct",
    "FetchProblem",
    "FetchResult",
    "TransientSourceError",
    "SourceUnavailableError",
    "SourceRefusedError",
    "MANIFEST_NAME",
    "group_files",
    "sol_of_folder",
    "sidecar_from_item",
    "unsafe_reason",
    "display_name",
    "is_label_file",
]

SourceKind = Literal["auto", "folder", "fsspec", "http-volume", "feed"]


def _guess(spec: str) -> SourceKind:
    parts = urllib.parse.urlsplit(spec)
    if parts.scheme in ("http", "https"):
        if parts.query or parts.path.lower().endswith(".json") or "{sol" in spec:
            return "feed"
        return "http-volume"
    if "://" in spec and not spec.startswith("file://"):
        return "fsspec"
    return "folder"


def open_source(spec: str, *, kind: SourceKind = "auto", settings: Settings | None = None,
                storage_options: dict[str, Any] | None = None, timeout_s: float | None = None,
                retries: int | None = None, backoff_s: float | None = None,
                max_bytes: int | None = None) -> Source:
    """The product source at ``spec``.

    Parameters
    ----------
    spec : str
        A local folder (``/data/drop``, ``file:///data/drop``), an fsspec URL prefix
        (``s3://bucket/m2020``), an HTTP PDS-like volume (``https://host/volume/``) or a raw-image
        feed (``https://host/api/?feed=raw_images&sol={sol}``, ``https://host/feed.json``).
    kind : {"auto", "folder", "fsspec", "http-volume", "feed"}, keyword-only
        ``auto`` guesses from ``spec``: ``http(s)`` with a query, a ``.json`` path or ``{sol}``
        is a feed, other ``http(s)`` URLs are volumes, other URLs go to fsspec, the rest are
        local folders.
    settings : rovercam.config.Settings, optional, keyword-only
        Supplies defaults: ``storage.options`` as the fsspec options of an fsspec URL, the
        ``[fetch]`` section (timeouts, retries, deadline, label, listing and product limits,
        redirect hosts; docs/operations.md, "Hostile sources"), and the smaller of
        ``fetch.max_product_bytes`` and ``limits.max_bytes`` as the largest product accepted.
    storage_options : dict, optional, keyword-only
        fsspec options for an fsspec URL (s3fs: ``endpoint_url``, ``key``, ``secret``, ...);
        wins over ``settings``.
    timeout_s, retries, backoff_s : keyword-only
        Socket timeout per request (s); extra attempts after a transient failure; first retry
        delay (s, doubled each attempt, at most 30 s). Default: ``settings.fetch``, else 30 s,
        3 and 0.5 s.
    max_bytes : int, optional, keyword-only
        Largest product accepted (bytes, all its files); default from ``settings`` (above) or
        4 GiB.

    Returns
    -------
    Source

    Raises
    ------
    rovercam.errors.SourceError
        ``spec`` cannot be opened as that kind (a bad URL, a missing fsspec backend).
    ValueError
        An unknown ``kind`` or an invalid option value.
    """
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"spec must be a non-empty string, got {spec!r}")
    if kind == "auto":
        kind = _guess(spec)
    options: dict[str, Any] = {"timeout_s": 30.0, "retries": 3, "backoff_s": 0.5,
                               "max_bytes": 4 << 30}
    if settings is not None:
        fetch = settings.fetch
        options = {"timeout_s": fetch.timeout_s, "retries": fetch.retries,
                   "backoff_s": fetch.backoff_s, "deadline_s": fetch.deadline_s,
                   "max_bytes": min(fetch.max_product_bytes, settings.limits.max_bytes),
                   "max_label_bytes": fetch.max_label_bytes,
                   "max_listing_bytes": fetch.max_listing_bytes,
                   "redirect_hosts": tuple(fetch.redirect_hosts)}
    given = {"timeout_s": timeout_s, "retries": retries, "backoff_s": backoff_s,
             "max_bytes": max_bytes}
    options.update({k: v for k, v in given.items() if v is not None})
    if kind in ("folder", "fsspec"):
        if kind == "fsspec" and storage_options is None and settings is not None:
            storage_options = dict(settings.storage.options)
        location = spec.removeprefix("file://") if kind == "folder" else spec
        return FilesystemSource(location, storage_options=storage_options if kind == "fsspec"
                                else None, **options)
    if kind == "http-volume":
        return HttpVolumeSource(spec, **options)
    if kind == "feed":
        return FeedSource(spec, **options)
    raise ValueError(f"kind must be one of auto, folder, fsspec, http-volume, feed; got {kind!r}")
