"""Dense disparity of a rectified stereo pair: OpenCV's semi-global matcher, refined.

1. The search range comes from the rectified models and the nearest and farthest range to
   match (:func:`disparity_search_range`), not from a fixed constant.
2. OpenCV's ``StereoSGBM`` (Hirschmueller 2008) matches 8-bit luminance images; its left-right
   check (``disp12MaxDiff``) compares every left match with the right view's winner taken from
   the *same* aggregated cost volume, so the check costs no second matching pass. Its speckle
   filter drops small isolated blobs.
3. SGBM's 1/16-pixel disparity is biased toward integers (pixel locking: its parabola runs over
   Birchfield-Tomasi costs). A few Gauss-Newton steps on the float images remove the bias: the
   right image is warped by the current disparity and each pixel's disparity moves by
   ``-cov(g, r) / var(g)`` over a window (``r`` the residual left - warped right, ``g`` the mean
   of both images' x gradients; the window mean absorbs a brightness offset between the eyes).
   Window sums are box filters, so a step costs a few passes over the image.
4. Invalid: no-data in either eye (the matching window touching it), no match, a failed
   left-right check, a zero-mean normalised cross-correlation (ZNCC) below ``min_correlation``
   at the refined match (occlusions and mismatches), low texture, or a refinement that left
   its one-pixel neighbourhood.

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
from rovercam.stereo.strips import for_each_strip

__all__ = ["disparity_search_range", "disparity_image", "matching_images", "refine_disparity",
           "row_disparity", "smooth_luminance"]

#: Grid of left pixels (per axis) on which the search range is evaluated.
_RANGE_GRID = 33
#: Percentiles of the joint luminance mapped to 0 and 255 for the 8-bit matcher.
_SCALE_PERCENTILES = (0.5, 99.5)
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
          s: StereoSettings) -> NDArray[np.float32]:
    bs = s.block_size
    matcher = cv2.StereoSGBM_create(
        minDisparity=min_disparity, numDisparities=num_disparities, blockSize=bs,
        P1=8 * bs * bs, P2=32 * bs * bs, disp12MaxDiff=s.lr_max_diff,
        uniquenessRatio=s.uniqueness_ratio, speckleWindowSize=s.speckle_window,
        speckleRange=s.speckle_range, preFilterCap=63, mode=_SGBM_MODES[s.sgbm_mode])
    # OpenCV leaves the first min_disparity + num_disparities columns unmatched whatever their
    # true disparity; padding both eyes on the left lets those pixels match what the right
    # eye sees of them
    pad = max(0, min_disparity + num_disparities)
    if pad:
        l8 = cv2.copyMakeBorder(l8, 0, 0, pad, 0, cv2.BORDER_CONSTANT, value=0)
        r8 = cv2.copyMakeBorder(r8, 0, 0, pad, 0, cv2.BORDER_CONSTANT, value=0)
    raw = matcher.compute(l8, r8)[:, pad:]
    disparity = raw.astype(np.float32) * np.float32(1.0 / 16.0)
    disparity[raw < min_disparity * 16] = np.nan
    return disparity


def disparity_image(
    left: NDArray[np.float32],
    right: NDArray[np.float32],
    *,
    min_disparity: int,
    num_disparities: int,
    settings: StereoSettings | None = None,
) -> NDArray[np.float32]:
    """Dense, sub-pixel, checked disparity of a rectified pair.

    Parameters
    ----------
    left, right : (H, W) or (H, W, B) float32 arrays
        Rectified images (:func:`rovercam.stereo.rectify_images`), radiance, NaN = no data.
    min_disparity, num_disparities : int, keyword-only
        Search interval, pixels (:func:`disparity_search_range`); ``num_disparities`` a
        positive multiple of 16.
    settings : StereoSettings, keyword-only
        Matcher, refinement and validity options (``[stereo]``; defaults when None).

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
    if np.shape(left)[:2] != np.shape(right)[:2]:
        raise StereoError(f"rectified eyes differ in size: {np.shape(left)} vs {np.shape(right)}")
    if num_disparities < 16 or num_disparities % 16:
        raise StereoError(f"num_disparities must be a positive multiple of 16, got {num_disparities}")
    lum_l, lum_r = matching_images(left, right)
    if s.smooth_sigma_px > 0:
        lum_l, lum_r = (smooth_luminance(lum, s.smooth_sigma_px) for lum in (lum_l, lum_r))
    l8, r8 = _to_uint8(lum_l), _to_uint8(lum_r)
    raw = _sgbm(l8, r8, int(min_disparity), int(num_disparities), s)
    if s.row_shear_px > 0:
        raw = _sheared_pass(l8, r8, raw, int(min_disparity), int(num_disparities), s)
    # the matching block must not touch the left eye's no-data (filled with 0 for the matcher)
    nodata = np.isnan(lum_l).astype(np.uint8)
    if nodata.any():
        k = s.block_size
        touched = cv2.dilate(nodata, np.ones((k, k), np.uint8)).astype(bool)
        raw[touched] = np.nan
    disparity, zncc, texture = refine_disparity(lum_l, lum_r, raw, window=s.refine_window,
                                                iterations=s.refine_iterations)
    bad = ~(zncc >= s.min_correlation) | ~(texture >= s.min_texture) | ~(np.abs(disparity - raw) <= 1.0)
    disparity[bad] = np.nan
    return disparity


