"""Occlusion: the uniqueness check of matches against the right pixels others claim.

One right pixel sees one surface point: where two left pixels land on it, the one with the
larger disparity is nearer and the other lies behind it, unseen by the right eye (the
uniqueness constraint of Marr and Poggio 1976, "Cooperative computation of stereo disparity",
Science 194). :func:`hidden_in_right` finds the left pixels whose match lands on a right pixel
that an independent set of matches (the claims) sees nearer.

Conventions: docs/stereo.md, docs/conventions.md.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.errors import StereoError

__all__ = ["hidden_in_right"]

#: Right columns on either side that a claim covers (:func:`hidden_in_right`).
_CLAIM_PX = 4
#: Rows per strip of :func:`hidden_in_right` (its index arrays are per strip).
_HIDDEN_ROWS = 256
#: Score levels of :func:`hidden_in_right` with scores.
_SCORE_STEP = 0.05
#: ... and a claim counts against a match whose score exceeds its own by up to this.
_SCORE_MARGIN = 0.1


def hidden_in_right(
    disparity: NDArray[np.float32],
    claims: NDArray[np.float32],
    *,
    tolerance_px: float = 2.0,
    reach_px: int = _CLAIM_PX,
    scores: NDArray[np.float32] | None = None,
    claim_scores: NDArray[np.float32] | None = None,
) -> NDArray[np.bool_]:
    """Left pixels whose match the right eye sees on a nearer surface (uniqueness).

    Parameters
    ----------
    disparity : (H, W) float32 array
        Pixels, NaN = none: the matches to test.
    claims : (H, W) float32 array
        Pixels, NaN = none: matches that claim the right pixels they land on (an independent,
        left-right checked search of the same pair).
    tolerance_px : float, keyword-only
        A pixel is hidden when a claim on its right pixel has a disparity larger by more than
        this.
    reach_px : int, keyword-only
        Each claim covers the right pixels within this many columns of where it lands (a nearer
        surface stretched in the right view leaves gaps between its claims).
    scores, claim_scores : (H, W) float32 arrays, keyword-only
        Both or neither: the correlation of each match and each claim (NaN = none). A claim
        then counts against a match only where its score is at least the match's less 0.1
        (in steps of 0.05): one of the two is a mismatch, and a match that correlates clearly
        better than the claim stays.

    Returns
    -------
    (H, W) bool array

    Notes
    -----
    One right pixel sees one surface point: where two left pixels land on it, the one with the
    larger disparity is nearer and the other lies behind it, unseen by the right eye (the
    uniqueness constraint of Marr and Poggio 1976). Only the claims of ``claims`` count, not
    those of ``disparity`` itself: a mismatch with a large disparity would knock out the
    correct matches it lands among.
    """
    h, w = disparity.shape
    if (scores is None) != (claim_scores is None):
        raise StereoError("hidden_in_right: give both scores and claim_scores, or neither")
    hidden = np.zeros((h, w), bool)
    for y0 in range(0, h, _HIDDEN_ROWS):  # rows are independent; strips bound the index arrays
        rows = slice(y0, min(h, y0 + _HIDDEN_ROWS))
        if scores is None:
            hidden[rows] = _hidden_strip(disparity[rows], claims[rows], float(tolerance_px), int(reach_px))
            continue
        # by score level: the claims at or above each level against the matches at it
        level = np.floor(np.nan_to_num(scores[rows], nan=-1.0) / _SCORE_STEP)
        claim_level = np.floor(np.nan_to_num(claim_scores[rows], nan=-1.0) / _SCORE_STEP)
        tested = np.isfinite(disparity[rows])
        for value in np.unique(level[tested]):
            mine = np.where(tested & (level == value), disparity[rows], np.nan)
            strong = np.where(claim_level >= value - round(_SCORE_MARGIN / _SCORE_STEP), claims[rows], np.nan)
            hidden[rows] |= _hidden_strip(mine, strong, float(tolerance_px), int(reach_px))
    return hidden


def _hidden_strip(disparity, claims, tolerance_px: float, reach_px: int) -> NDArray[np.bool_]:
    h, w = disparity.shape
    cy, cx = np.nonzero(np.isfinite(claims))
    cd = claims[cy, cx]
    ys, xs = np.nonzero(np.isfinite(disparity))
    d = disparity[ys, xs]
    # right columns from -offset (matches in the right eye's margin) to w - 1
    offset = int(math.ceil(max(0.0, float(cd.max(initial=0.0)), float(d.max(initial=0.0))))) + 1
    nearest = np.full((h, w + offset), -np.inf, np.float32)
    cols = np.rint(cx - cd).astype(np.int64) + offset
    keep = (cols >= 0) & (cols < w + offset)
    np.maximum.at(nearest, (cy[keep], cols[keep]), cd[keep])
    nearest = cv2.dilate(nearest, np.ones((1, 2 * reach_px + 1), np.uint8))
    cols = np.rint(xs - d).astype(np.int64) + offset
    inside = (cols >= 0) & (cols < w + offset)
    hidden = np.zeros((h, w), bool)
    hidden[ys[inside], xs[inside]] = nearest[ys[inside], cols[inside]] > d[inside] + np.float32(tolerance_px)
    return hidden
