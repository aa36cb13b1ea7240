"""Companding and decompanding through an inverse LUT, and the rule for when to decompand.

``decompand`` is the ground step (codes -> DN, a table lookup); ``compand`` is the onboard step,
used by the synthetic generator and by round-trip tests (DN -> nearest code).
"""
from __future__ import annotations

import functools

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.products.model import Companding
from rovercam.radiometry.lut import LUT_SIZE, InverseLUT

__all__ = ["compand", "decompand", "needs_decompanding"]

_COMPANDED_METHODS = frozenset({"HARDWARE", "SOFTWARE"})


def needs_decompanding(companding: Companding) -> bool:
    """Whether stored values are companded codes that need the inverse LUT.

    Follows PIG's ``PigFileModel::isIlutNeededSBM`` (docs/calibration.md#decompanding): never invert
    data that is already inverted.

    Parameters
    ----------
    companding : Companding
        From the product label.

    Returns
    -------
    bool
        False when ``state`` is ``"expanded"`` or the method ends in ``_INVERTED``
        (``SOFTWARE_INVERTED``: MER ILF products); True when ``state`` is ``"companded"`` (PDS4
        companding_state) or the method is ``HARDWARE`` / ``SOFTWARE``; False otherwise
        (``NONE``).

    Notes
    -----
    The table to apply is ``companding.lut`` (SAMPLE_BIT_MODE_ID / processing_algorithm).
    Labels can lie: MSL MMM RDRs (DRCX/DRCL) still say ``MMM_LUT0``/``HARDWARE`` but hold
    processed 8-bit pixels; that is decided by product type in the product quirks, before this
    rule.
    """
    method = (companding.method or "NONE").strip().upper()
    if companding.state == "expanded" or method.endswith("_INVERTED"):
        return False
    if companding.state == "companded":
        return True
    return method in _COMPANDED_METHODS


def decompand(codes: ArrayLike, lut: InverseLUT) -> NDArray[np.uint16]:
    """Expand 8-bit codes to DN through the inverse table.

    Parameters
    ----------
    codes : array_like of uint8 (or other integers in 0..255), any shape
        Companded values as stored.
    lut : InverseLUT
        The table the label names.

    Returns
    -------
    ndarray of uint16, same shape
        ``lut.values[codes]``: integer DN, not scaled.

    Raises
    ------
    TypeError
        Codes that are not integers.
    ValueError
        Integer codes outside 0..255 (a 16-bit image is not companded).
    """
    c = np.asarray(codes)
    if c.dtype.kind not in "ui":
        raise TypeError(f"companded codes must be integers, got dtype {c.dtype}")
    if c.dtype != np.uint8 and c.size:
        lo, hi = int(c.min()), int(c.max())
        if lo < 0 or hi >= LUT_SIZE:
            raise ValueError(f"companded codes must lie in 0..255, got {lo}..{hi}")
    return np.take(lut.values, c)


_HALF_DN_SIZE = 2 * 65536  # the table is indexed by ceil(2 * DN), DN in 0..65535


@functools.lru_cache(maxsize=16)
def _forward_table(lut: InverseLUT) -> NDArray[np.uint8]:
    """Code for every q = ceil(2 * DN), q in 0..131071.

    The nearest code is the number of bin midpoints strictly below DN (ties -> lower code).
    Midpoints m are multiples of 0.5, so for the integer 2m: 2m < 2 DN <=> 2m < ceil(2 DN), and
    one integer-indexed table serves integer and float DN exactly.
    """
    v = lut.values.astype(np.int64)
    twice_midpoints = v[:-1] + v[1:]
    q = np.arange(_HALF_DN_SIZE, dtype=np.int64)
    out = np.searchsorted(twice_midpoints, q, side="left").astype(np.uint8)
    out.setflags(write=False)
    return out


def compand(dn: ArrayLike, lut: InverseLUT) -> NDArray[np.uint8]:
    """Compand DN to 8-bit codes: the code whose inverse-table value is nearest.

    Parameters
    ----------
    dn : array_like, any shape
        DN (integers, or floats such as a simulated signal). Values below ``lut.values[0]`` get
        code 0, above ``lut.dn_max`` code 255.
    lut : InverseLUT
        The inverse table; companding is its nearest-value inverse.

    Returns
    -------
    ndarray of uint8, same shape
        Exactly halfway between two table values, the lower code is chosen. Where the table
        repeats a value, the lowest code with that value is chosen.

    Raises
    ------
    ValueError
        NaN in a float input.

    Notes
    -----
    Bins are split at the midpoints between consecutive table values (``searchsorted`` on the
    midpoints, done once per LUT into a cached table indexed by ``ceil(2 * DN)``; exact for
    integer and float DN).
    """
    a = np.asarray(dn)
    fwd = _forward_table(lut)
    if a.dtype in (np.uint8, np.uint16):
        return np.take(fwd[::2], a)  # q = 2 * DN
    if a.dtype.kind in "ui":
        q = np.clip(a.astype(np.int64, copy=False), 0, 65535) * 2
        return np.take(fwd, q)
    if a.dtype.kind != "f":
        raise TypeError(f"DN must be integers or floats, got dtype {a.dtype}")
    if np.isnan(a).any():
        raise ValueError("cannot compand NaN DN")
    q = np.ceil(np.clip(a, -1.0, 65536.0) * 2.0)
    q = np.clip(q, 0, _HALF_DN_SIZE - 1).astype(np.int64)
    return np.take(fwd, q)
