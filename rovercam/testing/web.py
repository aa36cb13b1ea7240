"""Plain HTTP probes for tests and benchmarks: a raw GET that sends exactly what it is given,
and a health check.

:func:`raw_get` uses :mod:`http.client` directly, so a hostile path (``..``, ``%2f``, control
characters) or header reaches the server unnormalised, as an attacker's client would send it.
"""
from __future__ import annotations

import http.client
import urllib.request
from urllib.parse import urlsplit

__all__ = ["raw_get", "healthy"]


def raw_get(server_url: str, path: str, headers: dict[str, str] | None = None, *,
            timeout_s: float = 30.0) -> tuple[int, bytes]:
    """``GET path`` from the server at ``server_url`` as given (no quoting, no normalisation, no
    ``Accept-Encoding``); returns (status, body)."""
    u = urlsplit(server_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout_s)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v.encode("utf-8"))
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def healthy(url: str, *, timeout_s: float = 2.0) -> bool:
    """True when ``url`` answers 200 within ``timeout_s`` (False on any connection error)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            return r.status == 200
    except OSError:
        return False
