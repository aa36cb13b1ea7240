"""HTTP requests through the standard library (urllib), with errors sorted into transient and not.

Transient (worth a retry): HTTP 408, 425, 429, 500, 502, 503, 504, refused or reset
connections, timeouts. Everything else (404, 403, a malformed URL) is a plain
:class:`~rovercam.errors.SourceError` naming the URL and the status.

Refused (:class:`~rovercam.sources.source.SourceRefusedError`, never retried): a redirect to a
scheme other than http(s) or to another host than the one asked (unless listed in
``redirect_hosts``), more than five redirects, a body with a ``Content-Encoding`` (rovercam asks
for ``identity``; a compressed body is never expanded, so a gzip bomb stays a few bytes), and a
body longer than its ``Content-Length``. Bodies are read one system call at a time, so that a
caller's deadline holds against a server that drips bytes.
"""
from __future__ import annotations

import contextlib
import email.utils
import http.client
import logging
import select
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from typing import IO, Any

from rovercam.errors import SourceError
from rovercam.sources.model import RemoteFile, display_name
from rovercam.sources.source import SourceRefusedError, TransientSourceError, iso_time

__all__ = ["http_open", "http_read", "check_http_url", "validators", "redirect_problem"]

log = logging.getLogger(__name__)

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_USER_AGENT = "rovercam-sources"
_MAX_REDIRECTS = 5
_TRAILING_WAIT_S = 1.0  # how long to look for bytes past Content-Length (a server closes at once)


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


def redirect_problem(url: str, target: str, hosts: Iterable[str] = ()) -> str | None:
    """Why a redirect from ``url`` to ``target`` may not be followed, or None.

    Followed: http(s) to the same host name (any port, so http to https is fine) or to one of
    ``hosts`` (lower case).
    """
    new = urllib.parse.urlsplit(target)
    if new.scheme not in ("http", "https") or not new.hostname:
        return f"redirect to {display_name(target)!r} refused: not an http(s) URL"
    if new.hostname != urllib.parse.urlsplit(url).hostname and new.hostname not in hosts:
        return (f"redirect to {display_name(target)!r} refused: another host (allow it with "
                f"redirect_hosts)")
    return None


