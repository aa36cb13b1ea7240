"""The ``stereo`` terrain profile: pairs, per-pixel 3-D truth, truth orthoimage.

Truth comes from the generator (its manifest and truth files); pixels are located through each
product's *label* camera model as read from the product, as the pipeline reads it. A module
fixture generates the Front Hazcam and Mastcam-Z pairs of the profile (a CAHVORE fisheye with a
moving entrance pupil, and a CAHVOR with dark columns), exactly as the whole profile renders them.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rovercam.camera.coordinates import quaternion_to_matrix
from rovercam.errors import RovercamError
from rovercam.products import read_product
from rovercam.synth import (
    STEREO_PAIR_NAMES,
    SolManifest,
    Truth,
    load_terrain,
    load_truth,
    orthoimage,
)
from rovercam.synth.mission import generate_terrain_sol
from rovercam.synth.shots import shot_list
from rovercam.synth.sol import sclk_to_utc

# Published baselines, metres: Navcam 42.4 cm and Hazcam 24.8 cm / 93.4 cm (Maki et al. 2020,
# Space Sci. Rev. 216:137), Mastcam-Z 24.4 cm (Bell et al. 2021, Space Sci. Rev. 217:24).
_BASELINES = {"navcam": 0.424, "front_hazcam": 0.248, "rear_hazcam": 0.934, "mastcamz": 0.244}


@pytest.fixture(scope="module")
def terrain(sol: Path):
    return load_terrain(sol)


@pytest.fixture(scope="module")
def sol(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stereo") / "sol"
    generate_terrain_sol(out, sol=120, profile="stereo", seed=4, settings=None, progress=None,
                         pointing_error_deg=0.0, utc=sclk_to_utc,
                         select=lambda s: s.pair in ("front_hazcam", "mastcamz"))
    return out


def _site_model(sol: Path, product_id: str):
    """The product's label model (read from the product) moved to SITE_FRAME by its label."""
    f = load_truth(sol).manifest.frame(product_id)
    product = read_product(sol / f.path)
    frame = product.coordinate_systems["ROVER_NAV_FRAME"]
    assert frame.reference == "SITE_FRAME"
    return product.camera_model.transformed(quaternion_to_matrix(frame.quaternion),
                                            np.asarray(frame.offset, np.float64))


def _bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x0 = np.minimum(np.floor(x).astype(int), image.shape[1] - 2)
    y0 = np.minimum(np.floor(y).astype(int), image.shape[0] - 2)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    return (image[y0, x0] * (1 - fx) * (1 - fy) + image[y0, x0 + 1] * fx * (1 - fy)
            + image[y0 + 1, x0] * (1 - fx) * fy + image[y0 + 1, x0 + 1] * fx * fy)


def test_profile_pairs_share_time_and_sequence_at_the_real_baselines() -> None:
    shots = shot_list("stereo", seed=0, ground_site=(0.0, 0.0, 0.0))
    assert sorted({s.pair for s in shots}) == sorted(STEREO_PAIR_NAMES)
    for name in STEREO_PAIR_NAMES:
        left, right = [s for s in shots if s.pair == name]
        assert "LEFT" in left.instrument_id and "RIGHT" in right.instrument_id
        assert (left.sequence, left.seconds) == (right.sequence, right.seconds)
        assert (left.samples, left.lines) == (right.samples, right.lines)
        assert left.focal_mm == right.focal_mm  # Mastcam-Z: the same zoom on both eyes
        baseline = np.linalg.norm(right.true_model.c - left.true_model.c)
        # m: the eyes sit along the model's camera x axis, unit to ~1e-5 for a label's H
        assert baseline == pytest.approx(_BASELINES[name], abs=1e-5)
    full = shot_list("stereo-full", seed=0, ground_site=(0.0, 0.0, 0.0))
    assert [(s.instrument_id, s.samples, s.lines, s.cfa_state, s.pair) for s in full] == [
        ("NAVCAM_LEFT", 5120, 3840, "encoded", "navcam"),
        ("NAVCAM_RIGHT", 5120, 3840, "encoded", "navcam")]


def test_existing_profiles_shot_lists_unchanged() -> None:
    # digests of every shot's fields as the generator made them before the stereo profiles
    # existed (commit 0b896fc): adding profiles must not move any existing shot or draw
    expected = {"navcam-pan": "d6761e973bf42982", "mastcamz-pan": "09b34cdcf6e72607",
                "edl": "1f5a3c7323f17965", "full": "85d5d44f918ddf6e"}
    for profile, digest in expected.items():
        h = hashlib.sha256()
        for s in shot_list(profile, seed=7, ground_site=(1.0, -2.0, 0.3)):
            assert s.pair is None
            h.update(repr((
                s.index, s.instrument_id, s.template_key, sorted(s.true_model.to_pds3().items()),
                s.frame, s.samples, s.lines, s.first_line, s.first_sample, s.downsample,
                s.cfa_state, s.jpeg_quality, s.filter_code, s.filter_name, s.focal_mm,
                s.zoom_count, s.sequence, s.camera_specific, s.label_format, s.seconds, s.group,
                len(s.solids), s.dark_columns, s.wavelength_nm, s.altitude_m, s.defects_grid,
                sorted(s.extra.items()))).encode())
        assert h.hexdigest()[:16] == digest, profile


