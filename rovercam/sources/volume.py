"""An HTTP archive laid out like a PDS volume, read through its HTML directory listings.

Apache, nginx and Python's ``http.server`` answer a folder URL (ending in ``/``) with an HTML page
whose ``<a href>`` links name the folder's children; a child folder's link ends in ``/``. Only
links that resolve to a direct child of the folder are used: the parent link, sort links
(``?C=N;O=D``), absolute links to elsewhere and fragments are ignored. Names are the
percent-decoded last path segment; a name that decodes to something unsafe (``..%2Fx``) is kept
in the listing and refused by :meth:`~rovercam.sources.Source.fetch`.
"""
from __future__ import annotations

import contextlib
import html.parser
import logging
import posixpath
import urllib.parse
from typing import IO, Any

from rovercam.errors import SourceError
from rovercam.sources.layout import Entry
from rovercam.sources.model import RemoteFile
from rovercam.sources.source import TreeSource
from rovercam.sources.transfer import check_http_url, head_http_file, http_read, open_http_file

__all__ = ["HttpVolumeSource", "listing_links"]

log = logging.getLogger(__name__)


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            for key, value in attrs:
                if key == "href" and value:
                    self.hrefs.append(value.strip())


def listing_links(page: str, folder_url: str) -> list[tuple[str, str, bool]]:
    """Direct children linked from a directory-listing page: ``[(name, url, is_dir), ...]``.

    Parameters
    ----------
    page : str
        The HTML of the listing.
    folder_url : str
        The listing's URL, ending in ``/``; hrefs are resolved against it.
    """
    parser = _Links()
    parser.feed(page)
    parser.close()
    base = urllib.parse.urlsplit(folder_url)
    seen: set[str] = set()
    out: list[tuple[str, str, bool]] = []
    for href in parser.hrefs:
        if href.startswith(("?", "#")):
            continue
        url = urllib.parse.urldefrag(urllib.parse.urljoin(folder_url, href))[0]
        parts = urllib.parse.urlsplit(url)
        if parts.query or (parts.scheme, parts.netloc) != (base.scheme, base.netloc) \
                or not parts.path.startswith(base.path):
            continue
        rest = parts.path[len(base.path):]
        is_dir = rest.endswith("/")
        segment = rest[:-1] if is_dir else rest
        if not segment or "/" in segment or url in seen:
            continue
        seen.add(url)
        out.append((urllib.parse.unquote(segment), url, is_dir))
    return out


class HttpVolumeSource(TreeSource):
    """Products of an HTTP archive laid out like a PDS volume (``<root>/DATA/SOL00100/...``,
    ``<root>/sol00100/...``, ``<root>/sol/00100/...``; :mod:`rovercam.sources.layout`).

    Sizes and change validators come from the transfer itself (``Content-Length``, ``ETag``,
    ``Last-Modified``); a product fetched before is checked with a HEAD request per file.
    """

    kind = "http-volume"

    def __init__(self, url: str, **options: Any):
        check_http_url(url)
        parts = urllib.parse.urlsplit(url)
        if parts.query or parts.fragment:
            raise SourceError(url, "a volume URL has no query or fragment")
        super().__init__(url, **options)
        self._folder_url = url if url.endswith("/") else url + "/"

    def _root(self) -> tuple[Any, str]:
        path = urllib.parse.urlsplit(self._folder_url).path.rstrip("/")
        return self._folder_url, urllib.parse.unquote(posixpath.basename(path))

    def _listdir(self, handle: Any) -> list[Entry]:
        body = self._retrying(lambda: http_read(
            handle, timeout_s=self.timeout_s, max_bytes=self.max_listing_bytes,
            deadline_s=self.deadline_s, redirect_hosts=self.redirect_hosts), handle)
        try:
            page = body.decode("utf-8")
        except UnicodeDecodeError:
            page = body.decode("latin-1")
        return [Entry(name=name, is_dir=is_dir, handle=url)
                for name, url, is_dir in listing_links(page, handle)]

    def _open(self, file: RemoteFile) -> contextlib.AbstractContextManager[
            tuple[IO[bytes], RemoteFile]]:
        return open_http_file(file, timeout_s=self.timeout_s, redirect_hosts=self.redirect_hosts)

    def _stat(self, file: RemoteFile) -> RemoteFile:
        return head_http_file(file, timeout_s=self.timeout_s, redirect_hosts=self.redirect_hosts)
