"""Dense disparity of a rectified stereo pair: OpenCV's semi-global matcher, refined.

1. The search range comes from the rectified models and the nearest and farthest range to
   match (:func:`disparity_search_range`), not from a fixed constant.
2. OpenCV's ``StereoSGBM`` (Hirschmueller 2008) matches 8-bit luminance images; its left-right
   check (``disp12MaxDiff``) compares every left match with the right view's winner taken from
   the *same* aggregated cost volume, so the check costs no second matching pass. Its speckle
   filter drops small isolated blobs. Coarse to fine (``prior_passes`` > 0): the full search
   runs at half resolution, :func:`rovercam.stereo.prior.disparity_surface` smooths and fills
   it, and full-resolution passes search +-``prior_search_px`` around it on the right image
   warped by it (slanted ground then looks fronto-parallel to the blocks).
3. SGBM's 1/16-pixel disparity is biased toward integers (pixel locking: its parabola runs over
   Birchfield-Tomasi costs). A few Gauss-Newton steps on the float images remove the bias: the
   right image is warped by the current disparity and each pixel's disparity moves by
   ``-cov(g, r) / var(g)`` over a window (``r`` the residual left - warped right, ``g`` the mean
   of both images' x gradients; the window mean absorbs a brightness offset between the eyes).
   Window sums are box filters, so a step costs a few passes over the image.
4. Invalid: no-data in either eye (the matching window touching it), no match, a failed
   left-right check, a match the right eye sees behind a nearer surface
   (:func:`hidden_in_right`), a refinement window less than 3/4 matched, a zero-mean
   normalised cross-correlation (ZNCC) below ``min_correlation`` at the refined match
   (occlusions and mismatches), low texture, or a refinement that left its one-pixel
   neighbourhood.
5. Holes filled (``fill_sigmas_px``, off by default): guesses from the matches around each
   hole (:func:`rovercam.stereo.prior.neighbour_fill`, one per sigma) and from the coarse
   search's matches (its holes filled at the smallest sigma) are refined like the matches; a guess is kept where its ZNCC reaches ``fill_min_correlation`` (stricter than
   ``min_correlation``: a guess had no left-right check), its texture passes and the
   uniqueness check holds against the matches, the best ZNCC winning. Rock faces seen at very different angles by a
   wide baseline, where square blocks fail but the warped refinement window does not.
6. Slanted planes (``fill_planes``, off by default): what is still a hole gets a PatchMatch
   search of slanted planes (:func:`rovercam.stereo.planes.plane_fill`), kept where the plane's
   window reaches ``fill_min_correlation`` and the same uniqueness check holds.

Conventions: docs/stereo.md, docs/conventions.md.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.camera import CAHV
from rovercam.config import StereoSettings
from rovercam.errors import StereoError
from rovercam.stereo.occlusion import hidden_in_right
from rovercam.stereo.planes import GUESS_SIGMAS_PX, plane_fill, plane_search
from rovercam.stereo.prior import compose_disparity, disparity_surface, neighbour_fill, warp_right
from rovercam.stereo.strips import for_each_strip

__all__ = ["disparity_search_range", "disparity_image", "matching_images", "refine_disparity",
           "smooth_luminance"]

#: Grid of left pixels (per axis) on which the search range is evaluated.
_RANGE_GRID = 33
#: Percentiles of the joint luminance mapped to 0 and 255 for the 8-bit matcher.
_SCALE_PERCENTILES = (0.5, 99.5)
#: Fraction of the refinement window that must have a match (the rest is warped by its fill).
_MIN_SUPPORT = 0.75
#: Gauss-Newton steps that refine a hole's guess (each moves it by at most 0.5 px).
_FILL_ITERATIONS = 3
_SGBM_MODES = {"sgbm": cv2.STEREO_SGBM_MODE_SGBM, "3way": cv2.STEREO_SGBM_MODE_SGBM_3WAY,
               "hh4": cv2.STEREO_SGBM_MODE_HH4}


def disparity_search_range(
    left_model: CAHV,
    right_model: CAHV,
    size: tuple[int, int],
    *,
    min_range_m: float,
    max_range_m: float = 0.0,
) -> tuple[int, int]:
    """The disparity interval that holds every point between two ranges, OpenCV style.

    Parameters
    ----------
    left_model, right_model : CAHV
        Rectified models (:func:`rovercam.camera.rectify_pair`).
    size : (width, height)
        Rectified image size, pixels.
    min_range_m, max_range_m : float, keyword-only
        Nearest and farthest distance from the left camera centre to match, metres;
        ``max_range_m = 0`` means infinity.

    Returns
    -------
    min_disparity : int
        Pixels (1 px margin below the farthest point's disparity).
    num_disparities : int
        A multiple of 16 covering the nearest point's disparity plus 1 px (OpenCV's rule).

    Notes
    -----
    A point at range r along a left ray projects into the right model at ``x - d``; d is
    evaluated on a 33 x 33 grid of left pixels covering the image, at both ranges, so the
    interval follows the rectified models exactly (d grows toward the image edges, where a
    given range is at a smaller depth).
    """
    if not (min_range_m > 0 and (max_range_m == 0 or max_range_m > min_range_m)):
        raise StereoError(f"need 0 < min_range_m < max_range_m (or max_range_m = 0), "
                          f"got {min_range_m!r}, {max_range_m!r}")
    w, h = size
    gx, gy = np.meshgrid(np.linspace(0, w - 1, _RANGE_GRID), np.linspace(0, h - 1, _RANGE_GRID))
    pixels = np.column_stack([gx.ravel(), gy.ravel()])
    origins, dirs = left_model.unproject(pixels)

    def disparity_at(range_m: float) -> NDArray[np.float64]:
        right_px = right_model.project(origins + range_m * dirs)
        return pixels[:, 0] - right_px[:, 0]

    near = disparity_at(min_range_m)
    if max_range_m > 0:
        far = disparity_at(max_range_m)
    else:  # points at infinity
        far = pixels[:, 0] - right_model.project_directions(dirs)[:, 0]
    if not (np.isfinite(near).all() and np.isfinite(far).all()):
        raise StereoError(f"points at {min_range_m} m are behind the right camera")
    lo = math.floor(float(far.min())) - 1
    hi = math.ceil(float(near.max())) + 1
    num = max(16, math.ceil((hi - lo + 1) / 16.0) * 16)
    return lo, num


def matching_images(
    left: NDArray[np.float32], right: NDArray[np.float32]
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Luminance of both eyes on one scale: 0 and 1 at the joint 0.5 and 99.5 percentiles.

    Parameters
    ----------
    left, right : (H, W) or (H, W, B) float32 arrays
        Rectified images (radiance), NaN = no data.

    Returns
    -------
    left_lum, right_lum : (H, W) float32 arrays
        The band mean, scaled; NaN where any band is NaN. One scale for both eyes keeps their
        radiometric match (a per-eye stretch would differ with each eye's field of view).

    Raises
    ------
    rovercam.errors.StereoError
        An eye without a finite pixel, or both eyes flat.
    """
    lums = []
    for img in (left, right):
        img = np.asarray(img, dtype=np.float32)
        lums.append(img if img.ndim == 2 else img.mean(axis=2, dtype=np.float32))
    samples = np.concatenate([lum[::7, ::7].ravel() for lum in lums])
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        raise StereoError("the rectified eyes have no finite pixel in common view")
    lo, hi = np.percentile(samples, _SCALE_PERCENTILES)
    if not hi > lo:
        raise StereoError("both eyes are flat (no texture to match)")
    scale = np.float32(1.0 / (hi - lo))
    return tuple((lum - np.float32(lo)) * scale for lum in lums)  # type: ignore[return-value]


