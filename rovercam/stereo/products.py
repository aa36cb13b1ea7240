"""The stereo products of one pair: disparity, XYZ, range, normals and range uncertainty.

All images share the pixel grid of the linearized (rectified) left eye, ``left_model``; see
docs/stereo.md for how they map to MIPL's XYZ, RNG and UVW RDRs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rovercam.camera import rectify_pair
from rovercam.camera.cahv import CAHV
from rovercam.camera.model import CameraModel
from rovercam.config import StereoSettings
from rovercam.errors import CameraModelError, StereoError
from rovercam.stereo.disparity import disparity_image, disparity_search_range
from rovercam.stereo.normals import surface_normals
from rovercam.stereo.rectification import rectify_images
from rovercam.stereo.triangulation import (
    check_rectified,
    range_image,
    range_uncertainty,
    triangulate,
)

__all__ = ["StereoProducts", "stereo_products"]


@dataclass(frozen=True, eq=False)
class StereoProducts:
    """Dense 3-D products of one stereo pair, on the rectified left eye's pixel grid.

    Attributes
    ----------
    left_model, right_model : CAHV
        The rectified (linearized) models; both share A, H and V, and keep their own C.
    frame : str
        Reference frame of the models and of ``xyz`` and ``normals`` (e.g. ``"SITE_FRAME"``).
    disparity : (H, W) float32 array
        Pixels; the right eye sees left pixel ``(x, y)`` at ``(x - disparity, y)``. NaN where
        invalid (no match, occluded, failed the left-right check).
    xyz : (H, W, 3) float32 array
        Metres in ``frame``; NaN where invalid.
    range : (H, W) float32 array
        Distance from the left camera centre ``left_model.c``, metres; NaN where invalid.
    normals : (H, W, 3) float32 array
        Unit surface normals in ``frame``, pointing toward the camera; NaN where unknown.
    range_sigma : (H, W) float32 array
        One-sigma range uncertainty from the disparity error model, metres; NaN where invalid.
    left_rectified : (H, W) or (H, W, B) float32 array
        The rectified left image the products were matched on (texture for meshes, viewer).
    """

    left_model: CAHV
    right_model: CAHV
    frame: str
    disparity: NDArray[np.float32]
    xyz: NDArray[np.float32]
    range: NDArray[np.float32]
    normals: NDArray[np.float32]
    range_sigma: NDArray[np.float32]
    left_rectified: NDArray[np.float32]

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of every product image."""
        return self.disparity.shape[:2]  # type: ignore[return-value]

    @property
    def valid(self) -> NDArray[np.bool_]:
        """(H, W) bool: pixels with a finite XYZ."""
        return np.isfinite(self.xyz).all(axis=2)


def _checked_image(name: str, image: object) -> NDArray[np.float32]:
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.shape[0] < 8 or arr.shape[1] < 8 or 0 in arr.shape:
        raise StereoError(f"{name} must be an (H, W) or (H, W, B) image of at least 8x8 pixels, "
                          f"got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise StereoError(f"{name} must be a calibrated float image (NaN = no data), got {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if np.isinf(arr).any():
        raise StereoError(f"{name} has infinite pixels (no-data must be NaN)")
    return arr


def stereo_products(
    left_image: NDArray[np.float32],
    right_image: NDArray[np.float32],
    left_model: CameraModel,
    right_model: CameraModel,
    *,
    frame: str,
    settings: StereoSettings | None = None,
) -> StereoProducts:
    """Rectify, match and triangulate one stereo pair.

    Parameters
    ----------
    left_image, right_image : (H, W) or (H, W, B) float32 arrays
        Calibrated frames (radiance units), NaN = no data; the same bands in both eyes.
    left_model, right_model : CameraModel
        The frames' models (CAHV, CAHVOR or CAHVORE), both in ``frame``. To get products in
        another frame, transform the models first (``model.transformed(r, t)``).
    frame : str, keyword-only
        Name of the models' frame (e.g. ``"ROVER_NAV_FRAME"``), recorded in the products.
    settings : StereoSettings, keyword-only
        ``[stereo]`` options (defaults when None).

    Returns
    -------
    StereoProducts
        Every image on the rectified left model's grid, the left image's size.

    Raises
    ------
    rovercam.errors.StereoError
        Bad images (shape, dtype, infinite values, band mismatch), models that are not camera
        models or cannot be rectified, the eyes swapped, or a search range wider than
        ``settings.max_disparities``.

    Notes
    -----
    Steps and conventions: docs/stereo.md. Invalid pixels (no match, occluded, low texture,
    no data) are NaN in every product.
    """
    s = settings or StereoSettings()
    left = _checked_image("left_image", left_image)
    right = _checked_image("right_image", right_image)
    if left.ndim != right.ndim or left.shape[2:] != right.shape[2:]:
        raise StereoError(f"the eyes have different bands: {left.shape} vs {right.shape}")
    for name, model in (("left_model", left_model), ("right_model", right_model)):
        if not isinstance(model, CameraModel):
            raise StereoError(f"{name} is not a camera model: {type(model).__name__}")
    if not frame or not isinstance(frame, str):
        raise StereoError(f"frame must name the models' frame, got {frame!r}")
    size = (left.shape[1], left.shape[0])
    try:
        rl, rr = rectify_pair(left_model, right_model, size, right_size=(right.shape[1], right.shape[0]),
                              output_size=size)
    except CameraModelError as exc:
        raise StereoError(f"the stereo pair cannot be rectified: {exc}") from exc
    check_rectified(rl, rr)  # the eyes' order, before the matcher runs
    lo, num = disparity_search_range(rl, rr, size, min_range_m=s.min_range_m, max_range_m=s.max_range_m)
    if num > s.max_disparities:
        raise StereoError(f"the disparity search range {lo}..{lo + num} px is wider than "
                          f"max_disparities = {s.max_disparities}: raise min_range_m "
                          f"({s.min_range_m} m) or max_disparities")
    # the right eye's view of near points at the left edge, matched where SGBM pads anyway
    pair = rectify_images(left, right, left_model, right_model, right_margin=max(0, lo + num))
    disparity = disparity_image(pair.left, pair.right, min_disparity=lo, num_disparities=num, settings=s,
                                right_margin=pair.right_margin)
    xyz = triangulate(disparity, rl, rr)
    invalid = ~np.isfinite(xyz).all(axis=2)
    disparity[invalid] = np.nan
    return StereoProducts(
        left_model=rl, right_model=rr, frame=frame, disparity=disparity, xyz=xyz,
        range=range_image(xyz, rl),
        normals=surface_normals(xyz, rl, window=s.normal_window),
        range_sigma=range_uncertainty(disparity, rl, rr, sigma_px=s.disparity_sigma_px),
        left_rectified=pair.left,
    )
