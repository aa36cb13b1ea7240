"""Slanted planes for the holes the matcher leaves: a PatchMatch search.

Near rock faces seen by a wide baseline look different to each eye: foreshortened, sheared,
stretched. Square, fronto-parallel blocks fail there, and so does a guess refined pixel by
pixel when the pixels around it are holes too (its window is warped by their wrong guesses).
PatchMatch stereo (Bleyer, Rhemann & Rother 2011, "PatchMatch Stereo - Stereo Matching with
Slanted Support Windows", BMVC) gives every hole pixel its own plane in disparity,
``d(x + u, y + v) = d + a u + b v``, scores it by the zero-mean normalised cross-correlation
(ZNCC) of the window the plane maps into the right image, and improves the planes by taking
over a neighbour's plane when it scores better there (propagation) and by random changes of
shrinking size (Barnes et al. 2009).

Here every hole pixel is updated at once (numpy), so a plane moves one jump per step rather
than along a whole scan line; the jumps halve (16, 8, 4, 2, 1 px in four directions: jump
flooding, Rong & Tan 2006), so a plane crosses a hole of a hundred pixels in a few steps. The
search runs first at half resolution (a quarter of the pixels, and windows that see twice the
scene), and its planes start a short search at full resolution. The matches around the holes
take part with the plane of their smoothed disparity; the first planes are the neighbour
guesses of :func:`rovercam.stereo.prior.neighbour_fill` and the coarse search's matches.

A hole pixel is filled where its plane's ZNCC reaches ``min_correlation``, its left window has
texture, and it does not form an island: a group of fewer than 100 filled pixels that steps by
more than 2 px from all around it is dropped (a plane fitted to texture that is not there, the
typical error in ground the right eye does not see). The uniqueness check against the checked
matches is the caller's (:func:`rovercam.stereo.disparity_image`).

Conventions: docs/stereo.md#slanted-planes, docs/conventions.md.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.errors import StereoError
from rovercam.stereo.occlusion import hidden_in_right
from rovercam.stereo.prior import neighbour_fill

__all__ = ["plane_fill", "plane_search"]

#: Hole pixels per block of a window evaluation: each temporary holds block x window^2 floats
#: (4096 x 81 x 4 bytes = 1.3 MB; larger blocks leave the cache: 16384 took 1.7 times as long).
_BLOCK = 4096
#: Left windows kept between evaluations up to this size (bytes); larger searches re-read them.
_LEFT_CACHE_BYTES = 128 * 2 ** 20
#: Random changes move a plane's slopes by this fraction of its disparity's amplitude (px/px).
_SLOPE_PER_PX = 0.05
#: Filled islands smaller than this (px) that step by more than _ISLAND_STEP_PX are dropped.
_ISLAND_PX = 100
_ISLAND_STEP_PX = 2.0
#: Images whose shorter side is below this are searched at full resolution only.
_MIN_HALF_SIDE = 64
#: Sigma (px) of the smoothing behind the matches' and guesses' slopes.
_SLOPE_SIGMA_PX = 2.0


@dataclass(frozen=True)
class _Schedule:
    """Rounds of propagation over ``jumps`` (px, four directions each), each followed by one
    random change per amplitude (px)."""

    rounds: int
    jumps: tuple[int, ...]
    amplitudes: tuple[float, ...]


_HALF = _Schedule(2, (16, 8, 4, 2, 1), (2.0, 1.0, 0.5, 0.25))
_FULL = _Schedule(1, (2, 1), (1.0, 0.5, 0.25))
#: :func:`plane_search`: planes from random starts cross the whole image
_SCRATCH = _Schedule(1, (64, 32, 16, 8, 4, 2, 1), (16.0, 8.0, 4.0, 2.0, 1.0, 0.5))
#: Random starting planes per pixel (:func:`plane_search`), and their slope ranges (px/px):
#: x slopes either way, y slopes mostly positive (ground below the horizon nears the cameras
#: downward, its disparity growing by up to about a pixel per row in a hazard camera).
_RANDOM_STARTS = 3
_RANDOM_SLOPE_X = (-0.5, 0.5)
_RANDOM_SLOPE_Y = (-0.5, 1.5)
#: :func:`plane_search`'s uniqueness check among its own planes: a plane is dropped where one
#: that correlates as well (less 0.1) lands on its right pixel nearer by more than this many
#: half-resolution pixels. Without it, planes of ground the right eye does not see found chance
#: fits and pulled the guide off (the steep-ground scene of tests/stereo: 78 % coverage
#: against 92 % with it; the generated rear pairs of seeds 0-2: 91.2-91.8 %, and 89.9-91.5 % with 2 px).
_GUIDE_TOLERANCE_PX = 4.0
#: Sigmas (px) of the neighbour guesses that start :func:`plane_fill` by default.
GUESS_SIGMAS_PX = (3.0, 10.0, 30.0)


def plane_fill(
    left: NDArray[np.float32],
    right: NDArray[np.float32],
    disparity: NDArray[np.float32],
    *,
    claims: NDArray[np.float32] | None = None,
    right_margin: int = 0,
    window: int = 9,
    min_correlation: float = 0.8,
    min_texture: float = 0.0,
    sigmas_px: tuple[float, ...] = GUESS_SIGMAS_PX,
    seed: int = 0,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Holes of ``disparity`` filled by slanted planes that correlate (module notes).

    Parameters
    ----------
    left : (H, W) float32 array
    right : (H, W + right_margin) float32 array
        Matching luminance of the rectified eyes on one scale
        (:func:`rovercam.stereo.matching_images`), NaN = no data; the right image's column
        ``u`` is rectified column ``u - right_margin``.
    disparity : (H, W) float32 array
        Checked matches, pixels, NaN = hole.
    claims : (H, W) float32 array, keyword-only
        Another search's matches (NaN = none), used only as starting planes.
    right_margin : int, keyword-only
    window : int, keyword-only
        Odd window side, pixels.
    min_correlation : float, keyword-only
        ZNCC a plane's window must reach. A search of planes finds chance fits that a refined
        guess would not: over a hole whose right view is unrelated texture (Gaussian-smoothed
        noise, 1.5 px), 7 x 7 windows at 0.7 filled 19.5 % of it, 9 x 9 at 0.8 filled 1.3 %
        (tests/stereo/test_planes.py), while filling all of a slanted plane's holes.
    min_texture : float, keyword-only
        Smallest standard deviation of the left window, in the units of ``left``.
    sigmas_px : tuple of float, keyword-only
        Gaussian sigmas of the neighbour guesses that start the search (pixels).
    seed : int, keyword-only
        Seed of the random changes: the same inputs and seed give the same output.

    Returns
    -------
    disparity : (H, W) float32 array
        ``disparity`` with the filled holes; every match unchanged.
    zncc : (H, W) float32 array
        The filled pixels' plane ZNCC, NaN elsewhere.

    Raises
    ------
    rovercam.errors.StereoError
        Arrays of the wrong shapes, or a bad window.
    """
    d = np.asarray(disparity, np.float32)
    h, w = d.shape
    margin = int(right_margin)
    if np.shape(left) != (h, w) or margin < 0 or np.shape(right) != (h, w + margin):
        raise StereoError(f"plane_fill: left {np.shape(left)}, right {np.shape(right)} and disparity "
                          f"{d.shape} do not fit right_margin = {right_margin!r}")
    if claims is not None and np.shape(claims) != (h, w):
        raise StereoError(f"plane_fill: claims {np.shape(claims)} differ from disparity {d.shape}")
    if window < 3 or window % 2 != 1:
        raise StereoError(f"plane_fill: window must be odd and >= 3, got {window!r}")
    left = np.asarray(left, np.float32)
    right = np.asarray(right, np.float32)
    rng = np.random.default_rng(seed)
    start = None
    if min(h, w) >= _MIN_HALF_SIDE:
        half = _halve(left, right, d, claims, margin)
        coarse = _search(*half, window=window, schedule=_HALF, sigmas_px=sigmas_px, rng=rng)
        start = _planes_at_full(coarse, (h, w))
    search = _search(left, right, d, claims, margin, window=window,
                     schedule=_HALF if start is None else _FULL,
                     sigmas_px=sigmas_px if start is None else (), rng=rng, start=start)
    keep = (search.score >= np.float32(min_correlation)) & (search.texture >= np.float32(min_texture))
    out = d.copy()
    out[search.py[keep], search.px[keep]] = search.d[keep]
    out = _drop_islands(out, d)
    zncc = np.full((h, w), np.nan, np.float32)
    zncc[search.py[keep], search.px[keep]] = search.score[keep]
    zncc[~np.isfinite(out)] = np.nan
    return out, zncc


