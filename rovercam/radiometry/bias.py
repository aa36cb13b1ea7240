"""Bias (dark offset) subtraction.

The bias is a constant per camera (MIPL ``SN_xxx_bias``; mars-raw-utils uses NL 133, NR 132 DN
...), per band, or a frame. Subtraction happens in float32, so pixels below the bias become
negative instead of wrapping to ~65535 as uint16 arithmetic would.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.errors import CalibrationError
from rovercam.radiometry.dtypes import as_working

__all__ = ["subtract_bias"]


def subtract_bias(dn: ArrayLike, bias_dn: float | ArrayLike) -> NDArray[np.float32]:
    """Subtract a bias level from DN.

    Parameters
    ----------
    dn : (H, W) or (H, W, B) array_like
        Expanded DN as stored (uint16, ...) or float.
    bias_dn : float or array_like
        DN: a scalar, one value per band ``(B,)`` for a ``(H, W, B)`` image, or a bias frame of
        the image's shape (``(H, W)`` frames broadcast over bands).

    Returns
    -------
    ndarray of float32, shape of ``dn``
        ``dn - bias_dn``; not clipped (noise below the bias stays negative, so averages stay
        unbiased). NaN in the input stays NaN.

    Raises
    ------
    CalibrationError
        Non-finite bias values, or a bias whose shape does not fit the image.

    Examples
    --------
    >>> subtract_bias(np.array([100, 140], dtype=np.uint16), 127.0)
    array([-27.,  13.], dtype=float32)
    """
    work = as_working(dn)
    bias = as_working(bias_dn)
    if not np.all(np.isfinite(bias)):
        raise CalibrationError("bias", "bias values must be finite")
    if bias.ndim == 1 and work.ndim == 3 and bias.shape[0] != work.shape[2]:
        raise CalibrationError("bias", f"{bias.shape[0]} band biases for {work.shape[2]} bands")
    if bias.ndim == 2 and work.ndim == 3:
        bias = bias[..., np.newaxis]
    if bias.ndim >= 2 and bias.shape[:2] != work.shape[:2]:
        raise CalibrationError("bias", f"bias frame {bias.shape} does not match image {work.shape}")
    try:
        return np.subtract(work, bias, dtype=np.float32)
    except ValueError as exc:  # any remaining broadcast mismatch
        raise CalibrationError(
            "bias", f"bias {bias.shape} does not fit image {work.shape}"
        ) from exc
