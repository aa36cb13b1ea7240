"""CAHV, CAHVOR, CAHVORE against JPL cmod values, analytic identities and finite differences."""
from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from rovercam.camera import CAHV, CAHVOR, CAHVORE
from rovercam.camera.cahvore import REFINE_RANGE_M
from rovercam.camera.model import ROW_BLOCK
from rovercam.errors import CameraModelError
from rovercam.synth.cameras import HAZCAM_TEMPLATE_FLB
from rovercam.synth.pointing import NAVCAM_LEFT_SOL670

# JPL cmod projections as mrcal's regression tests record them (dkogan/mrcal
# test/test-projections.py, 8 decimals); the CAHVORE values at full precision are those of
# ../shared/realdata/camera_vectors.md section 1
FX, FY, CX, CY = 4842.918, 4842.771, 1970.528, 1085.302
ALPHA, BETA = -0.001, 0.002
O_MRCAL = (math.sin(ALPHA) * math.cos(BETA), math.sin(BETA), math.cos(ALPHA) * math.cos(BETA))
R_MRCAL = (-0.637, -0.002, 0.016)
P_MRCAL = np.array([(1.0, 2.0, 10.0), (-1.1, 0.3, 1.0), (-0.9, -1.5, 1.0)])
CAHVOR_EXPECTED = np.array(
    [(2143.17840406, 1442.93419919), (-92.63813066, 1653.09646897), (-249.83199315, -2606.46477164)]
)
CAHVORE_EXPECTED = np.array(
    [
        (2140.340769278752759, 1437.371480086463635),
        (496.634661939782575, 1493.316705796434917),
        (970.117888562484495, -568.301135889864668),
    ]
)


def _mrcal_linear() -> tuple:
    return (0, 0, 0), (0, 0, 1), (FX, 0, CX), (0, FY, CY)


def test_cahvor_matches_cmod_vectors() -> None:
    # truth: JPL cmod via mrcal's regression values (test/test-projections.py)
    model = CAHVOR(*_mrcal_linear(), O_MRCAL, R_MRCAL)
    # the table prints 8 decimals: half a unit of the last digit (measured 3.9e-9 px)
    np.testing.assert_allclose(model.project(P_MRCAL), CAHVOR_EXPECTED, rtol=0, atol=5e-9)  # px


def test_cahvore_matches_cmod_vectors() -> None:
    # truth: JPL cmod via mrcal's regression values (see CAHVORE_EXPECTED); mtype 2 = L 0
    model = CAHVORE(*_mrcal_linear(), O_MRCAL, R_MRCAL, (1e-8, 2e-8, 3e-8), mtype=2, mparm=0.0)
    # measured 1.18e-7 px, all three points, both axes, one sign. The residual is the table's:
    # cmod's formulas evaluated at 40 digits (mpmath) agree with ours to 2e-13 px and miss the
    # table by the same 1.04e-7..1.18e-7 px; mrcal's own published copy of these values
    # (test/test-projections.py, 8 decimals) differs from the table by up to 7e-6 px.
    np.testing.assert_allclose(model.project(P_MRCAL), CAHVORE_EXPECTED, rtol=0, atol=2e-7)  # px
    # cmod's formulas written out (test_cmod_parity.py) reproduce ours to 1e-9 px
    from test_cmod_parity import _cmod_project
    np.testing.assert_allclose(model.project(P_MRCAL), _cmod_project(model, P_MRCAL),
                               rtol=0, atol=1e-9)  # px


def test_cahvor_simple_case_matches_cmod() -> None:
    # truth: cmod_cahvor_3d_to_2d, as mrcal's test/test-cahvor.c compares it; P and 10 P on one ray
    o = np.array([0.1, 0.2, 0.9]) / np.linalg.norm([0.1, 0.2, 0.9])
    model = CAHVOR((0, 0, 0), (0, 0, 1), (11, 0, 23), (0, 13, 7), o, (7, 8, 2))
    px = model.project(np.array([(12.0, 13.0, 99.0), (120.0, 130.0, 990.0)]))
    np.testing.assert_allclose(px, [(25.017191543, 1.433306112)] * 2, rtol=0, atol=1e-8)  # px


def test_cahv_pinhole_analytic() -> None:
    # truth: pinhole x = f X/Z + cx for an axis-aligned camera
    cam = CAHV((1.0, 2.0, 3.0), (0, 0, 1), (1000, 0, 512), (0, 900, 384))
    pts = np.array([(1.1, 2.2, 5.0), (0.5, 1.0, 13.0)])
    d = pts - (1.0, 2.0, 3.0)
    expected = np.column_stack([1000 * d[:, 0] / d[:, 2] + 512, 900 * d[:, 1] / d[:, 2] + 384])
    np.testing.assert_allclose(cam.project(pts), expected, rtol=0, atol=1e-12)  # px
    hs, hc, vs, vc, theta = cam.internal()
    assert (hs, hc, vs, vc) == pytest.approx((1000, 512, 900, 384), abs=1e-12)
    assert theta == pytest.approx(-math.pi / 2, abs=1e-12)  # rad, JPL's H/V orientation