def plane_search(
    left: NDArray[np.float32],
    right: NDArray[np.float32],
    *,
    min_disparity: int,
    num_disparities: int,
    right_margin: int = 0,
    window: int = 9,
    min_correlation: float = 0.8,
    min_texture: float = 0.0,
    seed: int = 0,
) -> NDArray[np.float32]:
    """Disparity of a whole rectified pair by slanted planes from random starts, at half resolution.

    The guide of the coarse-to-fine passes where a block matcher's full search locks onto a
    wrong surface: near ground seen by a wide baseline (the rear Hazcams), whose two views
    differ by tens of degrees. Every pixel of the half-resolution pair starts from three random
    planes within the search interval (disparities never leave it), then planes propagate and
    change as in :func:`plane_fill` (module notes). A plane is kept where it reaches
    ``min_correlation`` with texture, and no plane that correlates as well lands on its right
    pixel more than 4 half-resolution pixels nearer (:func:`rovercam.stereo.hidden_in_right`).

    Parameters
    ----------
    left : (H, W) float32 array
    right : (H, W + right_margin) float32 array
        Matching luminance of the rectified eyes, NaN = no data (as :func:`plane_fill`).
    min_disparity, num_disparities : int, keyword-only
        Search interval, full-resolution pixels.
    right_margin : int, keyword-only
    window : int, keyword-only
        Odd window side at half resolution, pixels (9: 18 full-resolution pixels).
    min_correlation, min_texture : float, keyword-only
        As :func:`plane_fill`.
    seed : int, keyword-only

    Returns
    -------
    (H, W) float32 array
        Full-resolution disparity, pixels (each pixel on its half-resolution plane); NaN where
        no plane reached ``min_correlation`` or the window lacks texture or data.

    Raises
    ------
    rovercam.errors.StereoError
        Arrays of the wrong shapes, an image too small to halve, or a bad window.
    """
    h, w = np.shape(left)
    margin = int(right_margin)
    if margin < 0 or np.shape(right) != (h, w + margin):
        raise StereoError(f"plane_search: left {np.shape(left)} and right {np.shape(right)} do not fit "
                          f"right_margin = {right_margin!r}")
    if window < 3 or window % 2 != 1:
        raise StereoError(f"plane_search: window must be odd and >= 3, got {window!r}")
    if min(h, w) < 2 * window:
        raise StereoError(f"plane_search: a {w} x {h} image is too small for {window} px windows at half resolution")
    rng = np.random.default_rng(seed)
    none = np.full((h, w), np.nan, np.float32)
    left2, right2, _, _, margin2 = _halve(np.asarray(left, np.float32), np.asarray(right, np.float32), none, None,
                                          margin)
    lo, hi = min_disparity / 2, (min_disparity + num_disparities) / 2

    def random_planes(py, px):
        size = py.size
        return (rng.uniform(lo, hi, size).astype(np.float32),
                rng.uniform(*_RANDOM_SLOPE_X, size).astype(np.float32),
                rng.uniform(*_RANDOM_SLOPE_Y, size).astype(np.float32))

    search = _search(left2, right2, np.full(left2.shape, np.nan, np.float32), None, margin2, window=window,
                     schedule=_SCRATCH, sigmas_px=(), rng=rng, start=random_planes, starts=_RANDOM_STARTS,
                     interval=(lo, hi))
    good = (search.score >= np.float32(min_correlation)) & (search.texture >= np.float32(min_texture))
    d2 = np.full(left2.shape, np.nan, np.float32)
    z2 = np.full(left2.shape, np.nan, np.float32)
    d2[search.py[good], search.px[good]] = search.d[good]
    z2[search.py[good], search.px[good]] = search.score[good]
    hidden = hidden_in_right(d2, d2, scores=z2, claim_scores=z2, tolerance_px=_GUIDE_TOLERANCE_PX)
    good &= ~hidden[search.py, search.px]
    search.score[~good] = -np.inf
    start = _planes_at_full(search, (h, w))
    ys, xs = np.mgrid[0:h, 0:w]
    d, _, _ = start(ys.ravel(), xs.ravel())
    return d.reshape(h, w)


