"""An HTTP proxy that injects server errors and timeouts in front of an S3 endpoint.

Put it between rovercam and a test S3 server (:func:`rovercam.testing.moto_s3`): the real
botocore / s3fs code paths then meet real HTTP 500 and 503 answers, slow answers and answers that
never come, on a seeded fraction of requests. Used by the storage-fault tests and by
``rovercam bench reliability`` (docs/operations.md, "Storage faults").

Each request draws one number from a seeded generator and gets, in this order of the rates:

- ``500``: ``InternalError`` (S3's XML error body), without reaching the server;
- ``503``: ``SlowDown`` ("Please reduce your request rate."), without reaching the server;
- ``"timeout"``: no answer; the connection is held for ``hang_s`` seconds then closed (set the
  client's read timeout below ``hang_s``, e.g. ``config_kwargs = {"read_timeout": 1}``);
- ``"slow"``: forwarded, answered after ``slow_s`` seconds (a delay the client should absorb);

or else is forwarded unchanged. Faults are injected before the server sees the request, so a
retried request is a clean repeat. Standard library only.
"""
from __future__ import annotations

import contextlib
import http.client
import random
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

__all__ = ["FaultProxy", "fault_proxy", "even_rates", "FaultKind"]

FaultKind = Literal[500, 503, "timeout", "slow"]
#: Order in which a request's draw is matched against the rates.
_KINDS: tuple[FaultKind, ...] = (500, 503, "timeout", "slow")
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                         "trailer", "trailers", "transfer-encoding", "upgrade", "expect", "content-length"})
_ERRORS = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}


def even_rates(total: float, kinds: tuple[FaultKind, ...] = (500, 503, "timeout")) -> dict[FaultKind, float]:
    """``total`` (0..1) split evenly over ``kinds``: ``even_rates(0.1)`` is 1/30 each of 500,
    503 and timeout."""
    if not 0.0 <= total <= 1.0:
        raise ValueError(f"total fault rate must be within [0, 1], got {total!r}")
    return {kind: total / len(kinds) for kind in kinds}


class FaultProxy:
    """A threaded HTTP/1.1 proxy to ``upstream`` that fails a seeded fraction of requests.

    Parameters
    ----------
    upstream : str
        ``http://host:port`` of the real server.
    rates : mapping of {500, 503, "timeout", "slow"} -> float, optional
        Fraction (0..1) of requests given each fault; the sum must not exceed 1. Default none.
    seed : int
        Seed of the generator drawing each request's fate.
    hang_s : float
        Seconds a ``"timeout"`` request is held before its connection is closed unanswered.
    slow_s : float
        Delay of a ``"slow"`` request, seconds.

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:<port>`` once started: give it to the client as ``endpoint_url``.

    Examples
    --------
    >>> with fault_proxy("http://127.0.0.1:9", rates={500: 1.0}) as proxy:  # doctest: +SKIP
    ...     options = proxy.storage_options(server["storage_options"])
    """

    def __init__(self, upstream: str, *, rates: Mapping[FaultKind, float] | None = None, seed: int = 0,
                 hang_s: float = 2.0, slow_s: float = 0.2):
        parts = urllib.parse.urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
        if hang_s < 0 or slow_s < 0:
            raise ValueError(f"hang_s={hang_s!r}, slow_s={slow_s!r}: must not be negative")
        self.upstream = (parts.hostname, parts.port or 80)
        self.hang_s, self.slow_s = float(hang_s), float(slow_s)
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._rates: dict[FaultKind, float] = {}
        self._counts: dict[str, int] = {}
        self._stop = threading.Event()
        self._local = threading.local()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.set_rates(rates or {})
        self.reset_counts()

    # ------------------------------------------------------------------ control

    def set_rates(self, rates: Mapping[FaultKind, float]) -> None:
        """Change the fault rates (takes effect with the next request)."""
        unknown = set(rates) - set(_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(map(str, unknown))}; kinds: {list(_KINDS)}")
        if any(not 0.0 <= r <= 1.0 for r in rates.values()) or sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError(f"each rate must be within [0, 1] and their sum at most 1, got {dict(rates)}")
        with self._lock:
            self._rates = {kind: float(rates.get(kind, 0.0)) for kind in _KINDS}

    def reset_counts(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self._counts = {"requests": 0, "forwarded": 0, **{str(kind): 0 for kind in _KINDS}}

    @property
    def counts(self) -> dict[str, int]:
        """Counters: ``requests``, ``forwarded``, one per fault kind (``"500"``, ``"503"``,
        ``"timeout"``, ``"slow"``) and ``injected`` (500 + 503 + timeout: the failed ones)."""
        with self._lock:
            out = dict(self._counts)
        out["injected"] = out["500"] + out["503"] + out["timeout"]
        return out

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def storage_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of fsspec/s3fs ``options`` with ``endpoint_url`` pointing at this proxy."""
        return {**options, "endpoint_url": self.url}

    def start(self) -> "FaultProxy":
        """Listen on a free 127.0.0.1 port (in a daemon thread)."""
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._stop.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening; requests held as timeouts are released."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    # ------------------------------------------------------------------ per request

    def _draw(self) -> FaultKind | None:
        with self._lock:
            self._counts["requests"] += 1
            u, edge = self._rng.random(), 0.0
            for kind in _KINDS:
                edge += self._rates[kind]
                if u < edge:
                    self._counts[str(kind)] += 1
                    return kind
            return None

    def _forward(self, method: str, path: str, headers: list[tuple[str, str]],
                 body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """Send the request upstream on this thread's kept-alive connection (reconnecting once)."""
        for attempt in range(2):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = http.client.HTTPConnection(*self.upstream, timeout=60)
            try:
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                resp = conn.getresponse()
                data = resp.read()
            except (ConnectionError, http.client.HTTPException, TimeoutError):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
                continue
            with self._lock:
                self._counts["forwarded"] += 1
            return resp.status, resp.reason, resp.getheaders(), data
        raise AssertionError("unreachable")  # pragma: no cover


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: FaultProxy

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        proxy = self.owner
        body = self._body()
        kind = proxy._draw()
        if kind == "timeout":
            proxy._stop.wait(proxy.hang_s)
            self.close_connection = True  # closed without an answer
            return
        if kind in _ERRORS:
            code, message = _ERRORS[kind]
            payload = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                       f"<Message>{message}</Message><RequestId>rovercam-fault</RequestId></Error>").encode()
            self.send_response(int(kind))
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            return
        if kind == "slow":
            proxy._stop.wait(proxy.slow_s)
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
        try:
            status, reason, out_headers, data = proxy._forward(self.command, self.path, headers, body)
        except (OSError, http.client.HTTPException):
            self.send_error(502, "upstream unreachable")
            return
        self.send_response(status, reason)
        length = str(len(data))
        for name, value in out_headers:
            if name.lower() == "content-length" and self.command == "HEAD":
                length = value
            elif name.lower() not in _HOP_BY_HOP | {"server", "date"}:
                self.send_header(name, value)
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


@contextlib.contextmanager
def fault_proxy(upstream: str, **options: Any) -> Iterator[FaultProxy]:
    """A started :class:`FaultProxy` to ``upstream`` (keywords as for the class), stopped on exit."""
    proxy = FaultProxy(upstream, **options).start()
    try:
        yield proxy
    finally:
        proxy.stop()
