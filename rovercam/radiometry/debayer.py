"""Bayer colour filter arrays: phase, mosaicking, and demosaicking.

Methods: Malvar-He-Cutler (default), bilinear, and OpenCV's edge-aware and VNG demosaickers.

A pattern string names the colours of the 2x2 cell at product pixel (0, 0), row-major:
``"RGGB"`` means line 0 is R G R G..., line 1 is G B G B... The Mars 2020 and Mastcam-Z detectors
are RGGB at detector pixel (0, 0); subframes starting at an even 0-based line or sample change the
phase (:func:`cfa_phase`, docs/calibration.md#colour-filter-arrays-and-the-debayer).

Both demosaickers filter with OpenCV's ``BORDER_REFLECT_101`` (mirror without repeating the edge
pixel). Mirroring about a pixel keeps the 2-pixel Bayer parity, so a mirrored neighbour has the
colour the kernel expects and borders need no special case; the estimates there are still less
accurate (a ramp mirrors into a tent), so trim 2 px after Malvar for science (docs/calibration.md).
"""
from __future__ import annotations

from typing import Literal, get_args

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.products.model import BayerPattern
from rovercam.radiometry.dtypes import as_working

__all__ = ["debayer", "mosaic", "cfa_phase", "BayerPattern", "DemosaicMethod"]

DemosaicMethod = Literal["malvar", "bilinear", "edge_aware", "vng"]

#: OpenCV's Bayer conversion codes are named after the 2x2 cell at pixel (1, 1), not (0, 0):
#: our "RGGB" is OpenCV's "BG" (checked by sampling a pure-red scene through each pattern).
_CV_BAYER_NAME = {"RGGB": "BG", "GRBG": "GB", "GBRG": "GR", "BGGR": "RG"}
_CV_SUFFIX = {"edge_aware": "_EA", "vng": "_VNG"}

_PATTERNS: tuple[str, ...] = get_args(BayerPattern)
_CHANNEL = {"R": 0, "G": 1, "B": 2}

# Malvar, He & Cutler (2004), "High-quality linear interpolation for demosaicing of
# Bayer-patterned color images", ICASSP; weights /8 (table in docs/calibration.md).
# G at an R or B site.
_K_G_AT_RB = np.array(
    [
        [0, 0, -1, 0, 0],
        [0, 0, 2, 0, 0],
        [-1, 2, 4, 2, -1],
        [0, 0, 2, 0, 0],
        [0, 0, -1, 0, 0],
    ],
    dtype=np.float32,
) / 8
# At a G site: the colour that lies in the same row (R at G in an R row, B at G in a B row).
_K_ROW_AT_G = np.array(
    [
        [0, 0, 0.5, 0, 0],
        [0, -1, 0, -1, 0],
        [-1, 4, 5, 4, -1],
        [0, -1, 0, -1, 0],
        [0, 0, 0.5, 0, 0],
    ],
    dtype=np.float32,
) / 8
# At a G site: the colour that lies in the same column (the transpose).
_K_COL_AT_G = np.ascontiguousarray(_K_ROW_AT_G.T)
# R at a B site, B at an R site.
_K_DIAG_AT_RB = np.array(
    [
        [0, 0, -1.5, 0, 0],
        [0, 2, 0, 2, 0],
        [-1.5, 0, 6, 0, -1.5],
        [0, 2, 0, 2, 0],
        [0, 0, -1.5, 0, 0],
    ],
    dtype=np.float32,
) / 8

# Bilinear: same-colour neighbours averaged, applied to a plane holding one colour's samples.
_K_BILINEAR_RB = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float32) / 4
_K_BILINEAR_G = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], dtype=np.float32) / 4

_MIN_SIZE = 3  # REFLECT_101 over a 5x5 kernel needs 3 pixels per axis


def _check_pattern(pattern: str) -> str:
    if pattern not in _PATTERNS:
        raise ValueError(f"Bayer pattern must be one of {_PATTERNS}, got {pattern!r}")
    return pattern