def smooth_luminance(lum: NDArray[np.float32], sigma_px: float) -> NDArray[np.float32]:
    """Gaussian-smoothed luminance, no-data aware (normalised convolution).

    Parameters
    ----------
    lum : (H, W) float32 array
        Matching luminance (:func:`matching_images`), NaN = no data.
    sigma_px : float
        Gaussian sigma, pixels (> 0).

    Returns
    -------
    (H, W) float32 array
        Each pixel the weighted mean of its finite neighbours; NaN where ``lum`` is NaN.

    Notes
    -----
    Frames whose pixel-level noise is larger than the scene's fine texture (a long lens on
    near terrain: Mastcam-Z at a few metres) match on noise; smoothing both eyes alike keeps
    the texture that both see and drops the noise that differs between them.
    """
    if not sigma_px > 0:
        raise StereoError(f"sigma_px must be > 0, got {sigma_px!r}")
    finite = np.isfinite(lum)
    if finite.all():
        return cv2.GaussianBlur(lum, (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT)
    weight = cv2.GaussianBlur(finite.astype(np.float32), (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT)
    total = cv2.GaussianBlur(np.where(finite, lum, np.float32(0)), (0, 0), sigma_px,
                             borderType=cv2.BORDER_REFLECT)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = total / weight
    out[~finite] = np.nan
    return out


def _to_uint8(lum: NDArray[np.float32]) -> NDArray[np.uint8]:
    out = np.nan_to_num(lum * np.float32(255.0), nan=0.0)
    return np.clip(out, 0, 255).astype(np.uint8)


def _sgbm(l8: NDArray[np.uint8], r8: NDArray[np.uint8], min_disparity: int, num_disparities: int,
          s: StereoSettings, right_margin: int = 0) -> NDArray[np.float32]:
    """SGBM of ``l8`` against ``r8``, whose column ``u`` is left column ``u - right_margin``."""
    bs = s.block_size
    matcher = cv2.StereoSGBM_create(
        minDisparity=min_disparity, numDisparities=num_disparities, blockSize=bs,
        P1=8 * bs * bs, P2=32 * bs * bs, disp12MaxDiff=s.lr_max_diff,
        uniquenessRatio=s.uniqueness_ratio, speckleWindowSize=s.speckle_window,
        speckleRange=s.speckle_range, preFilterCap=63, mode=_SGBM_MODES[s.sgbm_mode])
    # OpenCV leaves the first min_disparity + num_disparities columns unmatched whatever their
    # true disparity; padding both eyes on the left lets those pixels match. The right eye's
    # padding is what it sees there (its margin), zeros beyond
    h, w = l8.shape
    pad = max(0, min_disparity + num_disparities)
    if pad:
        l8 = cv2.copyMakeBorder(l8, 0, 0, pad, 0, cv2.BORDER_CONSTANT, value=0)
    if right_margin >= pad:
        r8 = r8[:, right_margin - pad:right_margin + w]
    else:
        r8 = cv2.copyMakeBorder(r8[:, :right_margin + w], 0, 0, pad - right_margin, 0,
                                cv2.BORDER_CONSTANT, value=0)
    raw = matcher.compute(l8, np.ascontiguousarray(r8))[:, pad:]
    disparity = raw.astype(np.float32) * np.float32(1.0 / 16.0)
    disparity[raw < min_disparity * 16] = np.nan
    return disparity


def _coarse_sgbm(l8, r8, min_disparity: int, num_disparities: int, s: StereoSettings,
                 right_margin: int) -> NDArray[np.float32]:
    """The full search at half resolution (a quarter of the pixels, half the disparities),
    upsampled to full-resolution pixels: only the guide of the prior passes."""
    h, w = l8.shape
    hw, hh, odd = w // 2, h // 2, right_margin % 2  # whole 2 x 2 cells, so the scale is exactly 2
    l2 = cv2.resize(l8[:2 * hh, :2 * hw], (hw, hh), interpolation=cv2.INTER_AREA)
    r2 = cv2.resize(r8[:2 * hh, odd:odd + 2 * (hw + right_margin // 2)], (hw + right_margin // 2, hh),
                    interpolation=cv2.INTER_AREA)
    lo = math.floor(min_disparity / 2)
    num = max(16, math.ceil((num_disparities / 2 + 1) / 16) * 16)
    coarse = s.model_copy(update={"block_size": max(3, s.block_size - 2)})
    d2 = _sgbm(l2, r2, lo, num, coarse, right_margin // 2)
    return cv2.resize(d2 * np.float32(2.0), (w, h), interpolation=cv2.INTER_NEAREST)


def _prior_pass(l8, r8, surface, min_disparity: int, num_disparities: int, s: StereoSettings,
                right_margin: int) -> NDArray[np.float32]:
    """SGBM of ``l8`` against the right eye warped by ``surface``, +-prior_search_px around it."""
    reach = int(s.prior_search_px)
    warped = warp_right(r8, surface, right_margin=right_margin, left_columns=reach)
    residual = _sgbm(l8, warped, -reach, 2 * reach, s, right_margin=reach)
    disparity = compose_disparity(residual, surface)
    outside = ~((disparity >= min_disparity) & (disparity < min_disparity + num_disparities))
    disparity[outside] = np.nan
    return disparity


def _match(l8, r8, min_disparity: int, num_disparities: int, s: StereoSettings,
           right_margin: int, lum) -> tuple[NDArray[np.float32], NDArray[np.float32] | None]:
    """SGBM's disparity: one full search, or coarse to fine through :func:`disparity_surface`
    (guided by the coarse SGBM search or, with ``coarse_search = "planes"``, by
    :func:`rovercam.stereo.planes.plane_search` on the float luminance ``lum``); and the coarse
    SGBM search's disparity, the claims of the occlusion checks (None without one)."""
    if s.prior_passes == 0:
        return _sgbm(l8, r8, min_disparity, num_disparities, s, right_margin), None
    coarse = _coarse_sgbm(l8, r8, min_disparity, num_disparities, s, right_margin)
    disparity = coarse
    if s.coarse_search == "planes":
        disparity = plane_search(*lum, min_disparity=min_disparity, num_disparities=num_disparities,
                                 right_margin=right_margin, min_texture=s.min_texture)
    for i in range(s.prior_passes):
        surface = disparity_surface(disparity, cell_px=s.prior_cell_px)
        if surface is None:  # too few matches to guide: the full search at full resolution
            return _sgbm(l8, r8, min_disparity, num_disparities, s, right_margin), None
        found = _prior_pass(l8, r8, surface, min_disparity, num_disparities, s, right_margin)
        # the coarse guide's matches are not kept; later passes fill what earlier ones missed
        disparity = found if i == 0 else np.where(np.isfinite(found), found, disparity)
    return disparity, coarse


def disparity_image(
    left: NDArray[np.float32],
    right: NDArray[np.float32],
    *,
    min_disparity: int,
    num_disparities: int,
    settings: StereoSettings | None = None,
    right_margin: int = 0,
) -> NDArray[np.float32]:
    """Dense, sub-pixel, checked disparity of a rectified pair.

    Parameters
    ----------
    left : (H, W) or (H, W, B) float32 array
        Rectified left image (:func:`rovercam.stereo.rectify_images`), radiance, NaN = no data.
    right : (H, W + right_margin) or (H, W + right_margin, B) float32 array
        Rectified right image, the same bands; its column ``u`` is rectified column
        ``u - right_margin``.
    min_disparity, num_disparities : int, keyword-only
        Search interval, pixels (:func:`disparity_search_range`); ``num_disparities`` a
        positive multiple of 16.
    settings : StereoSettings, keyword-only
        Matcher, refinement and validity options (``[stereo]``; defaults when None).
    right_margin : int, keyword-only
        Columns of the right image left of the left image's first column: what the right eye
        sees of near points at the left edge (``rectify_images(..., right_margin=)``); the
        matcher pads with zeros beyond it. ``min_disparity + num_disparities`` covers every
        match.

    Returns
    -------
    (H, W) float32 array
        Pixels: the right eye sees left pixel ``(x, y)`` at ``(x - d, y)``. NaN where invalid
        (see the module notes).

    Raises
    ------
    rovercam.errors.StereoError
        Images of different sizes, or a bad search interval.
    """
    s = settings or StereoSettings()
    margin = int(right_margin)
    h, w = np.shape(left)[:2]
    if margin < 0 or np.shape(right)[:2] != (h, w + margin):
        raise StereoError(f"rectified eyes differ in size: {np.shape(left)} vs {np.shape(right)} "
                          f"with right_margin = {right_margin!r}")
    if num_disparities < 16 or num_disparities % 16:
        raise StereoError(f"num_disparities must be a positive multiple of 16, got {num_disparities}")
    lum_l, lum_r = matching_images(left, right)
    if s.smooth_sigma_px > 0:
        lum_l, lum_r = (smooth_luminance(lum, s.smooth_sigma_px) for lum in (lum_l, lum_r))
    l8, r8 = _to_uint8(lum_l), _to_uint8(lum_r)
    raw, coarse = _match(l8, r8, int(min_disparity), int(num_disparities), s, margin, (lum_l, lum_r))
    # the matching block must not touch the left eye's no-data (filled with 0 for the matcher)
    nodata = np.isnan(lum_l).astype(np.uint8)
    touched = cv2.dilate(nodata, np.ones((s.block_size,) * 2, np.uint8)).astype(bool) if nodata.any() else None
    if touched is not None:
        raw[touched] = np.nan
    disparity, zncc, texture = refine_disparity(lum_l, lum_r, raw, window=s.refine_window,
                                                iterations=s.refine_iterations, right_margin=margin)
    bad = ~(zncc >= s.min_correlation) | ~(texture >= s.min_texture) | ~(np.abs(disparity - raw) <= 1.0)
    # the refinement window must be mostly matched: holes are warped by their neighbours'
    # disparity, which is wrong for an occluded band (a speckle hole keeps its neighbours)
    k = s.refine_window
    support = _box(np.isfinite(raw).astype(np.float32), k)
    bad |= support < np.float32(_MIN_SUPPORT * k * k)
    disparity[bad] = np.nan
    if coarse is not None:
        # occlusions: the guided passes' left-right check ran on the warped right image, which
        # repeats texture beside a depth edge; the full (coarse) search's ran in the pair's own
        # geometry, and its matches of the nearer surface claim the right pixels they see
        disparity[hidden_in_right(disparity, coarse)] = np.nan
    if s.fill_sigmas_px or s.fill_planes:  # each match's ZNCC: the fills' uniqueness checks weigh it
        scores = np.where(np.isfinite(disparity), zncc, np.float32(np.nan))
    if s.fill_sigmas_px:
        disparity, scores = _fill(lum_l, lum_r, disparity, scores, coarse, s, margin)
    if s.fill_planes:
        planes, plane_scores = plane_fill(lum_l, lum_r, disparity, claims=coarse, right_margin=margin,
                                          min_texture=s.min_texture, sigmas_px=s.fill_sigmas_px or GUESS_SIGMAS_PX)
        # a match hides a plane only where it correlates at least as well: beside rock faces the
        # matches that would hide a plane were mostly the mismatches (docs/stereo.md#slanted-planes)
        disparity = _unique(planes, disparity, coarse, scores=plane_scores, match_scores=scores)
    if touched is not None and (s.fill_sigmas_px or s.fill_planes):
        disparity[touched] = np.nan
    return disparity


def _unique(filled, matches, claims, *, scores=None, match_scores=None) -> NDArray[np.float32]:
    """``filled`` without the filled pixels whose right pixel a match or claim sees nearer (with
    scores: a match that correlates at least as well)."""
    hidden = hidden_in_right(filled, matches, scores=scores, claim_scores=match_scores)
    if claims is not None:
        hidden |= hidden_in_right(filled, claims)
    out = filled.copy()
    out[hidden & ~np.isfinite(matches)] = np.nan
    return out


def _fill(lum_l, lum_r, disparity, scores, claims, s: StereoSettings, margin: int):
    """Holes of ``disparity`` filled by verified guesses (module notes, step 5), and ``scores``
    (the ZNCC of each match) with the filled pixels' ZNCC."""
    holes = ~np.isfinite(disparity)
    best = np.full(disparity.shape, -np.inf, np.float32)
    found = np.full(disparity.shape, np.nan, np.float32)
    guesses = [neighbour_fill(disparity, sigma) for sigma in s.fill_sigmas_px]
    if claims is not None:  # the full (coarse) search reached rocks the guided passes missed
        guesses.append(np.where(holes, neighbour_fill(claims, min(s.fill_sigmas_px)), disparity))
    for guess in guesses:
        refined, zncc, texture = refine_disparity(lum_l, lum_r, guess, window=s.refine_window,
                                                  iterations=_FILL_ITERATIONS, right_margin=margin)
        win = holes & (zncc >= s.fill_min_correlation) & (texture >= s.min_texture) & (zncc > best)
        best[win], found[win] = zncc[win], refined[win]
    # a guess continues the surface behind a nearer one into ground the right eye does not
    # see: the verified matches claim their right pixels too
    filled = _unique(np.where(np.isfinite(found), found, disparity), disparity, claims)
    return filled, np.where(np.isfinite(filled) & ~np.isfinite(disparity), best, scores).astype(np.float32)


def refine_disparity(
    left: NDArray[np.float32],
    right: NDArray[np.float32],
    disparity: NDArray[np.float32],
    *,
    window: int = 7,
    iterations: int = 1,
    right_margin: int = 0,
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """Sub-pixel disparity by Gauss-Newton steps on the warped right image.

    Parameters
    ----------
    left : (H, W) float32 array
    right : (H, W + right_margin) float32 array
        Luminance of the rectified eyes on one scale (:func:`matching_images`), NaN = no data;
        the right image's column ``u`` is rectified column ``u - right_margin``.
    disparity : (H, W) float32 array
        Starting disparity, pixels (NaN = none).
    window : int, keyword-only
        Odd window side, pixels.
    iterations : int, keyword-only
        Steps; each moves a pixel by at most 0.5 px.
    right_margin : int, keyword-only
        Columns of ``right`` left of the left image's first column.

    Returns
    -------
    disparity : (H, W) float32 array
        Refined; NaN where the start is NaN or the window lacks data.
    zncc : (H, W) float32 array
        Zero-mean normalised cross-correlation of the windows at the refined match (-1..1),
        NaN where undefined.
    texture : (H, W) float32 array
        Standard deviation of the left window, in the units of ``left``.

    Notes
    -----
    The right image is warped pixel by pixel, so a window on a slanted surface compares
    like with like. Pixels without a disparity are warped by the mean disparity of the valid
    pixels in their window (they stay NaN in the output): otherwise every hole would leave its
    neighbours' windows incomplete and take them out too.
    """
    h, w = left.shape
    guide = _fill_holes(disparity, window)
    lx = _x_gradient(left)
    rx = _x_gradient(right)
    out = np.empty_like(disparity, dtype=np.float32)
    zncc = np.empty((h, w), np.float32)
    texture = np.empty((h, w), np.float32)
    halo = (window // 2) * (iterations + 1)

    def run(y0: int, y1: int) -> None:  # rows y0:y1, refined with a halo around them
        a, b = max(0, y0 - halo), min(h, y1 + halo)
        d, z, t = _refine_strip(left[a:b], lx[a:b], right, rx, disparity[a:b], guide[a:b], a, window,
                                iterations, right_margin)
        out[y0:y1], zncc[y0:y1], texture[y0:y1] = d[y0 - a:y1 - a], z[y0 - a:y1 - a], t[y0 - a:y1 - a]

    for_each_strip(h, run)
    return out, zncc, texture


def _x_gradient(img: NDArray[np.float32]) -> NDArray[np.float32]:
    """d img / dx, pixels^-1, by central differences (no vertical smoothing: on steep ground
    neighbouring rows have different disparities, and a Sobel's row mixing added error)."""
    kernel = np.array([[-0.5, 0.0, 0.5]], np.float32)
    return cv2.filter2D(img, cv2.CV_32F, kernel, borderType=cv2.BORDER_REPLICATE)


def _box(img: NDArray[np.float32], k: int) -> NDArray[np.float32]:
    return cv2.boxFilter(img, -1, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT)


def _fill_holes(disparity: NDArray[np.float32], k: int) -> NDArray[np.float32]:
    """``disparity`` with each hole the mean of the valid pixels in its k x k window (NaN when
    there are none)."""
    finite = np.isfinite(disparity)
    if finite.all():
        return disparity
    total = _box(np.where(finite, disparity, np.float32(0)), k)
    count = _box(finite.astype(np.float32), k)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(finite, disparity, total / count).astype(np.float32)


def _refine_strip(lt, lxt, right, rx, disparity, guide, y0: int, k: int, iterations: int, margin: int):
    """Refine rows ``y0 : y0 + len(disparity)``; ``right`` and ``rx`` are the full images."""
    rows, w = disparity.shape
    map_y = np.ascontiguousarray(np.broadcast_to(
        np.arange(y0, y0 + rows, dtype=np.float32)[:, None], (rows, w)))
    xs = np.arange(w, dtype=np.float32)[None, :] + np.float32(margin)
    # holes are warped by their window's mean disparity (guide); none at all: a map coordinate
    # far outside the image, so the warp gives NaN
    d = np.where(np.isfinite(guide), guide, np.float32(1.0e6))
    left_ok = np.isfinite(lt) & np.isfinite(lxt)
    full = np.float32(k * k)
    zero = np.float32(0)

    def warp(*images):
        map_x = xs - d
        return [cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=np.nan) for img in images]

    for _ in range(iterations):
        rw, rxw = warp(right, rx)
        ok = left_ok & np.isfinite(rw) & np.isfinite(rxw)
        g = np.where(ok, np.float32(0.5) * (lxt + rxw), zero)
        r = np.where(ok, lt - rw, zero)
        n = _box(ok.astype(np.float32), k)
        sg, sr = _box(g, k), _box(r, k)
        with np.errstate(divide="ignore", invalid="ignore"):
            var_g = _box(g * g, k) - sg * sg / n
            step = (sg * sr / n - _box(g * r, k)) / var_g
        step = np.where((n >= full) & (var_g > 0) & np.isfinite(step), step, zero)
        d += np.clip(step, -0.5, 0.5)
    (rw,) = warp(right)
    ok = left_ok & np.isfinite(rw)
    lz = np.where(ok, lt, zero)
    rz = np.where(ok, rw, zero)
    n = _box(ok.astype(np.float32), k)
    with np.errstate(divide="ignore", invalid="ignore"):
        sl, sr = _box(lz, k), _box(rz, k)
        var_l = _box(lz * lz, k) - sl * sl / n
        var_r = _box(rz * rz, k) - sr * sr / n
        cov = _box(lz * rz, k) - sl * sr / n
        zncc = cov / np.sqrt(np.maximum(var_l * var_r, np.float32(1e-30)))
        texture = np.sqrt(np.maximum(var_l, zero) / n)
    complete = (n >= full) & ok & np.isfinite(disparity)
    d[~complete] = np.nan
    zncc[~complete] = np.nan
    return d, zncc.astype(np.float32), texture.astype(np.float32)
