"""The heritage-navcam profile: an MSL Navcam mast pan of 1-band 12-bit products with CAHVOR labels.

Truth comes from the generator's manifest and world (truth/) and from independent sources: the
MSL engineering-camera product-id layout as :func:`rovercam.products.parse_product_id` reads it,
pvl as the reference ODL reader, and the MSL Navcam optics of Maki et al. 2012 (Space Sci. Rev.
170: 45 degree field, 0.82 mrad/px, 1024x1024, 12-bit).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rovercam.camera import CAHVOR
from rovercam.camera.coordinates import quaternion_to_matrix
from rovercam.cli import build_parser
from rovercam.errors import ProductError
from rovercam.products import parse_product_id, read_product
from rovercam.radiometry import load_flat
from rovercam.synth import generate_sol, load_truth
from rovercam.synth.cameras import MSL_NAVCAM_PANCHROMATIC
from rovercam.synth.heritage import format_msl_id

from synth_tables import check_table

PROFILE = "heritage-navcam"


@pytest.fixture(scope="module")
def sol(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("heritage") / "sol"
    generate_sol(out, profile=PROFILE, seed=0)
    return out


def test_cli_offers_the_profile() -> None:
    args = build_parser().parse_args(["synth", "--profile", PROFILE, "--out", "x"])
    assert args.profile == PROFILE


def test_products_are_msl_navcam_edrs(sol: Path) -> None:
    import pvl

    m = load_truth(sol).manifest
    assert len(m.frames) == 20 and len(m.expected_bad) == 1  # 10 per eye + one broken
    assert {f.instrument_id for f in m.frames} == {"NAV_LEFT_B", "NAV_RIGHT_B"}
    for f in m.frames:
        p = read_product(sol / f.path)
        assert (p.mission, p.instrument, p.sol) == ("MSL", f.instrument_id, 100)
        assert p.cfa.state == "none" and p.cfa.pattern is None
        assert (p.companding.method, p.companding.state) == ("NONE", "none")
        assert p.image.ndim == 2 and p.image.shape == (1024, 1024)
        assert p.image.dtype == np.uint16 and int(p.image.max()) <= 4095  # 12-bit DN
        assert isinstance(p.camera_model, CAHVOR)
        assert p.exposure_s == pytest.approx(f.exposure_s, rel=1e-9)
        pid = parse_product_id(p.product_id)
        assert (pid.mission, pid.instrument, pid.product_type) == ("MSL", f.instrument_id, "EDR")
        assert (pid.site, pid.drive, pid.sampling) == (m.rover["site"], m.rover["drive"], "F")
        assert pid.sclk == float(int(f.sclk))
        label = pvl.load(str(sol / f.path))  # the reference ODL reader, independent of ours
        assert label["INSTRUMENT_HOST_ID"] == "MSL" and label["INSTRUMENT_ID"] == f.instrument_id
        assert label["GEOMETRIC_CAMERA_MODEL"]["MODEL_TYPE"] == "CAHVOR"
        assert label["ROVER_COORDINATE_SYSTEM"]["REFERENCE_COORD_SYSTEM_NAME"] == "SITE_FRAME"
        state = label["INSTRUMENT_STATE_PARMS"]
        assert state["SAMPLE_BIT_METHOD"] == "NONE" and "CFA_TYPE" not in state
        assert float(state["EXPOSURE_DURATION"].value) == pytest.approx(f.exposure_s * 1000, abs=1e-6)
        image = label["IMAGE"]
        assert (image["BANDS"], image["SAMPLE_BITS"]) == (1, 16)


def test_product_id_layout() -> None:
    # MSL id layout (docs/products.md#msl-and-mer-product-ids) of
    # FLB_431397159EDR_F0141262FHAZ00323M1, with the Navcam code and sequence
    pid = format_msl_id(instrument="NAV_LEFT_B", sclk=431397159.601, site=14, drive=1262,
                        sequence="NCAM00323")
    assert pid == "NLB_431397159EDR_F0141262NCAM00323M1"
    assert parse_product_id(pid).instrument == "NAV_LEFT_B"
    with pytest.raises(ValueError, match="unknown MSL"):
        format_msl_id(instrument="NAVCAM_LEFT", sclk=1.0, site=1, drive=1, sequence="X")


def test_broken_product_is_rejected(sol: Path) -> None:
    (bad,) = load_truth(sol).manifest.expected_bad
    assert read_product(sol / bad.path, pixels=False).product_id == bad.product_id
    with pytest.raises(ProductError):
        read_product(sol / bad.path)


def test_camera_model_is_msl_navcam_like(sol: Path) -> None:
    f = load_truth(sol).manifest.frames[0]
    model = read_product(sol / f.path).camera_model
    hs = model.internal().hs
    # Maki et al. 2012: 0.82 mrad/px at the centre; 1 % covers the quoted two digits
    assert 1.0 / hs == pytest.approx(0.82e-3, rel=0.01)
    _, d = model.unproject(np.array([[-0.5, 511.5], [1023.5, 511.5]]))
    hfov = np.degrees(np.arccos(d[0] @ d[1]))
    assert 44.0 < hfov < 47.0  # deg: "about 45 degrees"
    assert np.degrees(np.arccos(model.o @ model.a)) < 0.5  # O near A, but not A
    assert model.o @ model.a < 1.0 - 1e-8
    assert 0 < np.max(np.abs(model.r)) < 0.01  # a small radial term
    # The radial term is as small as real MSL Navcam ones (their R1 and R2 nearly cancel
    # across the field): it moves rays by a few hundredths of a pixel, never by a pixel.
    grid = np.mgrid[0:1024:31, 0:1024:31].reshape(2, -1).T[:, ::-1].astype(np.float64)
    _, d = model.unproject(grid)
    pinhole = CAHVOR(c=model.c, a=model.a, h=model.h, v=model.v, o=model.o, r=(0.0, 0.0, 0.0))
    shift = np.hypot(*(pinhole.project_directions(d) - grid).T)
    assert 0.01 < shift.max() < 1.0  # px


def test_pan_is_closed_with_20_to_35_percent_overlap(sol: Path) -> None:
    m = load_truth(sol).manifest
    left = sorted((f for f in m.frames if f.eye == "left"), key=lambda f: f.pan_index)
    assert len(left) == 10
    models = [read_product(sol / f.path).camera_model for f in left]
    row = np.column_stack([np.arange(1024.0), np.full(1024, 511.5)])
    for k, model in enumerate(models):
        nxt = models[(k + 1) % len(models)]  # the last frame overlaps the first: 360 degrees
        _, d = model.unproject(row)
        x, y = nxt.project_directions(d).T  # same ROVER_NAV_FRAME; the world is at infinity
        inside = (x >= -0.5) & (x <= 1023.5) & (y >= -0.5) & (y <= 1023.5)
        assert 0.20 <= inside.mean() <= 0.35, (k, inside.mean())
    assert m.extra["pan_overlap"] == pytest.approx(0.25, abs=0.05)


def test_camera_tables_and_flats(sol: Path) -> None:
    m = load_truth(sol).manifest
    assert set(m.calibration["cameras"]) == {"NAV_LEFT_B", "NAV_RIGHT_B"}
    assert "lut" not in m.calibration and not (sol / "calibration/luts").exists()
    for iid in ("NAV_LEFT_B", "NAV_RIGHT_B"):
        table = check_table(sol, iid)
        assert table["mission"] == "MSL" and table["bits"] == 12 and table["luts"] == {}
        assert (table["detector_samples"], table["detector_lines"]) == (1024, 1024)
        assert load_flat(sol / "calibration" / table["flat"]).shape == (1024, 1024)


def test_truth_gray_radiance_uses_the_sensor_weights(sol: Path) -> None:
    truth = load_truth(sol)
    w = np.asarray(MSL_NAVCAM_PANCHROMATIC)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_array_equal(truth.gray_weights, w.astype(np.float32))
    for iid in ("NAV_LEFT_B", "NAV_RIGHT_B"):
        assert truth.manifest.sensors[iid]["panchromatic"] == list(w)
    az, el = np.meshgrid(np.linspace(0, 359, 40), np.linspace(-50, 40, 30))
    gray = truth.gray_radiance_grid(az, el)
    assert gray.shape == az.shape and gray.dtype == np.float32
    rgb = truth.radiance_grid(az, el).astype(np.float64)
    np.testing.assert_allclose(gray, rgb @ w, rtol=1e-6)  # float32 dot


def test_dn_recover_the_truth_gray_radiance(sol: Path) -> None:
    truth = load_truth(sol)
    m = truth.manifest
    offsets = np.asarray(m.supersampling)
    for f in (m.frames[0], m.frames[7]):  # a left and a right frame
        p = read_product(sol / f.path)
        s = m.sensors[f.instrument_id]
        flat = load_flat(sol / m.calibration["flats"][f.instrument_id])
        dn = p.image.astype(np.float64)
        estimate = (dn - s["bias_dn"]) / (flat * p.exposure_s * s["responsivity"][0])
        # truth: the gray radiance averaged over the declared sub-pixel rays of the label model
        r_site_rover = quaternion_to_matrix(p.coordinate_systems["ROVER_NAV_FRAME"].quaternion)
        yy, xx = np.mgrid[0:f.lines, 0:f.samples]
        true = np.zeros(dn.shape)
        for dx, dy in offsets:
            _, d = p.camera_model.unproject(np.column_stack([xx.ravel() + dx, yy.ravel() + dy]))
            true += truth.gray_radiance(d @ r_site_rover.T).reshape(dn.shape)
        true /= len(offsets)
        ok = (dn < 0.95 * s["dn_max"]) & (dn > s["bias_dn"] + 100)  # unsaturated, above the floor
        rel = estimate[ok] / true[ok] - 1.0
        assert ok.mean() > 0.9
        # shot noise at ~2000 DN with 15 e-/DN is ~0.6 % rms; 2 % median bounds noise, not gain
        assert np.median(np.abs(rel)) < 0.02
        assert abs(np.median(rel)) < 0.005  # no systematic gain error (> 0.5 %)
