"""The synthetic sol generator: products read back, geometry and radiometry match the truth.

Truth comes from the generator's own manifest and world (truth/), never from re-deriving the
rendering: pixels are located through the product's *label* camera model and decoded with the
calibration files the generator wrote, as the pipeline will.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from rovercam.camera import CAHVORE
from rovercam.camera.coordinates import direction_from_azimuth_elevation, quaternion_to_matrix
from rovercam.errors import ProductError
from rovercam.products import parse_product_id, read_product
from rovercam.radiometry import SRGB_FROM_XYZ, decompand, load_flat, load_lut
from rovercam.synth import generate_sol, load_truth

CHANNEL_OF_SITE = {(0, 0): 0, (0, 1): 1, (1, 0): 1, (1, 1): 2}  # RGGB at the detector origin


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sol") / "tiny"
    generate_sol(out, profile="tiny", seed=3)
    return out


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _r_site_rover(product) -> np.ndarray:
    frame = product.coordinate_systems["ROVER_NAV_FRAME"]
    assert frame.reference == "SITE_FRAME"
    return quaternion_to_matrix(frame.quaternion)


def test_writes_only_inside_out_dir_and_declared_files(tmp_path: Path) -> None:
    out = tmp_path / "sol"
    manifest = generate_sol(out, profile="tiny", seed=1)
    assert [p.name for p in tmp_path.iterdir()] == ["sol"]
    assert (out / "calibration/luts/M20_LUT2.txt").is_file()
    assert (out / "calibration/flats/NAVCAM_LEFT_flat.tif").is_file()
    assert (out / "calibration/flats/NAVCAM_RIGHT_flat.tif").is_file()
    assert (out / "truth/manifest.json").is_file()
    raw = sorted(p.name for p in (out / "raw").iterdir())
    declared = sorted([Path(f.path).name for f in manifest.frames]
                      + [Path(b.path).name for b in manifest.expected_bad])
    assert raw == declared
    assert len(manifest.frames) == 8 and len(manifest.expected_bad) == 1


def test_deterministic_per_seed(tmp_path: Path, tiny: Path) -> None:
    again = tmp_path / "again"
    generate_sol(again, profile="tiny", seed=3)
    assert _digest(again) == _digest(tiny)  # byte-identical products, calibration and truth
    other = tmp_path / "other"
    generate_sol(other, profile="tiny", seed=4)
    a, b = _digest(tiny), _digest(other)
    assert a["truth/panorama.npy"] != b["truth/panorama.npy"]


def test_products_read_back_with_declared_fields(tiny: Path) -> None:
    truth = load_truth(tiny)
    m = truth.manifest
    for f in m.frames:
        p = read_product(tiny / f.path)
        pid = parse_product_id(p.product_id)
        assert p.product_id == f.product_id and pid.product_type == "ECM"
        assert (p.mission, p.instrument, p.sol) == ("M2020", f.instrument_id, 100)
        assert (p.site, p.drive) == (m.rover["site"], m.rover["drive"])
        assert p.sequence_id == "NCAM00530"
        assert p.sclk == pytest.approx(f.sclk, abs=1e-3)  # label keeps milliseconds
        assert p.start_time is not None
        assert p.exposure_s == pytest.approx(f.exposure_s, rel=1e-9)
        assert p.temperature_c == pytest.approx(m.sensors[f.instrument_id]["temperature_c"])
        assert (p.companding.method, p.companding.lut, p.companding.state) == \
            ("SOFTWARE", "LUT2", "companded")
        assert (p.cfa.pattern, p.cfa.state) == ("RGGB", "encoded")
        assert p.image.shape == (240, 320) and p.image.dtype == np.uint8
        # the demo detector is the product grid: a Bayer mosaic is never pixel-averaged
        assert p.downsample == (1, 1)
        assert (p.subframe.first_line, p.subframe.first_sample) == (1, 1)
        assert (p.subframe.lines, p.subframe.samples) == (240, 320)
        assert isinstance(p.camera_model, CAHVORE) and p.camera_model.mtype == 2
        assert p.camera_frame == "ROVER_NAV_FRAME"
        label = CAHVORE(*(f.label_camera_model[f"MODEL_COMPONENT_{i}"] for i in range(1, 10)))
        # label text keeps ~15 significant digits: 1e-9 px at this scale
        px = np.array([[0.0, 0.0], [160.0, 120.0], [319.0, 239.0]])
        np.testing.assert_allclose(p.camera_model.unproject(px)[1], label.unproject(px)[1],
                                   atol=1e-9)
        np.testing.assert_allclose(p.coordinate_systems["ROVER_NAV_FRAME"].quaternion, m.rover["quaternion"],
                                   atol=1e-12)


def test_broken_product_is_rejected(tiny: Path) -> None:
    (bad,) = load_truth(tiny).manifest.expected_bad
    assert "truncated" in bad.reason
    label_only = read_product(tiny / bad.path, pixels=False)  # the label itself is valid
    assert label_only.product_id == bad.product_id
    with pytest.raises(ProductError):
        read_product(tiny / bad.path)


def test_calibration_files_match_the_sensor(tiny: Path) -> None:
    lut = load_lut(tiny / "calibration/luts/M20_LUT2.txt")
    assert lut.values.size == 256 and int(lut.values[255]) == 4095  # 12-bit table
    m = load_truth(tiny).manifest
    for iid in ("NAVCAM_LEFT", "NAVCAM_RIGHT"):
        flat = load_flat(tiny / m.calibration["flats"][iid])
        assert flat.shape == (240, 320) and flat.dtype == np.float32
        assert flat.max() == pytest.approx(1.0, abs=1e-4)  # 1.0 at the centre
        assert 0.5 < flat.min() < 0.8
        s = m.sensors[iid]
        # The colour path the pipeline applies undoes the crosstalk exactly.
        product = (SRGB_FROM_XYZ @ np.asarray(s["xyz_from_camera"])
                   @ np.asarray(s["camera_from_world"]))
        np.testing.assert_allclose(product, np.eye(3), atol=1e-12)


def test_truth_radiance_is_plausible_and_consistent(tiny: Path) -> None:
    truth = load_truth(tiny)
    az, el = np.meshgrid(np.linspace(0, 359, 50), np.linspace(-60, 60, 40))
    grid = truth.radiance_grid(az, el)
    dirs = direction_from_azimuth_elevation(az.ravel(), el.ravel())
    np.testing.assert_allclose(truth.radiance(dirs).reshape(grid.shape), grid, rtol=1e-6)
    world = truth.manifest.world
    sky = grid[el > world.skyline_mean_deg + 3 * world.skyline_amplitude_deg]
    ground = grid[el < -5]
    assert 0.005 < np.median(sky[:, 0]) < 0.04  # W m^-2 sr^-1 nm^-1, brief: sky ~0.01-0.04
    assert 0.02 < np.median(ground[:, 0]) < 0.07  # ground ~0.03-0.06
    assert np.all(np.median(ground, axis=0) == np.sort(np.median(ground, axis=0))[::-1])  # R>G>B
    sun = truth.radiance(direction_from_azimuth_elevation(world.sun_azimuth_deg,
                                                          world.sun_elevation_deg))
    assert sun.min() > 0.5 * world.sun_radiance


def _green_centroid(dn: np.ndarray, x0: float, y0: float, sigma: float) -> tuple[float, float]:
    """Background-subtracted centroid of the green Bayer sites around (x0, y0)."""
    yy, xx = np.mgrid[0:dn.shape[0], 0:dn.shape[1]]
    green = (yy + xx) % 2 == 1  # RGGB: G where line + sample is odd
    r = np.hypot(xx - x0, yy - y0)
    ring = green & (r > 4.2 * sigma) & (r < 5.0 * sigma)  # inside the fiducial's uniform pad
    core = green & (r <= 4.0 * sigma)
    w = dn[core] - np.median(dn[ring])
    return float((w * xx[core]).sum() / w.sum()), float((w * yy[core]).sum() / w.sum())


def test_fiducials_appear_where_the_label_model_projects_them(tiny: Path) -> None:
    truth = load_truth(tiny)
    lut = load_lut(tiny / "calibration/luts/M20_LUT2.txt")
    checked = 0
    for f in truth.manifest.frames:
        p = read_product(tiny / f.path)
        dn = decompand(p.image, lut).astype(np.float64)
        r_rover_site = _r_site_rover(p).T
        for fid in truth.manifest.world.fiducials:
            d_site = direction_from_azimuth_elevation(fid.azimuth_deg, fid.elevation_deg)
            x, y = p.camera_model.project_directions(d_site @ r_rover_site.T)[0]
            margin = 6 * fid.sigma_px
            if not (margin < x < f.samples - 1 - margin and margin < y < f.lines - 1 - margin):
                continue
            cx, cy = _green_centroid(dn, x, y, fid.sigma_px)
            # brief: <= 0.5 px between the projected truth point and the feature in the raw frame
            assert np.hypot(cx - x, cy - y) < 0.5, (f.product_id, fid, (x, y), (cx, cy))
            checked += 1
    assert checked >= 8


def test_decoded_dn_recover_the_true_camera_radiance(tiny: Path) -> None:
    truth = load_truth(tiny)
    m = truth.manifest
    lut = load_lut(tiny / m.calibration["lut"])
    offsets = np.asarray(m.supersampling)
    for f in m.frames[:2]:  # one frame per eye
        p = read_product(tiny / f.path)
        s = m.sensors[f.instrument_id]
        flat = load_flat(tiny / m.calibration["flats"][f.instrument_id])
        dn = decompand(p.image, lut).astype(np.float64)
        yy, xx = np.mgrid[0:f.lines, 0:f.samples]
        channel = np.vectorize(lambda y, x: CHANNEL_OF_SITE[(y % 2, x % 2)])(yy, xx)
        resp = np.asarray(s["responsivity"])[channel]
        estimate = (dn - s["bias_dn"]) / (flat * p.exposure_s * resp)
        # truth: the camera-band radiance averaged over the declared sub-pixel rays
        r_site_rover = _r_site_rover(p)
        true = np.zeros(dn.shape)
        for dx, dy in offsets:
            _, d = p.camera_model.unproject(np.column_stack([xx.ravel() + dx, yy.ravel() + dy]))
            cam = truth.camera_radiance(d @ r_site_rover.T, f.instrument_id)
            true += np.take_along_axis(cam, channel.reshape(-1, 1), axis=1).reshape(dn.shape)
        true /= len(offsets)
        ok = (dn < 0.95 * s["dn_max"]) & (dn > s["bias_dn"] + 100)  # unsaturated, above the floor
        rel = estimate[ok] / true[ok] - 1.0
        assert ok.mean() > 0.9
        assert np.median(np.abs(rel)) < 0.02  # brief: within noise, median relative error < 2 %
        assert abs(np.median(rel)) < 0.005  # and no systematic gain error (> 0.5 %)


@pytest.mark.slow
def test_demo_profile_size(tmp_path: Path) -> None:
    # generation time is a benchmark figure (rovercam demo prints it), not a test assertion
    m = generate_sol(tmp_path / "demo", profile="demo", seed=0)
    assert len(m.frames) == 16 and len(m.expected_bad) == 1
    assert {(f.samples, f.lines) for f in m.frames} == {(1280, 960)}
    az = sorted(f.site_azimuth_deg for f in m.frames if f.eye == "left")
    gaps = np.diff(az + [az[0] + 360.0])
    assert gaps.max() < 96.0 * (1 - 0.2)  # a closed 360-degree pan with >= 20 % overlap


REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"


@pytest.mark.realdata
def test_navcam_template_is_the_real_sol670_full_frame_model() -> None:
    import json

    from rovercam.synth.pointing import NAVCAM_LEFT_SOL670

    sidecars = sorted((REALDATA / "m2020").glob("NLF_0670_*-metadata.json"))
    if not sidecars:
        pytest.skip(f"real M2020 sidecar not found under {REALDATA} (shared/realdata absent)")
    meta = json.loads(sidecars[0].read_text())
    # A tile at the detector origin at scale factor 1: its model is the full-frame model.
    assert meta["subframe_rect"][:2] == [1.0, 1.0] and meta["scale_factor"] == 1
    parts = meta["camera_model_component_list"].split(";")
    real = [tuple(float(v) for v in part.strip("()").split(",")) for part in parts[:7]]
    for key, values in zip("cahvore", real):
        np.testing.assert_allclose(NAVCAM_LEFT_SOL670[key], values, rtol=0, atol=0)
    assert (int(float(parts[7])), float(parts[8])) == (NAVCAM_LEFT_SOL670["mtype"],
                                                       NAVCAM_LEFT_SOL670["mparm"])


def test_progress_reports_every_step(tmp_path: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    generate_sol(tmp_path / "p", profile="tiny", seed=0,
                 progress=lambda d, t, m: calls.append((d, t, m)))
    assert [c[0] for c in calls] == list(range(1, calls[0][1] + 1))  # 1..total, in order
    assert all(c[1] == calls[0][1] for c in calls)


def test_pointing_knowledge_error_perturbs_only_the_label(tmp_path: Path) -> None:
    m = generate_sol(tmp_path / "err", profile="tiny", seed=3, pointing_error_deg=0.5)
    centre = np.array([[159.5, 119.5]])
    angles = []
    for f in m.frames:
        true = CAHVORE(*(f.true_camera_model[f"MODEL_COMPONENT_{i}"] for i in range(1, 10)))
        label = CAHVORE(*(f.label_camera_model[f"MODEL_COMPONENT_{i}"] for i in range(1, 10)))
        np.testing.assert_allclose(label.c, true.c, atol=1e-12)  # rotated about its centre
        cos = float(true.unproject(centre)[1][0] @ label.unproject(centre)[1][0])
        angles.append(np.degrees(np.arccos(min(cos, 1.0))))
    # three axis angles of sigma 0.5 deg: boresight offsets are a few tenths of a degree
    assert 0.05 < np.median(angles) < 1.5
