"""Property-based tests over random valid CAHV, CAHVOR and CAHVORE models (hypothesis)."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rovercam.camera import CAHV, CAHVOR, CAHVORE, from_pds3
from rovercam.camera.coordinates import quaternion_to_matrix

SIZE = (640, 480)
finite = dict(allow_nan=False, allow_infinity=False)


@st.composite
def models(draw):
    """A random camera with its axes from a random rotation, a modest field of view (hs, vs
    300-3000 px on a 640x480 image: 12-93 deg wide), O within 2 deg of A and small distortion."""
    q = draw(st.lists(st.floats(-1, 1, **finite), min_size=4, max_size=4)
             .filter(lambda v: np.linalg.norm(v) > 0.2))
    rot = quaternion_to_matrix(q)
    h_dir, v_dir, a = rot[:, 0], rot[:, 1], rot[:, 2]
    hs = draw(st.floats(300, 3000))
    vs = hs * draw(st.floats(0.98, 1.02))
    hc = draw(st.floats(250, 390))
    vc = draw(st.floats(190, 290))
    c = np.array(draw(st.lists(st.floats(-5, 5, **finite), min_size=3, max_size=3)))
    h = hs * h_dir + hc * a
    v = vs * v_dir + vc * a
    kind = draw(st.sampled_from(["CAHV", "CAHVOR", "CAHVORE"]))
    if kind == "CAHV":
        return CAHV(c, a, h, v)
    tilt = math.radians(draw(st.floats(0, 2)))
    az = draw(st.floats(0, 2 * math.pi))
    o = math.cos(tilt) * a + math.sin(tilt) * (math.cos(az) * h_dir + math.sin(az) * v_dir)
    r = (draw(st.floats(-1e-3, 1e-3)), draw(st.floats(-0.05, 0.05)), draw(st.floats(-0.02, 0.02)))
    if kind == "CAHVOR":
        return CAHVOR(c, a, h, v, o, r)
    e = tuple(draw(st.floats(-2e-3, 2e-3)) for _ in range(3))
    mtype = draw(st.sampled_from([1, 2, 3]))
    mparm = draw(st.floats(0.0, 1.0)) if mtype == 3 else 0.0
    return CAHVORE(c, a, h, v, o, r, e, mtype=mtype, mparm=mparm)


def _pixels(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    corners = [(0, 0), (SIZE[0] - 1, 0), (0, SIZE[1] - 1), (SIZE[0] - 1, SIZE[1] - 1)]
    return np.vstack([corners, rng.uniform((0, 0), (SIZE[0] - 1, SIZE[1] - 1), (60, 2))])


common = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@common
@given(models(), st.integers(0, 2**31), st.floats(0.5, 1000.0))
def test_unproject_then_project(model, seed, range_m) -> None:
    px = _pixels(seed)
    origins, dirs = model.unproject(px)
    ok = np.isfinite(dirs).all(axis=1)
    assert ok.mean() > 0.5  # small distortions: most of the image is invertible
    np.testing.assert_allclose(np.linalg.norm(dirs[ok], axis=1), 1.0, atol=1e-14)
    back = model.project(origins[ok] + range_m * dirs[ok])
    np.testing.assert_allclose(back, px[ok], rtol=0, atol=1e-8)  # px
    np.testing.assert_allclose(model.project_directions(dirs[ok]), px[ok], rtol=0, atol=1e-8)  # px


@common
@given(models(), st.integers(0, 2**31), st.floats(0.5, 1000.0))
def test_project_then_unproject(model, seed, range_m) -> None:
    origins, dirs = model.unproject(_pixels(seed))
    ok = np.isfinite(dirs).all(axis=1)
    pts = origins[ok] + range_m * dirs[ok]
    o2, d2 = model.unproject(model.project(pts))
    to_pt = pts - o2
    angle = np.arctan2(np.linalg.norm(np.cross(d2, to_pt), axis=1), np.einsum("ij,ij->i", d2, to_pt))
    assert angle.max() < 1e-9  # rad


@common
@given(models(), st.floats(-500, 500), st.floats(-500, 500), st.floats(0.1, 4), st.floats(0.1, 4))
def test_crop_and_scale_commute_with_projection(model, x0, y0, sx, sy) -> None:
    origins, dirs = model.unproject(_pixels(0))
    ok = np.isfinite(dirs).all(axis=1)
    pts = origins[ok] + 3.0 * dirs[ok]
    px = model.project(pts)
    np.testing.assert_allclose(model.cropped(x0, y0).project(pts), px - (x0, y0), rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.scaled(sx, sy).project(pts), px * (sx, sy), rtol=0, atol=1e-8)


@common
@given(models(), st.lists(st.floats(-1, 1, **finite), min_size=4, max_size=4)
       .filter(lambda v: np.linalg.norm(v) > 0.2),
       st.lists(st.floats(-100, 100, **finite), min_size=3, max_size=3))
def test_transformed_model_agrees(model, q, t) -> None:
    rot = quaternion_to_matrix(q)
    moved = model.transformed(rot, t)
    origins, dirs = model.unproject(_pixels(1))
    ok = np.isfinite(dirs).all(axis=1)
    pts = origins[ok] + 5.0 * dirs[ok]
    np.testing.assert_allclose(moved.project(pts @ rot.T + np.asarray(t)), model.project(pts),
                               rtol=0, atol=1e-7)  # px (points 100 m away: cancellation ~1e-13 m)
    assert type(moved) is type(model)


@common
@given(models())
def test_pds3_round_trip_is_identity(model) -> None:
    back = from_pds3(model.to_pds3())
    assert back == model and hash(back) == hash(model)
