"""Linearization of CAHVOR/CAHVORE models to CAHV (JPL cmod ``*_warp_model`` style).

The linear model keeps the camera centre C and the image plane of the original (normal A, H
and V directions), with orthogonal, distortion-free H and V whose scales and centre are solved
so the extreme perimeter rays of the original image land on the borders of the output image.
Conventions: docs/conventions.md.
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np

from rovercam.camera.cahv import CAHV
from rovercam.camera.model import Array, CameraModel, cahv_internal, unit_linear_part
from rovercam.errors import CameraModelError

__all__ = ["linearize", "image_plane", "perimeter_pixels", "plane_coordinates", "cahv_for_window"]

FovChoice = Literal["min", "max"]


def image_plane(model: CameraModel) -> tuple[Array, Array, Array]:
    """Orthonormal image-plane axes ``(a, h_dir, v_dir)`` of a model's CAHV part.

    ``h_dir = unit(H - hc A)``; ``v_dir`` is A x h_dir, signed like ``V - vc A`` (so H and V are
    exactly orthogonal: the skew of the original, ~1e-4 rad, is dropped as cmod_cahv_iplane
    does). A label's A is not exactly unit length (|A| - 1 up to ~1e-5); the axes come from the
    equivalent unit-axis CAHV part ``(A, H, V) / |A|`` (same pixels), so they are orthonormal.
    """
    a, h, v = unit_linear_part(model.a, model.h, model.v)
    hs, hc, vs, vc, _ = cahv_internal(a, h, v)
    h_dir = (h - hc * a) / hs
    h_dir = h_dir / np.linalg.norm(h_dir)
    v_raw = (v - vc * a) / vs
    v_dir = np.cross(a, h_dir)
    if float(np.dot(v_dir, v_raw)) < 0:
        v_dir = -v_dir
    return a, h_dir, v_dir


def perimeter_pixels(width: int, height: int) -> dict[str, Array]:
    """Pixels along each border of a ``width x height`` image, (N, 2) per side."""
    xs = np.arange(width, dtype=np.float64)
    ys = np.arange(height, dtype=np.float64)
    return {
        "left": np.column_stack([np.zeros_like(ys), ys]),
        "right": np.column_stack([np.full_like(ys, width - 1.0), ys]),
        "top": np.column_stack([xs, np.zeros_like(xs)]),
        "bottom": np.column_stack([xs, np.full_like(xs, height - 1.0)]),
    }


def plane_coordinates(
    directions: Array, a: Array, h_dir: Array, v_dir: Array, *, limit_rad: float
) -> tuple[Array, Array]:
    """Tangent-plane coordinates ``(d.h_dir / d.A, d.v_dir / d.A)`` of directions (N, 3).

    Rays further than ``limit_rad`` from A (fisheye corners can exceed 90 deg, where the plane
    coordinate is infinite or negative) are clamped to ``limit_rad`` along their own azimuth.
    """
    along = directions @ a
    u = directions @ h_dir
    w = directions @ v_dir
    radial = np.hypot(u, w)
    angle = np.arctan2(radial, along)
    clamped = np.minimum(angle, limit_rad)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(radial > 0, np.tan(clamped) / radial, 0.0)
    return u * scale, w * scale


def linearize(
    model: CameraModel,
    width: int,
    height: int,
    *,
    fov: FovChoice = "min",
    output_size: tuple[int, int] | None = None,
    square_pixels: bool = False,
    limit_deg: float = 80.0,
) -> CAHV:
    """A CAHV model for resampling ``model``'s image without distortion.

    Parameters
    ----------
    model : CameraModel
        The original model (any of CAHV, CAHVOR, CAHVORE), in product pixels.
    width, height : int
        The original image size (samples, lines).
    fov : {"min", "max"}, keyword-only
        ``"min"``: the common field of view of the perimeter's inner extremes, so the output
        has no empty border; ``"max"``: the outer extremes, every input pixel kept and the
        corners empty (cmod's ``minfov`` flag).
    output_size : (width, height), keyword-only
        Size of the linearized image; the input size by default.
    square_pixels : bool, keyword-only
        Use one focal length for both axes (the tighter one for ``"min"``, the looser for
        ``"max"``), centring the other axis.
    limit_deg : float, keyword-only
        Rays further off-axis are clamped to this angle (a fisheye's 90+ deg corners cannot be
        represented on a plane).

    Returns
    -------
    CAHV
        Same C as ``model`` and A along its A, scaled to unit length (O = A, R = E = 0
        implied), with orthogonal H, V such that
        the chosen extreme rays land on columns 0 / W-1 and rows 0 / H-1.

    Raises
    ------
    rovercam.errors.CameraModelError
        Sizes below 2 pixels, an unknown ``fov``, or perimeter rays that cannot be computed.
    """
    if fov not in ("min", "max"):
        raise CameraModelError(f"fov must be 'min' or 'max', got {fov!r}")
    if width < 2 or height < 2:
        raise CameraModelError(f"image must be at least 2x2 pixels, got {width}x{height}")
    out_w, out_h = output_size if output_size is not None else (width, height)
    if out_w < 2 or out_h < 2:
        raise CameraModelError(f"output must be at least 2x2 pixels, got {out_w}x{out_h}")
    a, h_dir, v_dir = image_plane(model)
    limit = math.radians(limit_deg)
    coords = {}
    for side, px in perimeter_pixels(width, height).items():
        _, dirs = model.unproject(px)
        if not np.isfinite(dirs).all():
            raise CameraModelError(f"the model has no ray for some {side}-border pixels")
        coords[side] = plane_coordinates(dirs, a, h_dir, v_dir, limit_rad=limit)
    if fov == "min":
        x_lo = coords["left"][0].max()
        x_hi = coords["right"][0].min()
        y_lo = coords["top"][1].max()
        y_hi = coords["bottom"][1].min()
    else:
        all_u = np.concatenate([c[0] for c in coords.values()])
        all_w = np.concatenate([c[1] for c in coords.values()])
        x_lo, x_hi, y_lo, y_hi = all_u.min(), all_u.max(), all_w.min(), all_w.max()
    return cahv_for_window(model.c, a, h_dir, v_dir, (x_lo, x_hi, y_lo, y_hi), (out_w, out_h),
                            fov=fov, square_pixels=square_pixels)


def cahv_for_window(
    c: Array,
    a: Array,
    h_dir: Array,
    v_dir: Array,
    window: tuple[float, float, float, float],
    size: tuple[int, int],
    *,
    fov: FovChoice,
    square_pixels: bool,
) -> CAHV:
    """CAHV mapping the tangent-plane window onto pixel centres 0..W-1, 0..H-1."""
    x_lo, x_hi, y_lo, y_hi = window
    if not (x_hi > x_lo and y_hi > y_lo):
        raise CameraModelError(f"empty field of view window {window}")
    out_w, out_h = size
    hs = (out_w - 1) / (x_hi - x_lo)
    vs = (out_h - 1) / (y_hi - y_lo)
    if square_pixels:
        hs = vs = max(hs, vs) if fov == "min" else min(hs, vs)
    # centre the window: x = hs u + hc with the window's middle at (W - 1) / 2
    hc = (out_w - 1) / 2 - hs * (x_lo + x_hi) / 2
    vc = (out_h - 1) / 2 - vs * (y_lo + y_hi) / 2
    return CAHV(c, a, hs * h_dir + hc * a, vs * v_dir + vc * a)
