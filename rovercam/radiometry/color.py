"""Colour: 3x3 matrices between colour spaces, the sRGB transfer curve, display encoding.

Matrices are named destination_from_source and act on column vectors: ``dst = M @ src`` per
pixel (docs/calibration.md#colour). Radiometric work stays linear; the sRGB curve is applied only
for display.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.errors import CalibrationError
from rovercam.radiometry.dtypes import as_working

__all__ = [
    "SRGB_FROM_XYZ",
    "XYZ_FROM_SRGB",
    "apply_color_matrix",
    "srgb_encode",
    "srgb_decode",
    "to_display",
    "percentile_white",
    "WHITE_PERCENTILE",
]


def _frozen(a: NDArray[np.float64]) -> NDArray[np.float64]:
    a.setflags(write=False)
    return a


SRGB_FROM_XYZ: NDArray[np.float64] = _frozen(
    np.array(
        [
            [3.2406255, -1.537208, -0.4986286],
            [-0.9689307, 1.8757561, 0.0415175],
            [0.0557101, -0.2040211, 1.0569959],
        ]
    )
)
"""Linear sRGB (D65) from CIE XYZ (Y = 1 for the white), as MIPL's PigColorConverterXYZtosRGB
uses it, no gamma (docs/calibration.md#colour)."""

XYZ_FROM_SRGB: NDArray[np.float64] = _frozen(np.linalg.inv(SRGB_FROM_XYZ))
"""CIE XYZ from linear sRGB: the inverse of :data:`SRGB_FROM_XYZ`."""

# IEC 61966-2-1 sRGB transfer function.
_LINEAR_BREAK = 0.0031308
_ENCODED_BREAK = 0.04045


def apply_color_matrix(image: ArrayLike, matrix: ArrayLike) -> NDArray[np.float32]:
    """Apply a 3x3 colour matrix to every pixel: ``dst = matrix @ src``.

    Parameters
    ----------
    image : (..., 3) array_like
        Linear values in the source space (last axis = the 3 components).
    matrix : (3, 3) array_like
        destination_from_source, e.g. :data:`SRGB_FROM_XYZ`.

    Returns
    -------
    (..., 3) ndarray of float32
        Linear values in the destination space; NaN propagates per pixel.

    Raises
    ------
    ValueError
        Image without a last axis of 3.
    CalibrationError
        Matrix not 3x3 or not finite.

    Examples
    --------
    >>> apply_color_matrix(np.float32([0.95047, 1.0, 1.08883]), SRGB_FROM_XYZ).round(3)
    array([1., 1., 1.], dtype=float32)
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        raise CalibrationError("color matrix", f"expected a finite 3x3 matrix, got shape {m.shape}")
    work = as_working(image)
    if work.ndim < 1 or work.shape[-1] != 3:
        raise ValueError(f"colour images are (..., 3), got shape {work.shape}")
    flat = work.reshape(-1, 3)
    out = flat @ m.T.astype(np.float32)
    return out.reshape(work.shape)


def _encode_clipped_inplace(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """sRGB-encode float32 values already in [0, 1] (or NaN), in place."""
    low = x * np.float32(12.92)
    is_low = x <= np.float32(_LINEAR_BREAK)
    np.power(x, np.float32(1 / 2.4), out=x)
    # 1.055 p - 0.055 written as 1 + 1.055 (p - 1) so that 1 encodes to exactly 1 in float32
    x -= np.float32(1)
    x *= np.float32(1.055)
    x += np.float32(1)
    np.copyto(x, low, where=is_low)
    return x


def srgb_encode(linear: ArrayLike) -> NDArray[np.float32]:
    """The sRGB transfer curve (IEC 61966-2-1): linear [0, 1] -> encoded [0, 1].

    ``12.92 x`` for ``x <= 0.0031308``, else ``1.055 x^(1/2.4) - 0.055``; input clipped to
    [0, 1] first; NaN stays NaN.

    Parameters
    ----------
    linear : array_like
        Linear values, any shape.

    Returns
    -------
    ndarray of float32, same shape

    Examples
    --------
    >>> srgb_encode([0.0, 0.0031308, 1.0]).round(5)
    array([0.     , 0.04045, 1.     ], dtype=float32)
    """
    x = np.asarray(np.clip(as_working(linear), np.float32(0), np.float32(1)))  # 0-d stays array
    return _encode_clipped_inplace(x)


def srgb_decode(encoded: ArrayLike) -> NDArray[np.float32]:
    """Inverse of :func:`srgb_encode`: encoded [0, 1] -> linear [0, 1] (input clipped).

    ``x / 12.92`` for ``x <= 0.04045``, else ``((x + 0.055) / 1.055)^2.4``.

    Parameters
    ----------
    encoded : array_like
        Encoded values, any shape (divide 8-bit codes by 255 first).

    Returns
    -------
    ndarray of float32, same shape
    """
    x = np.clip(as_working(encoded), np.float32(0), np.float32(1))
    high = np.power((x + np.float32(0.055)) / np.float32(1.055), np.float32(2.4))
    return np.where(x <= np.float32(_ENCODED_BREAK), x / np.float32(12.92), high).astype(
        np.float32, copy=False
    )


def to_display(radiance_srgb: ArrayLike, *, white_radiance: float) -> NDArray[np.uint8]:
    """Encode linear radiance as an 8-bit display image (sRGB transfer curve).

    Parameters
    ----------
    radiance_srgb : (H, W, 3), (H, W, 1) or (H, W) array_like
        Linear sRGB components in radiance units (W m^-2 sr^-1 nm^-1), or one band of a
        grayscale camera (encoded with the same curve: 8-bit grayscale).
    white_radiance : float, keyword-only
        The radiance shown as display white (255); brighter values clip. With no camera white
        known, :func:`percentile_white` gives one from the image.

    Returns
    -------
    ndarray of uint8, the shape of ``radiance_srgb``
        ``round(255 * srgb_encode(radiance / white_radiance))``; NaN (no data) -> 0.

    Raises
    ------
    ValueError
        Not (H, W, 3), (H, W, 1) or (H, W), or ``white_radiance`` not positive and finite.
    """
    if not (white_radiance is not None and np.isfinite(white_radiance) and white_radiance > 0):
        raise ValueError(f"white_radiance must be positive and finite, got {white_radiance!r}")
    work = as_working(radiance_srgb)
    if not (work.ndim == 2 or (work.ndim == 3 and work.shape[2] in (1, 3))):
        raise ValueError(f"display images are (H, W, 3), (H, W, 1) or (H, W), got shape {work.shape}")
    x = np.multiply(work, np.float32(1.0 / white_radiance), dtype=np.float32)
    np.fmax(x, np.float32(0), out=x)  # fmax, unlike clip, turns NaN (no data) into 0
    np.fmin(x, np.float32(1), out=x)
    encoded = _encode_clipped_inplace(x)
    encoded *= np.float32(255)
    encoded += np.float32(0.5)  # round half up; values are within [0, 255.5]
    return encoded.astype(np.uint8)


#: Percentile of the finite values shown as display white when no camera white is known.
WHITE_PERCENTILE = 99.5


def percentile_white(image: ArrayLike, *, percentile: float = WHITE_PERCENTILE,
                     max_samples: int = 4_000_000) -> float:
    """A display white from the image itself: the ``percentile`` of its finite values.

    For previews of cameras with no known display white (no absolute radiometry, or a camera
    table without ``display_white_radiance``). A high percentile, not the maximum, so a few hot
    pixels or specular glints do not darken the whole preview.

    Parameters
    ----------
    image : (H, W) or (H, W, B) array_like
        Linear values (radiance or relative); NaN/inf = no data. Every band counts.
    percentile : float
        In (0, 100].
    max_samples : int
        Larger images are read on a regular pixel lattice of about this many pixels (every band
        of each), which keeps the cost bounded on large mosaics.

    Returns
    -------
    float
        The white, in the image's units.

    Raises
    ------
    ValueError
        No finite values, or a white that is not positive.
    """
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
    a = np.asarray(image)
    if a.ndim not in (2, 3):
        raise ValueError(f"images are (H, W) or (H, W, B), got shape {a.shape}")
    step = max(1, int(np.ceil(np.sqrt(a.shape[0] * a.shape[1] / max(max_samples, 1)))))
    sample = np.asarray(a[::step, ::step], dtype=np.float64).ravel()
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        raise ValueError("no finite values to choose a display white from")
    white = float(np.percentile(sample, percentile))
    if not white > 0:
        raise ValueError(f"the {percentile:g}th percentile of the finite values is {white!r}, not a usable white")
    return white
