"""Epipolar rectification of a stereo pair (cmod ``*_warp_models``; VICAR marscahv).

Both rectified eyes keep their own C and share A, H and V, with rows parallel to the baseline:
``x_dir = unit(C_right - C_left)``, ``y_dir`` = the mean of both eyes' vertical image
directions orthogonalised to ``x_dir``, ``A = x_dir x y_dir``. A point then projects to the
same row in both images and disparity is purely horizontal. Conventions: docs/conventions.md.
"""
from __future__ import annotations

import math

import numpy as np

from rovercam.camera.cahv import CAHV
from rovercam.camera.linearize import (
    FovChoice,
    cahv_for_window,
    image_plane,
    perimeter_pixels,
    plane_coordinates,
)
from rovercam.camera.model import CameraModel
from rovercam.errors import CameraModelError

__all__ = ["rectify_pair"]


def rectify_pair(
    left: CameraModel,
    right: CameraModel,
    size: tuple[int, int],
    *,
    right_size: tuple[int, int] | None = None,
    fov: FovChoice = "min",
    output_size: tuple[int, int] | None = None,
    square_pixels: bool = True,
    limit_deg: float = 80.0,
) -> tuple[CAHV, CAHV]:
    """Rectified CAHV models for a stereo pair, in the frame both models share.

    Parameters
    ----------
    left, right : CameraModel
        The two eyes' models, in one frame (e.g. ROVER_NAV_FRAME).
    size : (width, height)
        The left image size; ``right_size`` defaults to it.
    fov : {"min", "max"}, keyword-only
        As for :func:`rovercam.camera.linearize`, over the perimeters of both images.
    output_size : (width, height), keyword-only
        Size of both rectified images; ``size`` by default.
    square_pixels : bool, keyword-only
        One focal length on both axes (the usual choice for stereo matching).
    limit_deg : float, keyword-only
        Perimeter rays further off-axis are clamped to this angle.

    Returns
    -------
    (CAHV, CAHV)
        Left and right models with identical A, H, V and their original C. Use them with
        :func:`rovercam.camera.remap_grid` to resample each eye.

    Raises
    ------
    rovercam.errors.CameraModelError
        Coincident camera centres, or a baseline along the viewing direction.
    """
    right_size = right_size or size
    baseline = right.c - left.c
    length = float(np.linalg.norm(baseline))
    if length == 0.0:
        raise CameraModelError("stereo pair has coincident camera centres")
    x_dir = baseline / length
    _, h_left, v_left = image_plane(left)
    _, h_right, v_right = image_plane(right)
    if float(x_dir @ (h_left + h_right)) < 0:
        x_dir = -x_dir  # keep image x growing the way the originals' does
    y_mean = v_left + v_right
    y_dir = y_mean - (y_mean @ x_dir) * x_dir
    if np.linalg.norm(y_dir) < 1e-6:
        raise CameraModelError("stereo baseline is parallel to the image columns")
    y_dir = y_dir / np.linalg.norm(y_dir)
    a = np.cross(x_dir, y_dir)
    if float(a @ (left.a + right.a)) < math.cos(math.radians(85.0)) * 2:
        raise CameraModelError("stereo baseline is (nearly) along the viewing direction")
    limit = math.radians(limit_deg)
    sides: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for model, (w, h) in ((left, size), (right, right_size)):
        for side, px in perimeter_pixels(w, h).items():
            _, dirs = model.unproject(px)
            if not np.isfinite(dirs).all():
                raise CameraModelError(f"a stereo model has no ray for some {side}-border pixels")
            sides.setdefault(side, []).append(plane_coordinates(dirs, a, x_dir, y_dir, limit_rad=limit))
    if fov == "min":
        window = (
            max(c[0].max() for c in sides["left"]),
            min(c[0].min() for c in sides["right"]),
            max(c[1].max() for c in sides["top"]),
            min(c[1].min() for c in sides["bottom"]),
        )
    elif fov == "max":
        us = np.concatenate([c[0] for cs in sides.values() for c in cs])
        ws = np.concatenate([c[1] for cs in sides.values() for c in cs])
        window = (us.min(), us.max(), ws.min(), ws.max())
    else:
        raise CameraModelError(f"fov must be 'min' or 'max', got {fov!r}")
    out = output_size or size
    rect_left = cahv_for_window(left.c, a, x_dir, y_dir, window, out, fov=fov,
                                 square_pixels=square_pixels)
    rect_right = CAHV(right.c, rect_left.a, rect_left.h, rect_left.v)
    return rect_left, rect_right
