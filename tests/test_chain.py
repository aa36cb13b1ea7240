"""The frame chain, one stage at a time, against values computed from its definitions.

Truth sources: the inverse LUT table itself (decompand), the radiance equation
L = (DN - bias) / flat / (t * k) (flat), the configured colour matrices (color), and the camera
model's own projection (undistort).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rovercam import chain, config
from rovercam import radiometry as rad
from rovercam.camera import CAHV, CAHVORE
from rovercam.errors import CalibrationError, ProductError
from rovercam.products.model import CFA, Companding, FrameDefinition, Subframe

W, H = 64, 48


@pytest.fixture()
def cal_dir(tmp_path):
    lut = rad.design_sqrt_lut("M20_LUT2", in_bits=12)
    (tmp_path / "luts").mkdir()
    rad.write_lut(tmp_path / "luts" / "M20_LUT2.txt", lut)
    (tmp_path / "flats").mkdir()
    yy, xx = np.mgrid[0:H, 0:W]
    flat_img = (1.0 - 0.3 * (((xx - W / 2) / W) ** 2 + ((yy - H / 2) / H) ** 2)).astype(np.float32)
    rad.write_flat(tmp_path / "flats" / "NAVCAM_LEFT_flat.tif", flat_img)
    return tmp_path


@pytest.fixture()
def settings(cal_dir):
    return config.load(environ={}, overrides={"calibration": {"search_path": [str(cal_dir)]}})


def navcam_model() -> CAHVORE:
    # the real Mars 2020 Navcam-left model (camera_vectors.md §3) scaled to a 64x48 frame
    full = CAHVORE(
        c=(0.950849, 0.349753, -1.89429), a=(0.824195, 0.0290508, 0.565575), h=(2041.2, 3032.24, 1457.62),
        v=(-71.0941, 9.0217, 3538), o=(0.824089, 0.0304646, 0.565654), r=(1.736e-06, 0.0501396, -0.0171254),
        e=(-8e-09, 1e-08, -2.9e-08), mtype=2, mparm=0.0,
    )
    return full.scaled(W / 1288, H / 968)


def make_frame(image, **kw) -> chain.Frame:
    base = dict(
        product_id="NLM_0100_TEST", instrument="NAVCAM_LEFT", image=image, units="code",
        camera_model=navcam_model(), camera_frame="ROVER_NAV_FRAME",
        frames={"ROVER_NAV_FRAME": FrameDefinition("ROVER_NAV_FRAME", (1, 0, 0, 0), (0, 0, 0), "SITE_FRAME")},
        exposure_s=0.01, companding=Companding("SOFTWARE", "LUT2", "companded", 12),
        cfa=CFA("RGGB", "encoded"), subframe=Subframe(1, 1, H, W), downsample=(1, 1), sol=100,
    )
    base.update(kw)
    return chain.Frame(**base)


def test_decompand_uses_the_named_lut(settings, cal_dir):
    codes = np.arange(W * H, dtype=np.int64).reshape(H, W).astype(np.uint8)
    out = chain.decompand(make_frame(codes), settings)
    table = rad.load_lut(cal_dir / "luts" / "M20_LUT2.txt").values
    assert out.units == "dn" and out.image.dtype == np.uint16
    np.testing.assert_array_equal(out.image, table[codes])
    assert "M20_LUT2.txt" in out.provenance.calibration
    assert out.provenance.steps[-1].startswith("decompand: M20_LUT2")


def test_decompand_never_inverts_twice(settings):
    dn = np.full((H, W), 1000, np.uint16)
    f = make_frame(dn, units="dn", companding=Companding("SOFTWARE_INVERTED", "LUT2", "expanded", 12))
    out = chain.decompand(f, settings)
    assert out.image is dn and "not needed" in out.provenance.steps[-1]


def test_decompand_missing_lut_names_file_and_path(settings):
    f = make_frame(np.zeros((H, W), np.uint8), companding=Companding("SOFTWARE", "LUT9", "companded", 12))
    with pytest.raises(CalibrationError, match="LUT9"):
        chain.decompand(f, settings)


def test_debayer_respects_state_and_phase(settings):
    rgb = np.zeros((H, W, 3), np.float32)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 300, 200, 100
    # an odd first_sample shifts the phase: the detector's RGGB reads GRBG in this product
    raw = rad.mosaic(rgb, "GRBG").astype(np.uint16)
    f = make_frame(raw, units="dn", subframe=Subframe(1, 2, H, W))
    out = chain.debayer(f, settings)
    assert out.image.shape == (H, W, 3) and out.cfa.state == "decoded"
    np.testing.assert_allclose(out.image[4:-4, 4:-4], rgb[4:-4, 4:-4], atol=1e-3)  # DN, flat colour is exact
    assert chain.debayer(out, settings).image is out.image  # decoded frames pass through
    with pytest.raises(ProductError, match="binned"):
        chain.debayer(replace(f, downsample=(2, 2)), settings)


def test_flat_gives_radiance_by_the_equation(settings, cal_dir):
    cam = settings.camera("NAVCAM_LEFT")
    flat_img = rad.load_flat(cal_dir / "flats" / "NAVCAM_LEFT_flat.tif")
    truth = np.array([0.05, 0.04, 0.03], np.float32)  # W m^-2 sr^-1 nm^-1
    t = 0.01
    dn = truth * np.asarray(cam.responsivity, np.float32) * t * flat_img[..., None] + cam.bias_dn
    out = chain.flat(make_frame(dn.astype(np.float32), units="dn", exposure_s=t), settings)
    assert out.units == "radiance_camera"
    np.testing.assert_allclose(out.image, np.broadcast_to(truth, out.image.shape), rtol=1e-5)
    with pytest.raises(ProductError, match="exposure"):
        chain.flat(make_frame(dn.astype(np.float32), units="dn", exposure_s=0.0), settings)


def test_color_inverts_the_configured_crosstalk(settings):
    cam = settings.camera("NAVCAM_LEFT")
    srgb_from_camera = rad.SRGB_FROM_XYZ @ np.asarray(cam.xyz_from_camera)
    world = np.array([0.05, 0.035, 0.02])
    camera_rgb = np.linalg.solve(srgb_from_camera, world)
    img = np.broadcast_to(camera_rgb, (H, W, 3)).astype(np.float32)
    out = chain.color(make_frame(img, units="radiance_camera"), settings)
    np.testing.assert_allclose(out.image[0, 0], world, rtol=1e-5)
    assert out.units == "radiance_srgb"


def test_undistort_resamples_onto_the_linear_model(settings):
    model = navcam_model()
    # an image whose pixel values are their own (x, y) coordinates under the original model
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    img = np.stack([xx, yy, np.ones_like(xx)], axis=-1)
    out = chain.undistort(make_frame(img, units="radiance_srgb"), settings)
    lin = out.camera_model
    assert isinstance(lin, CAHV)
    np.testing.assert_allclose(lin.c, model.c)
    # a scene point seen at output pixel p (linear model) has original coordinates out.image[p]
    py, px = H // 2 + 5, W // 2 - 7
    _, d = lin.unproject(np.array([[px, py]], float))
    orig = model.project(lin.c + 50.0 * d)  # 50 m away: the pupil shift is negligible
    np.testing.assert_allclose(out.image[py, px, :2], orig[0], atol=0.02)  # px, bilinear of a linear ramp


def test_frame_serialisation_round_trip(settings):
    f = make_frame(np.arange(W * H, dtype=np.float32).reshape(H, W))
    g = chain.loads_frame(chain.dumps_frame(f))
    np.testing.assert_array_equal(g.image, f.image)
    assert g.camera_model == f.camera_model and g.frames == f.frames and g.cfa == f.cfa
    assert g.provenance == f.provenance