def test_cahvore_perspective_without_pupil_equals_cahvor() -> None:
    # truth: with L = 1 and E = 0, chi = tan(theta) = l/zeta and mu(chi^2) = mu(tau): the
    # CAHVORE formulas reduce to CAHVOR's algebraically (cmod_cahvore.c vs cmod_cahvor.c)
    lin = _mrcal_linear()
    ore = CAHVORE(*lin, O_MRCAL, R_MRCAL, (0, 0, 0), mtype=1, mparm=0.0)
    orr = CAHVOR(*lin, O_MRCAL, R_MRCAL)
    np.testing.assert_allclose(ore.project(P_MRCAL), orr.project(P_MRCAL), rtol=0, atol=1e-9)
    np.testing.assert_allclose(ore.unproject(CAHVOR_EXPECTED)[1], orr.unproject(CAHVOR_EXPECTED)[1],
                               rtol=0, atol=1e-12)  # unit vectors


@pytest.mark.parametrize(("mtype", "mparm", "same_as"), [(2, 0.5, (3, 0.0)), (1, 0.2, (3, 1.0))])
def test_cahvore_model_type_is_not_the_linearity(mtype: int, mparm: float, same_as: tuple) -> None:
    # truth: cmod: T=1 -> L=1, T=2 -> L=0 whatever P is; T=3 -> L=P (mars-raw-utils misread T)
    args = (*_mrcal_linear(), O_MRCAL, R_MRCAL, (1e-3, 2e-3, 1e-3))
    a = CAHVORE(*args, mtype=mtype, mparm=mparm)
    b = CAHVORE(*args, mtype=same_as[0], mparm=same_as[1])
    assert a.linearity == b.linearity
    np.testing.assert_array_equal(a.project(P_MRCAL), b.project(P_MRCAL))


def test_points_behind_the_camera_are_nan() -> None:
    lin = _mrcal_linear()
    behind = np.array([(0.1, 0.2, -5.0), (0.0, 0.0, 0.0)])
    for model in (
        CAHV(*lin),
        CAHVOR(*lin, O_MRCAL, R_MRCAL),
        CAHVORE(*lin, O_MRCAL, R_MRCAL, (0, 0, 0), mtype=1),
    ):
        assert np.isnan(model.project(behind)).all()


def test_cahvore_angle_limit_is_nan() -> None:
    # truth: cmod fails when theta |L| >= pi/2; with L = 0.5 that is theta >= 180 deg, with
    # L = 1 (perspective) 90 deg: a point at 100 deg off-axis must be NaN, at 80 deg finite.
    lin = _mrcal_linear()
    model = CAHVORE(*lin, (0, 0, 1), (0, 0, 0), (0, 0, 0), mtype=1)
    pts = np.array([(math.sin(math.radians(a)), 0.0, math.cos(math.radians(a))) for a in (80, 100)])
    px = model.project(pts)
    assert np.isfinite(px[0]).all() and np.isnan(px[1]).all()


def test_fisheye_projects_beyond_90_degrees() -> None:
    # mars-raw-utils returned (0, 0) beyond 45 deg with L = 2; ours must round-trip at 100 deg
    model = CAHVORE((0, 0, 0), (0, 0, 1), (300, 0, 500), (0, 300, 500), (0, 0, 1),
                    (0, -0.01, 0), (0.001, 0.002, 0.001), mtype=2)
    ang = np.radians([10.0, 45.0, 89.0, 100.0])
    pts = 5.0 * np.column_stack([np.sin(ang), np.zeros_like(ang), np.cos(ang)])
    px = model.project(pts)
    assert np.isfinite(px).all()
    origins, dirs = model.unproject(px)
    miss = np.linalg.norm(np.cross(dirs, pts - origins), axis=1)  # metres off the ray
    assert miss.max() < 1e-12


def test_unproject_outside_model_is_nan() -> None:
    # A CAHVOR whose radial polynomial turns back (R1 strongly negative) cannot be inverted at
    # the image corners: cmod's "distortion too negative" -> NaN, not garbage.
    model = CAHVOR((0, 0, 0), (0, 0, 1), (1000, 0, 500), (0, 1000, 500), (0, 0, 1), (0, -5.0, 0))
    _, dirs = model.unproject(np.array([(500.0, 500.0), (5000.0, 5000.0)]))
    assert np.isfinite(dirs[0]).all() and np.isnan(dirs[1]).all()


