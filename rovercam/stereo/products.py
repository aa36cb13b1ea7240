"""The stereo products of one pair: disparity, XYZ, range, normals and range uncertainty.

All images share the pixel grid of the linearized (rectified) left eye, ``left_model``; see
docs/stereo.md for how they map to MIPL's XYZ, RNG and UVW RDRs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rovercam.camera.cahv import CAHV

__all__ = ["StereoProducts"]


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