def test_manifest_lists_the_pairs(sol: Path) -> None:
    truth = load_truth(sol)
    assert [p.name for p in truth.stereo_pairs] == ["front_hazcam", "mastcamz"]
    for pair in truth.stereo_pairs:
        left, right = truth.manifest.frame(pair.left_id), truth.manifest.frame(pair.right_id)
        assert (left.eye, right.eye) == ("left", "right")
        assert left.sclk == right.sclk == pair.sclk
        assert pair.sequence in left.product_id and pair.sequence in right.product_id
        assert pair.baseline_m == pytest.approx(_BASELINES[pair.name], abs=1e-5)  # m
        assert (sol / left.xyz_file).is_file() and left.extra["stereo_pair"] == pair.name
    text = (sol / "truth/manifest.json").read_text()
    assert json.loads(text)["stereo_pairs"][0]["left_id"] == truth.stereo_pairs[0].left_id


def test_xyz_reprojects_to_its_own_pixel_centre(sol: Path) -> None:
    truth = load_truth(sol)
    for f in truth.manifest.frames:
        product = read_product(sol / f.path)
        xyz = truth.frame_xyz(f.product_id)
        assert xyz.dtype == np.float32 and xyz.shape == (f.lines, f.samples, 3)
        assert xyz.shape[:2] == product.image.shape[:2]  # the product's own pixel grid
        lines, samples = np.nonzero(np.isfinite(xyz[..., 0]))
        assert lines.size > 0.9 * f.lines * f.samples
        pts = xyz[lines, samples].astype(np.float64)
        # SITE_FRAME points through the label model moved to SITE_FRAME by the label's frame
        px = _site_model(sol, f.product_id).project(pts)
        err = np.hypot(px[:, 0] - samples, px[:, 1] - lines)
        assert err.max() < 0.01, f.product_id  # px (float32 metres ~2e-6 m at 50 m from site 0)
        # and ROVER_NAV_FRAME points through the label model as stored
        rover = truth.frame_xyz(f.product_id, frame="ROVER_NAV_FRAME")[lines, samples]
        px = product.camera_model.project(rover.astype(np.float64))
        assert np.hypot(px[:, 0] - samples, px[:, 1] - lines).max() < 0.01, f.product_id


def test_mastcamz_dark_columns_have_no_point(sol: Path) -> None:
    truth = load_truth(sol)
    f = next(f for f in truth.manifest.frames if f.instrument_id == "MCZ_LEFT")
    xyz = truth.frame_xyz(f.product_id)
    dark = f.extra["dark_columns"]
    assert np.isnan(xyz[:, :dark[0]]).all() and np.isnan(xyz[:, -dark[1]:]).all()
    assert np.isfinite(xyz[:, dark[0]:-dark[1]]).mean() > 0.99


def test_both_eyes_see_the_same_points(sol: Path) -> None:
    truth = load_truth(sol)
    for pair in truth.stereo_pairs:
        left = truth.frame_xyz(pair.left_id).astype(np.float64)
        right = truth.frame_xyz(pair.right_id).astype(np.float64)
        ok = np.isfinite(left[..., 0])
        pts = left[ok]
        px = _site_model(sol, pair.right_id).project(pts)
        h, w = right.shape[:2]
        inside = ((px[:, 0] >= 0) & (px[:, 0] <= w - 1) & (px[:, 1] >= 0) & (px[:, 1] <= h - 1))
        assert inside.mean() > 0.8, pair.name
        seen = _bilinear(right, px[inside, 0], px[inside, 1])
        c = np.asarray(truth.manifest.frame(pair.left_id).camera_centre_site)
        rel = np.linalg.norm(seen - pts[inside], axis=1) / np.linalg.norm(pts[inside] - c, axis=1)
        rel = rel[np.isfinite(rel)]
        # the right eye's point at the left point's right pixel is that point, but where the
        # left point is hidden from the right eye (occlusion) or the bilinear sample straddles a
        # depth edge (measured: 3 % and 0.2 % of the pixels)
        assert np.median(rel) < 1e-4, pair.name
        assert np.mean(rel < 1e-3) > 0.9, pair.name


