"""OpenCV-style intrinsics for the JPL models that have an exact OpenCV equivalent.

- CAHV -> pinhole ``K`` (with skew), no distortion.
- CAHVOR with O along A -> pinhole with radial ``k1, k2`` (``x_d = x (1 + R0 + R1 r^2 + R2 r^4)``;
  ``1 + R0`` is folded into the focal lengths).
- CAHVORE with O along A and E = 0: linearity 1 -> the same pinhole; linearity 0 -> OpenCV's
  fisheye model (``theta_d = theta (1 + R0 + R1 theta^2 + R2 theta^4)``).

Other models (O off A, an entrance pupil, 0 < L < 1) have no OpenCV equivalent: linearize them
first (:func:`rovercam.camera.linearize`). Conventions: docs/conventions.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rovercam.camera.cahv import CAHV
from rovercam.camera.cahvor import CAHVOR
from rovercam.camera.cahvore import CAHVORE
from rovercam.camera.model import Array, CameraModel, cahv_internal, unit_linear_part
from rovercam.errors import CameraModelError

__all__ = ["OpenCVCamera", "to_opencv"]


@dataclass(frozen=True, slots=True)
class OpenCVCamera:
    """An OpenCV camera equivalent to a JPL model.

    Attributes
    ----------
    kind : {"pinhole", "fisheye"}
        Use ``cv2.projectPoints`` or ``cv2.fisheye.projectPoints``.
    k : (3, 3) ndarray
        Camera matrix (focal lengths and principal point in pixels, skew in ``k[0, 1]``).
    dist : ndarray
        Pinhole: (k1, k2, p1, p2, k3) = (k1, k2, 0, 0, 0); fisheye: (k1, k2, k3, k4), and pass
        ``alpha = k[0, 1] / k[0, 0]`` (cv2.fisheye reads the skew from alpha, not from K).
    r_cam_model : (3, 3) ndarray
        Rotation from the model's frame to the OpenCV camera frame (x right, y down, z = A).
    c : (3,) ndarray
        Camera centre in the model's frame, metres: ``p_cam = r_cam_model @ (p - c)``; for
        ``cv2.projectPoints`` pass ``rvec = Rodrigues(r_cam_model)``, ``tvec = -r_cam_model @ c``.
    """

    kind: Literal["pinhole", "fisheye"]
    k: Array
    dist: Array
    r_cam_model: Array
    c: Array


def to_opencv(
    model: CameraModel,
    *,
    max_axis_angle_rad: float = 1e-9,
    max_entrance_m: float = 0.0,
    allow_skew: bool = False,
) -> OpenCVCamera:
    """Convert a model to OpenCV intrinsics where the conversion is exact.

    Parameters
    ----------
    model : CameraModel
    max_axis_angle_rad : float, keyword-only
        Largest angle between O and A accepted as "O along A".
    max_entrance_m : float, keyword-only
        Largest |E| accepted for CAHVORE (the pupil shift has no OpenCV equivalent).
    allow_skew : bool, keyword-only
        Accept non-orthogonal H and V, written as skew in ``k[0, 1]``. ``cv2.projectPoints``
        ignores that entry (``cv2.fisheye`` takes it as ``alpha``), so by default a model whose
        skew term (``k[0, 1]`` times a normalised y of up to ~2) could exceed 1e-6 px is refused.

    Raises
    ------
    rovercam.errors.CameraModelError
        When the model has no exact OpenCV equivalent.
    """
    # the unit-axis equivalent of the CAHV part (a label's |A| differs from 1 by up to ~1e-5)
    a, h, v = unit_linear_part(model.a, model.h, model.v)
    hs, hc, vs, vc, _ = cahv_internal(a, h, v)
    v_dir = (v - vc * a) / vs
    v_dir /= np.linalg.norm(v_dir)
    x_dir = np.cross(v_dir, a)  # camera x = y x z
    h_dir = (h - hc * a) / hs
    h_dir /= np.linalg.norm(h_dir)
    if float(h_dir @ x_dir) <= 0:
        raise CameraModelError("model's H and V are left-handed; OpenCV needs x right, y down")
    # x_pixel = hs (d.h_dir)/(d.A) + hc with h_dir = sin(phi) x + cos(phi) y
    k = np.array([
        [hs * float(h_dir @ x_dir), hs * float(h_dir @ v_dir), hc],
        [0.0, vs, vc],
        [0.0, 0.0, 1.0],
    ])
    if not allow_skew and abs(k[0, 1]) * 2.0 > 1e-6:
        raise CameraModelError(
            f"H and V are not orthogonal (skew {k[0, 1]:.3g} px): cv2.projectPoints ignores "
            "skew; linearize first or pass allow_skew=True"
        )
    r_cam_model = np.stack([x_dir, v_dir, a])
    if isinstance(model, CAHV):
        return OpenCVCamera("pinhole", k, np.zeros(5), r_cam_model, model.c.copy())
    o = model.o  # type: ignore[attr-defined]
    axis_angle = math.atan2(float(np.linalg.norm(np.cross(o, a))), float(o @ a))
    if axis_angle > max_axis_angle_rad:
        raise CameraModelError(
            f"O is {axis_angle:.3g} rad off A: no exact OpenCV equivalent (linearize first)"
        )
    if abs(float(o @ o) - 1.0) > 1e-12:
        # cmod takes l = d - (d.O) O with the stored O: off-unit, l gains an axial part that
        # OpenCV's radial polynomial cannot express
        raise CameraModelError(
            f"|O| = {float(np.linalg.norm(o))!r} is not unit length: no exact OpenCV equivalent"
        )
    r0, r1, r2 = (float(x) for x in model.r)  # type: ignore[attr-defined]
    scale = np.diag([1.0 + r0, 1.0 + r0, 1.0])
    if isinstance(model, CAHVOR):
        dist = np.array([r1 / (1 + r0), r2 / (1 + r0), 0.0, 0.0, 0.0])
        return OpenCVCamera("pinhole", k @ scale, dist, r_cam_model, model.c.copy())
    if isinstance(model, CAHVORE):
        if float(np.abs(model.e).max()) > max_entrance_m:
            raise CameraModelError("CAHVORE entrance-pupil terms have no OpenCV equivalent")
        if model.linearity == 1.0:
            dist = np.array([r1 / (1 + r0), r2 / (1 + r0), 0.0, 0.0, 0.0])
            return OpenCVCamera("pinhole", k @ scale, dist, r_cam_model, model.c.copy())
        if model.linearity == 0.0:
            dist = np.array([r1 / (1 + r0), r2 / (1 + r0), 0.0, 0.0])
            return OpenCVCamera("fisheye", k @ scale, dist, r_cam_model, model.c.copy())
        raise CameraModelError(f"CAHVORE linearity {model.linearity} has no OpenCV equivalent")
    raise CameraModelError(f"cannot convert a {type(model).__name__} to OpenCV intrinsics")
