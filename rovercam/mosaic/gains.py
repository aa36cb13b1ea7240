"""Per-frame gain (and offset) compensation from the frames' overlaps.

Frames arrive calibrated in radiance, but what calibration leaves (exposure-time errors,
temperature terms, shutter, haze changing during a pan) shows as steps between frames. The
overlaps measure them: a ray seen by frames i and j should have the same radiance in both, so
``g_i a + o_i = g_j b + o_j`` over all overlapping samples ``(a, b)`` is solved by linear least
squares for every frame's gain ``g`` and offset ``o`` (Brown and Lowe 2007, section 6, without
their prior that pulls every gain to 1: that prior biases the estimate when gains really differ,
which is how OpenCV's ``GainCompensator`` loses accuracy). Overlaps fix only ratios; the common
scale is fixed by assuming the inputs are right on average, ``mean(1 / g) = 1``, so an unbiased
calibration stays unbiased.

Samples are taken in the frames' own pixels (no dependency on the output grid): a lattice on a
block-averaged copy of frame i, its rays projected into frame j and read there bilinearly.
Samples whose log ratio is far from their pair's median (parallax, moving shadows, saturation)
are dropped; the rest enter as means over places (the whole overlap for gains alone; 16 cells
for gains and offsets), which keeps the estimate unbiased.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

import cv2
import numpy as np

from rovercam.bands import as_bands
from rovercam.errors import MosaicError
from rovercam.mosaic.cylindrical import FrameGeometry

__all__ = ["GainModel", "GainSolution", "estimate_gains", "overlapping_pairs"]

log = logging.getLogger(__name__)

GainModel = Literal["gain", "gain_offset"]


@dataclass(frozen=True, slots=True)
class GainSolution:
    """Per-frame corrections: corrected = ``gains[i] * image + offsets[i]`` (radiance units).

    ``pair_rms`` is the relative RMS mismatch of each pair's overlap (its group means) after
    correction.
    """

    gains: np.ndarray
    offsets: np.ndarray
    pairs: int
    samples: int
    pair_rms: dict[tuple[int, int], float] = field(default_factory=dict)


def _axis_and_radius(g: FrameGeometry) -> tuple[np.ndarray, float]:
    """Centre ray direction and angular radius (rad) to the farthest corner."""
    corners = np.array([[-0.5, -0.5], [g.width - 0.5, -0.5], [-0.5, g.height - 0.5],
                        [g.width - 0.5, g.height - 0.5], [(g.width - 1) / 2, (g.height - 1) / 2]])
    _, d = g.model.unproject(corners)
    axis = d[-1]
    return axis, float(np.max(np.arccos(np.clip(d[:4] @ axis, -1, 1))))


def overlapping_pairs(geoms: Sequence[FrameGeometry], *, slack_deg: float = 0.0) -> list[tuple[int, int]]:
    """Pairs (i < j) of frames whose fields of view may overlap (angular-disc test)."""
    info = [_axis_and_radius(g) for g in geoms]
    out = []
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            ang = math.acos(float(np.clip(info[i][0] @ info[j][0], -1, 1)))
            if ang < info[i][1] + info[j][1] + math.radians(slack_deg):
                out.append((i, j))
    return out


def _reduced(img: np.ndarray, factor: int) -> np.ndarray:
    """Block mean by ``factor`` (NaN where any input is NaN), then a blur (sigma 1.5 px)."""
    h, w = img.shape[:2]
    h2, w2 = h // factor, w // factor
    a = np.ascontiguousarray(as_bands(img)[: h2 * factor, : w2 * factor], dtype=np.float32)
    if factor > 1:  # INTER_AREA at an integer factor is the block mean (NaN stays NaN)
        a = as_bands(cv2.resize(a, (w2, h2), interpolation=cv2.INTER_AREA))
    # smooth enough that bilinear reads between samples (frame j) lose no contrast against reads
    # on them (frame i): that asymmetry would bias the least squares
    return as_bands(cv2.GaussianBlur(a, (0, 0), 1.5))


def estimate_gains(
    geoms: Sequence[FrameGeometry],
    load: Callable[[int], np.ndarray],
    *,
    model: GainModel = "gain",
    reduce: int | None = None,
    lattice: int = 2,
    pairs: Sequence[tuple[int, int]] | None = None,
) -> GainSolution:
    """Gains (and offsets) that make the frames agree in their overlaps.

    Parameters
    ----------
    geoms : sequence of FrameGeometry
        Models in one frame (the mosaic's).
    load : callable ``(i) -> (H, W, B) or (H, W)`` float array
        Frame pixels, radiance; NaN = no data; one or more bands (gains are one per frame,
        from all bands together). Each frame is loaded once.
    model : {"gain", "gain_offset"}
        One gain per frame, or a gain and an additive offset.
    reduce : int, optional
        Block size of the averaged copies (default: frames reduced to ~128 px wide).
    lattice : int
        Sample spacing on the reduced copy, pixels.
    pairs : sequence of (i, j), optional
        Pairs to use (default :func:`overlapping_pairs`).

    Returns
    -------
    GainSolution

    Raises
    ------
    MosaicError
        No overlapping samples at all.
    """
    n = len(geoms)
    if n == 0:
        raise MosaicError("no frames for gain estimation")
    factor = reduce or max(1, int(round(max(g.width for g in geoms) / 128)))
    small = [_reduced(np.asarray(load(i)), factor) for i in range(n)]
    pairs = list(pairs) if pairs is not None else overlapping_pairs(geoms)
    level = float(np.nanmean([np.nanmean(s) for s in small]))
    if not level > 0:
        raise MosaicError("frames have no positive radiance to compare")
    off = (factor - 1) / 2.0
    sums: dict[tuple[int, int], tuple[float, ...]] = {}
    total = 0
    for i, j in pairs:
        si, sj = small[i], small[j]
        h, w = si.shape[:2]
        v, u = np.mgrid[2 : h - 2 : lattice, 2 : w - 2 : lattice].astype(np.float64)
        full = np.stack([u.ravel() * factor + off, v.ravel() * factor + off], 1)
        _, d = geoms[i].model.unproject(full)
        q = geoms[j].model.project_directions(d)
        qu = (q[:, 0] - off) / factor
        qv = (q[:, 1] - off) / factor
        hj, wj = sj.shape[:2]
        ok = np.isfinite(qu) & (qu >= 2) & (qu <= wj - 3) & (qv >= 2) & (qv <= hj - 3)
        if ok.sum() < 16:
            continue
        a = si[v.ravel()[ok].astype(int), u.ravel()[ok].astype(int)]
        b = as_bands(cv2.remap(sj, qu[ok].astype(np.float32)[None], qv[ok].astype(np.float32)[None],
                               cv2.INTER_LINEAR))[0]
        a = a.astype(np.float64) / level
        b = b.astype(np.float64) / level
        good = np.all(np.isfinite(a) & np.isfinite(b) & (a > 1e-3) & (b > 1e-3), axis=1)
        if good.sum() < 16:
            continue
        a, b = a[good], b[good]
        lr = np.log(a.mean(axis=1) / b.mean(axis=1))
        med = np.median(lr)
        mad = 1.4826 * np.median(np.abs(lr - med)) + 1e-4
        keep = np.abs(lr - med) < 4 * mad
        a, b = a[keep], b[keep]
        # compare *means* over groups of samples, never products of single samples: frame j is
        # read between its pixels and frame i on them, so single samples differ in contrast and
        # a least-squares fit of raw samples would be biased (errors in variables) along every
        # chain of pairs. Gains need one group; offsets need a spread of levels.
        # groups are places (cells of a 4x4 grid over frame i), not levels: grouping by level
        # would select on the noise and bias the offsets
        cu = (u.ravel()[ok][good][keep] * 4 // w).astype(int)
        cv = (v.ravel()[ok][good][keep] * 4 // h).astype(int)
        groups = 1 if model == "gain" else 16
        which = np.zeros(len(a), int) if groups == 1 else cu * 4 + cv
        acc = np.zeros(6)
        for k in range(groups):
            sel = which == k
            if not sel.any():
                continue
            cnt = float(sel.sum() * a.shape[1])
            ma, mb = float(a[sel].mean()), float(b[sel].mean())
            acc += (cnt * ma * ma, cnt * mb * mb, cnt * ma * mb, cnt * ma, cnt * mb, cnt)
        sums[(i, j)] = tuple(acc)
        total += a.size
    if not sums:
        raise MosaicError("no overlapping samples between frames: cannot estimate gains")
    with_offset = model == "gain_offset"
    k = 2 * n if with_offset else n
    m = np.zeros((k, k))
    for (i, j), (saa, sbb, sab, sa, sb, cnt) in sums.items():
        m[i, i] += saa
        m[j, j] += sbb
        m[i, j] -= sab
        m[j, i] -= sab
        if with_offset:
            oi, oj = n + i, n + j
            for (p, q), val in (((oi, oi), cnt), ((oj, oj), cnt), ((oi, oj), -cnt), ((i, oi), sa),
                                ((i, oj), -sa), ((j, oi), -sb), ((j, oj), sb)):
                m[p, q] += val
                if p != q:
                    m[q, p] += val
    rhs = np.zeros(k)
    lam = float(total)
    # gauge: mean gain 1 (rescaled below), offsets summing to 0, a tiny ridge on the offsets
    m[:n, :n] += lam / n
    rhs[:n] += lam
    if with_offset:
        m[n:, n:] += lam / n
        m[n:, n:] += np.eye(n) * 1e-6 * lam / n
    # frames with no pair keep gain 1: a ridge towards 1 too small to bias connected frames
    m[:n, :n] += np.eye(n) * 1e-9 * lam
    rhs[:n] += 1e-9 * lam
    sol = np.linalg.solve(m, rhs)
    gains = sol[:n]
    offsets = sol[n:] * level if with_offset else np.zeros(n)
    if np.any(gains <= 0):
        raise MosaicError(f"gain estimation failed (non-positive gains {gains[gains <= 0]})")
    scale = float(np.mean(1.0 / gains))
    gains, offsets = gains * scale, offsets * scale
    pair_rms = {}
    for (i, j), (saa, sbb, sab, sa, sb, cnt) in sums.items():
        gi, gj = gains[i], gains[j]
        oi, oj = offsets[i] / level, offsets[j] / level
        sq = gi * gi * saa + gj * gj * sbb - 2 * gi * gj * sab + 2 * (oi - oj) * (gi * sa - gj * sb) + cnt * (oi - oj) ** 2
        pair_rms[(i, j)] = math.sqrt(max(sq, 0.0) / cnt) / max(0.5 * (gi * sa + gj * sb) / cnt + 0.5 * (oi + oj), 1e-9)
    log.info("gains from %d pairs, %d samples: %.4f..%.4f", len(sums), total, gains.min(), gains.max())
    return GainSolution(gains, offsets, len(sums), total, pair_rms)