def test_ranges_are_near_field(sol: Path) -> None:
    truth = load_truth(sol)
    for pair in truth.stereo_pairs:
        for pid in (pair.left_id, pair.right_id):
            rng = truth.frame_range(pid)
            xyz = truth.frame_xyz(pid).astype(np.float64)
            c = np.asarray(truth.manifest.frame(pid).camera_centre_site)
            np.testing.assert_allclose(rng, np.linalg.norm(xyz - c, axis=-1), rtol=1e-6)
            if pair.name == "front_hazcam":
                # camera 0.7 m above the ground, 45 degrees down: the near field
                assert 0.5 < np.nanmin(rng) and 1.0 < np.nanmedian(rng) < 4.0
                assert np.nanpercentile(rng, 75) < 10.0
            else:  # Mastcam-Z at 34 mm, 30 degrees down from ~2 m
                assert 2.5 < np.nanpercentile(rng, 1) and np.nanpercentile(rng, 99) < 8.0


def test_orthoimage_is_the_radiance_the_cameras_shade(sol: Path, terrain) -> None:
    truth = load_truth(sol)
    f = truth.manifest.frame(truth.stereo_pairs[0].left_id)
    xyz = truth.frame_xyz(f.product_id).astype(np.float64)
    radiance = np.load(sol / f.radiance_file).astype(np.float32)
    model = _site_model(sol, f.product_id)
    pixel_rad = 1.0 / model.internal().hs
    haze = np.asarray(terrain.params.haze_rgb, np.float32)
    lines, samples = np.nonzero(np.isfinite(xyz[..., 0]))
    rel = []
    for k in np.random.default_rng(0).choice(lines.size, 200, replace=False):
        y, x = lines[k], samples[k]
        p = xyz[y, x]
        # a one-cell orthoimage centred on the pixel's point, band-limited to its footprint
        # (distance along the ray from the pixel's entrance pupil: the fisheye's moves by mm)
        pupil, _ = model.unproject(np.array([[x, y]], np.float64))
        dist = float(np.linalg.norm(p - pupil[0]))
        ortho = orthoimage(terrain, (p[0], p[1], p[0], p[1]), dist * pixel_rad)
        assert ortho.dem.heights.shape == (1, 1) and ortho.origin == (p[0], p[1])
        assert ortho.dem.heights[0, 0] == pytest.approx(-p[2], abs=2e-3)  # m: ray-cast tolerance
        # the camera sees the ground through the haze along its line of sight
        tr = float(terrain.transmittance(pupil, np.array([-p[2]]), np.array([dist]))[0])
        seen = ortho.radiance[0, 0] * tr + haze * (1 - tr)
        rel.append(np.abs(radiance[y, x] / seen - 1.0))
    rel = np.concatenate(rel)
    # float16 truth files: relative step 1e-3 (error <= 5e-4); the terrain's texture lookups
    # are bilinear at 1/32 of a cell (OpenCV fixed point), so the float32 point, microns from
    # the renderer's float64 one, can sit one such step away (measured: <= 0.2 %)
    assert np.median(rel) < 5e-4 and np.percentile(rel, 95) < 2e-3 and rel.max() < 1e-2


def test_orthoimage_grid_follows_the_dem_convention(sol: Path, terrain) -> None:
    ortho = orthoimage(sol, (12.0, -46.0, 13.0, -45.5), 0.25)  # the sol's terrain rebuilt
    assert ortho.radiance.shape == (5, 3, 3) and ortho.dem.frame == "SITE_FRAME"
    np.testing.assert_array_equal(
        ortho.radiance, orthoimage(terrain, (12.0, -46.0, 13.0, -45.5), 0.25).radiance)
    # cell [i, j] is at x = origin_x + i cell (north), y = origin_y + j cell (east)
    h = terrain.height(np.array([12.0 + 3 * 0.25]), np.array([-46.0 + 2 * 0.25]))[0]
    assert ortho.dem.heights[3, 2] == pytest.approx(h, abs=1e-6)
    assert ortho.gray().shape == (5, 3)
    with pytest.raises(ValueError):
        orthoimage(terrain, (1.0, 0.0, 0.0, 1.0), 0.1)


def test_frames_without_3d_truth_say_so(sol: Path) -> None:
    truth = load_truth(sol)
    bare = replace(truth.manifest, stereo_pairs=(),
                   frames=tuple(replace(f, xyz_file=None) for f in truth.manifest.frames))
    data = json.loads(bare.to_json())
    # sols without 3-D truth (every older profile) keep the manifest text they always had
    assert "stereo_pairs" not in data and "xyz_file" not in data["frames"][0]
    assert SolManifest.from_json(bare.to_json()) == bare
    with pytest.raises(RovercamError, match="no per-pixel 3-D truth"):
        Truth(manifest=bare, panorama=truth.panorama, root=sol).frame_xyz(bare.frames[0].product_id)