class _Redirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirects, checked by :func:`redirect_problem` before anything is followed."""

    max_redirections = _MAX_REDIRECTS

    def __init__(self, hosts: Iterable[str]):
        super().__init__()
        self.hosts = tuple(hosts)

    def http_error_302(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                       headers: Any) -> Any:
        location = headers.get("Location") or headers.get("URI")
        if location:
            target = urllib.parse.urljoin(req.full_url, location)
            problem = redirect_problem(req.full_url, target, self.hosts)
            if problem is not None:
                fp.close()
                raise SourceRefusedError(req.full_url, f"HTTP {code}: {problem}")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


@contextlib.contextmanager
def http_open(url: str, *, timeout_s: float, method: str = "GET",
              redirect_hosts: Iterable[str] = ()) -> Iterator[http.client.HTTPResponse]:
    """An open HTTP response (status 2xx, allowed redirects followed, no content encoding),
    closed on exit.

    Raises
    ------
    TransientSourceError
        Retryable status, connection failure or timeout.
    rovercam.sources.source.SourceRefusedError
        A redirect :func:`redirect_problem` refuses, too many redirects, or a body with a
        ``Content-Encoding``.
    rovercam.errors.SourceError
        Any other failure, naming the URL and the status.
    """
    check_http_url(url)
    request = urllib.request.Request(url, method=method, headers={
        "User-Agent": _USER_AGENT, "Accept-Encoding": "identity"})
    opener = urllib.request.build_opener(_Redirects(redirect_hosts))
    try:
        response = opener.open(request, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        status, reason = exc.code, exc.reason
        retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        exc.close()
        if status in TRANSIENT_STATUS:
            raise TransientSourceError(url, f"HTTP {status} {reason}", retry_after) from None
        if 300 <= status < 400:
            raise SourceRefusedError(url, f"HTTP {status}: redirect refused: {reason}") from None
        raise SourceError(url, f"HTTP {status} {reason}") from None
    except urllib.error.URLError as exc:
        raise TransientSourceError(url, f"cannot connect: {exc.reason}") from None
    except (TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as exc:
        raise TransientSourceError(url, f"request failed: {exc!r}") from None
    with response:
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if encoding not in ("", "identity"):
            raise SourceRefusedError(url, f"Content-Encoding {display_name(encoding)!r} sent, "
                                          f"though rovercam asks for identity; not expanded")
        yield response


class _Body:
    """A response body read one system call at a time (``read1``) that refuses bytes past its
    ``Content-Length``: after the declared length, the server must close (rovercam asks for
    ``Connection: close``, as urllib does); bytes still arriving mean the length lied."""

    def __init__(self, response: http.client.HTTPResponse, url: str, wait_s: float):
        self._response = response
        self._url = url
        self._wait_s = wait_s
        self._declared = response.length

    def read1(self, n: int = -1) -> bytes:
        block = self._response.read1(n)
        if not block and self._declared is not None and self._response.length == 0:
            self._check_trailing()
        return block

    read = read1

    def _check_trailing(self) -> None:
        fp = self._response.fp
        if fp is None:
            return
        try:
            ready = select.select([fp], [], [], self._wait_s)[0]
            extra = fp.peek(1) if ready else b""
        except (OSError, ValueError):
            return
        if extra:
            raise SourceRefusedError(self._url, f"the body is longer than its Content-Length "
                                                f"({self._declared} bytes)")


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


def http_read(url: str, *, timeout_s: float, max_bytes: int, deadline_s: float = 300.0,
              redirect_hosts: Iterable[str] = ()) -> bytes:
    """The whole body of a GET (a listing or a feed page), at most ``max_bytes``, read within
    ``deadline_s`` seconds.

    Raises
    ------
    TransientSourceError, rovercam.errors.SourceError
        As :func:`http_open`; also a body longer than ``max_bytes`` or than declared, shorter
        than declared, or still arriving at the deadline.
    """
    deadline = time.monotonic() + deadline_s
    parts: list[bytes] = []
    got = 0
    with http_open(url, timeout_s=timeout_s, redirect_hosts=redirect_hosts) as response:
        body = _Body(response, url, min(timeout_s, _TRAILING_WAIT_S))
        try:
            while block := body.read1(min(1 << 20, max_bytes + 1 - got)):
                parts.append(block)
                got += len(block)
                if got > max_bytes:
                    raise SourceError(url, f"response longer than {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise SourceError(url, f"response still arriving after {deadline_s:g} s "
                                           f"({got} bytes)")
        except (OSError, http.client.HTTPException) as exc:
            raise TransientSourceError(url, f"response interrupted: {exc!r}") from None
        if response.length:  # bytes declared and never sent
            raise TransientSourceError(url, f"truncated response: got {got} bytes, "
                                            f"{response.length} more expected")
    return b"".join(parts)


def open_http_file(file: RemoteFile, *, timeout_s: float, redirect_hosts: Iterable[str] = ()
                   ) -> contextlib.AbstractContextManager[tuple[IO[bytes], RemoteFile]]:
    """:meth:`Source._open` for an http(s) file: a body read as :class:`_Body` reads it."""

    @contextlib.contextmanager
    def opened() -> Iterator[tuple[IO[bytes], RemoteFile]]:
        with http_open(file.url, timeout_s=timeout_s, redirect_hosts=redirect_hosts) as response:
            body = _Body(response, file.url, min(timeout_s, _TRAILING_WAIT_S))
            yield body, validators(response, file)  # type: ignore[misc]

    return opened()


def head_http_file(file: RemoteFile, *, timeout_s: float, redirect_hosts: Iterable[str] = ()
                   ) -> RemoteFile:
    """:meth:`Source._stat` for an http(s) file: a HEAD request's validators."""
    with http_open(file.url, timeout_s=timeout_s, method="HEAD",
                   redirect_hosts=redirect_hosts) as response:
        return validators(response, file)
