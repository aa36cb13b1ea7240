"""HTTP requests through the standard library (urllib), with errors sorted into transient and not.

Transient (worth a retry): HTTP 408, 425, 429, 500, 502, 503, 504, refused or reset
connections, timeouts. Everything else (404, 403, a malformed URL) is a plain
:class:`~rovercam.errors.SourceError` naming the URL and the status.
"""
from __future__ import annotations

import contextlib
import email.utils
import http.client
import logging
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import IO

from rovercam.errors import SourceError
from rovercam.sources.model import RemoteFile
from rovercam.sources.source import TransientSourceError, iso_time

__all__ = ["http_open", "http_read", "check_http_url", "validators"]

log = logging.getLogger(__name__)

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_USER_AGENT = "rovercam-sources"


def check_http_url(url: str) -> str:
    """``url`` when it is an absolute http(s) URL with a host; SourceError otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SourceError(url, "not an http(s) URL")
    return url


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


@contextlib.contextmanager
def http_open(url: str, *, timeout_s: float, method: str = "GET") -> Iterator[
        http.client.HTTPResponse]:
    """An open HTTP response (status 2xx, redirects followed), closed on exit.

    Raises
    ------
    TransientSourceError
        Retryable status, connection failure or timeout.
    rovercam.errors.SourceError
        Any other failure, naming the URL and the status.
    """
    check_http_url(url)
    request = urllib.request.Request(url, method=method, headers={"User-Agent": _USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)  # noqa: S310 - http(s) only
    except urllib.error.HTTPError as exc:
        status, reason = exc.code, exc.reason
        retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        exc.close()
        if status in TRANSIENT_STATUS:
            raise TransientSourceError(url, f"HTTP {status} {reason}", retry_after) from None
        raise SourceError(url, f"HTTP {status} {reason}") from None
    except urllib.error.URLError as exc:
        raise TransientSourceError(url, f"cannot connect: {exc.reason}") from None
    except (TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as exc:
        raise TransientSourceError(url, f"request failed: {exc!r}") from None
    with response:
        yield response


def validators(response: http.client.HTTPResponse, file: RemoteFile) -> RemoteFile:
    """``file`` with the exact size, ETag and Last-Modified (ISO UTC) the response declares."""
    length = response.headers.get("Content-Length")
    size = int(length) if length and length.strip().isdigit() else None
    if response.headers.get("Content-Encoding", "identity") not in ("identity", ""):
        size = None  # the length is of the encoded body
    modified = response.headers.get("Last-Modified")
    mtime = None
    if modified:
        try:
            mtime = iso_time(email.utils.parsedate_to_datetime(modified))
        except (TypeError, ValueError):
            mtime = modified
    return RemoteFile(path=file.path, url=file.url, size=size, mtime=mtime,
                      etag=response.headers.get("ETag"), sha256=file.sha256)


def http_read(url: str, *, timeout_s: float, max_bytes: int) -> bytes:
    """The whole body of a GET (a listing or a feed page), at most ``max_bytes``.

    Raises
    ------
    TransientSourceError, rovercam.errors.SourceError
        As :func:`http_open`; also a body longer than ``max_bytes`` or shorter than declared.
    """
    with http_open(url, timeout_s=timeout_s) as response:
        try:
            body = response.read(max_bytes + 1)
        except http.client.IncompleteRead as exc:
            raise TransientSourceError(url, f"truncated response: got {len(exc.partial)} bytes, "
                                            f"{exc.expected} more expected") from None
        except (OSError, http.client.HTTPException) as exc:
            raise TransientSourceError(url, f"response interrupted: {exc!r}") from None
    if len(body) > max_bytes:
        raise SourceError(url, f"response longer than {max_bytes} bytes")
    return body


def open_http_file(file: RemoteFile, *, timeout_s: float) -> contextlib.AbstractContextManager[
        tuple[IO[bytes], RemoteFile]]:
    """:meth:`Source._open` for an http(s) file."""

    @contextlib.contextmanager
    def opened() -> Iterator[tuple[IO[bytes], RemoteFile]]:
        with http_open(file.url, timeout_s=timeout_s) as response:
            yield response, validators(response, file)

    return opened()


def head_http_file(file: RemoteFile, *, timeout_s: float) -> RemoteFile:
    """:meth:`Source._stat` for an http(s) file: a HEAD request's validators."""
    with http_open(file.url, timeout_s=timeout_s, method="HEAD") as response:
        return validators(response, file)