def test_project_directions_is_the_limit_at_infinity() -> None:
    model = CAHVORE(*_mrcal_linear(), O_MRCAL, R_MRCAL, (0.01, 0.02, 0.01), mtype=3, mparm=0.37)
    dirs = P_MRCAL / np.linalg.norm(P_MRCAL, axis=1, keepdims=True)
    far = model.project(1e9 * dirs)
    # the pupil shift (~1 cm) seen from 1e9 m moves the pixel by ~f * 1e-11 px
    np.testing.assert_allclose(model.project_directions(dirs), far, rtol=0, atol=1e-6)  # px


@pytest.mark.parametrize("kind", ["cahv", "cahvor", "cahvore1", "cahvore2", "cahvore3"])
def test_jacobians_match_finite_differences(kind: str) -> None:
    lin = _mrcal_linear()
    models = {
        "cahv": CAHV(*lin),
        "cahvor": CAHVOR(*lin, O_MRCAL, R_MRCAL),
        "cahvore1": CAHVORE(*lin, O_MRCAL, (0, -0.1, 0.02), (0.01, 0.02, 0.01), mtype=1),
        "cahvore2": CAHVORE(*lin, O_MRCAL, R_MRCAL, (0.01, 0.02, 0.01), mtype=2),
        "cahvore3": CAHVORE(*lin, O_MRCAL, R_MRCAL, (0.01, 0.02, 0.01), mtype=3, mparm=0.37),
    }
    model = models[kind]
    pts = np.array([(0.1, 0.2, 2.0), (-0.3, 0.1, 1.0), (0.05, -0.2, 3.0)])
    px, j_pt, j_rot = model.project_jacobians(pts)
    np.testing.assert_array_equal(px, model.project(pts))
    step = 1e-6  # m / rad; central differences have O(step^2) truncation error
    for k in range(3):
        dp = np.zeros(3)
        dp[k] = step
        num = (model.project(pts + dp) - model.project(pts - dp)) / (2 * step)
        np.testing.assert_allclose(j_pt[:, :, k], num, rtol=1e-6, atol=1e-3)  # px/m
        w = np.zeros(3)
        w[k] = step
        num_rot = (_rotated(model, w).project(pts) - _rotated(model, -w).project(pts)) / (2 * step)
        np.testing.assert_allclose(j_rot[:, :, k], num_rot, rtol=1e-6, atol=1e-3)  # px/rad


def _rotated(model, w: np.ndarray):
    """The model rotated by exp([w]x) about its own C."""
    theta = np.linalg.norm(w)
    k = w / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    rot = np.eye(3) + math.sin(theta) * kx + (1 - math.cos(theta)) * kx @ kx
    return model.transformed(rot, model.c - rot @ model.c)


def test_crop_and_scale_move_pixels() -> None:
    # truth: docs/camera-models.md#subframes-binning-and-frames: x' = x - x0 for a crop, x' = s x
    # for a scale
    model = CAHVORE(*_mrcal_linear(), O_MRCAL, R_MRCAL, (1e-3, 0, 0), mtype=3, mparm=0.37)
    px = model.project(P_MRCAL)
    np.testing.assert_allclose(model.cropped(1272, 952).project(P_MRCAL), px - (1272, 952),
                               rtol=0, atol=1e-9)  # px
    np.testing.assert_allclose(model.scaled(0.5, 0.25).project(P_MRCAL), px * (0.5, 0.25),
                               rtol=0, atol=1e-9)  # px
    assert model.cropped(10, 20).internal().hc == pytest.approx(model.internal().hc - 10, abs=1e-9)


def test_transformed_model_sees_transformed_points() -> None:
    model = CAHVORE(*_mrcal_linear(), O_MRCAL, R_MRCAL, (1e-3, 2e-3, 0), mtype=2)
    c, s = math.cos(0.7), math.sin(0.7)
    r_dst_src = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    t_dst_src = np.array([10.0, -4.0, 2.0])
    moved = model.transformed(r_dst_src, t_dst_src)
    pts_dst = P_MRCAL @ r_dst_src.T + t_dst_src
    np.testing.assert_allclose(moved.project(pts_dst), model.project(P_MRCAL), rtol=0, atol=1e-9)


def test_models_hash_and_compare_by_value() -> None:
    make = functools.partial(CAHVORE, *_mrcal_linear(), O_MRCAL, R_MRCAL, (0, 0, 0), mtype=2)
    a, b = make(), make()
    assert a == b and hash(a) == hash(b) and a is not b
    assert a != make(mparm=0.1)  # mparm is part of the value even when mtype 2 ignores it
    assert CAHV(*_mrcal_linear()) != a
    calls = []

    @functools.lru_cache(maxsize=4)
    def cached(model):
        calls.append(model)
        return 1

    cached(a), cached(b)
    assert len(calls) == 1


