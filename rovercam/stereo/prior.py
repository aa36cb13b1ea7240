"""A smooth disparity surface that guides matching: the coarse-to-fine pre-warp.

Ground seen from near a wide baseline (the Hazcams: disparity changing by up to a pixel per
row) and texture seen at a slant defeat a matcher of square, fronto-parallel blocks: its
smoothness penalty fights the true surface and its blocks see texture stretched and sheared
between the eyes. The classic remedy for hazard cameras is to warp the right image by the
expected disparity (a ground plane, or a coarse disparity map) so that what remains to be
found is small and nearly constant, and to add the warp back afterwards.

- :func:`disparity_surface` turns sparse, partly wrong matches into a smooth, dense surface:
  medians over cells, a robust plane through them where cells are empty (ground continues
  where matching failed: the nearest ground at the bottom of a Hazcam frame), a 3 x 3 median
  and a small Gaussian over cells, bilinear back to pixels.
- :func:`warp_right` resamples the right image by the surface (rows stay rows: disparity is
  horizontal), so a point at disparity ``d`` is found at residual ``d - surface``.
- :func:`compose_disparity` adds the surface back: a residual ``r`` found at left pixel ``x``
  means the right image's column ``x - r - surface(x - r)``.
- :func:`neighbour_fill` guesses the disparity of holes from the matches around them (a
  normalised Gaussian convolution), a start for the refinement to verify
  (``fill_sigmas_px``, docs/stereo.md#filling-holes).

Conventions: docs/stereo.md, docs/conventions.md.
"""
from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.errors import StereoError

__all__ = ["disparity_surface", "warp_right", "compose_disparity", "neighbour_fill"]

#: Robust plane fit: iterations and the residual cut in median absolute deviations (+1 px).
_PLANE_ITERATIONS = 3
_PLANE_CUT_MAD = 4.0
#: Cells of linear extrapolation around the grid (beyond the Gaussian's reach of 4 cells).
_RING = 5


