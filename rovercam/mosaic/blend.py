"""Blending warped frames on an output tile: multiband (Laplacian pyramid) and feathering.

Both work on one tile at a time, in float32, with frames added as sub-rectangles of the tile.

- :class:`MultibandBlender` (Burt and Adelson 1983, "A multiresolution spline"): each frame's
  Laplacian pyramid is weighted by the Gaussian pyramid of its seam mask and the weighted bands
  are summed and normalised level by level, then collapsed. Low frequencies cross a seam over a
  wide band (hiding gain residuals), high frequencies over a narrow one (no ghosting). Unlike
  OpenCV's ``detail::MultiBandBlender`` nothing is rounded to integers.
- :class:`FeatherBlender`: the weighted mean with weights ramping from the frame edges (fast).
"""
from __future__ import annotations

import cv2
import numpy as np

from rovercam.bands import as_bands

__all__ = ["MultibandBlender", "FeatherBlender", "pyramid_margin"]


def pyramid_margin(levels: int) -> int:
    """Pixels of context a ``levels``-level pyramid needs around a tile (and frames around
    their seams) for the tile's own pixels to be unaffected by what lies beyond."""
    return 4 << levels


class MultibandBlender:
    """Accumulate frames' weighted Laplacian bands on a ``(height, width)`` tile.

    Parameters
    ----------
    height, width : int
        Tile size; both multiples of ``2**levels``.
    levels : int
        Number of pyramid reductions (bands = levels + 1).
    bands : int
        Image channels.
    """

    def __init__(self, height: int, width: int, levels: int, bands: int = 3) -> None:
        step = 1 << levels
        if height % step or width % step:
            raise ValueError(f"tile {width}x{height} must be a multiple of 2**levels = {step}")
        self.levels = levels
        self.acc = [np.zeros((height >> k, width >> k, bands), np.float32) for k in range(levels + 1)]
        self.wsum = [np.zeros((height >> k, width >> k), np.float32) for k in range(levels + 1)]

    def add(self, image: np.ndarray, mask: np.ndarray, y0: int, x0: int) -> None:
        """Add a frame warped on the tile rectangle at (y0, x0).

        Parameters
        ----------
        image : (h, w, bands) or (h, w) float32
            The frame on the rectangle, *extended* past its footprint (e.g. by border
            replication): the low bands near a seam read a little beyond it.
        mask : (h, w) float32
            1 where this frame was chosen (its side of the seams), else 0.
        y0, x0 : int
            Rectangle origin in the tile; ``y0, x0, h, w`` multiples of ``2**levels``.
        """
        gauss = as_bands(image)
        m = mask
        for k in range(self.levels + 1):
            ys, xs = y0 >> k, x0 >> k
            h, w = m.shape
            if k < self.levels:
                down = as_bands(cv2.pyrDown(gauss))  # OpenCV drops a single band's axis
                band = gauss - as_bands(cv2.pyrUp(down, dstsize=(w, h)))
            else:
                band = gauss
            self.acc[k][ys : ys + h, xs : xs + w] += band * m[..., None]
            self.wsum[k][ys : ys + h, xs : xs + w] += m
            if k < self.levels:
                gauss = down
                m = cv2.pyrDown(m)

    def result(self) -> np.ndarray:
        """The blended tile (height, width, bands) float32 (0 where nothing was added).

        Normalises the accumulators in place: call once."""
        out = None
        for k in range(self.levels, -1, -1):
            w = self.wsum[k]
            band = self.acc[k]
            np.maximum(w, 1e-8, out=w)  # bands where nothing was added are 0 / 1e-8 = 0
            band /= w[..., None]
            if out is None:
                out = band
            else:
                h, wd = band.shape[:2]
                up = as_bands(cv2.pyrUp(out, dstsize=(wd, h)))
                band += up
                out = band
        assert out is not None
        return out


class FeatherBlender:
    """Weighted mean of frames on a ``(height, width)`` tile, ``bands`` channels."""

    def __init__(self, height: int, width: int, bands: int = 3) -> None:
        self.acc = np.zeros((height, width, bands), np.float32)
        self.wsum = np.zeros((height, width), np.float32)

    def add(self, image: np.ndarray, weight: np.ndarray, y0: int, x0: int) -> None:
        """Add ``weight * image`` on the rectangle at (y0, x0) (weight 0 outside the frame);
        ``image`` (h, w, bands) or (h, w)."""
        h, w = weight.shape
        self.acc[y0 : y0 + h, x0 : x0 + w] += as_bands(image) * weight[..., None]
        self.wsum[y0 : y0 + h, x0 : x0 + w] += weight

    def result(self) -> np.ndarray:
        """The blended tile (height, width, bands) float32 (NaN where every weight is 0)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.acc / self.wsum[..., None]).astype(np.float32)
