"""A raw-image feed: a JSON listing in the style of the Mars 2020 raw-images API.

The feed is a JSON document: ``{"images": [item, ...]}`` (the API's shape; ``"items"`` or a bare
list are accepted too), optionally paged (``page``, ``per_page`` or ``num``, ``total_results`` or
``total``: the next page is the same URL with ``page=<n+1>``). An item carries the image URL in
``image_files.full_res`` (else ``url``, ``image_url``, or ``link`` when it names a PNG/JPEG),
resolved against the feed URL. Each item becomes a product of two files: the image, named by
the URL's last segment, and ``<stem>-metadata.json``, the sidecar that
:mod:`rovercam.products.rawsite` reads, built from the item:

====================================  =========================================================
API item                              sidecar
====================================  =========================================================
``camera.instrument``                 ``instrument``
``camera.camera_model_type``          ``camera_model_type``
``camera.camera_model_component_list`` ``camera_model_component_list``
``camera.filter_name``                ``filter_name``
``camera.camera_vector`` ``"(x,y,z)"``  ``camera_vector`` [x, y, z]
``extended.subframeRect`` ``"(a,b,c,d)"`` ``subframe_rect`` [a, b, c, d]
``extended.scaleFactor`` ``"2"``      ``scale_factor`` 2
``extended.mastAz/mastEl/sclk``       ``mast_az``, ``mast_el``, ``sclk`` (numbers)
``extended.xyz/dimension``            ``xyz``, ``dimension``
``sol``, ``site``, ``drive``           integers (``"UNK"`` left out)
other top-level values                copied; ``link`` becomes the image URL
====================================  =========================================================

An item already in the sidecar's flat shape (as the raw-image site's sidecars,
docs/products.md#raw-image-site-sidecars) is taken as it is, with the same normalisation.

A feed URL may contain ``{sol}`` (or ``{sol:05d}``): :meth:`FeedSource.list` then reads the URL
for that sol, and :meth:`FeedSource.sols` reads it without the query parameter that holds
``{sol}`` (the API then lists the newest images).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import posixpath
import re
import urllib.parse
from typing import IO, Any

from rovercam.errors import SourceError
from rovercam.sources.layout import IMAGE_SUFFIXES, SIDECAR_SUFFIX
from rovercam.sources.model import RemoteFile, RemoteProduct
from rovercam.sources.source import Source
from rovercam.sources.transfer import check_http_url, head_http_file, http_read, open_http_file

__all__ = ["FeedSource", "sidecar_from_item"]

log = logging.getLogger(__name__)

MAX_PAGES = 1000
_SOL_FIELD = re.compile(r"\{sol(?::([^}]*))?\}")
_CAMERA_KEYS = ("instrument", "filter_name", "camera_vector", "camera_model_component_list",
                "camera_position", "camera_model_type")
_EXTENDED_KEYS = {"mastAz": "mast_az", "mastEl": "mast_el", "sclk": "sclk",
                  "scaleFactor": "scale_factor", "xyz": "xyz", "subframeRect": "subframe_rect",
                  "dimension": "dimension"}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


def _tuple(value: Any) -> list[float] | None:
    if isinstance(value, (list, tuple)):
        numbers = [_number(v) for v in value]
    elif isinstance(value, str) and value.strip().startswith("("):
        numbers = [_number(v) for v in value.strip().strip("()").split(",")]
    else:
        return None
    return None if any(n is None for n in numbers) else numbers  # type: ignore[return-value]


def sidecar_from_item(item: dict[str, Any], image_url: str) -> dict[str, Any]:
    """The ``-metadata.json`` sidecar of a feed item (see the module docstring for the mapping).

    Parameters
    ----------
    item : dict
        One feed item (nested API shape or flat sidecar shape).
    image_url : str
        The absolute image URL, recorded as ``link``.
    """
    meta: dict[str, Any] = {k: v for k, v in item.items()
                            if k not in ("camera", "extended", "image_files")}
    camera = item.get("camera")
    if isinstance(camera, dict):
        meta.update({k: camera[k] for k in _CAMERA_KEYS if k in camera})
    extended = item.get("extended")
    if isinstance(extended, dict):
        meta.update({new: extended[old] for old, new in _EXTENDED_KEYS.items() if old in extended})
    for key in ("sol", "site", "drive", "scale_factor"):
        if key in meta:
            value = _integer(meta[key])
            if value is None:
                del meta[key]  # "UNK": the reader falls back on the product id
            else:
                meta[key] = value
    for key in ("mast_az", "mast_el", "sclk"):
        if key in meta and _number(meta[key]) is not None:
            meta[key] = _number(meta[key])
    for key in ("subframe_rect", "camera_vector"):
        if key in meta:
            values = _tuple(meta[key])
            if values is None:
                del meta[key]
            else:
                meta[key] = values
    meta["link"] = image_url
    return meta


def _image_url(item: dict[str, Any]) -> str | None:
    files = item.get("image_files")
    if isinstance(files, dict) and isinstance(files.get("full_res"), str):
        return files["full_res"]
    for key in ("url", "image_url"):
        if isinstance(item.get(key), str):
            return item[key]
    link = item.get("link")
    if isinstance(link, str) and urllib.parse.urlsplit(link).path.lower().endswith(
            IMAGE_SUFFIXES):
        return link
    return None


def _with_page(url: str, page: int) -> str:
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
             if k != "page"]
    query.append(("page", str(page)))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, safe="{}:(),")))


class FeedSource(Source):
    """Products listed by a raw-image JSON feed (Mars 2020 raw-images API style).

    Parameters
    ----------
    url : str
        The feed URL (``http(s)://``), optionally with ``{sol}``.
    **options
        Retry and limit options of :class:`~rovercam.sources.Source`.
    """

    kind = "feed"

    def __init__(self, url: str, **options: Any):
        check_http_url(_SOL_FIELD.sub("0", url))
        super().__init__(url, **options)
        self._templated = bool(_SOL_FIELD.search(url))

    def _document(self, url: str) -> Any:
        body = self._retrying(lambda: http_read(
            url, timeout_s=self.timeout_s, max_bytes=self.max_listing_bytes,
            deadline_s=self.deadline_s, redirect_hosts=self.redirect_hosts), url)
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise SourceError(url, f"the feed is not JSON: {exc}") from None

    def _items(self, url: str) -> list[tuple[dict[str, Any], str]]:
        """Every item of the feed at ``url`` (all pages), each with the URL it came from."""
        out: list[tuple[dict[str, Any], str]] = []
        page_url = url
        for _ in range(MAX_PAGES):
            doc = self._document(page_url)
            if isinstance(doc, list):
                items = doc
            elif isinstance(doc, dict) and isinstance(doc.get("images", doc.get("items")), list):
                items = doc.get("images", doc.get("items"))
            else:
                raise SourceError(page_url, "the feed has no 'images' list")
            out.extend((i, page_url) for i in items if isinstance(i, dict))
            if not isinstance(doc, dict) or not items:
                break
            page = _integer(doc.get("page"))
            total = _integer(doc.get("total_results", doc.get("total")))
            if page is None or total is None or len(out) >= total:
                break
            page_url = _with_page(url, page + 1)
        else:
            log.warning("%s: stopped after %d pages", url, MAX_PAGES)
        return out

    def _url_for(self, sol: int) -> str:
        return _SOL_FIELD.sub(lambda m: format(sol, m.group(1) or ""), self.location)

    def sols(self) -> list[int]:
        url = self.location
        if self._templated:
            parts = urllib.parse.urlsplit(url)
            if _SOL_FIELD.search(parts.path):
                raise SourceError(url, "cannot enumerate sols: {sol} is in the path")
            query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query,
                                                               keep_blank_values=True)
                     if not _SOL_FIELD.search(v)]
            url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        sols = {_integer(item.get("sol")) for item, _ in self._items(url)}
        return sorted(s for s in sols if s is not None)

    def list(self, sol: int) -> list[RemoteProduct]:
        url = self._url_for(sol) if self._templated else self.location
        products: dict[str, RemoteProduct] = {}
        for item, page_url in self._items(url):
            if _integer(item.get("sol")) != sol:
                continue
            product = self._product(item, page_url, sol)
            if product is not None and product.primary not in products:
                products[product.primary] = product
        return sorted(products.values(), key=lambda p: p.primary)

    def _product(self, item: dict[str, Any], page_url: str, sol: int) -> RemoteProduct | None:
        raw = _image_url(item)
        ident = item.get("imageid", "?")
        if raw is None:
            log.warning("%s: item %s has no image URL; skipped", page_url, ident)
            return None
        image_url = urllib.parse.urljoin(page_url, raw)
        name = urllib.parse.unquote(posixpath.basename(urllib.parse.urlsplit(image_url).path))
        stem, dot, suffix = name.rpartition(".")
        if not dot or "." + suffix.lower() not in IMAGE_SUFFIXES:
            log.warning("%s: item %s image %r is not a PNG/JPEG; skipped", page_url, ident, name)
            return None
        content = json.dumps(sidecar_from_item(item, image_url), indent=2,
                             sort_keys=True).encode("utf-8")
        sidecar = RemoteFile(path=stem + SIDECAR_SUFFIX, url=f"{page_url}#{ident}",
                             size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                             content=content)
        image = RemoteFile(path=name, url=image_url)
        return RemoteProduct(name=name, sol=sol, files=(image, sidecar), primary=name,
                             source=self.location)

    def _open(self, file: RemoteFile) -> contextlib.AbstractContextManager[
            tuple[IO[bytes], RemoteFile]]:
        return open_http_file(file, timeout_s=self.timeout_s, redirect_hosts=self.redirect_hosts)

    def _stat(self, file: RemoteFile) -> RemoteFile:
        return head_http_file(file, timeout_s=self.timeout_s, redirect_hosts=self.redirect_hosts)
