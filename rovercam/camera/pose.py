"""Pose-first camera models: position, yaw/pitch/roll (or a rotation) and pinhole intrinsics.

The rotation convention is written once, in docs/conventions.md#camera-pose-yaw-pitch-roll:
the camera frame is forward-right-down (x along the optical axis, y image right, z image down),
and ``R_frame_camera = Rz(yaw) @ Ry(pitch) @ Rx(roll)`` in a z-down frame (SITE_FRAME: +x north,
+y east, +z down). Yaw is the optical axis's azimuth, pitch its elevation, and a positive roll
turns the image's right side down.

>>> import numpy as np
>>> from rovercam.camera import camera_from_pose
>>> cam = camera_from_pose((0, 0, -1.9), yaw_deg=90, focal_px=1000, width=1024, height=768)
>>> cam.project(np.array([[0.0, 10.0, -1.9]]))  # 10 m east, level with the camera
array([[511.5, 383.5]])
"""
from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.camera.cahv import CAHV
from rovercam.camera.cahvor import CAHVOR
from rovercam.camera.model import as_rotation, as_vector
from rovercam.errors import CameraModelError

__all__ = ["camera_from_pose", "rotation_from_yaw_pitch_roll", "yaw_pitch_roll_from_rotation", "pose_from_camera"]

Array = NDArray[np.float64]


def _finite(name: str, value: float) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise CameraModelError(f"{name} must be a number, got {value!r}") from exc
    if not math.isfinite(out):
        raise CameraModelError(f"{name} must be finite, got {value!r}")
    return out


def rotation_from_yaw_pitch_roll(yaw_deg: float, pitch_deg: float = 0.0, roll_deg: float = 0.0) -> Array:
    """``R_frame_camera`` of yaw, pitch and roll (docs/conventions.md#camera-pose-yaw-pitch-roll).

    Parameters
    ----------
    yaw_deg, pitch_deg, roll_deg : float
        Degrees. Intrinsic z-y'-x'' (Tait-Bryan) rotations of the forward-right-down camera
        frame in a z-down frame: yaw about +z (clockwise from +x seen from above: the optical
        axis's azimuth), pitch about the turned +y (positive raises the axis: its elevation),
        roll about the optical axis (positive turns the image's right side down).

    Returns
    -------
    (3, 3) ndarray of float64
        ``Rz(yaw) @ Ry(pitch) @ Rx(roll)``; columns are the camera's forward (optical axis),
        image-right and image-down unit vectors in the frame: ``v_frame = R @ v_camera``.
    """
    y, p, r = (math.radians(_finite(n, v)) for n, v in (("yaw_deg", yaw_deg), ("pitch_deg", pitch_deg),
                                                        ("roll_deg", roll_deg)))
    cy, sy, cp, sp, cr, sr = math.cos(y), math.sin(y), math.cos(p), math.sin(p), math.cos(r), math.sin(r)
    rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
    return rz @ ry @ rx


def yaw_pitch_roll_from_rotation(r_frame_camera: ArrayLike) -> tuple[float, float, float]:
    """Yaw, pitch and roll (degrees) of ``R_frame_camera``: the inverse of
    :func:`rotation_from_yaw_pitch_roll`.

    Returns
    -------
    yaw_deg, pitch_deg, roll_deg : float
        Yaw and roll in (-180, 180], pitch in [-90, 90]. Looking straight up or down
        (|pitch| = 90) yaw and roll turn about the same axis: roll is returned 0 and yaw takes
        the whole turn.

    Raises
    ------
    rovercam.errors.CameraModelError
        Not a proper rotation (orthonormal to 1e-6, determinant +1).
    """
    m = _rotation(r_frame_camera)
    # R[2, 0] = -sin(pitch); R[1, 0] / R[0, 0] = tan(yaw); R[2, 1] / R[2, 2] = tan(roll)
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, -m[2, 0]))))
    if math.hypot(m[0, 0], m[1, 0]) < 1e-12:  # gimbal lock: forward along +-z
        return math.degrees(math.atan2(-m[0, 1], m[1, 1])), pitch, 0.0
    yaw = math.degrees(math.atan2(m[1, 0], m[0, 0]))
    roll = math.degrees(math.atan2(m[2, 1], m[2, 2]))
    return yaw, pitch, roll


def _rotation(r: ArrayLike) -> Array:
    try:
        return as_rotation(r)
    except ValueError as exc:
        raise CameraModelError(f"R_frame_camera: {exc}") from None