class _Search:
    """The planes of one image's hole pixels and their window correlations."""

    def __init__(self, left, right, margin: int, holes: NDArray[np.bool_], window: int,
                 interval: tuple[float, float] | None = None) -> None:
        self.interval = interval
        ys, xs = np.nonzero(holes)
        self.py, self.px = ys, xs
        self.index = np.full(holes.shape, -1, np.int64)
        self.index[ys, xs] = np.arange(ys.size)
        k = window // 2
        v, u = np.mgrid[-k:k + 1, -k:k + 1]
        self.u = u.reshape(-1, 1).astype(np.float32)  # (n, 1): one row per window pixel
        self.v = v.reshape(-1, 1).astype(np.float32)
        self.n = np.float32(window * window)
        self.left = np.nan_to_num(left, nan=0.0).astype(np.float32)
        self.right = right
        self.margin = np.float32(margin)
        box = lambda a: cv2.boxFilter(a, -1, (window, window), normalize=False,  # noqa: E731
                                      borderType=cv2.BORDER_CONSTANT)
        self.sum_l = box(self.left)[ys, xs]
        self.var_l = np.maximum(box(self.left * self.left)[ys, xs] - self.sum_l ** 2 / self.n, 0)
        self.texture = np.sqrt(self.var_l / self.n)
        self.fy = ys.astype(np.float32)
        self.fx = xs.astype(np.float32)
        size = ys.size
        # the left windows of each block, kept while they fit _LEFT_CACHE_BYTES (else re-read)
        self.left_blocks: dict[int, NDArray[np.float32]] | None = (
            {} if size * window * window * 4 <= _LEFT_CACHE_BYTES else None)
        self.d = np.zeros(size, np.float32)
        self.a = np.zeros(size, np.float32)
        self.b = np.zeros(size, np.float32)
        self.score = np.full(size, -np.inf, np.float32)

    def correlation(self, d, a, b) -> NDArray[np.float32]:
        """ZNCC of each hole pixel's window under the planes ``(d, a, b)``; -inf where the
        window leaves the right image's data or a plane is NaN."""
        out = np.empty(self.py.size, np.float32)
        for s in range(0, self.py.size, _BLOCK):
            e = slice(s, s + _BLOCK)
            ly = self.fy[e] + self.v  # (n, block): one row per window pixel
            l = None if self.left_blocks is None else self.left_blocks.get(s)
            if l is None:
                l = cv2.remap(self.left, self.fx[e] + self.u, ly, cv2.INTER_NEAREST)
                if self.left_blocks is not None:
                    self.left_blocks[s] = l
            # right column of window pixel (u, v): x + u + margin - (d + a u + b v)
            rx = self.u * (1 - a[e])
            rx += self.fx[e] + self.margin - d[e]
            rx -= self.v * b[e]
            r = cv2.remap(self.right, rx, ly, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=np.nan)
            sum_r = r.sum(axis=0)
            cov = np.einsum("ij,ij->j", l, r) - self.sum_l[e] * sum_r / self.n
            var_r = np.einsum("ij,ij->j", r, r) - sum_r * sum_r / self.n
            with np.errstate(invalid="ignore", divide="ignore"):
                z = cov / np.sqrt(np.maximum(self.var_l[e] * var_r, np.float32(1e-30)))
            out[e] = np.where(np.isfinite(z), z, -np.inf)
        return out

    def consider(self, d, a, b) -> None:
        """Take the planes ``(d, a, b)`` where they score better."""
        d, a, b = (np.asarray(x, np.float32) for x in (d, a, b))
        none = ~(np.isfinite(d) & np.isfinite(a) & np.isfinite(b))
        if self.interval is not None:  # planes outside the search interval are not offered
            none |= ~((d >= self.interval[0]) & (d <= self.interval[1]))
        if none.any():
            d, a, b = (np.where(none, np.float32(0), x) for x in (d, a, b))
        z = self.correlation(d, a, b)
        z[none] = -np.inf
        better = z > self.score
        self.score[better], self.d[better], self.a[better], self.b[better] = z[better], d[better], a[better], b[better]

    def propagate(self, jumps, matched) -> None:
        """Offer each pixel the planes of the pixels ``jump`` away in four directions (holes'
        current planes, or ``matched``: the matches' planes, NaN elsewhere)."""
        h, w = self.index.shape
        md, ma, mb = matched
        for jump in jumps:
            for dy, dx in ((0, jump), (0, -jump), (jump, 0), (-jump, 0)):
                qy, qx = self.py + dy, self.px + dx
                inside = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
                qy, qx = np.clip(qy, 0, h - 1), np.clip(qx, 0, w - 1)
                q = self.index[qy, qx]
                hole = q >= 0
                q = np.maximum(q, 0)
                qd = np.where(hole, self.d[q], md[qy, qx])
                qd = np.where(inside & (~hole | np.isfinite(self.score[q])), qd, np.nan)
                qa = np.where(hole, self.a[q], ma[qy, qx])
                qb = np.where(hole, self.b[q], mb[qy, qx])
                # the neighbour's plane, evaluated at this pixel
                self.consider(qd - qa * dx - qb * dy, qa, qb)

    def perturb(self, amplitudes, rng: np.random.Generator) -> None:
        size = self.py.size
        for amp in amplitudes:
            step = lambda scale: rng.uniform(-amp, amp, size).astype(np.float32) * np.float32(scale)  # noqa: E731
            self.consider(self.d + step(1.0), self.a + step(_SLOPE_PER_PX), self.b + step(_SLOPE_PER_PX))


