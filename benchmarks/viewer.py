"""Viewer benchmark: time to first rendered view of a large panorama, and tile throughput.

Data: a procedural 360 x 180 degree equirectangular panorama (30000 x 15000 px, float32
radiance; 4096 x 2048 with ``quick``), written strip by strip with rasterio as a tiled
DEFLATE GeoTIFF (512 px blocks, float predictor) with averaged internal overviews: the layout
of a published COG, without ever holding the full float32 array (5.4 GB) in memory. It is
generated once per size and kept in the temporary folder (``generate_s`` is 0 on reuse).
It is cataloged as a mosaic in a scratch storage root and served by the viewer server.

Figures:

- ``first_view_s``: a fresh browser page (Playwright driving ``/usr/bin/chromium``, WebGL on
  SwiftShader when there is no GPU) navigates to the panorama's view URL; seconds from the
  start of navigation to the first frame drawn with panorama pixels (the coarse level), median
  of ``repeats`` runs, each on a freshly started server (no tile cache);
- ``base_view_s``: until the base level (<= 4096 px wide) is fully loaded;
- ``sharp_view_s``: until every tile the view needs at full zoom level is loaded;
- ``tiles_per_s``: uncached tiles served per second (distinct random tiles of the finest level,
  4 concurrent HTTP clients), ``cached_tiles_per_s`` the same tiles again from the cache;
- ``tile_ms_p50``: median single uncached tile latency, milliseconds.
Browser figures are None (with ``browser`` saying why) when Playwright or Chromium is missing.
"""
from __future__ import annotations

import concurrent.futures
import http.client
import logging
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from rovercam.testing import CHROMIUM, CHROMIUM_ARGS

__all__ = ["run", "write_procedural_panorama"]

log = logging.getLogger(__name__)

_WHITE = 0.08


