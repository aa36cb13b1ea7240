"""The ``rovercam view`` web app: read-only HTTP over a :class:`~rovercam.viewer.library.Library`.

Routes (the static export writes the same paths as files, so the front end is the same)::

    GET /                                   the single-page app (index.html)
    GET /static/<asset>                     its packaged JS/CSS (a fixed list, read at start)
    GET /api/outputs.json                   every output's summary (catalog page)
    GET /api/outputs/<output_id>.json       one output: files, tags, lineage (product page)
    GET /tiles/<output_id>/<z>/<x>/<y>.jpg  8-bit sRGB pyramid tiles made from the COG
    GET /tiles/<output_id>/<file>/<band>/<z>/<x>/<y>.png   stereo and terrain rasters: 8-bit
                                            scalar tiles of band 1..B, or "rgb" (three bands),
                                            coloured by the browser (rovercam.viewer.fields)
    GET /api/outputs/<output_id>/value.json?az=..&el=..   (or ?x=..&y=..; &file=<raster> for
                                            one of several rasters) stored values at a
                                            direction or pixel, every band with its units
    GET /files/<output_id>/<file name>      a file the catalog lists for that output; one byte
                                            range per request (``Range``: 206, 416), so GDAL's
                                            ``/vsicurl/`` reads a served COG block by block;
                                            meshes as ``model/gltf-binary`` (the 3-D view)

Only GET and HEAD are answered (anything else: 405). Unknown outputs, files, tiles and any path
that would leave these routes (``..``, encoded slashes) get 404 or 400; nothing outside the
catalog's listed files is read. Outputs are immutable versions, so tiles and files are sent with
a long ``Cache-Control``; files carry their catalog sha256 as ``ETag`` (``If-Range`` honoured)
and are streamed in chunks (:mod:`rovercam.viewer.ranges`), never read whole into memory.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import socket
import threading
from collections.abc import Iterator
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from rovercam.viewer.library import Library, media_type
from rovercam.viewer.ranges import RangeNotSatisfiable, iter_file, parse_range

__all__ = ["create_app", "serve", "running_server", "static_assets"]

log = logging.getLogger(__name__)

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'"
    ),
}
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}


def static_assets() -> dict[str, bytes]:
    """The packaged front end: file name -> bytes (``index.html`` and the ``static/`` assets)."""
    out = {}
    root = resources.files("rovercam.viewer") / "static"
    for item in root.iterdir():
        if item.is_file() and not item.name.startswith("."):
            out[item.name] = item.read_bytes()
    return out


def _not_found(what: str = "not found") -> Response:
    return Response(what, status_code=404, media_type="text/plain")


class _ReadOnly:
    """ASGI middleware: 405 for every method but GET/HEAD; security headers on every answer."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in _SECURITY_HEADERS.items()]

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        if scope["method"] not in ("GET", "HEAD"):
            resp = Response("read-only: GET and HEAD only", status_code=405, media_type="text/plain",
                            headers={"Allow": "GET, HEAD"})
            await resp(scope, receive, send_with_headers)
            return
        raw = scope.get("raw_path") or scope["path"].encode()
        if b"\\" in raw or b"%5c" in raw.lower() or b"%2f" in raw.lower() or b"\x00" in raw:
            await Response("bad path", status_code=400, media_type="text/plain")(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def create_app(library: Library) -> Any:
    """The ASGI app serving ``library`` (see module notes for the routes)."""
    assets = static_assets()

    async def index(request: Request) -> Response:
        return Response(assets["index.html"], media_type="text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in assets or name == "index.html":
            return _not_found()
        return Response(assets[name], media_type=media_type(name))

    async def outputs(request: Request) -> Response:
        await run_in_threadpool(library.refresh)
        return JSONResponse(await run_in_threadpool(library.index))

    async def output(request: Request) -> Response:
        doc = await run_in_threadpool(library.detail, request.path_params["output_id"])
        return JSONResponse(doc) if doc is not None else _not_found("no such output")

    async def tile(request: Request) -> Response:
        p = request.path_params
        data = await run_in_threadpool(library.tile, p["output_id"], p["z"], p["x"], p["y"])
        if data is None:
            return _not_found("no such tile")
        return Response(data, media_type="image/jpeg", headers=_IMMUTABLE)

    async def file(request: Request) -> Response:
        p = request.path_params
        opened = await run_in_threadpool(library.open_file, p["output_id"], p["name"])
        if opened is None:
            return _not_found("no such file")
        f, size = opened
        sha = library.file_checksum(p["output_id"], p["name"])
        headers = {**_IMMUTABLE, "Accept-Ranges": "bytes"}
        if sha:
            headers["ETag"] = f'"{sha}"'
        header = request.headers.get("range")
        if_range = request.headers.get("if-range")
        if if_range is not None and if_range.strip() != headers.get("ETag"):
            header = None  # the client's copy is another version: send the whole file
        try:
            rng = parse_range(header, size)
        except RangeNotSatisfiable:
            f.close()
            return Response(b"", status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        start, length, status = (0, size, 200) if rng is None else (rng.start, rng.length, 206)
        if rng is not None:
            headers["Content-Range"] = rng.content_range
        headers["Content-Length"] = str(length)
        if request.method == "HEAD":
            f.close()
            return Response(b"", status_code=status, headers=headers, media_type=media_type(p["name"]))
        return StreamingResponse(iter_file(f, start, length), status_code=status, headers=headers,
                                 media_type=media_type(p["name"]))

    async def field_tile(request: Request) -> Response:
        p = request.path_params
        data = await run_in_threadpool(library.field_tile, p["output_id"], p["name"], p["band"],
                                       p["z"], p["x"], p["y"])
        if data is None:
            return _not_found("no such tile")
        return Response(data, media_type="image/png", headers=_IMMUTABLE)

    async def value(request: Request) -> Response:
        q = request.query_params
        try:
            coords = {k: float(q[k]) for k in ("az", "el", "x", "y") if k in q}
            doc = await run_in_threadpool(functools.partial(
                library.value_at, request.path_params["output_id"], az_deg=coords.get("az"),
                el_deg=coords.get("el"), x=coords.get("x"), y=coords.get("y"), file=q.get("file")))
        except ValueError as exc:
            return Response(str(exc), status_code=400, media_type="text/plain")
        return JSONResponse(doc, headers=_IMMUTABLE) if doc is not None else _not_found("no such output")

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/api/outputs.json", outputs, methods=["GET"]),
        Route("/api/outputs/{output_id}.json", output, methods=["GET"]),
        Route("/api/outputs/{output_id}/value.json", value, methods=["GET"]),
        Route("/tiles/{output_id}/{z:int}/{x:int}/{y:int}.jpg", tile, methods=["GET"]),
        Route("/tiles/{output_id}/{name}/{band}/{z:int}/{x:int}/{y:int}.png", field_tile, methods=["GET"]),
        Route("/files/{output_id}/{name}", file, methods=["GET"]),
    ]
    return _ReadOnly(Starlette(routes=routes))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(library: Library, *, host: str = "127.0.0.1", port: int = 8765,
          on_ready: Any = None) -> None:
    """Serve ``library`` until interrupted (uvicorn); ``on_ready(url)`` runs once listening."""
    import uvicorn

    sock = _bind(host, port)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}/"
    server = uvicorn.Server(uvicorn.Config(create_app(library), log_level="warning", access_log=False))
    if on_ready is not None:
        threading.Thread(target=_call_when_started, args=(server, on_ready, url), daemon=True).start()
    server.run(sockets=[sock])


def _call_when_started(server: Any, fn: Any, url: str) -> None:
    import time

    for _ in range(200):
        if server.started:
            fn(url)
            return
        time.sleep(0.05)


@contextlib.contextmanager
def running_server(library: Library, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the viewer in a background thread; yields its base URL (``http://127.0.0.1:PORT/``)."""
    import time

    import uvicorn

    sock = _bind(host, port)
    server = uvicorn.Server(uvicorn.Config(create_app(library), log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the viewer server did not start")
            time.sleep(0.02)
        yield f"http://{host}:{sock.getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
