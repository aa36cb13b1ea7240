"""The viewer in a real browser: Playwright driving Debian's Chromium (WebGL on SwiftShader).

Truth: the synthetic panorama is analytic in (az, el) (conftest.display_of), so the expected
view is computed here in numpy from the projection definitions in docs/viewer.md, written with
rotation matrices in a north-east-up frame (not the shader's formulation), and compared with the
canvas by SSIM (Wang et al. 2004: gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, L 255).
"""
from __future__ import annotations

import base64
import functools
import http.server
import re
import threading

import cv2
import numpy as np
import pytest
from viewer_truth import PANO_WIDTH, SOL, UNITS, display_of, radiance_at_pixel

PANO_MODES = ["rectilinear", "fisheye", "architectural", "stereographic", "littleplanet", "panini"]
# The session fixture ``browser`` (tests/conftest.py) runs Debian's Chromium with WebGL on
# SwiftShader; it installs Chromium in CI as root and skips with the reason elsewhere.


@pytest.fixture
def page(browser):
    # bypass_csp: Playwright's wait_for_function evaluates strings, which the app's CSP forbids
    ctx = browser.new_context(viewport={"width": 640, "height": 480}, bypass_csp=True)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, errors


# ---------------------------------------------------------------------------- helpers

def _open_view(page, url: str, output_id: str, query: str) -> dict:
    page.goto(f"{url}#/view/{output_id}?{query}")
    page.wait_for_function("window.rovercamViewer && window.rovercamViewer.status().baseComplete", timeout=20000)
    return _settle(page)


def _settle(page) -> dict:
    """Wait until no tiles are pending and a frame was drawn after the last change."""
    page.wait_for_function("(() => { const s = window.rovercamViewer.status(); return s.detailPending === 0 && s.sharpMs !== null; })()",
                           timeout=20000)
    frames = page.evaluate("window.rovercamViewer.status().frames")
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.wait_for_function(f"window.rovercamViewer.status().frames >= {frames}")
    return page.evaluate("window.rovercamViewer.status()")


def _canvas(page) -> np.ndarray:
    """The canvas drawing buffer, (H, W, 3) RGB float64 0..255."""
    data = page.evaluate("document.getElementById('view').toDataURL('image/png')")
    png = base64.b64decode(data.split(",", 1)[1])
    bgr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return bgr[..., ::-1].astype(np.float64)


def _set_view(page, **view) -> np.ndarray:
    page.evaluate(f"window.rovercamViewer.setView({_js(view)})")
    page.wait_for_timeout(250)  # the detail planner waits 120 ms after the last change
    _settle(page)
    return _canvas(page)


def _js(d: dict) -> str:
    return "{" + ", ".join(f"{k}: {v!r}" if not isinstance(v, str) else f"{k}: '{v}'" for k, v in d.items()) + "}"


def expected_view(mode: str, yaw: float, pitch: float, fov: float, width: int, height: int) -> np.ndarray:
    """What the panorama looks like in ``mode`` (docs/viewer.md), (H, W, 3) float64 0..255.

    Screen pixel (i, j) (column, row from the top) has centre offset ``(i + 1/2 - W/2,
    H/2 - j - 1/2)`` px from the view centre, y up. Stereographic: radius ``r`` px maps to
    the angle ``2 atan(r / 2f)`` from the view axis with ``f = (W/2) / (2 tan(fov/4))``; little
    planet is the same with the axis at the nadir (pitch -90) and screen-up towards ``yaw``;
    rectilinear ``angle = atan(r / f)``, ``f = (W/2) / tan(fov/2)``.
    """
    j, i = np.mgrid[0:height, 0:width].astype(np.float64)
    az, el = view_az_el(mode, yaw, pitch, fov, width, i + 0.5 - width / 2, height / 2 - j - 0.5)
    return np.clip(display_of(az, el), 0, 255)


