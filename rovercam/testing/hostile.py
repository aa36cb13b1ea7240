"""A hostile HTTP source on 127.0.0.1: a sol of good products mixed with attacks.

One threaded ``http.server`` serves the same sol two ways, both read by :mod:`rovercam.sources`:

- an HTTP volume, ``<base>/vol/DATA/SOL<NNNNN>/`` (an HTML directory listing), holding the
  good products the caller gives (e.g. a generated sol's ``raw/`` folder);
- a raw-image JSON feed, ``<base>/feed.json``, holding three small good PNG products with their
  metadata (the raw-images API's item shape).

Next to them, each :data:`CASES` entry is one attack, served by name. Names built to escape the
staging folder (``../``, absolute paths into ``escape_dir``, NUL bytes raw and ``%00``-encoded,
a 300-byte name, a 5000-byte name); transfers that lie (a ``Content-Length`` shorter and longer
than the body), never end (an endless body, a body dripping a few bytes at a time), redirect to
another host or to ``file://``, or expand (a gzip ``Content-Encoding`` bomb, a gzip file served as
an ``.IMG``); labels of 100 MB (a detached ``.LBL`` with and without a ``Content-Length``, an
attached label without ``END``); a feed item whose metadata sidecar is larger than a label may be.

Every case names the outcomes that count as refused: ``refused`` or ``failed`` in the
:class:`~rovercam.sources.FetchResult`, or ``quarantined`` by ingest (the gzip file, which the
readers refuse without expanding it). Big bodies are generated as they are sent, never held in
memory. :func:`tree_snapshot` and :func:`outside_writes` check that nothing was written outside
the staging folder. Nothing here imports Prefect; the server needs the standard library only
(the feed's PNGs need OpenCV).
"""
from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import json
import os
import socket
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = ["HostileCase", "HostileServer", "CASES", "hostile_server", "tree_snapshot",
           "outside_writes"]

Kind = Literal["volume", "feed"]
Outcome = Literal["refused", "failed", "quarantined"]

_BLOCK = 64 * 1024
_BOTH: tuple[Kind, ...] = ("volume", "feed")
_SUFFIX = {"volume": ".IMG", "feed": ".png"}
# the camera model of a real Mars 2020 Navcam product (sol 670), rounded: a readable sidecar
_MODEL = ("(0.95,0.35,-1.89);(0.82,0.029,0.566);(2041.2,3032.24,1457.62);(-71.09,9.02,3538);"
          "(0.824,0.0305,0.5657);(1.7e-06,0.05,-0.017);(-8e-09,1e-08,-2.9e-08);2;0.0")


@dataclass(frozen=True, slots=True)
class HostileCase:
    """One attack.

    Attributes
    ----------
    name : str
        Short id (``"traversal"``, ``"gzip-bomb"``).
    attack : str
        What the server does, in words.
    kinds : tuple of {"volume", "feed"}
        The sources that serve it.
    outcomes : tuple of {"refused", "failed", "quarantined"}
        What counts as refused: in ``FetchResult.refused``, in ``FetchResult.failed`` (a
        transfer error after retries, e.g. a body shorter than declared), or quarantined by
        ingest with a reason.
    """

    name: str
    attack: str
    kinds: tuple[Kind, ...]
    outcomes: tuple[Outcome, ...] = ("refused",)


#: The attacks served, in order.
CASES: tuple[HostileCase, ...] = (
    HostileCase("traversal", "a name with ../ components (percent-encoded)", _BOTH),
    HostileCase("absolute", "an absolute path into escape_dir (percent-encoded)", _BOTH),
    HostileCase("nul-raw", "a raw NUL byte in the name", _BOTH),
    HostileCase("nul-encoded", "a %00-encoded NUL byte in the name", _BOTH),
    HostileCase("long-name", "a 300-byte file name (NAME_MAX is 255)", _BOTH),
    HostileCase("long-path", "a 5000-byte name (PATH_MAX is 4096)", _BOTH),
    HostileCase("length-short", "Content-Length half the body; the whole body sent", _BOTH),
    HostileCase("length-long", "Content-Length 4 KiB more than the body, then closed", _BOTH,
                ("failed", "refused")),
    HostileCase("endless", "no Content-Length, 64 KiB blocks for ever", _BOTH),
    HostileCase("drip", "no Content-Length, 512 bytes every drip interval for ever", _BOTH),
    HostileCase("redirect-host", "302 to the same server under another host name", _BOTH),
    HostileCase("redirect-scheme", "302 to file:///etc/passwd", _BOTH),
    HostileCase("gzip-bomb", "Content-Encoding: gzip, expanding to bomb_bytes", _BOTH),
    HostileCase("gzip-file", "a gzip bomb served as an .IMG, no Content-Encoding", ("volume",),
                ("quarantined", "refused")),
    HostileCase("label-100mb", "a detached .LBL of label_bytes, Content-Length declared",
                ("volume",)),
    HostileCase("label-100mb-stream", "a detached .LBL of label_bytes, no Content-Length",
                ("volume",)),
    HostileCase("attached-label-100mb", "an .IMG whose attached label is label_bytes with no END",
                ("volume",), ("refused", "quarantined")),
    HostileCase("big-sidecar", "a feed item whose metadata sidecar is sidecar_bytes", ("feed",)),
)