def camera_from_pose(
    position: ArrayLike,
    *,
    yaw_deg: float = 0.0,
    pitch_deg: float = 0.0,
    roll_deg: float = 0.0,
    r_frame_camera: ArrayLike | None = None,
    focal_px: float | tuple[float, float],
    width: int,
    height: int,
    principal_point: tuple[float, float] | None = None,
    radial: tuple[float, float, float] | None = None,
) -> CAHV | CAHVOR:
    """A pinhole camera model (CAHV, or CAHVOR with radial distortion) from its pose and intrinsics.

    Parameters
    ----------
    position : (3,) array_like
        Camera centre C, metres, in the frame the model is to be in (SITE_FRAME: +x north,
        +y east, +z down; any z-down frame works the same way).
    yaw_deg, pitch_deg, roll_deg : float, keyword-only
        The camera's orientation in that frame, degrees
        (docs/conventions.md#camera-pose-yaw-pitch-roll; :func:`rotation_from_yaw_pitch_roll`).
        All zero: looking along +x (north), image right along +y (east), image down along +z.
    r_frame_camera : (3, 3) array_like, optional, keyword-only
        The orientation as a rotation instead of angles: ``v_frame = R @ v_camera`` for the
        forward-right-down camera frame (columns: optical axis, image right, image down). Not
        together with non-zero angles.
    focal_px : float or (float, float), keyword-only
        Focal length in pixels, or (horizontal, vertical) for non-square pixels.
    width, height : int, keyword-only
        Image size, pixels.
    principal_point : (float, float), optional, keyword-only
        (x, y) pixel where the optical axis meets the image; default the image centre
        ``((width - 1) / 2, (height - 1) / 2)`` (pixel centres at integers, docs/conventions.md#pixels).
    radial : (float, float, float), optional, keyword-only
        CAHVOR radial terms R0, R1, R2 (dimensionless, docs/camera-models.md) about the optical
        axis (O = A): the result is a :class:`~rovercam.camera.CAHVOR`.

    Returns
    -------
    CAHV or CAHVOR
        ``C = position``, ``A = R[:, 0]``, ``H = fx R[:, 1] + cx A``, ``V = fy R[:, 2] + cy A``
        (Yakimovsky and Cunningham 1978), and ``O = A``, ``R = radial`` for CAHVOR.

    Raises
    ------
    rovercam.errors.CameraModelError
        Non-finite or wrongly shaped values, a focal length or size that is not positive, a
        rotation that is not proper, or both a rotation and angles.
    """
    c = as_vector("position", position)
    if r_frame_camera is not None:
        if any(_finite(n, v) != 0.0 for n, v in (("yaw_deg", yaw_deg), ("pitch_deg", pitch_deg),
                                                 ("roll_deg", roll_deg))):
            raise CameraModelError("give the orientation as yaw/pitch/roll or as r_frame_camera, not both")
        rot = _rotation(r_frame_camera)
    else:
        rot = rotation_from_yaw_pitch_roll(yaw_deg, pitch_deg, roll_deg)
    fx, fy = (focal_px, focal_px) if np.ndim(focal_px) == 0 else tuple(as_vector("focal_px", focal_px, size=2))
    fx, fy = _finite("focal_px", fx), _finite("focal_px", fy)
    if fx <= 0 or fy <= 0:
        raise CameraModelError(f"focal_px must be positive, got {focal_px!r}")
    if int(width) != width or int(height) != height or width < 1 or height < 1:
        raise CameraModelError(f"image size must be positive integers, got {width!r} x {height!r}")
    cx, cy = ((width - 1) / 2.0, (height - 1) / 2.0) if principal_point is None else \
        tuple(as_vector("principal_point", principal_point, size=2))
    a, right, down = rot[:, 0], rot[:, 1], rot[:, 2]
    h = fx * right + cx * a
    v = fy * down + cy * a
    if radial is None:
        return CAHV(c, a, h, v)
    return CAHVOR(c, a, h, v, a, as_vector("radial", radial))


def pose_from_camera(model: CAHV | CAHVOR) -> tuple[Array, float, float, float]:
    """Position and yaw/pitch/roll (degrees) of a model: the inverse of :func:`camera_from_pose`.

    The camera frame is taken from the model's unit axis A and the image-plane directions of
    H and V (``H - (H.A) A``; V's made orthogonal to both), so skewed pixels keep their
    horizontal direction.

    Returns
    -------
    position : (3,) ndarray of float64
        C, metres, in the model's frame.
    yaw_deg, pitch_deg, roll_deg : float
        As :func:`yaw_pitch_roll_from_rotation`.
    """
    a = np.asarray(model.a, np.float64) / np.linalg.norm(model.a)
    right = np.asarray(model.h, np.float64) - float(np.dot(model.h, a)) * a
    right /= np.linalg.norm(right)
    down = np.cross(a, right)
    if np.dot(down, model.v) < 0:
        raise CameraModelError("model's V points against A x H: not a right-handed camera")
    yaw, pitch, roll = yaw_pitch_roll_from_rotation(np.stack([a, right, down], axis=1))
    return np.array(model.c, dtype=np.float64), yaw, pitch, roll