def row_disparity(disparity: NDArray[np.float32], *, min_fraction: float = 0.05,
                  window: int = 31) -> NDArray[np.float64] | None:
    """Each row's typical disparity: the median of its valid pixels, median-smoothed over rows.

    Parameters
    ----------
    disparity : (H, W) float32 array
        Pixels, NaN = none.
    min_fraction : float, keyword-only
        A row counts when at least this fraction of its pixels has a disparity.
    window : int, keyword-only
        Rows of the running median over the counted rows.

    Returns
    -------
    (H,) float64 array or None
        Pixels, rows without a count interpolated between their neighbours; None when fewer
        than ``window`` rows count.
    """
    h, w = disparity.shape
    counts = np.isfinite(disparity).sum(axis=1)
    rows = np.flatnonzero(counts >= max(1, min_fraction * w))
    if rows.size < window:
        return None
    with np.errstate(all="ignore"):
        medians = np.nanmedian(disparity[rows], axis=1)
    half = window // 2
    padded = np.pad(medians, half, mode="reflect", reflect_type="odd")  # keeps a linear trend at the ends
    smooth = np.median(np.lib.stride_tricks.sliding_window_view(padded, window), axis=1)
    out = np.interp(np.arange(h), rows, smooth)
    # beyond the first and last counted rows: the line through the nearest counted rows (ground
    # changes disparity linearly with the row, and the nearest ground is what fails to match)
    span = min(rows.size, 4 * window)
    for ends, outside in ((slice(None, span), np.arange(h) < rows[0]),
                          (slice(-span, None), np.arange(h) > rows[-1])):
        if outside.any():
            slope, offset = np.polyfit(rows[ends], smooth[ends], 1)
            out[outside] = slope * np.arange(h)[outside] + offset
    return out


def _sheared_pass(l8, r8, raw, min_disparity: int, num_disparities: int, s: StereoSettings):
    """Match again with each right row shifted by its typical disparity (:func:`row_disparity`).

    Ground seen from near a wide baseline (the rear Hazcams: 93 cm, ground at 0.6-1 m) changes
    disparity by about a pixel per row: SGBM's smoothness penalty then fights the true surface
    and its square blocks see sheared texture. Shifting each right row by the first pass's
    typical disparity of that row (whole pixels: no resampling, rows stay epipolar) leaves a
    residual disparity of a few pixels that grows slowly along rows and columns; the second
    pass searches +-row_shear_px around it. Two such passes run, the second with the rows'
    disparity re-estimated from the first (it sees rows the unsheared pass missed); the last
    pass's disparity is returned, without matches outside the original search range.
    """
    disparity = raw
    for _ in range(2):  # the second estimate of the rows' disparity sees the rows the first missed
        shift = row_disparity(disparity)
        if shift is None:
            return disparity
        disparity = _shifted_match(l8, r8, shift, min_disparity, num_disparities, s)
    return disparity


def _shifted_match(l8, r8, shift, min_disparity: int, num_disparities: int, s: StereoSettings):
    """SGBM of ``l8`` against ``r8`` with row y shifted right by ``shift[y]`` (whole pixels)."""
    h, w = r8.shape
    shift = np.clip(np.rint(shift), -(w - 1), w - 1).astype(np.int64)
    shifted = np.zeros_like(r8)
    for y in range(h):  # shifted[y, u] = r8[y, u - shift[y]]
        k = int(shift[y])
        if k >= 0:
            shifted[y, k:] = r8[y, :w - k]
        else:
            shifted[y, :w + k] = r8[y, -k:]
    reach = int(s.row_shear_px)
    residual = _sgbm(l8, shifted, -reach, 2 * reach, s)
    disparity = residual + shift[:, None].astype(np.float32)
    outside = ~((disparity >= min_disparity) & (disparity < min_disparity + num_disparities))
    disparity[outside] = np.nan
    return disparity


def refine_disparity(
    left: NDArray[np.float32],
    right: NDArray[np.float32],
    disparity: NDArray[np.float32],
    *,
    window: int = 7,
    iterations: int = 1,
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """Sub-pixel disparity by Gauss-Newton steps on the warped right image.

    Parameters
    ----------
    left, right : (H, W) float32 arrays
        Luminance of the rectified eyes on one scale (:func:`matching_images`), NaN = no data.
    disparity : (H, W) float32 array
        Starting disparity, pixels (NaN = none).
    window : int, keyword-only
        Odd window side, pixels.
    iterations : int, keyword-only
        Steps; each moves a pixel by at most 0.5 px.

    Returns
    -------
    disparity : (H, W) float32 array
        Refined; NaN where the start is NaN or the window lacks data.
    zncc : (H, W) float32 array
        Zero-mean normalised cross-correlation of the windows at the refined match (-1..1),
        NaN where undefined.
    texture : (H, W) float32 array
        Standard deviation of the left window, in the units of ``left``.
    """
    h, w = left.shape
    lx = _x_gradient(left)
    rx = _x_gradient(right)
    out = np.empty_like(disparity, dtype=np.float32)
    zncc = np.empty((h, w), np.float32)
    texture = np.empty((h, w), np.float32)
    halo = (window // 2) * (iterations + 1)

    def run(y0: int, y1: int) -> None:  # rows y0:y1, refined with a halo around them
        a, b = max(0, y0 - halo), min(h, y1 + halo)
        d, z, t = _refine_strip(left[a:b], lx[a:b], right, rx, disparity[a:b], a, window, iterations)
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


def _refine_strip(lt, lxt, right, rx, disparity, y0: int, k: int, iterations: int):
    """Refine rows ``y0 : y0 + len(disparity)``; ``right`` and ``rx`` are the full images."""
    rows, w = disparity.shape
    map_y = np.ascontiguousarray(np.broadcast_to(
        np.arange(y0, y0 + rows, dtype=np.float32)[:, None], (rows, w)))
    xs = np.arange(w, dtype=np.float32)[None, :]
    # no disparity: a map coordinate far outside the image, so the warp gives NaN
    d = np.where(np.isfinite(disparity), disparity, np.float32(1.0e6))
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
