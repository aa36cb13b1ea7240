"""Per-frame photometric corrections (gain compensation) from the frames' overlaps.

Frames arrive calibrated in radiance, but what calibration leaves (exposure-time errors,
temperature terms, shutter, haze changing during a pan) shows as steps between frames. Each
frame i gets a **correction factor** ``c_i`` and an offset ``o_i`` (docs/mosaics.md#gains):
``corrected = c_i * frame + o_i``. The overlaps measure them: a ray seen by frames i and j should
have the same corrected radiance in both, so ``c_i a + o_i = c_j b + o_j`` over all overlapping
samples ``(a, b)`` is solved by linear least squares (Brown and Lowe 2007, section 6, without
their prior that pulls every factor to 1: that prior biases the estimate when frames really
differ, which is how OpenCV's ``GainCompensator`` loses accuracy).

Overlaps fix only ratios. The one common scale they cannot see is chosen by ``scale``
(:data:`GlobalScale`, ``[mosaic] gain_scale``): ``"mean"``, the frames are right on average,
``mean(1 / c) = 1`` (the mean *frame gain* ``1 / c`` is 1); ``"reference"``, one named frame
keeps its values (``c = 1``, ``o = 0``); ``"calibrated"``, the factors are only relative and
leave the calibrated scale as it is: their geometric mean over the anchor frames is 1.

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
from typing import Callable, Literal, Sequence, get_args

import cv2
import numpy as np

from rovercam.bands import as_bands
from rovercam.errors import MosaicError
from rovercam.mosaic.cylindrical import FrameGeometry

__all__ = ["GainModel", "GainSolution", "GlobalScale", "GLOBAL_SCALES", "estimate_gains", "overlapping_pairs"]

log = logging.getLogger(__name__)

GainModel = Literal["gain", "gain_offset"]
#: How the common scale of the correction factors is fixed (module docstring, docs/mosaics.md).
GlobalScale = Literal["mean", "reference", "calibrated"]
GLOBAL_SCALES: tuple[str, ...] = get_args(GlobalScale)


@dataclass(frozen=True, slots=True)
class GainSolution:
    """Per-frame corrections: ``corrected = factors[i] * frame + offsets[i]`` (radiance units).

    Attributes
    ----------
    factors : (N,) ndarray of float64
        Correction factors (multiply the frame by them); a frame's gain (frame = gain x truth)
        is ``1 / factor`` up to the global scale.
    offsets : (N,) ndarray of float64
        Additive corrections, radiance (zeros for the ``"gain"`` model).
    pairs, samples : int
        Overlapping pairs and samples used.
    pair_rms : dict of (i, j) -> float
        Relative RMS mismatch of each pair's overlap (its group means) after correction.
    scale : {"mean", "reference", "calibrated"}
        How the global scale was fixed (:data:`GlobalScale`).
    """

    factors: np.ndarray
    offsets: np.ndarray
    pairs: int
    samples: int
    pair_rms: dict[tuple[int, int], float] = field(default_factory=dict)
    scale: GlobalScale = "mean"


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


def _reduced(img: np.ndarray, block: int) -> np.ndarray:
    """Block mean by ``block`` (NaN where any input is NaN), then a blur (sigma 1.5 px)."""
    h, w = img.shape[:2]
    h2, w2 = h // block, w // block
    a = np.ascontiguousarray(as_bands(img)[: h2 * block, : w2 * block], dtype=np.float32)
    if block > 1:  # INTER_AREA at an integer factor is the block mean (NaN stays NaN)
        a = as_bands(cv2.resize(a, (w2, h2), interpolation=cv2.INTER_AREA))
    # smooth enough that bilinear reads between samples (frame j) lose no contrast against reads
    # on them (frame i): that asymmetry would bias the least squares
    return as_bands(cv2.GaussianBlur(a, (0, 0), 1.5))


def estimate_gains(
    geoms: Sequence[FrameGeometry],
    load: Callable[[int], np.ndarray],
    *,
    model: GainModel = "gain",
    scale: GlobalScale = "mean",
    reference: str | None = None,
    anchors: Sequence[int] | None = None,
    reduce: int | None = None,
    lattice: int = 2,
    pairs: Sequence[tuple[int, int]] | None = None,
) -> GainSolution:
    """Correction factors (and offsets) that make the frames agree in their overlaps.

    Parameters
    ----------
    geoms : sequence of FrameGeometry
        Models in one frame (the mosaic's).
    load : callable ``(i) -> (H, W, B) or (H, W)`` float array
        Frame pixels, radiance; NaN = no data; one or more bands (one factor per frame, from
        all bands together). Each frame is loaded once.
    model : {"gain", "gain_offset"}
        One correction factor per frame, or a factor and an additive offset.
    scale : {"mean", "reference", "calibrated"}
        How the common scale the overlaps cannot see is fixed (module docstring,
        docs/mosaics.md#the-global-scale): ``"mean"``: ``mean(1 / factors) = 1``;
        ``"reference"``: frame ``reference`` gets factor 1 and offset 0 (its pixels stay as
        they are); ``"calibrated"``: the geometric mean of the factors over ``anchors`` is 1.
    reference : str, optional
        Product id (``FrameGeometry.product_id``) of the reference frame; required by, and
        only allowed with, ``scale="reference"``.
    anchors : sequence of int, optional
        Frames (positions in ``geoms``) whose calibration sets the scale for
        ``scale="calibrated"`` (default: every frame).
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
        An unknown ``scale``; a ``reference`` that is missing, not one of the frames, or given
        with another scale; ``anchors`` empty or out of range; no overlapping samples at all.
    """
    n = len(geoms)
    if n == 0:
        raise MosaicError("no frames for gain estimation")
    ref_index, anchor_index = _scale_inputs(geoms, scale, reference, anchors)
    block = reduce or max(1, int(round(max(g.width for g in geoms) / 128)))
    small = [_reduced(np.asarray(load(i)), block) for i in range(n)]
    pairs = list(pairs) if pairs is not None else overlapping_pairs(geoms)
    level = float(np.nanmean([np.nanmean(s) for s in small]))
    if not level > 0:
        raise MosaicError("frames have no positive radiance to compare")
    off = (block - 1) / 2.0
    sums: dict[tuple[int, int], tuple[float, ...]] = {}
    total = 0
    for i, j in pairs:
        si, sj = small[i], small[j]
        h, w = si.shape[:2]
        v, u = np.mgrid[2 : h - 2 : lattice, 2 : w - 2 : lattice].astype(np.float64)
        full = np.stack([u.ravel() * block + off, v.ravel() * block + off], 1)
        _, d = geoms[i].model.unproject(full)
        q = geoms[j].model.project_directions(d)
        qu = (q[:, 0] - off) / block
        qv = (q[:, 1] - off) / block
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
    # gauge: mean factor 1 (rescaled below, _rescaled), offsets summing to 0, a tiny ridge on the offsets
    m[:n, :n] += lam / n
    rhs[:n] += lam
    if with_offset:
        m[n:, n:] += lam / n
        m[n:, n:] += np.eye(n) * 1e-6 * lam / n
    # frames with no pair keep factor 1: a ridge towards 1 too small to bias connected frames
    m[:n, :n] += np.eye(n) * 1e-9 * lam
    rhs[:n] += 1e-9 * lam
    sol = np.linalg.solve(m, rhs)
    factors = sol[:n]
    offsets = sol[n:] * level if with_offset else np.zeros(n)
    if np.any(factors <= 0):
        raise MosaicError(f"gain estimation failed (non-positive correction factors {factors[factors <= 0]})")
    factors, offsets = _rescaled(factors, offsets, scale, ref_index, anchor_index)
    pair_rms = {}
    for (i, j), (saa, sbb, sab, sa, sb, cnt) in sums.items():
        gi, gj = factors[i], factors[j]
        oi, oj = offsets[i] / level, offsets[j] / level
        sq = gi * gi * saa + gj * gj * sbb - 2 * gi * gj * sab + 2 * (oi - oj) * (gi * sa - gj * sb) + cnt * (oi - oj) ** 2
        pair_rms[(i, j)] = math.sqrt(max(sq, 0.0) / cnt) / max(0.5 * (gi * sa + gj * sb) / cnt + 0.5 * (oi + oj), 1e-9)
    log.info("correction factors from %d pairs, %d samples, %s scale: %.4f..%.4f", len(sums), total, scale,
             factors.min(), factors.max())
    return GainSolution(factors, offsets, len(sums), total, pair_rms, scale)


def _scale_inputs(geoms: Sequence[FrameGeometry], scale: str, reference: str | None,
                  anchors: Sequence[int] | None) -> tuple[int | None, np.ndarray]:
    """Check the global-scale arguments first: (reference frame index, anchor indices)."""
    n = len(geoms)
    if scale not in GLOBAL_SCALES:
        raise MosaicError(f"unknown global scale {scale!r}; choose one of {', '.join(GLOBAL_SCALES)}")
    ref_index = None
    if scale == "reference":
        ids = [g.product_id for g in geoms]
        if not reference:
            raise MosaicError("global scale 'reference' needs the reference frame's product id")
        if reference not in ids:
            raise MosaicError(f"reference frame {reference!r} is not one of the {n} frames ({', '.join(ids[:5])}"
                              f"{', ...' if n > 5 else ''})")
        ref_index = ids.index(reference)
    elif reference is not None:
        raise MosaicError(f"a reference frame ({reference!r}) is only used with global scale 'reference', "
                          f"not {scale!r}")
    anchor_index = np.arange(n) if anchors is None else np.unique(np.asarray(anchors, dtype=np.int64))
    if anchor_index.size == 0 or anchor_index.min() < 0 or anchor_index.max() >= n:
        raise MosaicError(f"anchor frames must be a non-empty subset of 0..{n - 1}, got {list(anchors or [])}")
    return ref_index, anchor_index


def _rescaled(factors: np.ndarray, offsets: np.ndarray, scale: str, ref_index: int | None,
              anchor_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Factors and offsets times the common scale ``s`` that ``scale`` chooses.

    The overlap equations hold for ``(s c, s o + t)`` with any s > 0 and any common offset t,
    so this changes no ratio between frames: only the scale of the whole mosaic.
    """
    if scale == "reference":
        s = 1.0 / factors[ref_index]
        factors, offsets = factors * s, offsets * s
        return factors, offsets - offsets[ref_index]  # the reference's pixels stay as they are
    if scale == "calibrated":
        # geometric mean 1 over the anchors: a factor and its inverse weigh alike, so a frame
        # read 10 % high and one 10 % low leave the scale where calibration put it
        s = math.exp(-float(np.mean(np.log(factors[anchor_index]))))
    else:  # "mean": the frames are right on average, mean frame gain mean(1 / c) = 1
        s = float(np.mean(1.0 / factors))
    return factors * s, offsets * s