def _slope_planes(disparity):
    """(d, a, b) images: ``disparity`` and the x and y slopes of its smoothed fill."""
    smooth = neighbour_fill(disparity, _SLOPE_SIGMA_PX)
    return disparity, np.gradient(smooth, axis=1).astype(np.float32), np.gradient(smooth, axis=0).astype(np.float32)


def _search(left, right, disparity, claims, margin: int, *, window: int, schedule: _Schedule,
            sigmas_px, rng, start=None, starts: int = 1, interval=None) -> _Search:
    """Planes of ``disparity``'s searchable holes after ``schedule``."""
    # searchable: the window lies inside the image and off the left eye's no-data
    no_data = np.isnan(left).astype(np.uint8)
    holes = ~np.isfinite(disparity) & ~cv2.dilate(no_data, np.ones((window, window), np.uint8),
                                                  borderType=cv2.BORDER_CONSTANT, borderValue=1).astype(bool)
    search = _Search(left, right, margin, holes, window, interval)
    if search.py.size == 0:
        return search
    py, px = search.py, search.px
    for sigma in sigmas_px:
        d, a, b = _slope_planes(neighbour_fill(disparity, sigma))
        search.consider(d[py, px], a[py, px], b[py, px])
    if claims is not None and sigmas_px:
        d, a, b = _slope_planes(neighbour_fill(claims, min(sigmas_px)))
        search.consider(d[py, px], a[py, px], b[py, px])
    for _ in range(starts if start is not None else 0):
        search.consider(*start(py, px))
    matched = _slope_planes(disparity)
    for _ in range(schedule.rounds):
        search.propagate(schedule.jumps, matched)
        search.perturb(schedule.amplitudes, rng)
    return search


