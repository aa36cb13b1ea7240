"""Band handling in one place: every image is seen as ``(H, W, B)``.

Single-band products (MER/MSL Navcam and Hazcam, 1024 x 1024, one band) arrive as ``(H, W)`` or
``(H, W, 1)``; colour ones as ``(H, W, 3)``. Code that loops or broadcasts over bands takes
:func:`as_bands` of its input instead of testing ``ndim``. OpenCV drops a trailing band of size
one (``cv2.remap``, ``cv2.pyrDown``, ``cv2.resize`` of an ``(H, W, 1)`` array return ``(H, W)``),
so results of OpenCV calls go through :func:`as_bands` too.

>>> import numpy as np
>>> as_bands(np.zeros((4, 5), np.float32)).shape
(4, 5, 1)
>>> band_count(np.zeros((4, 5, 3)))
3
"""
from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

__all__ = ["as_bands", "band_count"]

T = TypeVar("T", bound=np.generic)


def as_bands(image: NDArray[T] | Any) -> NDArray[T]:
    """``image`` as an ``(H, W, B)`` view (no copy).

    Parameters
    ----------
    image : (H, W) or (H, W, B) array_like

    Returns
    -------
    (H, W, B) ndarray
        A view of ``image``; ``(H, W)`` becomes ``(H, W, 1)``.

    Raises
    ------
    ValueError
        Any other number of dimensions.
    """
    a = np.asarray(image)
    if a.ndim == 2:
        return a[:, :, None]
    if a.ndim != 3:
        raise ValueError(f"images are (H, W) or (H, W, B), got shape {a.shape}")
    return a


def band_count(image: NDArray[Any] | Any) -> int:
    """Number of bands of an ``(H, W)`` (1) or ``(H, W, B)`` (B) image."""
    return as_bands(image).shape[2]