def cfa_phase(
    pattern_at_detector_origin: BayerPattern, first_line: int, first_sample: int
) -> BayerPattern:
    """The Bayer pattern at a subframe's pixel (0, 0).

    Parameters
    ----------
    pattern_at_detector_origin : {"RGGB", "GRBG", "GBRG", "BGGR"}
        Pattern at full-resolution detector pixel (0, 0) (RGGB for ECAM and Mastcam-Z).
    first_line, first_sample : int
        The subframe origin, **1-based** full-resolution detector pixels, as labels give them
        (FIRST_LINE / FIRST_LINE_SAMPLE, PDS4 first_line / first_sample).

    Returns
    -------
    {"RGGB", "GRBG", "GBRG", "BGGR"}
        For an RGGB detector: offsets ((first_line - 1) mod 2, (first_sample - 1) mod 2) of
        (0,0) RGGB, (0,1) GRBG, (1,0) GBRG, (1,1) BGGR (docs/calibration.md).

    Raises
    ------
    ValueError
        Unknown pattern, or an origin below 1.

    Notes
    -----
    Apply DETECTOR_TO_IMAGE_ROTATION / flips to the pattern before this; downsampled (binned)
    products have no Bayer pattern left to phase.

    Examples
    --------
    >>> cfa_phase("RGGB", 953, 1273)
    'RGGB'
    >>> cfa_phase("RGGB", 1, 2)
    'GRBG'
    """
    _check_pattern(pattern_at_detector_origin)
    if first_line < 1 or first_sample < 1:
        raise ValueError(
            f"subframe origin is 1-based, got first_line={first_line}, first_sample={first_sample}"
        )
    dl, ds = (first_line - 1) % 2, (first_sample - 1) % 2
    cell = pattern_at_detector_origin
    shifted = "".join(cell[2 * ((i + dl) % 2) + (j + ds) % 2] for i in (0, 1) for j in (0, 1))
    return shifted  # type: ignore[return-value]


def _check_raw(raw: ArrayLike) -> NDArray[np.generic]:
    a = np.asarray(raw)
    if a.ndim != 2:
        raise ValueError(f"a Bayer mosaic is one band (H, W), got shape {a.shape}")
    if min(a.shape) < _MIN_SIZE:
        raise ValueError(
            f"a Bayer mosaic needs at least {_MIN_SIZE}x{_MIN_SIZE} pixels, got {a.shape}"
        )
    return a


def mosaic(rgb: ArrayLike, pattern: BayerPattern) -> NDArray[np.generic]:
    """Sample an RGB image through a Bayer colour filter array.

    Parameters
    ----------
    rgb : (H, W, 3) array_like
        R, G, B bands, any numeric dtype.
    pattern : {"RGGB", "GRBG", "GBRG", "BGGR"}
        Pattern at pixel (0, 0).

    Returns
    -------
    (H, W) ndarray, dtype of ``rgb``
        Each pixel keeps the band its filter passes.

    Examples
    --------
    >>> rgb = np.stack([np.full((2, 2), v) for v in (1, 2, 3)], axis=-1)
    >>> mosaic(rgb, "RGGB").tolist()
    [[1, 2], [2, 3]]
    """
    _check_pattern(pattern)
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"mosaic needs an (H, W, 3) image, got shape {a.shape}")
    out = np.empty(a.shape[:2], dtype=a.dtype)
    for i in (0, 1):
        for j in (0, 1):
            out[i::2, j::2] = a[i::2, j::2, _CHANNEL[pattern[2 * i + j]]]
    return out


def _filter(img: NDArray[np.float32], kernel: NDArray[np.float32]) -> NDArray[np.float32]:
    # filter2D correlates; every kernel here is symmetric, so correlation = convolution.
    return cv2.filter2D(img, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT_101)


def _malvar(work: NDArray[np.float32], pattern: str) -> NDArray[np.float32]:
    h, w = work.shape
    g_at_rb = _filter(work, _K_G_AT_RB)
    row_at_g = _filter(work, _K_ROW_AT_G)
    col_at_g = _filter(work, _K_COL_AT_G)
    diag_at_rb = _filter(work, _K_DIAG_AT_RB)
    out = np.empty((h, w, 3), dtype=np.float32)
    # Rows holding R samples (vs B samples): where the cell's R sits.
    r_row = pattern.index("R") // 2
    for i in (0, 1):
        for j in (0, 1):
            site = pattern[2 * i + j]
            sl = (slice(i, None, 2), slice(j, None, 2))
            if site == "G":
                row_colour, col_colour = ("R", "B") if i == r_row else ("B", "R")
                out[sl + (1,)] = work[sl]
                out[sl + (_CHANNEL[row_colour],)] = row_at_g[sl]
                out[sl + (_CHANNEL[col_colour],)] = col_at_g[sl]
            else:
                other = "B" if site == "R" else "R"
                out[sl + (_CHANNEL[site],)] = work[sl]
                out[sl + (1,)] = g_at_rb[sl]
                out[sl + (_CHANNEL[other],)] = diag_at_rb[sl]
    return out


