"""Cylindrical mosaics: geometry through the camera models, wrap at 360, blending, grid planning.

Truth: an analytic radiance field over directions, rendered into CAHV frames by unprojecting
every pixel; the mosaic must reproduce the field on its own grid.
"""
from __future__ import annotations

import numpy as np
import pytest

from rovercam.camera import CAHV
from rovercam.camera.coordinates import azimuth_elevation, direction_from_azimuth_elevation, matrix_to_quaternion
from rovercam.errors import MosaicError
from rovercam.metrics import psnr
from rovercam.mosaic import frame_geometry, plan_cylindrical, render_cylindrical
from rovercam.products.model import CoordinateSystem

W, H, F = 240, 180, 200.0  # px, px, focal length in px: ~62 x 48 deg field of view


def field(az_deg: np.ndarray, el_deg: np.ndarray) -> np.ndarray:
    """Band-limited radiance (3 bands): features of >= 2 deg, far above the ~0.29 deg pixel."""
    a, e = np.radians(az_deg), np.radians(el_deg)
    base = 0.04 + 0.01 * np.sin(3 * a) * np.cos(2 * e) + 0.006 * np.sin(40 * a + 3 * e) * np.cos(25 * e)
    return np.stack([base * 1.2, base, base * 0.7 + 0.005 * np.cos(60 * e)], axis=-1).astype(np.float32)


def pointing_camera(az_deg: float, el_deg: float) -> CAHV:
    """A CAHV camera at the origin looking at (az, el), rows level (frame: x fwd, y right, z down)."""
    a = direction_from_azimuth_elevation(np.array([az_deg]), np.array([el_deg]))[0]
    right = np.cross([0.0, 0.0, 1.0], a)
    right /= np.linalg.norm(right)
    down = np.cross(a, right)
    hc, vc = (W - 1) / 2, (H - 1) / 2
    return CAHV(c=(0.0, 0.0, 0.0), a=a, h=F * right + hc * a, v=F * down + vc * a)


def render(model: CAHV) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(W, dtype=float), np.arange(H, dtype=float))
    _, d = model.unproject(np.stack([xs.ravel(), ys.ravel()], 1))
    az, el = azimuth_elevation(d)
    return field(az, el).reshape(H, W, 3)


# The frames live in a rover frame rotated 30 deg in heading from SITE: the mosaic must chain it.
HEADING = np.radians(30.0)
R_SITE_ROVER = np.array([[np.cos(HEADING), -np.sin(HEADING), 0], [np.sin(HEADING), np.cos(HEADING), 0], [0, 0, 1]])
FRAMES = {
    "ROVER_NAV_FRAME": CoordinateSystem(
        "ROVER_NAV_FRAME", tuple(matrix_to_quaternion(R_SITE_ROVER)), (5.0, -3.0, 0.2), "SITE_FRAME"
    )
}


def pan(azimuths, el=-5.0):
    """(FrameGeometry in SITE, rendered image) for a pan taken in the rover frame."""
    out = []
    for i, az in enumerate(azimuths):
        rover_model = pointing_camera(az, el)
        geom = frame_geometry(f"F{i}", rover_model, "ROVER_NAV_FRAME", FRAMES, W, H)
        out.append((geom, render(geom.model)))
    return out


def test_full_pan_reproduces_the_field():
    frames = pan(np.arange(0, 360, 45.0))
    proj = plan_cylindrical([g for g, _ in frames])
    assert proj.width * proj.scale_deg == pytest.approx(360.0)  # closed circle detected
    mosaic = render_cylindrical(frames, proj, feather=0.5)
    az, el = proj.az_el_grid()
    truth = field(az, el)
    covered = np.isfinite(mosaic[..., 0])
    assert covered.mean() > 0.85
    # the bilinear resampling error of a 2-degree texture at 0.29 deg/px is small: > 40 dB
    assert psnr(mosaic, truth, data_range=0.06, mask=covered) > 40.0


def test_wrap_at_360_is_seamless():
    # frames straddling azimuth 0 (in SITE: rover heading adds 30 deg, so rover -30 deg = site 0)
    frames = pan([-30.0 - 20, -30.0 + 20])
    proj = plan_cylindrical([g for g, _ in frames])
    assert proj.width * proj.scale_deg < 360.0
    mosaic = render_cylindrical(frames, proj)
    az, el = proj.az_el_grid()
    covered = np.isfinite(mosaic[..., 0])
    assert covered[:, : proj.width // 2].mean() > 0.5 and covered[:, proj.width // 2 :].mean() > 0.5
    assert psnr(mosaic, field(az, el), data_range=0.06, mask=covered) > 40.0


def test_feathering_hides_a_gain_step():
    frames = pan([0.0, 40.0])
    frames[1] = (frames[1][0], frames[1][1] * 1.1)  # a 10% calibration mismatch
    proj = plan_cylindrical([g for g, _ in frames])
    hard = render_cylindrical(frames, proj, feather=0.0)
    soft = render_cylindrical(frames, proj, feather=0.5)
    row = proj.height // 2

    def max_step(img):
        ratio = img[row, :, 1] / field(*proj.az_el_grid())[row, :, 1]
        return np.nanmax(np.abs(np.diff(ratio)))

    assert max_step(soft) < 0.3 * max_step(hard)


def test_uncovered_pixels_are_nan_and_single_frame_is_exact_at_centre():
    frames = pan([10.0])
    proj = plan_cylindrical([g for g, _ in frames])
    mosaic = render_cylindrical(frames, proj)
    assert np.isnan(mosaic).any() and np.isfinite(mosaic).any()
    # the pixel looking along the frame's axis carries the frame's centre value
    g, img = frames[0]
    az0, el0 = azimuth_elevation(g.model.unproject(np.array([[(W - 1) / 2, (H - 1) / 2]]))[1])
    x = (az0[0] - proj.az_start_deg) / proj.scale_deg
    y = (proj.el_top_deg - el0[0]) / proj.scale_deg
    np.testing.assert_allclose(
        mosaic[int(round(y)), int(round(x))], field(np.array(proj.az_start_deg + round(x) * proj.scale_deg),
                                                     np.array(proj.el_top_deg - round(y) * proj.scale_deg)),
        rtol=0.02,  # one output pixel of texture slope
    )


def test_broken_frame_chain_is_a_mosaic_error():
    with pytest.raises(MosaicError, match="F0"):
        frame_geometry("F0", pointing_camera(0, 0), "RSM_HEAD_FRAME", FRAMES, W, H)
    with pytest.raises(MosaicError):
        plan_cylindrical([])
