"""Stereo and terrain products in a real browser: a range map in false colour with its legend and
readout, and a mesh in the 3-D view.

Truth: the analytic scene the fixture publishes (rovercam.testing.stereo.plane_scene) gives
the stored value of every pixel; the flat view's geometry (docs/viewer.md: screen offset u px
from the canvas centre is image x = view.x + u / zoom) gives the pixel under the mouse; viridis
has monotonically rising lightness (van der Walt and Smith 2015), so a correct colouring is
brighter where the range is longer; the analytic mesh's vertex and face counts.
Set ROVERCAM_UPDATE_SCREENSHOTS=1 to refresh docs/images/viewer-range.png and viewer-mesh.png.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_browser import _canvas, _readout, _settle, page  # noqa: F401  (page: the fixture)

from rovercam.testing.stereo import analytic_mesh, plane_scene

SCENE = plane_scene()
REPO = Path(__file__).resolve().parents[2]


def _shot(page, name: str, tmp_path: Path) -> None:  # noqa: F811
    """Save a screenshot of the page (docs/images with ROVERCAM_UPDATE_SCREENSHOTS=1)."""
    path = tmp_path / name
    page.screenshot(path=str(path))
    img = cv2.imread(str(path))
    assert img is not None and img.std() > 10
    if os.environ.get("ROVERCAM_UPDATE_SCREENSHOTS"):
        cv2.imwrite(str(REPO / "docs" / "images" / name), img)


def _open_field(page, url: str, output_id: str, query: str) -> dict:  # noqa: F811
    page.goto(f"{url}#/view/{output_id}?{query}")
    page.wait_for_function("window.rovercamViewer && window.rovercamViewer.status().baseComplete", timeout=20000)
    return _settle(page)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.2126, 0.7152, 0.0722])


def test_range_map_renders_in_false_colour_with_a_legend(page, stereo_url, stereo_store, tmp_path):  # noqa: F811
    status = _open_field(page, stereo_url, stereo_store.stereo_id, "product=range.tif&min=2&max=12")
    assert status["field"] == {**status["field"], "min": 2, "max": 12, "cmap": "viridis"}
    legend = page.inner_text("#legend")
    assert "RANGE (m)" in legend and "stored range" in legend
    assert page.input_value("#legend input[name=min]") == "2" and page.input_value("#legend input[name=max]") == "12"
    bar = page.evaluate("(() => { const c = document.querySelector('#legend .colorbar'); return [c.width, c.toDataURL()]; })()")
    assert bar[0] == 256
    img = _canvas(page)
    w, h, v = status["width"], status["height"], status["view"]
    # canvas pixel (i, j) shows image pixel x = v.x + (i + 1/2 - w/2) / zoom (flat view)
    j, i = np.mgrid[0:h, 0:w]
    x = np.round(v["x"] + (i + 0.5 - w / 2) / v["zoom"]).astype(int)
    y = np.round(v["y"] + (j + 0.5 - h / 2) / v["zoom"]).astype(int)
    on = (x >= 2) & (x < 638) & (y >= 2) & (y < 478)
    r = np.full((h, w), np.nan)
    r[on] = SCENE.range[y[on], x[on]]
    sel = np.isfinite(r) & (r > 2.3) & (r < 11.7)  # inside the window, away from its clipped ends
    lum = _luma(img)[sel]
    # viridis lightness rises with the value: rank correlation of brightness and true range
    rank = lambda a: np.argsort(np.argsort(a))  # noqa: E731
    rho = np.corrcoef(rank(lum), rank(r[sel]))[0, 1]
    assert rho > 0.95, rho
    sky = cv2.erode((np.isnan(r) & on).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0  # away from the edge
    assert sky.sum() > 1000 and np.abs(img[sky] - 0.2 * 255).max() <= 2  # no data: dark gray
    _shot(page, "viewer-range.png", tmp_path)
    # a new window from the legend's inputs re-colours without new tiles
    page.fill("#legend input[name=max]", "30")
    page.dispatch_event("#legend input[name=max]", "change")
    page.wait_for_function("window.rovercamViewer.status().field.max === 30")
    _settle(page)
    assert np.abs(_canvas(page) - img).mean() > 5


@pytest.mark.parametrize("cx, cy", [(320, 300), (120.5, 250.25), (500, 340)])  # canvas 640 x ~380
def test_readout_gives_the_stored_range_at_the_pixel_under_the_cursor(page, stereo_url, stereo_store, cx, cy):  # noqa: F811
    status = _open_field(page, stereo_url, stereo_store.stereo_id, "product=range.tif")
    text, cx, cy, w, h = _readout(page, cx, cy)
    v = status["view"]
    x_t, y_t = v["x"] + (cx - w / 2) / v["zoom"], v["y"] + (cy - h / 2) / v["zoom"]
    m = re.search(r"RANGE (\S+) m · px (\d+), (\d+)", text)
    assert m, text
    x, y = int(m.group(2)), int(m.group(3))
    assert abs(x - x_t) <= 0.5 + 1e-3 and abs(y - y_t) <= 0.5 + 1e-3, (text, x_t, y_t)  # the nearest centre
    assert float(m.group(1)) == pytest.approx(float(SCENE.range[y, x]), rel=5e-4)  # 4 significant digits


def test_readout_of_xyz_gives_every_band_with_its_units(page, stereo_url, stereo_store):  # noqa: F811
    status = _open_field(page, stereo_url, stereo_store.stereo_id, "product=xyz.tif&band=3")
    assert page.inner_text("#legend").startswith("Z (m)")
    text, *_ = _readout(page, status["width"] / 2, status["height"] * 0.8)
    m = re.search(r"X (\S+) m Y (\S+) m Z (\S+) m · px (\d+), (\d+)", text)
    assert m, text
    x, y = int(m.group(4)), int(m.group(5))
    got = [float(m.group(k)) for k in (1, 2, 3)]
    np.testing.assert_allclose(got, SCENE.xyz[y, x], rtol=5e-4, atol=5e-4 * float(np.abs(SCENE.xyz[y, x]).max()))


def test_normals_show_as_rgb(page, stereo_url, stereo_store):  # noqa: F811
    status = _open_field(page, stereo_url, stereo_store.stereo_id, "product=normals.tif")
    assert status["field"] is None and "R = NX" in page.inner_text("#legend")
    img = _canvas(page)
    want = 255 * (SCENE.normals[-1, 0] + 1) / 2  # one plane: one normal everywhere
    centre = img[int(status["height"] * 0.8), status["width"] // 2]
    assert np.abs(centre - want).max() <= 2


def test_mesh_renders_in_3d_and_orbits_with_the_mouse(page, stereo_url, stereo_store, tmp_path):  # noqa: F811
    page.goto(f"{stereo_url}#/view/{stereo_store.stereo_id}?product=mesh.glb")
    page.wait_for_function("window.rovercamMesh && window.rovercamMesh.status().ready && window.rovercamMesh.status().frames > 0",
                           timeout=20000)
    s = page.evaluate("window.rovercamMesh.status()")
    mesh = analytic_mesh()
    assert (s["vertices"], s["triangles"]) == (len(mesh.vertices), len(mesh.faces))
    np.testing.assert_allclose(s["bounds"], [mesh.bounds[0], mesh.bounds[1]], atol=1e-5)  # m
    before = _canvas(page)
    background = np.array([0.08, 0.08, 0.1]) * 255
    covered = (np.abs(before - background).max(axis=2) > 8).mean()
    assert 0.05 < covered < 0.95 and before.std() > 10, covered  # the mesh, not a blank canvas
    _shot(page, "viewer-mesh.png", tmp_path)
    box = page.locator("#view").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 120, cy + 20, steps=6)
    page.mouse.up()
    page.wait_for_function(f"window.rovercamMesh.status().frames > {s['frames']}")
    after = page.evaluate("window.rovercamMesh.status()")
    assert after["view"]["yaw"] == pytest.approx(30 - 0.4 * 120, abs=1) and after["view"]["pitch"] > 30
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert np.abs(_canvas(page) - before).mean() > 3  # the view turned
    page.mouse.wheel(0, 300)  # zoom out
    page.wait_for_function(f"window.rovercamMesh.status().view.dist > {after['view']['dist']}")


def test_terrain_output_opens_its_heights_and_its_mesh(page, stereo_url, stereo_store):  # noqa: F811
    page.goto(f"{stereo_url}#/output/{stereo_store.terrain_id}")
    page.wait_for_selector("a.button:text('mesh.glb (3-D)')")
    page.click("a.button:text('dem.tif')")
    page.wait_for_function("window.rovercamViewer && window.rovercamViewer.status().baseComplete", timeout=20000)
    assert page.inner_text("#legend").startswith("HEIGHT (m)")
    page.select_option("#product", "mesh.glb")
    page.wait_for_function("window.rovercamMesh && window.rovercamMesh.status().ready", timeout=20000)