def view_az_el(mode: str, yaw: float, pitch: float, fov: float, width: int, u, v) -> tuple[np.ndarray, np.ndarray]:
    """(az, el) in degrees seen at offset ``(u, v)`` px from the view centre (y up) of a
    ``width``-px-wide view (docs/viewer.md; see :func:`expected_view`)."""
    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    r = np.hypot(u, v)
    if mode in ("stereographic", "littleplanet"):
        f = (width / 2) / (2 * np.tan(np.radians(fov) / 4))
        theta = 2 * np.arctan(r / (2 * f))
    elif mode == "rectilinear":
        f = (width / 2) / np.tan(np.radians(fov) / 2)
        theta = np.arctan(r / f)
    else:
        raise ValueError(mode)
    if mode == "littleplanet":
        pitch = -90.0
    with np.errstate(invalid="ignore", divide="ignore"):
        cu, cv = np.where(r > 0, u / r, 0), np.where(r > 0, v / r, 0)
    x_cam, y_cam, z_cam = np.sin(theta) * cu, np.sin(theta) * cv, np.cos(theta)  # right, up, forward
    y_r, p_r = np.radians(yaw), np.radians(pitch)
    # camera axes in the north-east-up frame: forward, right and up after yaw then pitch
    fwd = np.array([np.cos(p_r) * np.cos(y_r), np.cos(p_r) * np.sin(y_r), np.sin(p_r)])
    right = np.array([-np.sin(y_r), np.cos(y_r), 0.0])
    up = np.cross(fwd, right)  # north x east = up
    world = x_cam[..., None] * right + y_cam[..., None] * up + z_cam[..., None] * fwd
    az = np.degrees(np.arctan2(world[..., 1], world[..., 0]))
    el = np.degrees(np.arcsin(np.clip(world[..., 2], -1, 1)))
    return az, el


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two images (H, W) or (H, W, C) on a 0..255 scale, channels averaged."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim == 3:
        return float(np.mean([ssim(a[..., c], b[..., c]) for c in range(a.shape[2])]))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda x: cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(s[5:-5, 5:-5].mean())  # the full-window region


def test_ssim_is_one_for_identical_and_low_for_unrelated_images():
    rng = np.random.default_rng(0)
    a = rng.random((64, 64)) * 255
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-9)
    assert ssim(a, rng.random((64, 64)) * 255) < 0.1


# ---------------------------------------------------------------------------- tests

def test_catalog_page_lists_the_demo_sol_and_its_panoramas(page, server_url, viewer_store):
    page.goto(server_url)
    page.wait_for_selector(f"section.sol[data-sol='{SOL}']")
    cards = page.locator("a.card").evaluate_all("els => els.map(e => e.dataset.output)")
    assert sorted(cards) == sorted([viewer_store.left_id, viewer_store.right_id])
    page.fill("input[name=q]", "RIGHT")  # search narrows the list
    page.wait_for_function("document.querySelectorAll('a.card').length === 1")
    page.click("a.card")
    page.wait_for_selector("h2:text('Lineage')")
    text = page.inner_text("main")
    assert "SYN_SYNCAM_RIGHT_0001" in text and "SYNCAM_RIGHT" in text  # lineage and metadata


def test_panorama_opens_and_each_mode_renders_a_non_blank_view(page, server_url, viewer_store):
    status = _open_view(page, server_url, viewer_store.left_id, "mode=rectilinear&yaw=30&pitch=10&fov=90")
    assert status["view"] == {**status["view"], "mode": "rectilinear", "yaw": 30, "pitch": 10, "fov": 90}
    assert status["firstFrameMs"] is not None
    for mode in [*PANO_MODES, "flat"]:
        img = _set_view(page, mode=mode)
        covered = (img.sum(axis=2) > 30).mean()
        assert covered > 0.3 and img.std() > 20, (mode, covered, img.std())
    # the view state is in the URL: reopening it gives the same view
    page.evaluate("window.rovercamViewer.setView({mode: 'panini', yaw: -60, pitch: 5, fov: 120})")
    page.wait_for_function("location.hash.includes('mode=panini') && location.hash.includes('yaw=-60')")
    shared = page.url
    page.goto("about:blank")
    page.goto(shared)
    page.wait_for_function("window.rovercamViewer && window.rovercamViewer.status().baseComplete", timeout=20000)
    view = page.evaluate("window.rovercamViewer.status().view")
    assert (view["mode"], view["yaw"], view["pitch"], view["fov"]) == ("panini", -60, 5, 120)


@pytest.mark.parametrize("mode, yaw, pitch, fov", [
    ("littleplanet", 40.0, 0.0, 280.0),
    ("stereographic", -75.0, 20.0, 150.0),
])
def test_view_matches_the_geometry_computed_in_numpy(page, server_url, viewer_store, mode, yaw, pitch, fov):
    status = _open_view(page, server_url, viewer_store.left_id, f"mode={mode}&yaw={yaw}&pitch={pitch}&fov={fov}")
    shot = _canvas(page)
    expected = expected_view(mode, yaw, pitch, fov, status["width"], status["height"])
    score = ssim(shot, expected)
    assert score >= 0.9, score
    # the comparison can tell: the same view turned by 8 degrees scores clearly lower
    assert ssim(shot, expected_view(mode, yaw + 8, pitch, fov, status["width"], status["height"])) < score - 0.1


