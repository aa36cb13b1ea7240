"""A real HTTP server on 127.0.0.1 for the source tests, with switchable misbehaviour.

The server serves a folder with ``http.server``'s own directory listings (HTML pages of
``<a href>`` links, as Apache's are) and can, per request path, answer 503 a number of times
first, send a truncated body, or serve a fixed page (a hand-written listing or a feed page).
"""
from __future__ import annotations

import functools
import http.server
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class ServerState:
    """Behaviour switches and request counts, keyed by request path (with its query, if any)."""

    root: Path
    base_url: str = ""
    fail_first: dict[str, int] = field(default_factory=dict)  # path -> 503s still to send
    truncate: set[str] = field(default_factory=set)  # paths whose body is cut in half
    pages: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # path -> (body, type)
    requests: Counter = field(default_factory=Counter)  # (method, path) -> count
    lock: threading.Lock = field(default_factory=threading.Lock)

    def gets(self, path: str) -> int:
        return self.requests[("GET", path)]


class _Handler(http.server.SimpleHTTPRequestHandler):
    state: ServerState

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def _misbehave(self, method: str) -> bool:
        st = self.state
        full = self.path
        path = urllib.parse.unquote(urllib.parse.urlsplit(full).path)
        with st.lock:
            st.requests[(method, path)] += 1
            if st.fail_first.get(path, 0) > 0:
                st.fail_first[path] -= 1
                fail = True
            else:
                fail = False
        if fail:
            self.send_response(503, "Service Unavailable")
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        page = st.pages.get(full) or st.pages.get(path)
        if page is not None:
            body, ctype = page
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if method == "GET":
                self.wfile.write(body)
            return True
        if path in st.truncate and method == "GET":
            body = (st.root / path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return True
        return False

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if not self._misbehave("GET"):
            super().do_GET()

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
        if not self._misbehave("HEAD"):
            super().do_HEAD()


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[ServerState]:
    """A ThreadingHTTPServer on a free 127.0.0.1 port serving ``state.root`` (empty at first)."""
    root = tmp_path / "www"
    root.mkdir()
    state = ServerState(root=root)
    handler = type("Handler", (_Handler,), {"state": state})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def tiny_sol(tmp_path_factory) -> Path:
    """A generated tiny synthetic sol 100 (``raw/*.IMG`` with attached labels); read only."""
    from rovercam.synth import generate_sol

    out = tmp_path_factory.mktemp("tiny-sol") / "sol00100"
    generate_sol(out, sol=100, profile="tiny", seed=3)
    return out

