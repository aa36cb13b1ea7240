"""Joint refinement of descent camera poses from tie points and label poses.

Each frame's pose is its label model (CAHV in SITE_FRAME, pose baked in) corrected by a small
rotation about its centre, ``w`` (rotation vector, rad), and a shift of its centre, ``u * alt``
(``alt`` = its initial height above the ground, so ``u`` is a fraction of the altitude). The
residuals, minimized together (scipy ``least_squares``, sparse Jacobian, soft-L1 loss):

- every tie point (pixel ``p_i`` in frame ``i`` <-> ``p_j`` in frame ``j``, from
  :func:`rovercam.edl.registration.register_pair`) both ways: the ray of ``p_i`` meets the ground
  surface (plane or DEM, :func:`rovercam.edl.ground.intersect`) at ``X``; ``X`` projected by frame
  ``j`` must land on ``p_j``. Unit: pixels / ``tie_sigma_px``;
- the label pose as a prior: ``w / attitude_sigma`` and ``u / position_sigma_frac``.

The priors fix what ties alone cannot (the whole descent's position, heading and scale); the
ties make neighbouring frames agree where they overlap, so a 0.5-degree attitude error of one
label no longer shifts its frame on the ground by ``alt * 0.0087``.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares
from scipy.sparse import coo_matrix
from scipy.spatial.transform import Rotation

from rovercam.edl.ground import Surface, intersect
from rovercam.errors import MosaicError

__all__ = ["TieSet", "PoseSolution", "refine_poses", "altitude_above"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TieSet:
    """Tie points between frames ``i`` and ``j`` (indices into the model list), pixels."""

    i: int
    j: int
    points_i: NDArray[np.float64]
    points_j: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PoseSolution:
    """Refined models and the fit.

    Attributes
    ----------
    models : list of CAHV
        Refined models, SITE_FRAME, same order as the input.
    rotation_deg : (N,) ndarray
        Size of each frame's attitude correction, degrees.
    shift_m : (N,) ndarray
        Size of each frame's centre correction, metres.
    rms_before_px, rms_after_px : float
        RMS tie transfer error before and after, pixels.
    ties : int
    """

    models: list
    rotation_deg: NDArray[np.float64]
    shift_m: NDArray[np.float64]
    rms_before_px: float
    rms_after_px: float
    ties: int


def altitude_above(model, surface: Surface) -> float:
    """Height of the camera centre above the ground directly below it, metres."""
    c = np.asarray(model.c, np.float64)
    return float(-c[2] - surface.height(c[None, 0], c[None, 1])[0])


def _rotated(model, w: NDArray[np.float64], shift: NDArray[np.float64]):
    r = Rotation.from_rotvec(w).as_matrix()
    return replace(model, c=np.asarray(model.c) + shift, a=r @ model.a, h=r @ model.h, v=r @ model.v)


def refine_poses(models: Sequence, ties: Sequence[TieSet], surface: Surface, *,
                 attitude_sigma_deg: float = 1.0, position_sigma_frac: float = 0.02,
                 tie_sigma_px: float = 1.0, max_ties_per_pair: int = 150,
                 loss: Literal["linear", "soft_l1"] = "soft_l1", seed: int = 0) -> PoseSolution:
    """Refine descent poses jointly (module docstring).

    Parameters
    ----------
    models : sequence of CAHV
        Label (initial) models of linearized frames, SITE_FRAME, pixels of those frames.
    ties : sequence of TieSet
        Tie points between pairs of those frames.
    surface : Surface
        Ground (plane or DEM).
    attitude_sigma_deg, position_sigma_frac, tie_sigma_px : float, keyword-only
        Prior sigmas: label attitude (deg, per axis), label position (fraction of altitude,
        per axis), tie points (pixels).
    max_ties_per_pair : int
        Ties kept per pair (a random, seeded subset).
    loss : {"linear", "soft_l1"}
        scipy's loss on every residual (soft-L1 with a 2-sigma knee: tie points off the
        ground model, e.g. on a rock missing from a coarse DEM, weigh less).

    Returns
    -------
    PoseSolution

    Raises
    ------
    rovercam.errors.MosaicError
        No model, or a camera at or below the ground.
    """
    n = len(models)
    if n == 0:
        raise MosaicError("no frame to refine")
    alt = np.array([altitude_above(m, surface) for m in models])
    if not np.all(alt > 0):
        raise MosaicError(f"camera at or below the ground (altitudes {alt.min():.3g} m)")
    rng = np.random.default_rng(seed)
    ii, jj, pi, pj = [], [], [], []
    for t in ties:
        k = len(t.points_i)
        sel = rng.choice(k, max_ties_per_pair, replace=False) if k > max_ties_per_pair else np.arange(k)
        for a, b, pa, pb in ((t.i, t.j, t.points_i[sel], t.points_j[sel]),
                             (t.j, t.i, t.points_j[sel], t.points_i[sel])):
            ii.append(np.full(len(sel), a))
            jj.append(np.full(len(sel), b))
            pi.append(pa)
            pj.append(pb)
    c0 = np.array([m.c for m in models], np.float64)
    a0 = np.array([m.a for m in models], np.float64)
    h0 = np.array([m.h for m in models], np.float64)
    v0 = np.array([m.v for m in models], np.float64)
    if not ii:
        log.warning("no tie points: the label poses are kept")
        return PoseSolution(list(models), np.zeros(n), np.zeros(n), float("nan"), float("nan"), 0)
    src = np.concatenate(ii)
    dst = np.concatenate(jj)
    p_src = np.concatenate(pi)
    p_dst = np.concatenate(pj)
    # unit rays of the source pixels in each initial camera (rotated with the camera later)
    d0 = np.empty((len(src), 3))
    for k in np.unique(src):
        sel = src == k
        d0[sel] = models[k].unproject(p_src[sel])[1]
    att_sigma = np.radians(attitude_sigma_deg)

    def unpack(x: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
        x = x.reshape(n, 6)
        return Rotation.from_rotvec(x[:, :3]).as_matrix(), c0 + x[:, 3:] * alt[:, None]

    def tie_residuals(x: NDArray[np.float64]) -> NDArray[np.float64]:
        r, c = unpack(x)
        d = np.einsum("nij,nj->ni", r[src], d0)
        ground = intersect(c[src], d, surface)
        y = np.einsum("nji,nj->ni", r[dst], ground - c[dst])  # R^T (X - C) in the initial axes
        den = np.einsum("ni,ni->n", y, a0[dst])
        with np.errstate(divide="ignore", invalid="ignore"):
            px = np.einsum("ni,ni->n", y, h0[dst]) / den
            py = np.einsum("ni,ni->n", y, v0[dst]) / den
        res = np.column_stack([px - p_dst[:, 0], py - p_dst[:, 1]]) / tie_sigma_px
        return np.nan_to_num(res, nan=50.0).ravel()

    def residuals(x: NDArray[np.float64]) -> NDArray[np.float64]:
        xr = x.reshape(n, 6)
        prior = np.concatenate([(xr[:, :3] / att_sigma).ravel(),
                                (xr[:, 3:] / position_sigma_frac).ravel()])
        return np.concatenate([tie_residuals(x), prior])

    m = len(src)
    rows, cols = [], []
    for frame in (src, dst):
        for comp in (0, 1):
            for off in range(6):
                rows.append(2 * np.arange(m) + comp)
                cols.append(6 * frame + off)
    prior = np.arange(3 * n)
    rows += [2 * m + prior, 2 * m + 3 * n + prior]
    cols += [6 * (prior // 3) + prior % 3, 6 * (prior // 3) + 3 + prior % 3]
    sparsity = coo_matrix((np.ones(sum(len(r) for r in rows), np.int8),
                           (np.concatenate(rows), np.concatenate(cols))),
                          shape=(2 * m + 6 * n, 6 * n)).tocsr()
    sparsity.data[:] = 1
    x0 = np.zeros(6 * n)
    before = tie_residuals(x0) * tie_sigma_px
    sol = least_squares(residuals, x0, jac_sparsity=sparsity, method="trf",
                        loss=loss, f_scale=2.0, x_scale=np.tile([att_sigma] * 3 +
                                                                     [position_sigma_frac] * 3, n),
                        tr_solver="lsmr", max_nfev=60, diff_step=1e-6)
    after = tie_residuals(sol.x) * tie_sigma_px
    x = sol.x.reshape(n, 6)
    refined = [_rotated(models[k], x[k, :3], x[k, 3:] * alt[k]) for k in range(n)]
    rms = lambda e: float(np.sqrt(np.mean(np.minimum(e ** 2, 2500.0))))  # noqa: E731
    out = PoseSolution(refined, np.degrees(np.linalg.norm(x[:, :3], axis=1)),
                       np.linalg.norm(x[:, 3:], axis=1) * alt, rms(before), rms(after), m)
    log.info("poses refined: %d frames, %d ties, rms %.2f -> %.2f px (%d evaluations)",
             n, m, out.rms_before_px, out.rms_after_px, sol.nfev)
    return out