def test_zooming_in_loads_detail_tiles_at_the_right_place(page, server_url, viewer_store):
    # basemax=512 keeps the base level at 512 px, so a 30-degree view needs the finer levels
    status = _open_view(page, server_url, viewer_store.left_id, "mode=rectilinear&yaw=170&pitch=-10&fov=30&basemax=512")
    assert status["detailLevel"] is not None and status["detailLevel"] > status["baseLevel"]
    score = ssim(_canvas(page), expected_view("rectilinear", 170, -10, 30, status["width"], status["height"]))
    assert score >= 0.9, score  # across the azimuth seam at 180 degrees


def test_stereo_pair_renders_as_a_red_cyan_anaglyph(page, server_url, viewer_store):
    _open_view(page, server_url, viewer_store.left_id, f"mode=rectilinear&yaw=0&fov=90&stereo={viewer_store.right_id}")
    img = _canvas(page)
    assert np.abs(img[..., 1] - img[..., 2]).max() <= 2  # cyan = right eye's luminance in G and B
    assert np.abs(img[..., 0] - img[..., 1]).mean() > 2  # the eyes differ (the right is turned by 2 degrees)


def test_static_export_works_from_a_plain_web_server(browser, library, tmp_path, viewer_store):
    from rovercam.viewer import export_site

    result = export_site(library, tmp_path / "site")
    assert result.outputs == 2 and result.stac_items == 2
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(result.root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    ctx = browser.new_context(viewport={"width": 640, "height": 480}, bypass_csp=True)
    try:
        pg = ctx.new_page()
        base = f"http://127.0.0.1:{httpd.server_address[1]}/"
        pg.goto(base)
        pg.wait_for_selector(f"section.sol[data-sol='{SOL}']")
        status = _open_view(pg, base, viewer_store.left_id, "mode=littleplanet&yaw=40&fov=280")
        assert ssim(_canvas(pg), expected_view("littleplanet", 40, 0, 280, status["width"], status["height"])) >= 0.9
        # no value route on a static site: the readout still gives the direction, and no error
        pg.evaluate("window.rovercamViewer.setView({mode: 'rectilinear', yaw: 40, pitch: 0, fov: 90})")
        text, cx, cy, w, h = _readout(pg, status["width"] / 2, status["height"] / 2)
        az, el = view_az_el("rectilinear", 40, 0, 90, w, cx - w / 2, h / 2 - cy)
        assert _angles(text) == pytest.approx((float(az), float(el)), abs=0.01) and UNITS not in text
    finally:
        ctx.close()
        httpd.shutdown()


# ---------------------------------------------------------------------------- readout and scale

def _readout(page, cx: float, cy: float) -> tuple[str, float, float, int, int]:
    """Move the mouse near canvas point (cx, cy) (drawing-buffer px from its top-left); return
    the settled readout text, the canvas point the mouse is at and the canvas size. Chromium delivers mouse
    events at whole CSS pixels of the page, and the browser stretches the drawing buffer (whole
    px) over the canvas box (which may sit and end at fractions of a CSS pixel)."""
    box = page.locator("#view").bounding_box()
    w, h = page.evaluate("[document.getElementById('view').width, document.getElementById('view').height]")
    kx, ky = w / box["width"], h / box["height"]  # buffer px per CSS px
    mx, my = round(box["x"] + cx / kx), round(box["y"] + cy / ky)
    page.mouse.move(mx, my)
    page.wait_for_function("document.getElementById('readout').dataset.state === 'done'", timeout=10000)
    return page.inner_text("#readout"), (mx - box["x"]) * kx, (my - box["y"]) * ky, w, h


def _angles(text: str) -> tuple[float, float]:
    m = re.search(r"az (-?[\d.]+)° el (-?[\d.]+)°", text)
    assert m, text
    return float(m.group(1)), float(m.group(2))


def _scale(page) -> tuple[str, float]:
    return page.inner_text("#scale"), page.locator("#scale .scalebar").bounding_box()["width"]


def _expected_scale(deg_per_px: float) -> tuple[str, float]:
    """docs/viewer.md: the longest 1, 2 or 5 x 10^k degrees no longer than 120 px."""
    candidates = [k * 10.0**e for e in range(-4, 4) for k in (1, 2, 5)]
    deg = max(c for c in candidates if c / deg_per_px <= 120)
    return f"{deg:g}°", deg / deg_per_px


@pytest.mark.parametrize("cx, cy", [(320, 190), (75.5, 60.25), (600, 350), (410, 130)])  # canvas 640 x ~380
def test_readout_gives_az_el_and_the_stored_value_with_units(page, server_url, viewer_store, cx, cy):
    yaw, pitch, fov = 30.0, 10.0, 90.0
    _open_view(page, server_url, viewer_store.left_id, f"mode=rectilinear&yaw={yaw}&pitch={pitch}&fov={fov}")
    text, cx, cy, w, h = _readout(page, cx, cy)
    az_t, el_t = view_az_el("rectilinear", yaw, pitch, fov, w, cx - w / 2, h / 2 - cy)
    az, el = _angles(text)
    # 0.01 deg: the readout's two decimals (0.005) plus Chromium's pointer position rounding
    assert abs((az - float(az_t) + 180) % 360 - 180) <= 0.01 and el == pytest.approx(float(el_t), abs=0.01), text
    m = re.search(r"R (\S+) G (\S+) B (\S+) (.+?) · px (\d+), (\d+)", text)
    assert m and m.group(4) == UNITS, text
    x, y = int(m.group(5)), int(m.group(6))
    s = 360 / PANO_WIDTH  # the nearest pixel centre to the true direction (full_sphere grid)
    x_t, y_t = ((float(az_t) + 180) / s - 0.5) % PANO_WIDTH, (90 - float(el_t)) / s - 0.5
    assert abs((x - x_t + PANO_WIDTH / 2) % PANO_WIDTH - PANO_WIDTH / 2) <= 0.5 + 0.01 / s and abs(y - y_t) <= 0.5 + 0.01 / s
    values = [float(m.group(k)) for k in (1, 2, 3)]
    np.testing.assert_allclose(values, radiance_at_pixel(x, y), rtol=1e-3)  # 4 significant digits shown


def test_readout_in_the_flat_view_uses_the_panorama_grid(page, server_url, viewer_store):
    status = _open_view(page, server_url, viewer_store.left_id, "mode=flat&x=1024&y=300&zoom=2")
    text, cx, cy, w, h = _readout(page, status["width"] / 2 + 10, status["height"] / 2)  # about 5 panorama px right of x=1024
    x, y = 1024 + (cx - w / 2) / 2, 300 + (cy - h / 2) / 2  # zoom 2: two screen px per pixel
    s = 360 / PANO_WIDTH  # pixel x looks at az = -180 + (x + 1/2) s
    assert _angles(text) == pytest.approx(((-180 + (x + 0.5) * s) % 360, 90 - (y + 0.5) * s), abs=0.006), text
    assert f"px {round(x)}, {round(y)}" in text and UNITS in text


def test_scale_bar_shows_round_degrees_and_follows_the_zoom(page, server_url, viewer_store):
    status = _open_view(page, server_url, viewer_store.left_id, "mode=rectilinear&yaw=0&fov=90")
    w = status["width"]
    seen = []
    for fov in (90.0, 30.0, 4.0):
        page.evaluate(f"window.rovercamViewer.setView({{fov: {fov}}})")
        deg_per_px = np.degrees(np.tan(np.radians(fov) / 2) / (w / 2))  # 1/f at the centre, rectilinear
        label, width = _scale(page)
        want_label, want_px = _expected_scale(deg_per_px)
        assert label == want_label and width == pytest.approx(want_px, abs=1.0), (fov, label, width)
        seen.append(label)
    assert len(set(seen)) == 3
    page.mouse.move(w / 2, status["height"] / 2)
    page.mouse.wheel(0, 400)  # zoom out with the wheel: a larger angle per pixel
    page.wait_for_function("window.rovercamViewer.status().view.fov > 4.5")
    fov = page.evaluate("window.rovercamViewer.status().view.fov")
    assert _scale(page)[0] == _expected_scale(np.degrees(np.tan(np.radians(fov) / 2) / (w / 2)))[0]
    page.evaluate("window.rovercamViewer.setView({mode: 'flat', zoom: 0.5})")  # flat: s / zoom degrees per px
    label, width = _scale(page)
    want_label, want_px = _expected_scale(360 / PANO_WIDTH / 0.5)
    assert label == want_label and width == pytest.approx(want_px, abs=1.0)