def test_components_are_read_only_float64() -> None:
    model = CAHV((0, 0, 0), (0, 0, 1), (1000, 0, 512), (0, 1000, 384))
    assert model.h.dtype == np.float64
    with pytest.raises(ValueError):
        model.h[0] = 1.0
    with pytest.raises(AttributeError):
        model.c = np.zeros(3)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"a": (0, 0, 2)}, "unit vector"),
        ({"a": (0, 0, 1.0011)}, "unit vector"),  # beyond label round-off (1e-3): an error
        ({"h": (1, 2)}, "3 values"),
        ({"v": (0, float("nan"), 1)}, "non-finite"),
        ({"h": (0, 0, 1000)}, "degenerate"),
    ],
)
def test_invalid_components_raise(kwargs: dict, message: str) -> None:
    args = {"c": (0, 0, 0), "a": (0, 0, 1), "h": (1000, 0, 512), "v": (0, 1000, 384)}
    args.update(kwargs)
    with pytest.raises(CameraModelError, match=message):
        CAHV(**args)


def test_cahvore_rejects_unknown_model_type() -> None:
    with pytest.raises(CameraModelError, match="model type"):
        CAHVORE(*_mrcal_linear(), O_MRCAL, R_MRCAL, (0, 0, 0), mtype=4)


def test_bad_point_shapes_raise_value_error() -> None:
    model = CAHV(*_mrcal_linear())
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        model.project(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        model.unproject(np.zeros((4, 3)))


# Two label models kept as given (|O| - 1 = 1e-5 and 2e-7), with and without large pupil terms.
_LABEL_MODELS = {"navcam_sol670": (NAVCAM_LEFT_SOL670, (5120, 3840)),
                 "hazcam_flb": (HAZCAM_TEMPLATE_FLB, (1024, 1024))}


@pytest.mark.parametrize("name", sorted(_LABEL_MODELS))
def test_unproject_exact_near_axis_and_across_field(name: str) -> None:
    # truth: project() itself. The rays of off-unit-O models are solved (direction at infinity,
    # origin pinned ~REFINE_RANGE_M out); the pinned range is ill-conditioned next to the axis,
    # where cmod's pupil shift is kept, so a disc of pixels around the axis is included.
    params, size = _LABEL_MODELS[name]
    model = CAHVORE(**params)
    rng = np.random.default_rng(7)
    axis_px = model.project_directions(np.asarray(model.o))[0]
    px = np.vstack([rng.uniform((0, 0), (size[0] - 1, size[1] - 1), (4000, 2)),
                    axis_px + rng.uniform(-40.0, 40.0, (1000, 2)), axis_px])
    origins, dirs = model.unproject(px)
    assert np.isfinite(dirs).all() and np.isfinite(origins).all()
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=1), 1.0, rtol=0, atol=1e-15)
    # px: measured <= 3.6e-12 over 2e5 pixels (double rounding of the projection, ~1e-12 px)
    np.testing.assert_allclose(model.project_directions(dirs), px, rtol=0, atol=1e-11)
    np.testing.assert_allclose(model.project(origins + REFINE_RANGE_M * dirs), px, rtol=0,
                               atol=1e-11)
    # exact_origins=False keeps cmod's pupil shift: same directions, the ray moved sideways by
    # measured 4.4e-8 m (FLB, E ~ 2e-3 m) and 2.6e-13 m (Navcam, E ~ 3e-8 m) at most
    origins_cmod, dirs_cmod = model.unproject(px, exact_origins=False)
    np.testing.assert_array_equal(dirs_cmod, dirs)
    assert np.linalg.norm(np.cross(origins_cmod - origins, dirs), axis=1).max() < 1e-7  # m


def test_unproject_blocks_do_not_change_rays() -> None:
    # unproject runs in blocks of ROW_BLOCK rows; a pixel's ray must not depend on its block
    model = CAHVORE(**NAVCAM_LEFT_SOL670)
    px = np.random.default_rng(8).uniform((0, 0), (5119, 3839), (ROW_BLOCK + 500, 2))
    origins, dirs = model.unproject(px)
    tail_o, tail_d = model.unproject(px[-1000:])
    np.testing.assert_allclose(dirs[-1000:], tail_d, rtol=0, atol=1e-15)  # unit vectors
    np.testing.assert_allclose(origins[-1000:], tail_o, rtol=0, atol=1e-15)  # m
