"""Frame-to-frame registration: SIFT features, ratio-test matching, a RANSAC homography.

Two frames of a descent see the same ground from different heights (scale changes of 10-40 %
between RDCAM frames) and attitudes; over flat-ish ground a homography relates them, and its
RANSAC inliers are the tie points that :mod:`rovercam.edl.pose` refines the poses with (where
the ground has relief the homography is only the inlier filter: the refinement intersects
each ray with the ground surface).

Pixels: (x = sample, y = line), 0-based, centres at integers. ``h_a_b`` maps frame ``b``'s pixels
to frame ``a``'s (homogeneous, ``p_a ~ h_a_b @ [x_b, y_b, 1]``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.edl.sequence import luminance
from rovercam.errors import MosaicError

__all__ = ["Registration", "register_pair", "to_uint8", "apply_homography"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Registration:
    """A homography between two frames and the tie points that support it.

    Attributes
    ----------
    h_a_b : (3, 3) ndarray of float64
        Frame b pixels -> frame a pixels, normalized so ``h[2, 2] == 1``.
    points_a, points_b : (N, 2) ndarray of float64
        RANSAC inlier tie points, pixels of frame a and frame b.
    rms_px : float
        RMS transfer error of the inliers, pixels of frame a.
    matches : int
        Ratio-test matches before RANSAC.
    """

    h_a_b: NDArray[np.float64]
    points_a: NDArray[np.float64]
    points_b: NDArray[np.float64]
    rms_px: float
    matches: int

    @property
    def inliers(self) -> int:
        """Number of RANSAC inliers."""
        return int(len(self.points_a))


def to_uint8(image: NDArray[Any], *, low_pct: float = 0.5, high_pct: float = 99.5) -> NDArray[np.uint8]:
    """Luminance stretched between two percentiles to 0..255 (NaN -> 0), for feature detection."""
    y = luminance(image)
    finite = np.isfinite(y)
    if not finite.any():
        return np.zeros(y.shape, np.uint8)
    lo, hi = np.percentile(y[finite], [low_pct, high_pct])
    scale = 255.0 / max(float(hi - lo), 1e-30)
    out = np.clip((np.where(finite, y, lo) - lo) * scale, 0, 255)
    return (out + 0.5).astype(np.uint8)


def apply_homography(h: NDArray[np.float64], points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Map (N, 2) pixels through a 3x3 homography; (N, 2) float64 (NaN at infinity)."""
    p = np.asarray(points, np.float64)
    q = p @ h[:, :2].T + h[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        return q[:, :2] / q[:, 2:3]


def sift_features(img: NDArray[np.uint8], n: int) -> tuple[NDArray[np.float64], NDArray[np.float32] | None]:
    """SIFT keypoints (N, 2) as (x, y) pixels and their descriptors (N, 128), or None when none are found."""
    sift = cv2.SIFT_create(nfeatures=n)
    mask = (img > 0).astype(np.uint8) * 255
    kps, desc = sift.detectAndCompute(img, mask)
    pts = np.array([k.pt for k in kps], np.float64).reshape(-1, 2)
    return pts, desc


def register_pair(a: NDArray[Any], b: NDArray[Any], *, features: int = 2000, ratio: float = 0.75,
                  ransac_px: float = 2.0, min_inliers: int = 15) -> Registration:
    """Register frame ``b`` to frame ``a`` with SIFT matches and a RANSAC homography.

    Parameters
    ----------
    a, b : (H, W) or (H, W, 3) ndarray
        Images (any linear units; NaN is no data).
    features : int, keyword-only
        SIFT features kept per image (strongest first).
    ratio : float
        Lowe's ratio test threshold (nearest / second-nearest descriptor distance).
    ransac_px : float
        RANSAC inlier threshold, pixels of ``a``.
    min_inliers : int
        Fewer inliers than this is a failure.

    Returns
    -------
    Registration

    Raises
    ------
    rovercam.errors.MosaicError
        Too few features, matches or inliers (the frames do not overlap, or one is featureless).
    """
    ua, ub = to_uint8(a), to_uint8(b)
    pa, da = sift_features(ua, features)
    pb, db = sift_features(ub, features)
    if da is None or db is None or len(pa) < min_inliers or len(pb) < min_inliers:
        raise MosaicError(f"too few features to register ({len(pa)} and {len(pb)})")
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    knn = matcher.knnMatch(db, da, k=2)
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < ratio * m[1].distance]
    if len(good) < min_inliers:
        raise MosaicError(f"{len(good)} feature matches after the ratio test (< {min_inliers})")
    src = pb[[m.queryIdx for m in good]]
    dst = pa[[m.trainIdx for m in good]]
    h, mask = cv2.findHomography(src, dst, cv2.RANSAC, ransac_px, maxIters=4000, confidence=0.999)
    if h is None:
        raise MosaicError("RANSAC found no homography")
    keep = mask.ravel().astype(bool)
    if keep.sum() < min_inliers:
        raise MosaicError(f"{int(keep.sum())} RANSAC inliers (< {min_inliers})")
    # refit on the inliers (least squares), then measure
    h, _ = cv2.findHomography(src[keep], dst[keep], 0)
    h = h / h[2, 2]
    err = np.linalg.norm(apply_homography(h, src[keep]) - dst[keep], axis=1)
    reg = Registration(h_a_b=h, points_a=dst[keep], points_b=src[keep],
                       rms_px=float(np.sqrt(np.mean(err ** 2))), matches=len(good))
    log.debug("registered: %d matches, %d inliers, rms %.2f px", len(good), reg.inliers, reg.rms_px)
    return reg
