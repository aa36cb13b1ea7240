"""Up-look and rover-view sequences to display frames: stabilized, contrast-stretched, and a
contact sheet.

- Stabilization: each frame is registered to the previous one (SIFT matches, RANSAC
  similarity: rotation, scale, shift), the transforms are chained to the first frame and each
  frame is warped into the first frame's pixels. A pair that does not register keeps the
  previous transform (the video jumps there rather than the run failing).
- Stretch: one linear stretch for the whole sequence between the ``low``/``high`` percentiles of
  its luminance (so brightness changes between frames stay visible), then the sRGB curve.
- Frames are cropped to even width and height (MP4 4:2:0; :mod:`rovercam.storage.video`).

Pixels: (x = sample, y = line), 0-based.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.edl.registration import sift_features, to_uint8
from rovercam.edl.sequence import luminance

__all__ = ["stabilizing_transforms", "display_frames", "contact_sheet", "stretch_limits"]

log = logging.getLogger(__name__)


def _similarity(a: NDArray[Any], b: NDArray[Any]) -> NDArray[np.float64] | None:
    """2x3 similarity taking frame b pixels to frame a pixels, or None."""
    ua, ub = to_uint8(a), to_uint8(b)
    pa, da = sift_features(ua, 1500)
    pb, db = sift_features(ub, 1500)
    if da is None or db is None or len(pa) < 8 or len(pb) < 8:
        return None
    knn = cv2.BFMatcher(cv2.NORM_L2).knnMatch(db, da, k=2)
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < 0.75 * m[1].distance]
    if len(good) < 8:
        return None
    m, inl = cv2.estimateAffinePartial2D(pb[[g.queryIdx for g in good]], pa[[g.trainIdx for g in good]],
                                         method=cv2.RANSAC, ransacReprojThreshold=2.0)
    if m is None or inl is None or inl.sum() < 8:
        return None
    return m.astype(np.float64)


def stabilizing_transforms(images: Sequence[NDArray[Any]]) -> list[NDArray[np.float64]]:
    """Per frame, the 2x3 transform from its pixels to the first frame's (identity for it)."""
    out = [np.array([[1.0, 0, 0], [0, 1.0, 0]])]
    for k in range(1, len(images)):
        m = _similarity(images[k - 1], images[k])
        if m is None:
            log.info("frame %d: not registered to the previous one; not stabilized", k)
            out.append(out[-1].copy())
            continue
        prev = np.vstack([out[-1], [0, 0, 1]])
        out.append((prev @ np.vstack([m, [0, 0, 1]]))[:2])
    return out


def stretch_limits(images: Sequence[NDArray[Any]], *, low: float = 1.0, high: float = 99.5
                   ) -> tuple[float, float]:
    """Luminance percentiles over the whole sequence (every 4th pixel), as (black, white)."""
    vals = [luminance(im)[::4, ::4].ravel() for im in images]
    v = np.concatenate(vals) if vals else np.zeros(1)
    v = v[np.isfinite(v)]
    if not v.size:
        return 0.0, 1.0
    lo, hi = np.percentile(v, [low, high])
    return float(lo), float(max(hi, lo + 1e-12))


def display_frames(images: Sequence[NDArray[Any]], *, stabilize: bool = True, low: float = 1.0,
                   high: float = 99.5, max_side: int | None = None) -> list[NDArray[np.uint8]]:
    """Stabilized, stretched (H, W, 3) uint8 RGB frames with even H and W (module docstring).

    Parameters
    ----------
    images : sequence of (H, W) or (H, W, 3) float32
        One camera's frames in time order, same size (linear radiance; NaN = no data -> black).
    stabilize : bool, keyword-only
    low, high : float
        Stretch percentiles.
    max_side : int, optional
        Downscale so the longest side is at most this (pixels).
    """
    if not images:
        return []
    lo, hi = stretch_limits(images, low=low, high=high)
    transforms = stabilizing_transforms(images) if stabilize else [None] * len(images)
    out = []
    for im, m in zip(images, transforms):
        img = np.asarray(im, np.float32)
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        v = np.clip((np.nan_to_num(img, nan=lo) - lo) / (hi - lo), 0.0, 1.0)
        v = np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(v, 1 / 2.4) - 0.055)
        u8 = (v * 255.0 + 0.5).astype(np.uint8)
        h, w = u8.shape[:2]
        if m is not None:
            u8 = cv2.warpAffine(u8, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        if max_side is not None and max(h, w) > max_side:
            s = max_side / max(h, w)
            u8 = cv2.resize(u8, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
        h, w = u8.shape[:2]
        out.append(np.ascontiguousarray(u8[: h - h % 2, : w - w % 2]))
    return out


def contact_sheet(frames: Sequence[NDArray[np.uint8]], *, labels: Sequence[str] | None = None,
                  columns: int = 6, thumb_side: int = 200, gap: int = 4) -> NDArray[np.uint8]:
    """Thumbnails of display frames on a grid, each with its label; (H, W, 3) uint8 RGB.

    Parameters
    ----------
    frames : sequence of (H, W, 3) uint8
    labels : sequence of str, optional
        One per frame (drawn at the bottom left of its thumbnail).
    columns, thumb_side, gap : int, keyword-only
        Grid columns, longest thumbnail side and spacing, pixels.
    """
    if not frames:
        raise ValueError("a contact sheet needs at least one frame")
    if labels is not None and len(labels) != len(frames):
        raise ValueError(f"{len(labels)} labels for {len(frames)} frames")
    thumbs = []
    for f in frames:
        h, w = f.shape[:2]
        s = thumb_side / max(h, w)
        thumbs.append(cv2.resize(f, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA))
    th = max(t.shape[0] for t in thumbs)
    tw = max(t.shape[1] for t in thumbs)
    cols = min(columns, len(thumbs))
    rows = -(-len(thumbs) // cols)
    sheet = np.full((rows * (th + gap) + gap, cols * (tw + gap) + gap, 3), 24, np.uint8)
    for i, t in enumerate(thumbs):
        r, c = divmod(i, cols)
        y, x = gap + r * (th + gap), gap + c * (tw + gap)
        sheet[y:y + t.shape[0], x:x + t.shape[1]] = t
        if labels is not None:
            cv2.putText(sheet, labels[i], (x + 3, y + t.shape[0] - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                        (255, 255, 0), 1, cv2.LINE_AA)
    return sheet