@dataclass
class HostileServer:
    """The running server: where the sol is and what it lists.

    ``listed[kind][case]`` is the product name :meth:`rovercam.sources.Source.list` gives for a
    case, ``good[kind]`` the names of the good products; ``requests`` counts (method, path).
    """

    base_url: str
    sol: int
    escape_dir: Path
    cases: tuple[HostileCase, ...]
    good: dict[str, list[str]] = field(default_factory=dict)
    listed: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)

    @property
    def volume_url(self) -> str:
        """The HTTP volume's root (``<base>/vol/``)."""
        return f"{self.base_url}/vol/"

    @property
    def feed_url(self) -> str:
        """The raw-image feed (``<base>/feed.json``)."""
        return f"{self.base_url}/feed.json"

    def case_names(self, kind: Kind) -> list[str]:
        """The cases ``kind`` serves, in order."""
        return [c.name for c in self.cases if kind in c.kinds]


def _gzip_bomb(expanded: int) -> bytes:
    """A gzip stream of ``expanded`` zero bytes (whole MiB), as concatenated members: ~1 KiB per
    MiB, built without ever holding the expanded bytes."""
    member = gzip.compress(bytes(1 << 20), compresslevel=9, mtime=0)
    return member * max(1, expanded >> 20)


def _label_blocks(total: int, *, attached: bool) -> Iterator[bytes]:
    """``total`` bytes of an ODL label that never ends: a header, then comment lines."""
    head = (b"PDS_VERSION_ID = PDS3\r\nRECORD_TYPE = FIXED_LENGTH\r\n" if attached else
            b"PDS_VERSION_ID = PDS3\r\nRECORD_TYPE = FIXED_LENGTH\r\n^IMAGE = \"HOSTILE.IMG\"\r\n")
    line = b"/* padding padding padding padding padding padding padding padding */\r\n"
    block = head + line * ((_BLOCK - len(head)) // len(line))
    block += b" " * (_BLOCK - len(block))
    sent = 0
    while sent < total:
        chunk = block[: total - sent]
        sent += len(chunk)
        yield chunk


def _feed_item(sol: int, pid: str, image_url: str, **extra: Any) -> dict[str, Any]:
    return {"imageid": pid[:-2], "sol": sol, "site": 32, "drive": "604", "sample_type": "Full",
            "camera": {"instrument": "NAVCAM_LEFT", "filter_name": "UNK",
                       "camera_model_type": "CAHVORE", "camera_model_component_list": _MODEL},
            "extended": {"scaleFactor": "1", "subframeRect": "(1,1,16,12)"},
            "image_files": {"full_res": image_url}, **extra}


def _good_pngs(sol: int, n: int = 3) -> dict[str, bytes]:
    import cv2

    rng = np.random.default_rng(sol)
    out = {}
    for i in range(n):
        pid = f"NLF_{sol:04d}_07264214{i:02d}_362ECM_N0320604NCAM08111_01_095J01"
        _, png = cv2.imencode(".png", rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
        out[f"{pid}.png"] = png.tobytes()
    return out


def _escape_names(case: str, kind: Kind, escape_dir: Path) -> tuple[str, str] | None:
    """(href as written in the listing or feed, name as the source decodes it) of a name case."""
    suffix = _SUFFIX[kind]
    q = functools.partial(urllib.parse.quote, safe="")
    if case == "traversal":
        name = f"../../../escape_traversal{suffix}"
        return q(name), name
    if case == "absolute":
        name = str(escape_dir / f"escape_absolute{suffix}")
        return q(name), name
    if case == "nul-raw":
        name = f"escape_nulraw\x00{suffix}"
        return name, name
    if case == "nul-encoded":
        name = f"escape_nulpct\x00{suffix}"
        return q(name), name
    if case == "long-name":
        name = "L" * 300 + suffix
        return name, name
    if case == "long-path":
        name = "P" * 5000 + suffix
        return name, name
    return None


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes: listings, the feed, good files, and one behaviour per hostile file name."""

    server_version = "hostile/1"
    timeout = 30
    site: dict[str, Any]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        site = self.site
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        with site["lock"]:
            site["requests"][(self.command, path)] += 1
        try:
            route = site["routes"].get(path)
            if route is None:
                self._send(404, b"not found\n", "text/plain", body=body)
            else:
                route(self, body)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
            pass  # the client refused the rest: what it should do

    def _send(self, status: int, data: bytes, ctype: str, *, body: bool,
              length: int | None = None, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _stream(self, blocks: Iterable[bytes], *, body: bool, length: int | None = None,
                delay_s: float = 0.0) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        if not body:
            return
        stop: threading.Event = self.site["stop"]
        for block in blocks:
            if stop.is_set():
                break
            self.wfile.write(block)
            self.wfile.flush()
            if delay_s:
                time.sleep(delay_s)
        self.close_connection = True


def _forever(block: bytes) -> Iterator[bytes]:
    while True:
        yield block


def _routes(state: HostileServer, good_files: dict[str, bytes], pngs: dict[str, bytes], *,
            label_bytes: int, bomb_bytes: int, sidecar_bytes: int, drip_interval_s: float,
            port: int) -> dict[str, Callable[[_Handler, bool], None]]:
    """Every path the server answers, and the listing and feed that name them."""
    sol_path = f"/vol/DATA/SOL{state.sol:05d}/"
    routes: dict[str, Callable[[_Handler, bool], None]] = {}
    bomb = _gzip_bomb(bomb_bytes)

    def page(data: bytes, ctype: str) -> Callable[[_Handler, bool], None]:
        return lambda h, body: h._send(200, data, ctype, body=body)

    def listing(hrefs: Iterable[str]) -> Callable[[_Handler, bool], None]:
        links = "".join(f'<a href="{h}">{h[:40]}</a>\n' for h in hrefs)
        return page(f"<html><body><a href=\"../\">Parent</a>\n{links}</body></html>\n"
                    .encode("utf-8", "surrogatepass"), "text/html; charset=utf-8")

    def transfer(case: str, sample: bytes, url_path: str) -> Callable[[_Handler, bool], None]:
        if case == "length-short":
            return lambda h, body: h._send(200, sample, "application/octet-stream", body=body,
                                           length=len(sample) // 2)
        if case == "length-long":
            return lambda h, body: h._send(200, sample, "application/octet-stream", body=body,
                                           length=len(sample) + 4096)
        if case == "endless":
            return lambda h, body: h._stream(_forever(b"\x00" * _BLOCK), body=body)
        if case == "drip":
            return lambda h, body: h._stream(_forever(b"\x00" * 512), body=body,
                                             delay_s=drip_interval_s)
        if case in ("redirect-host", "redirect-scheme"):
            target = (f"http://localhost:{port}{url_path}" if case == "redirect-host"
                      else "file:///etc/passwd")
            return lambda h, body: h._send(302, b"", "text/plain", body=body,
                                           headers=[("Location", target)])
        if case == "gzip-bomb":
            return lambda h, body: h._send(200, bomb, "application/octet-stream", body=body,
                                           headers=[("Content-Encoding", "gzip")])
        if case == "gzip-file":
            return page(bomb, "application/octet-stream")
        if case in ("label-100mb", "attached-label-100mb"):
            attached = case.startswith("attached")
            return lambda h, body: h._stream(_label_blocks(label_bytes, attached=attached),
                                             body=body, length=label_bytes)
        if case == "label-100mb-stream":
            return lambda h, body: h._stream(_label_blocks(label_bytes, attached=False),
                                             body=body)
        raise ValueError(f"unknown case {case!r}")

    # the volume
    first_good, first_bytes = next(iter(good_files.items()))
    hrefs = [urllib.parse.quote(n) for n in good_files]
    for name, data in good_files.items():
        routes[sol_path + name] = page(data, "application/octet-stream")
    state.good["volume"] = list(good_files)
    state.listed["volume"] = {}
    for case in state.case_names("volume"):
        names = _escape_names(case, "volume", state.escape_dir)
        if names is not None:
            href, name = names
        else:
            stem = "HOSTILE_" + case.upper().replace("-", "_")
            name = f"{stem}.LBL" if case.startswith("label-") else f"{stem}.IMG"
            href = name
            routes[sol_path + name] = transfer(case, first_bytes, sol_path + first_good)
            if name.endswith(".LBL"):  # its data file is fine: the label is the attack
                routes[sol_path + f"{stem}.IMG"] = page(first_bytes, "application/octet-stream")
                hrefs.append(f"{stem}.IMG")
        hrefs.append(href)
        state.listed["volume"][case] = name
    routes["/vol/"] = listing(["DATA/"])
    routes["/vol/DATA/"] = listing([f"SOL{state.sol:05d}/"])
    routes[sol_path] = listing(hrefs)

    # the feed
    items = []
    first_png, png_bytes = next(iter(pngs.items()))
    for name, data in pngs.items():
        routes["/img/" + name] = page(data, "image/png")
        items.append(_feed_item(state.sol, name[:-4], "/img/" + name))
    state.good["feed"] = list(pngs)
    state.listed["feed"] = {}
    pid = first_png[:-4]
    for case in state.case_names("feed"):
        names = _escape_names(case, "feed", state.escape_dir)
        extra: dict[str, Any] = {}
        if names is not None:
            href, name = names
        else:
            name = href = "HOSTILE_" + case.upper().replace("-", "_") + ".png"
            if case == "big-sidecar":
                routes["/img/" + name] = page(png_bytes, "image/png")
                extra["notes"] = "x" * sidecar_bytes
            else:
                routes["/img/" + name] = transfer(case, png_bytes, "/img/" + first_png)
        items.append(_feed_item(state.sol, pid, "/img/" + href, **extra))
        state.listed["feed"][case] = name
    routes["/feed.json"] = page(json.dumps({"images": items, "type": "mars2020"}).encode(),
                                "application/json")
    return routes


@contextlib.contextmanager
def hostile_server(products: str | os.PathLike[str], *, sol: int,
                   escape_dir: str | os.PathLike[str], cases: Iterable[str] | None = None,
                   label_bytes: int = 100 << 20, bomb_bytes: int = 1 << 30,
                   sidecar_bytes: int = 5 << 20,
                   drip_interval_s: float = 0.05) -> Iterator[HostileServer]:
    """Serve a sol of good products and the :data:`CASES` attacks on a free 127.0.0.1 port.

    Parameters
    ----------
    products : path-like
        A folder of good product files for the volume (e.g. a generated sol's ``raw/``); the
        first one (by name) is also the body of the transfer attacks.
    sol : int
        The sol served (folder ``SOL<NNNNN>`` and the feed items' ``sol``).
    escape_dir : path-like
        Where the ``absolute`` names point (``<escape_dir>/escape_absolute.IMG``): a folder the
        caller watches with :func:`tree_snapshot`.
    cases : iterable of str, optional
        Names of the cases to serve (default all of :data:`CASES`).
    label_bytes, bomb_bytes, sidecar_bytes : int
        Size of the 100 MB labels, the gzip bomb's expanded size, the big sidecar's field.
    drip_interval_s : float
        Seconds between the drip case's 512-byte blocks.

    Yields
    ------
    HostileServer
    """
    wanted = None if cases is None else set(cases)
    chosen = tuple(c for c in CASES if wanted is None or c.name in wanted)
    if wanted is not None and len(chosen) != len(wanted):
        raise ValueError(f"unknown cases {sorted(wanted - {c.name for c in chosen})}; "
                         f"known: {[c.name for c in CASES]}")
    good_files = {p.name: p.read_bytes() for p in sorted(Path(products).iterdir()) if p.is_file()}
    if not good_files:
        raise ValueError(f"{products}: no product files to serve")
    site: dict[str, Any] = {"lock": threading.Lock(), "requests": Counter(),
                            "stop": threading.Event(), "routes": {}}
    handler = type("HostileHandler", (_Handler,), {"site": site})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    port = server.server_address[1]
    state = HostileServer(base_url=f"http://127.0.0.1:{port}", sol=sol,
                          escape_dir=Path(escape_dir), cases=chosen, requests=site["requests"])
    site["routes"] = _routes(state, good_files, _good_pngs(sol), label_bytes=label_bytes,
                             bomb_bytes=bomb_bytes, sidecar_bytes=sidecar_bytes,
                             drip_interval_s=drip_interval_s, port=port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield state
    finally:
        site["stop"].set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def tree_snapshot(folder: str | os.PathLike[str]) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder``: ``{absolute path: (size, mtime_ns)}``
    (symlinks not followed)."""
    out: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in (*dirnames, *filenames):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[path] = (st.st_size if not os.path.isdir(path) else 0, st.st_mtime_ns)
    return out


def outside_writes(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]],
                   allowed: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Paths created or changed between two :func:`tree_snapshot` of one folder that are not
    under one of the ``allowed`` folders (nor one of their parents), sorted."""
    inside = [os.path.abspath(a) for a in allowed]

    def ok(path: str) -> bool:
        return any(os.path.commonpath([path, a]) in (a, path) for a in inside)

    return sorted(p for p, v in after.items() if before.get(p) != v and not ok(p))
