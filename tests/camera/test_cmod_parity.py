"""Label vectors are used as stored, as JPL cmod uses them.

Truth: the cmod 3-D -> 2-D formulas (cmod_cahv.c, cmod_cahvor.c, cmod_cahvore.c in
NASA-AMMOS/VICAR vos/p2/sub/cahvor; docs/conventions.md) written out below, one point at a time
with the ``math`` module, from the components exactly as a label prints them. A and O of real
labels are not unit length (|A| - 1 = -1.5e-7 for the MSL FLB EDR, +8.3e-6 for M2020 NLF_0629),
and cmod never renormalises them: ``x = d.H / d.A``, ``zeta = d.O``, ``lambda3 = d - zeta O``.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from camera_realdata import RealModel
from rovercam.camera import CAHV, CAHVOR, CAHVORE

# ----------------------------------------------------------------------------------------------
# cmod, written out (scalar, pure python)
# ----------------------------------------------------------------------------------------------


def _dot(u, w) -> float:
    return u[0] * w[0] + u[1] * w[1] + u[2] * w[2]


def _cmod_cahv(d, a, h, v) -> tuple[float, float]:
    # cmod_cahv_3d_to_2d: range = d.A; x = d.H / range; y = d.V / range
    rng = _dot(d, a)
    return _dot(d, h) / rng, _dot(d, v) / rng


def _cmod_cahvor(p, c, a, h, v, o, r) -> tuple[float, float]:
    # cmod_cahvor_3d_to_2d: omega = d.O, lambda = d - omega O, tau = lambda.lambda / omega^2,
    # mu = R0 + R1 tau + R2 tau^2, d' = d + mu lambda, then CAHV
    d = [p[i] - c[i] for i in range(3)]
    omega = _dot(d, o)
    lam = [d[i] - omega * o[i] for i in range(3)]
    tau = _dot(lam, lam) / (omega * omega)
    mu = r[0] + r[1] * tau + r[2] * tau * tau
    return _cmod_cahv([d[i] + mu * lam[i] for i in range(3)], a, h, v)


def _cmod_cahvore(p, c, a, h, v, o, r, e, linearity) -> tuple[float, float]:
    # cmod_cahvore_3d_to_2d_general
    d = [p[i] - c[i] for i in range(3)]
    zeta = _dot(d, o)
    lam3 = [d[i] - zeta * o[i] for i in range(3)]
    lam = math.sqrt(_dot(lam3, lam3))
    theta = math.atan2(lam, zeta)
    for _ in range(100):  # Newton, stop when |dtheta| < 1e-8 (cmod's criterion)
        ct, st = math.cos(theta), math.sin(theta)
        t2 = theta * theta
        poly = e[0] + e[1] * t2 + e[2] * t2 * t2
        upsilon = (zeta * ct + lam * st - (1 - ct) * poly
                   - (theta - st) * (2 * e[1] * theta + 4 * e[2] * theta * t2))
        dtheta = (zeta * st - lam * ct - (theta - st) * poly) / upsilon
        theta -= dtheta
        if abs(dtheta) < 1e-8:
            break
    if theta < 1e-8:
        dp = d
    else:
        if linearity > 1e-15:
            chi = math.tan(linearity * theta) / linearity
        elif linearity < -1e-15:
            chi = math.sin(linearity * theta) / linearity
        else:
            chi = theta
        mu = r[0] + r[1] * chi ** 2 + r[2] * chi ** 4
        dp = [(lam / chi) * o[i] + (1 + mu) * lam3[i] for i in range(3)]
    return _cmod_cahv(dp, a, h, v)


def _cmod_project(model, points: np.ndarray) -> np.ndarray:
    comps = [tuple(float(x) for x in getattr(model, n)) for n in ("c", "a", "h", "v")]
    out = []
    for p in points.tolist():
        if isinstance(model, CAHVORE):
            out.append(_cmod_cahvore(p, *comps, tuple(model.o), tuple(model.r), tuple(model.e),
                                     model.linearity))
        elif isinstance(model, CAHVOR):
            out.append(_cmod_cahvor(p, *comps, tuple(model.o), tuple(model.r)))
        else:
            d = [p[i] - comps[0][i] for i in range(3)]
            out.append(_cmod_cahv(d, *comps[1:]))
    return np.array(out)


def _scene_points(model, size: tuple[int, int]) -> np.ndarray:
    """Points over the whole image (step 64 px) at 0.5, 2 and 50 m from the ray origins."""
    w, h = size
    gx, gy = np.meshgrid(np.r_[np.arange(0, w, 64), w - 1], np.r_[np.arange(0, h, 64), h - 1])
    origins, dirs = model.unproject(np.column_stack([gx.ravel(), gy.ravel()]).astype(float))
    return np.concatenate([origins + r * dirs for r in (0.5, 2.0, 50.0)])


def _renormalised(model):
    """The model with A and O scaled to unit length (what rovercam did before issue 15)."""
    changes = {"a": model.a / np.linalg.norm(model.a)}
    if hasattr(model, "o"):
        changes["o"] = model.o / np.linalg.norm(model.o)
    return dataclasses.replace(model, **changes)


# ----------------------------------------------------------------------------------------------
# tests
# ----------------------------------------------------------------------------------------------

# |O| = |A| = 0.9999996 as a label prints them (6-digit label rounding, docs/conventions.md#camera-models)
A_ROUNDED = (0.0, 0.0, 0.9999996)
O_ROUNDED = (0.0, 0.0006, 0.9999994)
H_NAV, V_NAV = (1000.0, 0.0, 512.0), (0.0, 1000.0, 384.0)


def test_label_axes_are_kept_as_stored() -> None:
    model = CAHVORE((0, 0, 0), A_ROUNDED, H_NAV, V_NAV, O_ROUNDED, (0, 0, 0), (0, 0, 0), mtype=2)
    np.testing.assert_array_equal(model.a, A_ROUNDED)
    np.testing.assert_array_equal(model.o, O_ROUNDED)
    assert model.to_pds3()["MODEL_COMPONENT_5"] == O_ROUNDED  # written back unchanged


@pytest.mark.parametrize("kind", ["CAHV", "CAHVOR", "CAHVORE"])
def test_rounded_axes_project_as_stored(kind: str) -> None:
    # |O| = 0.9999996: the pixels are cmod's with that O, not those of a renormalised O
    r = (-0.05, 0.02, -0.004)
    if kind == "CAHV":
        model = CAHV((0, 0, 0), A_ROUNDED, H_NAV, V_NAV)
    elif kind == "CAHVOR":
        model = CAHVOR((0, 0, 0), A_ROUNDED, H_NAV, V_NAV, O_ROUNDED, r)
    else:
        model = CAHVORE((0, 0, 0), A_ROUNDED, H_NAV, V_NAV, O_ROUNDED, r, (0.002, 0.001, 0.0005),
                        mtype=3, mparm=0.37)
    pts = _scene_points(model, (1024, 768))
    truth = _cmod_project(model, pts)
    np.testing.assert_allclose(model.project(pts), truth, rtol=0, atol=1e-9)  # px, cmod formulas
    # and the check tells the two apart: renormalised A and O move these pixels by > 1e-5 px
    assert np.abs(_renormalised(model).project(pts) - truth).max() > 1e-5  # px


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["msl_flb", "msl_nrb", "mer_frh", "m2020_nlf_0629", "m2020_nlf_0670"])
def test_real_label_models_project_as_cmod(real_models: dict[str, RealModel], name: str) -> None:
    # truth: cmod's formulas on the label's own components (FLB EDR, NRB RAD, MER EDR, M2020)
    rm = real_models[name]
    pts = _scene_points(rm.model, rm.size)
    truth = _cmod_project(rm.model, pts)
    ok = np.isfinite(truth).all(axis=1)
    assert ok.mean() > 0.95
    np.testing.assert_allclose(rm.model.project(pts[ok]), truth[ok], rtol=0, atol=1e-9)  # px
    # renormalising A and O (the old behaviour) misses cmod by 2e-5 to 5e-3 px on these labels
    assert np.abs(_renormalised(rm.model).project(pts[ok]) - truth[ok]).max() > 1e-5  # px


@pytest.mark.parametrize("kind", ["CAHVOR", "CAHVORE"])
def test_rounded_axes_round_trip(kind: str) -> None:
    # unproject inverts the stored-vector projection exactly (cmod's closed form alone is off by
    # ~1e-4 px here): at infinity for both, and 1 m along the ray for CAHVORE's moving pupil
    r = (-0.05, 0.02, -0.004)
    if kind == "CAHVOR":
        model = CAHVOR((0, 0, 0), A_ROUNDED, H_NAV, V_NAV, O_ROUNDED, r)
    else:
        model = CAHVORE((0, 0, 0), A_ROUNDED, H_NAV, V_NAV, O_ROUNDED, r, (0.002, 0.001, 0.0005),
                        mtype=3, mparm=0.37)
    gx, gy = np.meshgrid(np.linspace(0, 1023, 12), np.linspace(0, 767, 9))
    px = np.column_stack([gx.ravel(), gy.ravel()])
    origins, dirs = model.unproject(px)
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(model.project_directions(dirs), px, rtol=0, atol=1e-9)  # px
    np.testing.assert_allclose(model.project(origins + dirs), px, rtol=0, atol=1e-9)  # px