def _halve(left, right, disparity, claims, margin: int):
    """The inputs at half resolution: 2 x 2 means (no data where any pixel has none; a
    disparity where 3 of 4 pixels have one), halved disparities, the right margin halved (the
    right image's first column dropped when the margin is odd, so columns still pair up)."""
    h2, w2 = disparity.shape[0] // 2, disparity.shape[1] // 2
    odd = margin % 2
    wr = (right.shape[1] - odd) // 2
    area = lambda a, x0, cols: cv2.resize(a[:2 * h2, x0:x0 + 2 * cols], (cols, h2),  # noqa: E731
                                          interpolation=cv2.INTER_AREA)
    left2 = area(left, 0, w2)
    right2 = area(right, odd, wr)

    def half_disparity(d):
        finite = np.isfinite(d)
        count = area(finite.astype(np.float32), 0, w2)
        total = area(np.where(finite, d, np.float32(0)), 0, w2)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count >= np.float32(0.75), total / count / np.float32(2), np.nan).astype(np.float32)

    return (left2, right2, half_disparity(disparity), None if claims is None else half_disparity(claims),
            margin // 2)


def _planes_at_full(coarse: _Search, shape):
    """The half-resolution planes as starting planes of full-resolution pixels: pixel ``x``
    lies at ``(x - 0.5) / 2`` on the half grid, disparities double and slopes stay."""
    h2, w2 = coarse.index.shape
    planes = np.full((h2, w2, 3), np.nan, np.float32)
    found = np.isfinite(coarse.score)
    planes[coarse.py[found], coarse.px[found]] = np.column_stack([coarse.d, coarse.a, coarse.b])[found]

    def start(py, px):
        i, j = np.minimum(py // 2, h2 - 1), np.minimum(px // 2, w2 - 1)
        p = planes[i, j]
        d = 2 * (p[:, 0] + p[:, 1] * ((px - 0.5) / 2 - j) + p[:, 2] * ((py - 0.5) / 2 - i))
        return d.astype(np.float32), p[:, 1], p[:, 2]

    return start


def _drop_islands(filled, matches):
    """``filled`` without the filled pixels of islands (fewer than _ISLAND_PX pixels stepping by
    more than _ISLAND_STEP_PX from their surroundings); the matches stay."""
    finite = np.isfinite(filled)
    # OpenCV's filter takes int16: sixteenths of a pixel, coarser for disparities past 2047 px
    scale = min(16.0, 32000.0 / max(1.0, float(np.abs(filled[finite]).max(initial=1.0))))
    invalid = -32768
    fixed = np.where(finite, np.rint(filled * np.float32(scale)), invalid).astype(np.int16)
    cv2.filterSpeckles(fixed, invalid, _ISLAND_PX, max(1, int(round(scale * _ISLAND_STEP_PX))))
    drop = (fixed == invalid) & finite & ~np.isfinite(matches)
    out = filled.copy()
    out[drop] = np.nan
    return out