def _cell_medians(disparity: NDArray[np.float32], cell: int, min_fraction: float):
    """Medians over the whole cells of the image (a partial last row or column of cells would
    put its median off its centre; the edge ring of the surface extrapolates over it)."""
    h, w = disparity.shape
    gh, gw = max(1, h // cell), max(1, w // cell)
    tiled = disparity[:gh * cell, :gw * cell]
    if tiled.shape != (gh * cell, gw * cell):  # an image smaller than one cell
        tiled = np.pad(tiled, ((0, gh * cell - tiled.shape[0]), (0, gw * cell - tiled.shape[1])),
                       constant_values=np.nan)
    blocks = tiled.reshape(gh, cell, gw, cell).transpose(0, 2, 1, 3).reshape(gh, gw, cell * cell)
    counts = np.isfinite(blocks).sum(axis=2)
    ok = counts >= max(1, min_fraction * cell * cell)
    medians = np.full((gh, gw), np.nan, np.float32)
    if ok.any():
        # NaN sorts last: the median of each row's first n values (one sorted copy; nanmedian
        # goes through masked arrays, several copies of the image)
        ranked = np.sort(blocks[ok], axis=1)
        n = counts[ok]
        lo = np.take_along_axis(ranked, ((n - 1) // 2)[:, None], axis=1)[:, 0]
        hi = np.take_along_axis(ranked, (n // 2)[:, None], axis=1)[:, 0]
        medians[ok] = 0.5 * (lo + hi)
    return medians, ok


def _robust_plane(values: NDArray[np.float32], ok: NDArray[np.bool_]) -> NDArray[np.float32]:
    """``a x + b y + c`` over the grid, fitted to ``values[ok]`` with outliers dropped (the
    disparity of a plane is affine in the rectified pixel)."""
    gy, gx = np.mgrid[0:ok.shape[0], 0:ok.shape[1]]
    design = np.column_stack([gx[ok], gy[ok], np.ones(int(ok.sum()))]).astype(np.float64)
    z = values[ok].astype(np.float64)
    keep = np.ones(z.size, bool)
    coef = np.zeros(3)
    for _ in range(_PLANE_ITERATIONS):
        coef, *_ = np.linalg.lstsq(design[keep], z[keep], rcond=None)
        residual = np.abs(z - design @ coef)
        keep = residual <= _PLANE_CUT_MAD * np.median(residual[keep]) + 1.0
        if keep.sum() < 3:
            break
    return (coef[0] * gx + coef[1] * gy + coef[2]).astype(np.float32)


def disparity_surface(
    disparity: NDArray[np.float32],
    *,
    cell_px: int = 16,
    min_fraction: float = 0.25,
) -> NDArray[np.float32] | None:
    """A smooth, dense disparity surface through sparse matches.

    Parameters
    ----------
    disparity : (H, W) float32 array
        Pixels, NaN = no match; may hold a minority of mismatches.
    cell_px : int, keyword-only
        Side of the cells whose median is taken, pixels (>= 2).
    min_fraction : float, keyword-only
        A cell counts when at least this fraction of its pixels has a match.

    Returns
    -------
    (H, W) float32 array or None
        Pixels, finite everywhere; None when fewer than 10 cells count.

    Notes
    -----
    Empty cells take a robust plane through the counted cells' medians (the disparity of a
    plane is affine in the rectified pixel, docs/stereo.md); a 3 x 3 median over cells removes
    isolated wrong cells and a Gaussian of one cell smooths the steps between cells before the
    bilinear interpolation back to pixels (cell centres at ``(i + 0.5) * cell_px - 0.5``;
    linear extrapolation beyond the outermost centres). A surface that is affine in the pixel
    (level ground) comes back exactly where the cells are full.
    """
    d = np.asarray(disparity, np.float32)
    if d.ndim != 2:
        raise StereoError(f"disparity must be an (H, W) image, got shape {d.shape}")
    if cell_px < 2:
        raise StereoError(f"cell_px must be >= 2, got {cell_px!r}")
    medians, ok = _cell_medians(d, int(cell_px), min_fraction)
    if ok.sum() < 10:
        return None
    grid = np.where(ok, medians, _robust_plane(medians, ok)).astype(np.float32)
    # filters and the edges keep an affine surface (ground) affine: the grid is extended by
    # odd reflection (2 edge - mirror, a linear extrapolation) before the median and Gaussian
    grid = np.pad(grid, _RING, mode="reflect", reflect_type="odd") if min(grid.shape) > 1 else \
        np.pad(grid, _RING, mode="edge")
    grid = cv2.medianBlur(np.ascontiguousarray(grid, np.float32), 3)
    grid = cv2.GaussianBlur(grid, (0, 0), 1.0, borderType=cv2.BORDER_REPLICATE)
    h, w = d.shape
    gx = ((np.arange(w, dtype=np.float32) + 0.5) / cell_px - 0.5 + _RING)[None, :]
    gy = ((np.arange(h, dtype=np.float32) + 0.5) / cell_px - 0.5 + _RING)[:, None]
    map_x = np.ascontiguousarray(np.broadcast_to(gx, (h, w)))
    map_y = np.ascontiguousarray(np.broadcast_to(gy, (h, w)))
    return cv2.remap(grid, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def warp_right(
    right: NDArray,
    surface: NDArray[np.float32],
    *,
    right_margin: int = 0,
    left_columns: int = 0,
) -> NDArray:
    """The right image seen through a disparity surface, on the left eye's grid.

    Parameters
    ----------
    right : (H, W + right_margin) uint8 or float32 array
        The rectified right image; its column ``u`` is rectified column ``u - right_margin``.
    surface : (H, W) float32 array
        Disparity surface, pixels (:func:`disparity_surface`).
    right_margin : int, keyword-only
        Columns of ``right`` left of rectified column 0.
    left_columns : int, keyword-only
        Columns to produce left of column 0 (the surface extended by its first column).

    Returns
    -------
    (H, left_columns + W) array, ``right``'s dtype
        Column ``u`` holds the right image at rectified column ``x - surface(x)``,
        ``x = u - left_columns`` (bilinear); 0 (uint8) or NaN (float) outside ``right``.
    """
    h, w = surface.shape
    if right.shape[0] != h:
        raise StereoError(f"right image has {right.shape[0]} rows, the surface {h}")
    s = surface if left_columns <= 0 else cv2.copyMakeBorder(surface, 0, 0, left_columns, 0,
                                                             cv2.BORDER_REPLICATE)
    xs = np.arange(-left_columns, w, dtype=np.float32)[None, :]
    map_x = np.ascontiguousarray(xs - s + np.float32(right_margin))
    map_y = np.ascontiguousarray(np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], map_x.shape))
    # replicate, then blank what lies outside: a constant NaN border would also reach the last
    # row through the bilinear weights (zero, but NaN x 0 is NaN)
    out = cv2.remap(right, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    outside = ~((map_x > -1) & (map_x < right.shape[1]))
    out[outside] = 0 if right.dtype == np.uint8 else np.nan
    return out


def compose_disparity(residual: NDArray[np.float32], surface: NDArray[np.float32]) -> NDArray[np.float32]:
    """Disparity from a residual found against :func:`warp_right`'s image.

    Parameters
    ----------
    residual : (H, W) float32 array
        Pixels: left pixel ``x`` matched warped column ``x - residual`` (NaN = none).
    surface : (H, W) float32 array
        The surface the right image was warped by.

    Returns
    -------
    (H, W) float32 array
        ``residual + surface(x - residual)`` (bilinear along the row), NaN where ``residual`` is.
    """
    h, w = residual.shape
    map_x = np.arange(w, dtype=np.float32)[None, :] - np.nan_to_num(residual)
    map_y = np.ascontiguousarray(np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, w)))
    at = cv2.remap(surface, np.ascontiguousarray(map_x, np.float32), map_y, cv2.INTER_LINEAR,
                   borderMode=cv2.BORDER_REPLICATE)
    return residual + at


def neighbour_fill(disparity: NDArray[np.float32], sigma_px: float) -> NDArray[np.float32]:
    """``disparity`` with each hole the Gaussian-weighted mean of the matches around it.

    Parameters
    ----------
    disparity : (H, W) float32 array
        Pixels, NaN = no match.
    sigma_px : float
        Gaussian sigma of the weights, pixels (> 0).

    Returns
    -------
    (H, W) float32 array
        Matches unchanged; holes the normalised convolution ``G * (d m) / G * m`` (``m`` the
        match mask), NaN where the weight of matches is below 1e-3 (none within ~4 sigma).

    Notes
    -----
    A guess, not a match: small sigmas continue a surface into a hole over a rock face or a
    speckle gap, large ones reach across wide holes. The caller verifies each guess by refining
    it and testing the correlation there (:func:`rovercam.stereo.disparity_image`).
    """
    if not sigma_px > 0:
        raise StereoError(f"sigma_px must be > 0, got {sigma_px!r}")
    d = np.asarray(disparity, np.float32)
    ok = np.isfinite(d)
    weight = cv2.GaussianBlur(ok.astype(np.float32), (0, 0), sigma_px, borderType=cv2.BORDER_CONSTANT)
    total = cv2.GaussianBlur(np.where(ok, d, np.float32(0)), (0, 0), sigma_px, borderType=cv2.BORDER_CONSTANT)
    with np.errstate(divide="ignore", invalid="ignore"):
        guess = np.where(weight >= np.float32(1e-3), total / weight, np.float32(np.nan))
    return np.where(ok, d, guess).astype(np.float32)
