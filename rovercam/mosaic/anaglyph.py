"""Stereo anaglyphs from a Navcam or Mastcam-Z pair, linearised and epipolar-aligned.

Both eyes are resampled onto the rectified CAHV pair of :func:`rovercam.camera.rectify_pair`
(shared A, H, V; rows parallel to the baseline), so a scene point lies on the same row in both
and the eyes differ by horizontal disparity only: what red/cyan glasses need. The left eye goes
to red, the right eye to green and blue.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from rovercam.bands import as_bands
from rovercam.camera import rectify_pair, remap_grid
from rovercam.errors import MosaicError

__all__ = ["Anaglyph", "make_anaglyph"]


@dataclass(frozen=True, slots=True)
class Anaglyph:
    """A red/cyan anaglyph and the rectified pair it was made from.

    Attributes
    ----------
    image : (H, W, 3) ndarray of float32
        Red = left eye, green and blue = right eye (radiance, or grey levels of each eye's
        luminance for ``mode="grey"``); NaN where an eye does not see the pixel.
    left, right : (H, W, B) ndarray of float32
        The rectified eyes.
    left_model, right_model : CAHV
        Their models (same A, H, V; own C).
    """

    image: np.ndarray
    left: np.ndarray
    right: np.ndarray
    left_model: Any
    right_model: Any


def _resample(image: np.ndarray, dst: Any, size: tuple[int, int], src: Any) -> np.ndarray:
    mx, my = remap_grid(dst, size, src)
    mx = np.where(np.isfinite(mx), mx, -1e5).astype(np.float32)
    my = np.where(np.isfinite(my), my, -1e5).astype(np.float32)
    img = np.asarray(image, dtype=np.float32)
    out = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
    return as_bands(out)  # OpenCV drops a single band's axis


def make_anaglyph(
    left: np.ndarray,
    right: np.ndarray,
    left_model: Any,
    right_model: Any,
    *,
    mode: Literal["grey", "colour"] = "grey",
    output_size: tuple[int, int] | None = None,
) -> Anaglyph:
    """Rectify a stereo pair and combine it into a red/cyan anaglyph.

    Parameters
    ----------
    left, right : (H, W) or (H, W, B) array
        The eyes' pixels (radiance; NaN = no data), described by ``left_model``/``right_model``.
    left_model, right_model : CameraModel
        Both in one frame (e.g. ROVER_NAV_FRAME), distinct centres.
    mode : {"grey", "colour"}
        Grey: each eye's luminance (mean of bands) in its channels, the comfortable default;
        colour: red band of the left eye, green and blue of the right.
    output_size : (width, height), optional
        Rectified size (default the left image's).

    Raises
    ------
    MosaicError
        The pair cannot be rectified (coincident centres, baseline along the view).
    """
    h, w = np.asarray(left).shape[:2]
    size = output_size or (w, h)
    try:
        rl, rr = rectify_pair(left_model, right_model, (w, h), right_size=np.asarray(right).shape[1::-1][:2],
                              output_size=size)
    except Exception as exc:  # CameraModelError: report it as a mosaic problem, naming the cause
        raise MosaicError(f"stereo pair cannot be rectified: {exc}") from exc
    a = _resample(left, rl, size, left_model)
    b = _resample(right, rr, size, right_model)
    if mode == "grey":
        la, lb = a.mean(axis=2), b.mean(axis=2)
        image = np.stack([la, lb, lb], axis=2)
    elif mode == "colour":
        if a.shape[2] < 3 or b.shape[2] < 3:
            raise MosaicError("colour anaglyphs need RGB eyes")
        image = np.stack([a[..., 0], b[..., 1], b[..., 2]], axis=2)
    else:
        raise MosaicError(f"anaglyph mode must be grey or colour, got {mode!r}")
    return Anaglyph(image.astype(np.float32), a, b, rl, rr)
