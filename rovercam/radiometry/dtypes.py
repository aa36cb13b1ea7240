"""The working pixel type: the one place where stored pixels become float32.

Stored pixels stay as they are (uint8 codes, uint16 DN) until the first arithmetic. Every
radiometric step converts its input through :func:`as_working`, so the promotion rule is written
once: integers become float32 *by value* (a 12-bit DN of 4095 stays 4095.0, never 4095/65535),
float32 stays float32, other floats are narrowed to float32.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["as_working", "WORKING_DTYPE"]

WORKING_DTYPE = np.dtype(np.float32)
"""dtype of every pixel array after the first arithmetic: pixels stay as stored until then."""


def as_working(arr: ArrayLike, *, copy: bool = False) -> NDArray[np.float32]:
    """Return pixels as float32 values, unscaled.

    Parameters
    ----------
    arr : array_like
        Pixels of any shape: unsigned/signed integers (DN or codes as stored), or floats.
    copy : bool, keyword-only
        Always return a new array. Without it a float32 input is returned as is (no copy), so
        callers that write into the result must pass ``copy=True``.

    Returns
    -------
    ndarray of float32
        Same shape, same values (integers above 2**24 lose precision; camera DN never reach it).

    Raises
    ------
    TypeError
        For boolean, complex, object or string arrays: they are not pixel values.

    Examples
    --------
    >>> as_working(np.array([0, 4095], dtype=np.uint16))
    array([   0., 4095.], dtype=float32)
    """
    a = np.asarray(arr)
    kind = a.dtype.kind
    if kind not in "uif":
        raise TypeError(f"pixels must be integer or floating point, got dtype {a.dtype}")
    if a.dtype == WORKING_DTYPE:
        return a.copy() if copy else a
    return a.astype(WORKING_DTYPE)
