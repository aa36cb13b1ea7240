"""Resampling a stereo pair's frames to its epipolar-aligned (rectified) geometry.

The rectified models come from :func:`rovercam.camera.stereo.rectify_pair` (both eyes share A,
H and V and keep their own C, rows parallel to the baseline), and each eye is resampled with
:func:`rovercam.camera.remap_grid` at infinity: a point then lies on the same row in both
rectified images, and its disparity ``x_left - x_right`` is ``(C_right - C_left).H / d.A``
(docs/stereo.md). Conventions: docs/conventions.md.
"""
from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np
from numpy.typing import NDArray

from rovercam.camera import CAHV, CameraModel, rectify_pair, remap_grid
from rovercam.errors import CameraModelError, StereoError

__all__ = ["RectifiedPair", "rectify_images", "resample_image"]

#: OpenCV remaps at most 4 channels at a time.
_CV_MAX_CHANNELS = 4
#: A destination pixel the source cannot see gets a map coordinate far outside any image.
_OUTSIDE = -1.0e5


class RectifiedPair(NamedTuple):
    """Both eyes resampled to their rectified models.

    Attributes
    ----------
    left : (H, W) or (H, W, B) float32 array
    right : (H, W + right_margin) or (H, W + right_margin, B) float32 array
        Rectified images (same bands as the inputs), NaN where the eye has no data. The right
        image's column ``u`` is column ``u - right_margin`` of ``right_model``.
    left_model, right_model : CAHV
        The rectified models: identical A, H, V; their own C.
    right_margin : int
        Columns of the right image left of its model's column 0.
    """

    left: NDArray[np.float32]
    right: NDArray[np.float32]
    left_model: CAHV
    right_model: CAHV
    right_margin: int = 0


def resample_image(
    image: NDArray[np.float32], dst: CameraModel, dst_size: tuple[int, int], src: CameraModel
) -> NDArray[np.float32]:
    """Resample an image from geometry ``src`` to ``dst`` (bilinear, points at infinity).

    Parameters
    ----------
    image : (h, w) or (h, w, B) float32 array
        Pixels in the geometry of ``src``; NaN = no data (a NaN spreads to the output pixels
        whose 2x2 footprint touches it).
    dst : CameraModel
        Output geometry, in the frame of ``src``.
    dst_size : (width, height)
        Output size, pixels.
    src : CameraModel

    Returns
    -------
    (height, width) or (height, width, B) float32 array
        NaN where ``src`` does not see the ``dst`` pixel.
    """
    map_x, map_y = remap_grid(dst, dst_size, src)
    outside = ~(np.isfinite(map_x) & np.isfinite(map_y))
    if outside.any():
        map_x = np.where(outside, np.float32(_OUTSIDE), map_x)
        map_y = np.where(outside, np.float32(_OUTSIDE), map_y)
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 2 or img.shape[2] <= _CV_MAX_CHANNELS:
        out = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                        borderValue=(np.nan,) * 4)
        if img.ndim == 3 and out.ndim == 2:  # OpenCV drops a single band's axis
            out = out[:, :, None]
        return out
    parts = [resample_image(img[:, :, i:i + _CV_MAX_CHANNELS], dst, dst_size, src)
             for i in range(0, img.shape[2], _CV_MAX_CHANNELS)]
    return np.concatenate(parts, axis=2)


def rectify_images(
    left_image: NDArray[np.float32],
    right_image: NDArray[np.float32],
    left_model: CameraModel,
    right_model: CameraModel,
    *,
    output_size: tuple[int, int] | None = None,
    right_margin: int = 0,
) -> RectifiedPair:
    """Rectify a stereo pair: models (epipolar-aligned CAHV) and both eyes' resampled images.

    Parameters
    ----------
    left_image, right_image : (h, w) or (h, w, B) float32 arrays
        Calibrated frames (radiance), NaN = no data; the eyes may differ in size.
    left_model, right_model : CameraModel
        The frames' models (CAHV, CAHVOR or CAHVORE), in one frame.
    output_size : (width, height), keyword-only
        Size of both rectified images; the left image's by default.
    right_margin : int, keyword-only
        Extra columns of the right image left of its rectified column 0 (>= 0): near points at
        the left image's edge lie there, and the right frame often sees them (the rectified
        grid is cropped to the field both eyes share at infinity). ``min_disparity +
        num_disparities`` columns hold every match of a search (docs/stereo.md#matching).

    Returns
    -------
    RectifiedPair
        The rectified images and models. The common field of view of both eyes (``fov="min"``)
        fills the rectified images, with square pixels.

    Raises
    ------
    rovercam.errors.StereoError
        The models cannot be rectified (coincident centres, a baseline along the view).
    """
    left = np.asarray(left_image, dtype=np.float32)
    right = np.asarray(right_image, dtype=np.float32)
    size = (left.shape[1], left.shape[0])
    out = output_size or size
    margin = int(right_margin)
    if margin < 0:
        raise StereoError(f"right_margin must be >= 0, got {right_margin!r}")
    try:
        rect_left, rect_right = rectify_pair(left_model, right_model, size,
                                             right_size=(right.shape[1], right.shape[0]),
                                             output_size=out)
    except CameraModelError as exc:
        raise StereoError(f"the stereo pair cannot be rectified: {exc}") from exc
    # column u of the widened grid is column u - margin of rect_right: x' = x + margin, H' = H + margin A
    wide = CAHV(rect_right.c, rect_right.a, rect_right.h + margin * rect_right.a, rect_right.v) if margin else rect_right
    return RectifiedPair(resample_image(left, rect_left, out, left_model),
                         resample_image(right, wide, (out[0] + margin, out[1]), right_model),
                         rect_left, rect_right, margin)