def _display(az: np.ndarray, el: np.ndarray) -> np.ndarray:
    """Procedural scenery (8-bit display levels): sky gradient, ridges, a 1-degree grid, texture."""
    ground = el < 2.0 * np.sin(np.radians(az) * 3) + np.sin(np.radians(az) * 17)
    grid = ((np.abs(np.mod(az, 1.0) - 0.5) > 0.47) | (np.abs(np.mod(el, 1.0) - 0.5) > 0.47))
    tex = np.sin(np.radians(az) * 900) * np.sin(np.radians(el) * 900)
    r = np.where(ground, 150 + 40 * tex, 200 - 0.8 * el)
    g = np.where(ground, 110 + 30 * tex, 170 - 0.6 * el)
    b = np.where(ground, 80 + 20 * tex, 150 + 0.5 * el)
    rgb = np.stack([r, g, b], axis=-1)
    rgb[grid] = 40
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def write_procedural_panorama(path: Path, width: int) -> dict[str, str]:
    """Write the procedural equirectangular panorama (``width x width/2``) to ``path``.

    Returns
    -------
    dict
        The projection tags written into the file (``EquirectangularProjection.to_tags``).
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    from rovercam.mosaic.projections import EquirectangularProjection
    from rovercam.radiometry import srgb_decode

    proj = EquirectangularProjection.full_sphere(width)
    lut = (np.float32(_WHITE) * srgb_decode(np.arange(256, dtype=np.float32) / np.float32(255))).astype(np.float32)
    tags = {**proj.to_tags(), "DISPLAY_WHITE_RADIANCE": repr(_WHITE), "MOSAIC_NAME": "BENCH_EQR"}
    profile = dict(driver="GTiff", width=width, height=proj.height, count=3, dtype="float32", tiled=True,
                   blockxsize=512, blockysize=512, compress="DEFLATE", predictor=3, nodata=float("nan"),
                   interleave="pixel", BIGTIFF="YES", NUM_THREADS="ALL_CPUS")
    tmp = path.with_suffix(".partial.tif")
    with warnings.catch_warnings(), rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"):
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # rover-frame: tags, no CRS
        _write_strips(tmp, profile, proj, lut, tags)
    os.replace(tmp, path)
    return tags


def _write_strips(tmp: Path, profile: dict[str, Any], proj: Any, lut: np.ndarray, tags: dict[str, str]) -> None:
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.windows import Window

    width, height = proj.width, proj.height
    strip, chunk = 512, 4096
    with rasterio.open(tmp, "w", **profile) as dst:
        for row in range(0, height, strip):
            nrow = min(strip, height - row)
            for col in range(0, width, chunk):
                ncol = min(chunk, width - col)
                x = np.arange(col, col + ncol, dtype=np.float64)
                y = np.arange(row, row + nrow, dtype=np.float64)
                az = proj.az_start_deg + x * proj.scale_deg
                el = proj.el_top_deg - y * proj.scale_deg
                disp = _display(az[None, :], el[:, None])
                dst.write(np.moveaxis(lut[disp], 2, 0), window=Window(col, row, ncol, nrow))
        dst.update_tags(**tags)
        factors = [2 ** k for k in range(1, 16) if max(width, height) / 2 ** k >= 256]
        dst.build_overviews(factors, Resampling.average)


def _panorama(width: int) -> tuple[Path, float]:
    folder = Path(tempfile.gettempdir()) / "rovercam-bench-viewer"
    folder.mkdir(exist_ok=True)
    path = folder / f"pano_{width}x{width // 2}.tif"
    if path.is_file():
        return path, 0.0
    t0 = time.perf_counter()
    write_procedural_panorama(path, width)
    return path, time.perf_counter() - t0


def _library(root: Path, pano: Path) -> Any:
    from rovercam.catalog import Catalog
    from rovercam.storage import Store
    from rovercam.viewer import Library

    key = "sol00001/mosaics/BENCH_EQR/v1/BENCH_EQR.tif"
    dest = root / key
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        try:
            os.link(pano, dest)  # same bytes, no copy; a symlink would leave the root
        except OSError:
            import shutil

            shutil.copyfile(pano, dest)
    catalog = Catalog(f"sqlite:///{root / 'catalog.sqlite'}")
    if not catalog.outputs():
        catalog.record_output(output_id="BENCH-sol00001-BENCH_EQR-v1", name="BENCH_EQR", kind="mosaic", sol=1,
                              version=1, storage_keys={"BENCH_EQR.tif": key}, lineage={}, instrument="BENCHCAM")
    return Library(catalog, Store(str(root)))


def _get(host: str, port: int, path: str) -> int:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _tile_throughput(library: Any, output_id: str, n: int) -> dict[str, float]:
    from urllib.parse import urlsplit

    from rovercam.viewer import running_server

    grid = library.tile_source(output_id).grid
    z = grid.top
    rng = np.random.default_rng(0)
    nx, ny = grid.tile_counts(z)
    picks = {(int(rng.integers(nx)), int(rng.integers(ny))) for _ in range(4 * n)}
    paths = [f"/tiles/{output_id}/{z}/{x}/{y}.jpg" for x, y in sorted(picks)[:n]]
    with running_server(library) as url:
        u = urlsplit(url)
        one = []
        for p in paths[:8]:  # latency, one at a time (these 8 are then cached; skip them below)
            t0 = time.perf_counter()
            _get(u.hostname, u.port, p)
            one.append(1000 * (time.perf_counter() - t0))
        rest = paths[8:]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            t0 = time.perf_counter()
            codes = list(pool.map(lambda p: _get(u.hostname, u.port, p), rest))
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            list(pool.map(lambda p: _get(u.hostname, u.port, p), rest))
            warm = time.perf_counter() - t0
    if any(c != 200 for c in codes):
        raise RuntimeError(f"tile requests failed: {sorted(set(codes))}")
    return {"tiles_per_s": len(rest) / cold, "cached_tiles_per_s": len(rest) / warm,
            "tile_ms_p50": statistics.median(one), "tile_level": z}


def _browser_views(library_factory: Any, output_id: str, repeats: int) -> dict[str, Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"browser": "playwright is not installed (pip install 'rovercam[test]')"}
    if not os.path.exists(CHROMIUM):
        return {"browser": f"{CHROMIUM} is missing (apt-get install chromium)"}
    from rovercam.viewer import running_server

    first, base, sharp = [], [], []
    renderer = ""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(repeats):
            with running_server(library_factory()) as url:
                ctx = browser.new_context(viewport={"width": 1280, "height": 720}, bypass_csp=True)
                page = ctx.new_page()
                page.goto(f"{url}#/view/{output_id}?mode=rectilinear&yaw=20&pitch=0&fov=60")
                page.wait_for_function("window.rovercamViewer && window.rovercamViewer.status().sharpMs !== null "
                                       "&& window.rovercamViewer.status().baseMs !== null "
                                       "&& window.rovercamViewer.status().detailPending === 0", timeout=120000)
                s = page.evaluate("window.rovercamViewer.status()")
                first.append(s["firstFrameMs"] / 1000)
                sharp.append(s["sharpMs"] / 1000)
                base.append(s["baseMs"] / 1000)
                renderer = page.evaluate("""(() => { const g = document.createElement('canvas').getContext('webgl2');
                    const d = g.getExtension('WEBGL_debug_renderer_info');
                    return d ? g.getParameter(d.UNMASKED_RENDERER_WEBGL) : g.getParameter(g.RENDERER); })()""")
                detail = s["detailLevel"]
                ctx.close()
        browser.close()
    return {"first_view_s": statistics.median(first), "base_view_s": statistics.median(base),
            "sharp_view_s": statistics.median(sharp), "first_view_runs_s": [round(v, 3) for v in first],
            "detail_level": detail, "browser": f"chromium {renderer}"}


def run(*, quick: bool = False) -> dict[str, object]:
    """Generate (or reuse) the panorama, then measure the viewer. See the module notes."""
    width = 4096 if quick else 30000
    pano, generate_s = _panorama(width)
    root = Path(tempfile.mkdtemp(prefix="rovercam-bench-viewer-"))
    figures: dict[str, object] = {"width": width, "height": width // 2, "cog_mb": pano.stat().st_size / 1e6,
                                  "generate_s": generate_s}
    lib = _library(root, pano)
    oid = lib.ids()[0]
    figures.update(_browser_views(lambda: _library(root, pano), oid, repeats=1 if quick else 3))
    figures.update(_tile_throughput(_library(root, pano), oid, n=40 if quick else 200))
    figures.setdefault("first_view_s", None)
    figures.setdefault("tiles_per_s", None)
    figures["cpu_count"] = os.cpu_count()
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    return figures
