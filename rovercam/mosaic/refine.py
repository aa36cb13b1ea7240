"""Pointing refinement: tie points between overlapping frames and a rotation-only bundle adjustment.

Label pointing (mast azimuth/elevation encoders, rover attitude) is good to a fraction of a
degree; a seamless mosaic needs a fraction of a pixel. Every frame gets a small rotation ``w``
(rotation vector, radians, mosaic frame) about its own camera centre, found by minimising the
pixel distance between tie points:

1. *Features*: SIFT keypoints (OpenCV) on half-resolution 8-bit copies, matched between
   overlapping frames with Lowe's ratio test, kept when the match agrees with the label pointing
   (within ``max_error_deg``) and with a RANSAC homography (two views from one centre).
2. A first adjustment on those matches.
3. *Precise ties*: frame i is resampled into frame j's pixels through the adjusted models and
   corners in the overlap are tracked into j by pyramidal Lucas-Kanade (forward-backward
   checked), which localises to a few hundredths of a pixel where SIFT gives a few tenths.
4. The final adjustment, robust (``soft_l1`` loss, scipy's ``least_squares``), symmetric (each
   tie measured in both frames). A weak prior on ``w`` fixes the one thing ties cannot see, the
   rotation of the whole panorama: it stays where the labels put it on average.

Residuals (pixels, in the frames) are reported before and after.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import cv2
import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import csr_matrix

from rovercam.bands import as_bands
from rovercam.errors import MosaicError
from rovercam.mosaic.cylindrical import FrameGeometry
from rovercam.mosaic.gains import overlapping_pairs
from rovercam.mosaic.warp import upsample_lattice

__all__ = ["Refinement", "refine_pointing", "rotation_matrices", "rotate_about_centre", "TiePoints"]

log = logging.getLogger(__name__)


def rotation_matrices(w: np.ndarray) -> np.ndarray:
    """Rotation matrices (N, 3, 3) of rotation vectors (N, 3), radians (Rodrigues)."""
    w = np.atleast_2d(np.asarray(w, dtype=np.float64))
    theta = np.linalg.norm(w, axis=1)
    k = np.where(theta[:, None] > 1e-15, w / np.maximum(theta, 1e-300)[:, None], 0.0)
    kx = np.zeros((len(w), 3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx[:, 1, 0], kx[:, 2, 0], kx[:, 2, 1] = k[:, 2], -k[:, 1], k[:, 0]
    s = np.sin(theta)[:, None, None]
    c = (1 - np.cos(theta))[:, None, None]
    return np.eye(3)[None] + s * kx + c * (kx @ kx)


def rotate_about_centre(model: Any, w: np.ndarray) -> Any:
    """``model`` turned by rotation vector ``w`` (radians, model frame) about its centre C."""
    r = rotation_matrices(np.asarray(w))[0]
    return model.transformed(r, model.c - r @ model.c)


@dataclass
class TiePoints:
    """Tie points: frame ``i`` pixel ``pi`` sees what frame ``j`` pixel ``pj`` sees."""

    i: np.ndarray
    j: np.ndarray
    pi: np.ndarray
    pj: np.ndarray

    @classmethod
    def empty(cls) -> "TiePoints":
        z = np.zeros(0, np.int64)
        return cls(z, z, np.zeros((0, 2)), np.zeros((0, 2)))

    def __len__(self) -> int:
        return len(self.i)

    @classmethod
    def concat(cls, parts: Sequence["TiePoints"]) -> "TiePoints":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("i", "j", "pi", "pj")))


@dataclass
class Refinement:
    """What :func:`refine_pointing` found.

    Attributes
    ----------
    geoms : list of FrameGeometry
        The frames with refined models.
    rotations : (N, 3) ndarray
        Rotation vector applied to each frame about its centre, radians (mosaic frame).
    ties, pairs : int
        Tie points and frame pairs used in the final adjustment.
    rms_before_px, rms_px, p99_px : float
        Tie residuals (pixels, inliers) with the label pointing and after refinement.
    """

    geoms: list[FrameGeometry]
    rotations: np.ndarray
    ties: int
    pairs: int
    rms_before_px: float
    rms_px: float
    p99_px: float
    extra: dict[str, Any] = field(default_factory=dict)


def _gray(img: np.ndarray) -> np.ndarray:
    """(H, W) float32 mean of the bands (a single band as is), no data -> 0."""
    return np.nan_to_num(as_bands(img).astype(np.float32).mean(axis=2), nan=0.0)


def _to8(gray: np.ndarray, level: tuple[float, float]) -> np.ndarray:
    """Stretch ``[lo, hi]`` (one range for every frame) to 8 bits: low-contrast Martian scenes
    keep their texture for the detector."""
    lo, hi = level
    return np.clip((gray - lo) * (255.0 / max(hi - lo, 1e-12)), 0, 255).astype(np.uint8)


def _predict(rot_src: np.ndarray, rot_dst: np.ndarray, rays: np.ndarray, src: np.ndarray, dst: np.ndarray,
             geoms: Sequence[FrameGeometry]) -> np.ndarray:
    """Pixels in frame ``dst`` of rays of frame ``src`` (each frame turned by its rotation)."""
    d = np.einsum("kab,kb->ka", rot_src[src], rays)  # mosaic frame
    out = np.empty((len(src), 2))
    for f in np.unique(dst):
        sel = dst == f
        out[sel] = geoms[f].model.project_directions(d[sel] @ rot_dst[f])  # R^T d, row-wise
    return out


def _residuals(w: np.ndarray, ties: TiePoints, rays_i: np.ndarray, rays_j: np.ndarray,
               geoms: Sequence[FrameGeometry], prior: float) -> np.ndarray:
    """Symmetric tie residuals (pixels): i's ray in j and j's ray in i, then the prior rows."""
    rot = rotation_matrices(w.reshape(-1, 3))
    res_j = _predict(rot, rot, rays_i, ties.i, ties.j, geoms) - ties.pj
    res_i = _predict(rot, rot, rays_j, ties.j, ties.i, geoms) - ties.pi
    return np.concatenate([np.nan_to_num(res_j, nan=1e3).ravel(), np.nan_to_num(res_i, nan=1e3).ravel(), prior * w])


def _jacobian(w: np.ndarray, ties: TiePoints, rays_i: np.ndarray, rays_j: np.ndarray,
              geoms: Sequence[FrameGeometry], prior: float) -> csr_matrix:
    """Sparse Jacobian of :func:`_residuals`: each tie row depends on its two frames' rotations,
    differentiated by forward differences of the projection (6 evaluations, any camera model)."""
    n, m = len(geoms), len(ties)
    w = w.reshape(n, 3)
    rot = rotation_matrices(w)
    eps = 1e-7
    rows, cols, vals = [], [], []
    for blk, (rays, src, dst) in enumerate(((rays_i, ties.i, ties.j), (rays_j, ties.j, ties.i))):
        base = _predict(rot, rot, rays, src, dst, geoms)
        r0 = 2 * m * blk + 2 * np.arange(m)
        for c in range(3):
            step = np.zeros(3)
            step[c] = eps
            pert = rotation_matrices(w + step)
            for role, idx in (("src", src), ("dst", dst)):
                moved = _predict(pert, rot, rays, src, dst, geoms) if role == "src" else \
                    _predict(rot, pert, rays, src, dst, geoms)
                der = np.nan_to_num((moved - base) / eps)
                for b in range(2):
                    rows.append(r0 + b)
                    cols.append(3 * idx + c)
                    vals.append(der[:, b])
    rows.append(4 * m + np.arange(3 * n))
    cols.append(np.arange(3 * n))
    vals.append(np.full(3 * n, prior))
    return csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(4 * m + 3 * n, 3 * n))


def _adjust(geoms: Sequence[FrameGeometry], ties: TiePoints, w0: np.ndarray, *, loss: str,
            f_scale: float) -> tuple[np.ndarray, np.ndarray]:
    n, m = len(geoms), len(ties)
    rays_i = _rays(geoms, ties.i, ties.pi)
    rays_j = _rays(geoms, ties.j, ties.pj)
    focal = float(np.median([g.model.internal().hs for g in geoms]))
    # weak: a frame turned by 1 degree costs 0.06 px of residual (ties cost ~1 px per px); the
    # rotation of the whole panorama, which ties cannot see, is fixed exactly afterwards
    prior = 1e-3 * focal
    args = (ties, rays_i, rays_j, geoms, prior)
    sol = least_squares(_residuals, w0.ravel(), jac=_jacobian, args=args, loss=loss, f_scale=f_scale,
                        method="trf", x_scale=1.0 / focal, xtol=1e-10, ftol=1e-10, max_nfev=50)
    w = _fix_gauge(sol.x.reshape(n, 3), ties)
    res = _residuals(w.ravel(), *args)[: 4 * m]
    per_tie = np.hypot(res[0 : 2 * m : 2], res[1 : 2 * m : 2])
    return w, per_tie


def _components(n: int, ties: TiePoints) -> list[np.ndarray]:
    """Frames linked by ties, as connected components (singletons included)."""
    parent = list(range(n))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in {(int(x), int(y)) for x, y in zip(ties.i, ties.j)}:
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for f in range(n):
        groups.setdefault(root(f), []).append(f)
    return [np.array(g) for g in groups.values()]


def _fix_gauge(w: np.ndarray, ties: TiePoints) -> np.ndarray:
    """Turn the frames of each tie-connected group by one rotation so that their corrections have
    zero mean (the labels' mean pointing is kept; a frame without ties keeps its label pointing).
    A common rotation on the left leaves every tie residual unchanged."""
    w = w.copy()
    for members in _components(len(w), ties):
        if len(members) == 1:
            w[members] = 0.0
            continue
        for _ in range(3):
            rot = rotation_matrices(-w[members].mean(axis=0))[0] @ rotation_matrices(w[members])
            w[members] = np.stack([cv2.Rodrigues(r)[0].ravel() for r in rot])
    return w


def _rays(geoms: Sequence[FrameGeometry], idx: np.ndarray, px: np.ndarray) -> np.ndarray:
    out = np.empty((len(idx), 3))
    for f in np.unique(idx):
        sel = idx == f
        out[sel] = geoms[f].model.unproject(px[sel])[1]
    return out


def _tie_stats(geoms: Sequence[FrameGeometry], ties: TiePoints) -> np.ndarray:
    res = _residuals(np.zeros(3 * len(geoms)), ties, _rays(geoms, ties.i, ties.pi), _rays(geoms, ties.j, ties.pj),
                     geoms, 0.0)[: 4 * len(ties)]
    return np.hypot(res[0 : 2 * len(ties) : 2], res[1 : 2 * len(ties) : 2])


def _sift_ties(geoms: Sequence[FrameGeometry], grays8: Sequence[np.ndarray], pairs: Sequence[tuple[int, int]],
               max_error_px: float, features: int, per_pair: int = 40) -> TiePoints:
    sift = cv2.SIFT_create(nfeatures=features, contrastThreshold=0.01)
    kps, descs = [], []
    for g8 in grays8:
        small = cv2.resize(g8, (g8.shape[1] // 2, g8.shape[0] // 2), interpolation=cv2.INTER_AREA)
        kp, de = sift.detectAndCompute(small, None)
        if kp:
            # OpenCV's SIFT detects in parallel and returns keypoints in thread-completion order:
            # sort them so matching, RANSAC and the adjustment are repeatable (idempotent re-runs)
            order = sorted(range(len(kp)), key=lambda n: (kp[n].pt[1], kp[n].pt[0], kp[n].size,
                                                          kp[n].angle, kp[n].response, kp[n].octave))
            kp, de = [kp[n] for n in order], de[order]
        pts = np.array([k.pt for k in kp], np.float64).reshape(-1, 2) * 2.0 + 0.5  # full-res pixels
        kps.append(pts)
        descs.append(de)
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    parts = []
    for i, j in pairs:
        if descs[i] is None or descs[j] is None or len(kps[i]) < 8 or len(kps[j]) < 8:
            continue
        pred = geoms[j].model.project_directions(geoms[i].model.unproject(kps[i])[1])
        gj = geoms[j]
        near = np.all(np.isfinite(pred), 1) & (pred[:, 0] > -max_error_px) & (pred[:, 0] < gj.width + max_error_px) \
            & (pred[:, 1] > -max_error_px) & (pred[:, 1] < gj.height + max_error_px)
        idx_i = np.flatnonzero(near)
        if len(idx_i) < 8:
            continue
        knn = matcher.knnMatch(descs[i][idx_i], descs[j], k=2)
        mi, mj = [], []
        for pair in knn:
            if len(pair) == 2 and pair[0].distance < 0.8 * pair[1].distance:
                mi.append(idx_i[pair[0].queryIdx])
                mj.append(pair[0].trainIdx)
        if len(mi) < 8:
            continue
        mi, mj = np.array(mi), np.array(mj)
        ok = np.linalg.norm(pred[mi] - kps[j][mj], axis=1) < max_error_px
        mi, mj = mi[ok], mj[ok]
        if len(mi) < 8:
            continue
        # RANSAC draws from OpenCV's thread-local RNG, whose state depends on whatever ran before
        # on this thread: seed it per pair so a re-run gives the same mosaic (idempotent publish).
        cv2.setRNGSeed(1_000_003 * i + j)
        _, inl = cv2.findHomography(kps[i][mi].astype(np.float32), kps[j][mj].astype(np.float32), cv2.RANSAC, 3.0)
        if inl is None:
            continue
        inl = inl.ravel().astype(bool)
        if inl.sum() < 8:
            continue
        mi, mj = mi[inl], mj[inl]
        if len(mi) > per_pair:  # the first adjustment needs few, well-spread ties
            keep = np.linspace(0, len(mi) - 1, per_pair).astype(int)
            mi, mj = mi[keep], mj[keep]
        parts.append(TiePoints(np.full(len(mi), i), np.full(len(mi), j), kps[i][mi], kps[j][mj]))
    return TiePoints.concat(parts)


def _pixel_maps(src: FrameGeometry, dst: FrameGeometry, x0: int, x1: int, y0: int, y1: int,
                step: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Source pixel seen by each destination pixel of the window (both at infinity)."""
    w, h = x1 - x0, y1 - y0
    nx, ny = -(-(w - 1) // step) + 1, -(-(h - 1) // step) + 1
    gx, gy = np.meshgrid(x0 + np.arange(nx) * step, y0 + np.arange(ny) * step)
    _, d = dst.model.unproject(np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float64))
    p = src.model.project_directions(d)
    p[~np.all(np.isfinite(p), 1)] = -1e5
    c = p.reshape(ny, nx, 2).astype(np.float32)
    return upsample_lattice(c[..., 0], h, w, step), upsample_lattice(c[..., 1], h, w, step)


def _lk_ties(geoms: Sequence[FrameGeometry], grays: Sequence[np.ndarray], level: tuple[float, float],
             pairs: Sequence[tuple[int, int]], per_pair: int) -> TiePoints:
    parts = []
    for i, j in pairs:
        gi, gj = geoms[i], geoms[j]
        # the overlap's bounding box in j
        edge = np.concatenate([np.stack([np.linspace(0, gi.width - 1, 24), np.full(24, y)], 1) for y in (0, gi.height - 1)]
                              + [np.stack([np.full(24, x), np.linspace(0, gi.height - 1, 24)], 1) for x in (0, gi.width - 1)])
        q = gj.model.project_directions(gi.model.unproject(edge)[1])
        q = q[np.all(np.isfinite(q), 1)]
        if len(q) == 0:
            continue
        x0, x1 = int(max(q[:, 0].min(), 0)), int(min(q[:, 0].max(), gj.width - 1)) + 1
        y0, y1 = int(max(q[:, 1].min(), 0)), int(min(q[:, 1].max(), gj.height - 1)) + 1
        if x1 - x0 < 32 or y1 - y0 < 32:
            continue
        mx, my = _pixel_maps(gi, gj, x0, x1, y0, y1)
        inside = (mx >= 1) & (mx <= gi.width - 2) & (my >= 1) & (my <= gi.height - 2)
        warped = cv2.remap(grays[i], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        target = grays[j][y0:y1, x0:x1]
        mask = cv2.erode(inside.astype(np.uint8), np.ones((31, 31), np.uint8))
        if mask.sum() < 100:
            continue
        # per-pair brightness match (gains differ; LK assumes constancy)
        k = float(target[mask > 0].mean() / max(warped[mask > 0].mean(), 1e-12))
        a8, b8 = _to8(warped * k, level), _to8(target, level)
        corners = cv2.goodFeaturesToTrack(a8, maxCorners=per_pair, qualityLevel=0.01, minDistance=15, mask=mask,
                                          blockSize=7)
        if corners is None or len(corners) < 4:
            continue
        c0 = corners.reshape(-1, 2).astype(np.float32)
        crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-3)
        c1, st, _ = cv2.calcOpticalFlowPyrLK(a8, b8, c0, None, winSize=(21, 21), maxLevel=3, criteria=crit)
        cb, st2, _ = cv2.calcOpticalFlowPyrLK(b8, a8, c1, None, winSize=(21, 21), maxLevel=3, criteria=crit)
        ok = (st.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm(cb - c0, axis=1) < 0.05)
        if ok.sum() < 4:
            continue
        c0, c1 = c0[ok].astype(np.float64), c1[ok].astype(np.float64)
        # corners sit on integer pixels of the warped copy: frame i's pixel there is the map's
        ix, iy = np.round(c0[:, 0]).astype(int), np.round(c0[:, 1]).astype(int)
        pi = np.stack([mx[iy, ix], my[iy, ix]], 1).astype(np.float64) + \
            0.0 * (c0 - np.stack([ix, iy], 1))  # (goodFeaturesToTrack returns integer corners)
        pj = c1 + np.array([x0, y0], np.float64)
        parts.append(TiePoints(np.full(len(pj), i), np.full(len(pj), j), pi.astype(np.float64), pj))
    return TiePoints.concat(parts)


def refine_pointing(
    geoms: Sequence[FrameGeometry],
    load: Callable[[int], np.ndarray],
    *,
    max_error_deg: float = 1.0,
    features: int = 3000,
    ties_per_pair: int = 150,
    loss: str = "soft_l1",
    f_scale_px: float = 0.5,
    inlier_px: float = 2.0,
) -> Refinement:
    """Refine every frame's pointing by a rotation about its camera centre.

    Parameters
    ----------
    geoms : sequence of FrameGeometry
        Label models in the mosaic frame.
    load : callable ``(i) -> (H, W, B)`` float array
        Frame radiance (NaN = no data); each frame is loaded once.
    max_error_deg : float
        Largest pointing error expected (gates matches and candidate pairs).
    features : int
        SIFT features per frame.
    ties_per_pair : int
        Lucas-Kanade ties per overlapping pair.
    loss, f_scale_px : str, float
        Robust loss of the adjustment (scipy ``least_squares``) and its scale, pixels.
    inlier_px : float
        Ties with a final residual above this are reported as outliers.

    Returns
    -------
    Refinement

    Raises
    ------
    MosaicError
        Too few ties to adjust anything.
    """
    n = len(geoms)
    if n < 2:
        raise MosaicError("pointing refinement needs at least two frames")
    clock = time.perf_counter()
    times: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[name] = round(now - clock, 3)
        clock = now

    grays = [_gray(load(i)) for i in range(n)]
    level = (float(np.mean([np.percentile(g, 0.5) for g in grays])),
             float(np.mean([np.percentile(g, 99.5) for g in grays])))
    grays8 = [_to8(g, level) for g in grays]
    focal = float(np.median([g.model.internal().hs for g in geoms]))
    max_px = 2.0 * max_error_deg * math.pi / 180.0 * focal + 10.0
    pairs = overlapping_pairs(geoms, slack_deg=2 * max_error_deg)
    sift = _sift_ties(geoms, grays8, pairs, max_px, features)
    lap("features_s")
    if len(sift) < 3:
        raise MosaicError(f"pointing refinement: only {len(sift)} feature matches between frames")
    before = _tie_stats(geoms, sift)
    w, per = _adjust(geoms, sift, np.zeros((n, 3)), loss=loss, f_scale=2.0)
    stage1 = [FrameGeometry(g.product_id, rotate_about_centre(g.model, w[k]), g.width, g.height)
              for k, g in enumerate(geoms)]
    lap("adjust1_s")
    linked = sorted({(int(a), int(b)) for a, b in zip(sift.i, sift.j)})
    lk = _lk_ties(stage1, grays, level, linked, ties_per_pair)
    lap("lk_s")
    ties = lk if len(lk) >= 3 * n else TiePoints.concat([lk, sift])
    w2, per = _adjust(stage1, ties, np.zeros((n, 3)), loss=loss, f_scale=f_scale_px)
    rot = rotation_matrices(w2) @ rotation_matrices(w)
    total = _fix_gauge(np.stack([cv2.Rodrigues(r)[0].ravel() for r in rot]), TiePoints.concat([sift, ties]))
    lap("adjust2_s")
    refined = [FrameGeometry(g.product_id, rotate_about_centre(g.model, total[k]), g.width, g.height)
               for k, g in enumerate(geoms)]
    inl = per < inlier_px
    rms = float(np.sqrt(np.mean(per[inl] ** 2))) if inl.any() else float("nan")
    b_in = before[before < 10 * max_px]
    result = Refinement(
        geoms=refined, rotations=total, ties=int(inl.sum()),
        pairs=len({(int(a), int(b)) for a, b in zip(ties.i, ties.j)}),
        rms_before_px=float(np.sqrt(np.mean(b_in**2))) if len(b_in) else float("nan"),
        rms_px=rms, p99_px=float(np.percentile(per[inl], 99)) if inl.any() else float("nan"),
        extra={"sift_ties": len(sift), "lk_ties": len(lk), "outliers": int((~inl).sum()), **times},
    )
    log.info("pointing refined: %d ties on %d pairs, residual %.3f px RMS (%.2f px before)",
             result.ties, result.pairs, result.rms_px, result.rms_before_px)
    return result