def _bilinear(work: NDArray[np.float32], pattern: str) -> NDArray[np.float32]:
    planes = []
    for colour, kernel in (("R", _K_BILINEAR_RB), ("G", _K_BILINEAR_G), ("B", _K_BILINEAR_RB)):
        plane = np.zeros_like(work)
        for i in (0, 1):
            for j in (0, 1):
                if pattern[2 * i + j] == colour:
                    plane[i::2, j::2] = work[i::2, j::2]
        planes.append(_filter(plane, kernel))
    return cv2.merge(planes)


def _opencv(a: NDArray[np.generic], pattern: str, method: str) -> NDArray[np.float32]:
    allowed = (np.uint8,) if method == "vng" else (np.uint8, np.uint16)
    if a.dtype not in allowed:
        names = " or ".join(np.dtype(t).name for t in allowed)
        raise ValueError(f"OpenCV {method} demosaicking takes {names} input, got {a.dtype}")
    code = getattr(cv2, f"COLOR_Bayer{_CV_BAYER_NAME[pattern]}2RGB{_CV_SUFFIX[method]}")
    return as_working(cv2.cvtColor(np.ascontiguousarray(a), code))


def debayer(
    raw: ArrayLike,
    pattern: BayerPattern,
    *,
    method: DemosaicMethod = "malvar",
    clip: tuple[float, float] | None = None,
) -> NDArray[np.float32]:
    """Demosaic a Bayer image to R, G, B.

    Parameters
    ----------
    raw : (H, W) array_like
        The mosaic, uint8 / uint16 DN or float (values are used as they are, never scaled by the
        dtype maximum). H, W >= 3; odd sizes are fine.
    pattern : {"RGGB", "GRBG", "GBRG", "BGGR"}
        Pattern at pixel (0, 0) of *this* array (see :func:`cfa_phase` for subframes).
    method : {"malvar", "bilinear", "edge_aware", "vng"}, keyword-only
        ``"malvar"``: Malvar-He-Cutler 2004 gradient-corrected 5x5 filters (docs/calibration.md).
        ``"bilinear"``: average of the same-colour neighbours in the 3x3 window.
        ``"edge_aware"``: OpenCV ``COLOR_Bayer*2RGB_EA`` (interpolates along the weaker
        gradient); integer input only (uint8 or uint16 DN), computed in the input's integer
        type and returned as float32 values.
        ``"vng"``: OpenCV ``COLOR_Bayer*2RGB_VNG`` (variable number of gradients); OpenCV
        implements it for uint8 only, so it takes 8-bit data (companded codes or 8-bit DN).
    clip : (low, high), keyword-only, optional
        Clamp the result, e.g. ``(0, dn_max)``: Malvar's negative taps overshoot at edges.
        None (default) leaves it unclamped, which keeps a float radiance path unbiased.

    Returns
    -------
    (H, W, 3) ndarray of float32
        R, G, B. Each pixel keeps its own measured sample exactly; borders are mirrored
        (``BORDER_REFLECT_101``).

    Raises
    ------
    ValueError
        Not a 2-D array of at least 3x3, an unknown pattern or method, or a dtype the OpenCV
        methods do not support (float for ``"edge_aware"``, anything but uint8 for ``"vng"``).

    Notes
    -----
    Both methods reproduce an image whose three bands are each constant exactly everywhere, and
    each affine in (x, y) exactly away from the border (2 px for Malvar, 1 px for bilinear):
    every kernel is symmetric, and the weights on samples of the estimated colour sum to 1 while
    the gradient-correction weights on the other colours sum to 0.

    Examples
    --------
    >>> rgb = np.ones((4, 4, 3), dtype=np.float32) * np.float32([10, 20, 30])
    >>> debayer(mosaic(rgb, "GRBG"), "GRBG")[1, 2].tolist()
    [10.0, 20.0, 30.0]
    """
    _check_pattern(pattern)
    a = _check_raw(raw)
    if method in _CV_SUFFIX:
        out = _opencv(a, pattern, method)
    elif method == "malvar":
        out = _malvar(as_working(a), pattern)
    elif method == "bilinear":
        out = _bilinear(as_working(a), pattern)
    else:
        raise ValueError(
            f"method must be one of 'malvar', 'bilinear', 'edge_aware', 'vng', got {method!r}"
        )
    if clip is not None:
        lo, hi = clip
        np.clip(out, np.float32(lo), np.float32(hi), out=out)
    return out
