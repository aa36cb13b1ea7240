"""Terrain profiles: products read by three readers, geometry against truth, sensor, truth files.

Truth comes from the generator's manifest and truth folder (landmark 3-D points, per-frame
radiance, bad-pixel maps): pixels are located through each product's *label* camera model, as
the pipeline does. A module fixture generates a few shots of every kind from the ``full``
profile, exactly as the whole profile renders them.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from rovercam.camera.coordinates import quaternion_to_matrix
from rovercam.products import parse_product_id, read_product
from rovercam.radiometry import debayer, decompand, load_lut
from rovercam.synth import load_truth
from rovercam.synth.cameras import zoom_focal_length_mm, zoom_motor_count
from rovercam.synth.contact import contact_sheet
from rovercam.synth.mission import generate_terrain_sol
from rovercam.synth.shots import shot_list
from rovercam.synth.sol import sclk_to_utc
from rovercam.synth.terrain import TerrainParams, build_terrain

from synth_tables import check_table

_PICK = {"navcam-pan": {0, 1, 4, 5}, "navcam-tiles": {0, 4}, "navcam-subframe": {0, 1},
         "hazcam": {0, 3}, "mcz-multispectral": {0, 10}, "EDL_RDCAM": {60, 69},
         "LCAM": {15}, "EDL_PUCAM1": {0}, "EDL_DDCAM": {5}, "EDL_RUCAM": {0}}


def _selector():
    seen: dict[str, int] = {}

    def select(shot) -> bool:
        k = seen.get(shot.group, 0)
        seen[shot.group] = k + 1
        return k in _PICK.get(shot.group, set())
    return select


@pytest.fixture(scope="module")
def sol(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("terrain") / "sol"
    generate_terrain_sol(out, sol=100, profile="full", seed=5, settings=None, progress=None,
                         pointing_error_deg=0.0, utc=sclk_to_utc, select=_selector())
    return out


def _decoded(sol: Path, product, sensor: dict) -> np.ndarray:
    """Bias-subtracted DN (float) of a product, as the pipeline would decode it."""
    img = product.image
    if product.companding.state == "companded":
        prefix = {"MCZ": "M20_MCZ_", "EDL": "M20_EDL_"}.get(product.instrument[:3], "M20_")
        img = decompand(img, load_lut(sol / "calibration/luts" / f"{prefix}{product.companding.lut}.txt"))
    return img.astype(np.float64) - sensor["bias_dn"]


def test_shot_lists_meet_the_profile_sizes() -> None:
    full = shot_list("full", seed=0, ground_site=(0.0, 0.0, 0.0))
    assert len(full) + 1 >= 150  # brief: >= 150 products over all cameras (+1 truncated)
    assert {s.instrument_id for s in full} >= {
        "NAVCAM_LEFT", "NAVCAM_RIGHT", "FRONT_HAZCAM_LEFT_A", "FRONT_HAZCAM_RIGHT_A",
        "REAR_HAZCAM_LEFT", "REAR_HAZCAM_RIGHT", "MCZ_LEFT", "MCZ_RIGHT", "EDL_RDCAM",
        "EDL_DDCAM", "EDL_RUCAM", "EDL_PUCAM1", "LCAM"}
    rdcam = [s for s in full if s.instrument_id == "EDL_RDCAM"]
    assert len(rdcam) >= 60  # brief: an EDL descent sequence of >= 60 frames
    assert rdcam[0].altitude_m == pytest.approx(10000.0) and rdcam[-1].altitude_m < 2.0
    assert len(shot_list("mastcamz-pan", seed=0, ground_site=(0.0, 0.0, 0.0))) == 102
    tiles = [s for s in full if s.group == "navcam-tiles"]
    assert {(s.samples, s.lines, s.downsample) for s in tiles} == {(1288, 968, 2)}
    sub = [s for s in full if s.group == "navcam-subframe"]
    assert all((s.first_line - 1) % 2 == 1 for s in sub)  # odd 0-based origin: GBRG phase


def test_zoom_table_round_trips() -> None:
    # docs/cameras.md#mastcam-z stops: 26<->0, 34<->2448, 110<->9600
    assert zoom_focal_length_mm(2448) == pytest.approx(34.0)
    assert zoom_motor_count(110.0) == 9600 and zoom_motor_count(26.0) == 0


def test_ray_cast_finds_the_first_surface_point() -> None:
    terrain = build_terrain(TerrainParams(seed=2, cells=256))
    rng = np.random.default_rng(0)
    north = rng.uniform(-9, 9, 2000)
    east = rng.uniform(-9, 9, 2000)
    target = np.column_stack([north, east, -terrain.height(north, east)])
    origin = np.array([0.0, 0.0, -(terrain.height(np.zeros(1), np.zeros(1))[0] + 1.9)])
    d = target - origin
    dist = np.linalg.norm(d, axis=1)
    d /= dist[:, None]
    # a fine pixel (0.1 mrad): the minimum step (4 footprints) is below a millimetre here
    t = terrain.cast(np.broadcast_to(origin, d.shape), d, pixel_rad=1e-4)
    err = t - dist
    exact = np.abs(err) < 1e-3  # m: the target itself is the first hit
    occluded = err < -1e-3  # a rock or ridge in front: a nearer hit, also on the surface
    assert exact.mean() > 0.3 and (exact | occluded).mean() > 0.99  # overshoots only where
    # a rock flank is steeper than the step's slope bound (1.8)
    p = origin + t[:, None] * d
    gap = -p[:, 2] - terrain.height(p[:, 0], p[:, 1])
    assert np.nanmax(np.abs(gap)) < 1e-3  # m: every hit lies on the height field


def test_products_read_by_our_reader_pvl_and_pdr(sol: Path) -> None:
    import pvl

    truth = load_truth(sol)
    for f in truth.manifest.frames:
        path = sol / f.path
        p = read_product(path)
        assert p.product_id == f.product_id
        parse_product_id(p.product_id)
        bands = 3 if f.extra.get("cfa_state") == "decoded" else 1
        expect = (f.lines, f.samples) if bands == 1 else (f.lines, f.samples, 3)
        assert p.image.shape == expect, f.product_id
        if f.label_format == "pds4":
            root = ET.parse(path).getroot()
            axes = {el.findtext("{*}axis_name"): int(el.findtext("{*}elements"))
                    for el in root.iter("{http://pds.nasa.gov/pds4/pds/v1}Axis_Array")}
            assert axes["Line"] == f.lines and axes["Sample"] == f.samples
        else:
            label = pvl.load(str(path))  # the reference ODL reader, independent of ours
            image = label["IMAGE"]
            assert (image["LINES"], image["LINE_SAMPLES"], image["BANDS"]) == \
                (f.lines, f.samples, bands)
            assert label["PRODUCT_ID"] == f.product_id
    pdr = pytest.importorskip("pdr")
    checked = 0
    for f in truth.manifest.frames:
        if f.label_format == "pds4":
            continue
        data = pdr.read(str(sol / f.path))
        ours = read_product(sol / f.path).image
        theirs = np.asarray(data["IMAGE"])
        if theirs.ndim == 3:  # pdr gives band-first arrays
            theirs = np.moveaxis(theirs, 0, -1)
        np.testing.assert_array_equal(theirs, ours)  # the same stored values, bit for bit
        checked += 1
    assert checked >= 10


def _centroid(image: np.ndarray, x0: float, y0: float, cov: np.ndarray) -> tuple[float, float]:
    """Background-subtracted centroid of a dot around (x0, y0) within Mahalanobis radius 2.5.

    ``cov`` (2, 2) is the dot's image covariance (px^2); the background is the median of the
    ring 2.8..3.3, which lies on the landmark's uniform dark pad (radius 3.5 sigma).
    """
    yy, xx = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    d = np.stack([xx - x0, yy - y0], axis=-1)
    r = np.sqrt(np.einsum("...i,ij,...j->...", d, np.linalg.inv(cov), d))
    ring = (r > 2.8) & (r < 3.3)
    core = r <= 2.5
    w = np.clip(image[core] - np.median(image[ring]), 0.0, None)
    return float((w * xx[core]).sum() / w.sum()), float((w * yy[core]).sum() / w.sum())


def test_landmarks_appear_where_the_label_model_projects_them(sol: Path) -> None:
    """Truth 3-D points on the terrain (bright dots on dark pads) vs the label model.

    Brief: <= 0.5 px with zero pointing error. Dots hidden behind relief are skipped (the truth
    radiance shows no dot there).
    """
    truth = load_truth(sol)
    m = truth.manifest
    errors = []
    for f in m.frames:
        if f.camera_frame != "ROVER_NAV_FRAME" or f.extra.get("cfa_state") != "encoded":
            continue
        p = read_product(sol / f.path)
        frame = p.coordinate_systems["ROVER_NAV_FRAME"]
        r_site_rover = quaternion_to_matrix(frame.quaternion)
        dn = _decoded(sol, p, m.sensors[f.instrument_id])
        from rovercam.radiometry import cfa_phase
        rgb = debayer(dn, cfa_phase("RGGB", p.subframe.first_line, p.subframe.first_sample),
                      method="bilinear")
        lum = rgb.mean(axis=-1)
        rad_truth = np.load(sol / f.radiance_file).astype(np.float32).mean(axis=-1)
        for lm in m.extra["landmarks"]:
            p_site = np.array([lm["north_m"], lm["east_m"], -lm["height_m"]])
            p_rover = r_site_rover.T @ (p_site - np.asarray(frame.offset))
            x, y = p.camera_model.project(p_rover[None, :])[0]
            if not (16 < x < f.samples - 17 and 16 < y < f.lines - 17):
                continue
            # the dot's image covariance: its ground sigma projected along north and east
            offsets = np.array([[lm["radius_m"], 0.0, 0.0], [0.0, lm["radius_m"], 0.0]])
            jac = p.camera_model.project((p_site + offsets - np.asarray(frame.offset))
                                         @ r_site_rover) - np.array([x, y])
            cov = jac.T @ jac
            sig = np.sqrt(np.linalg.eigvalsh(cov))
            if not (sig[0] > 0.7 and sig[1] < 10.0):  # resolved across, compact along (the
                continue  # perspective bias of a centroid grows with the dot's size)
            # visible (not behind a rock): the truth radiance peaks there too
            xi, yi = int(round(x)), int(round(y))
            if rad_truth[yi, xi] < 2.0 * np.median(rad_truth[yi - 12:yi + 13, xi - 12:xi + 13]):
                continue
            cx, cy = _centroid(lum, x, y, cov)
            errors.append(np.hypot(cx - x, cy - y))
    assert len(errors) >= 4, errors
    assert max(errors) <= 0.5, errors  # px, brief: <= 0.5 px with zero pointing error


def test_dead_pixels_read_bias_and_maps_are_written(sol: Path) -> None:
    m = load_truth(sol).manifest
    f = next(f for f in m.frames if f.group == "navcam-pan")
    p = read_product(sol / f.path)
    key = f"{f.instrument_id}_{f.samples}x{f.lines}"
    rows = (sol / m.calibration["bad_pixels"][key]).read_text().splitlines()
    dead = [tuple(map(int, r.split()[:2])) for r in rows if r.endswith("DEAD")]
    hot = [tuple(map(int, r.split()[:2])) for r in rows if r.endswith("HOT")]
    assert dead and hot
    dn = _decoded(sol, p, m.sensors[f.instrument_id])
    for x, y in dead:
        # zero response: bias + read noise (1.5 DN) within the LUT's step near the floor
        assert abs(dn[y, x]) < 12.0, (x, y, dn[y, x])


def test_mastcamz_frames_have_dark_columns_and_zoom(sol: Path) -> None:
    m = load_truth(sol).manifest
    mcz = [f for f in m.frames if f.instrument_id.startswith("MCZ")]
    assert mcz
    for f in mcz:
        p = read_product(sol / f.path)
        assert p.image.shape == (1200, 1648)  # docs/cameras.md#mastcam-z: 1648x1200 full frames
        assert p.focal_length_mm == pytest.approx(34.0) and p.zoom_position == 2448
        dn = _decoded(sol, p, m.sensors[f.instrument_id])
        dark = np.concatenate([dn[:, :23].ravel(), dn[:, -17:].ravel()])
        active = dn[:, 25:-19]
        assert abs(np.median(dark)) < 3.0  # DN above bias: masked columns see no light
        assert np.median(active) > 50.0


def test_truth_files_and_dem(sol: Path) -> None:
    truth = load_truth(sol)
    m = truth.manifest
    for f in m.frames:
        rad = np.load(sol / f.radiance_file)
        assert rad.shape == (f.lines, f.samples - (sum(f.extra.get("dark_columns", [0, 0]))), 3)
        assert (sol / f.srgb_file).is_file()
    dem = m.extra["dem"]
    land = np.load(sol / dem["landing_area"]["height"])
    assert land.shape == (1024, 1024) and dem["landing_area"]["cell_m"] * 1024 > 20000  # 20 km
    # the truth panorama is the view from the mast: down is ground, up is sky
    az = np.linspace(0, 350, 36)
    ground = truth.radiance_grid(az[None, :], np.full((1, 36), -30.0))
    sky = truth.radiance_grid(az[None, :], np.full((1, 36), 40.0))
    assert np.median(ground[..., 0]) > np.median(sky[..., 0])
    assert np.all(np.median(ground[0], axis=0) == np.sort(np.median(ground[0], axis=0))[::-1])


def test_contact_sheet_is_written(sol: Path, tmp_path: Path) -> None:
    import cv2

    out = contact_sheet(sol, tmp_path / "sheet.png", columns=6, thumb_width=160)
    sheet = cv2.imread(str(out))
    assert sheet is not None and sheet.shape[1] == 6 * 164


def test_camera_tables_written_for_every_camera_used(sol: Path) -> None:
    m = load_truth(sol).manifest
    used = {f.instrument_id for f in m.frames}
    assert set(m.calibration["cameras"]) == used
    assert sorted(p.name for p in (sol / "calibration/cameras").iterdir()) == \
        sorted(f"{iid.lower()}.toml" for iid in used)
    for iid in used:
        table = check_table(sol, iid)
        assert table["mission"] == "M2020"
    lcam = check_table(sol, "LCAM")  # the one monochrome camera: no CFA, no colour matrix
    assert lcam["bits"] == 8 and lcam["luts"] == {}
