"""Rover coordinate frames: quaternions, rigid transforms, frame chains, azimuth/elevation.

Conventions (docs/conventions.md):

- Quaternions are scalar-first ``(s, x, y, z)``, Hamilton. A label's quaternion rotates the
  frame it describes into its reference frame: ``p_ref = R(q) @ p + offset``.
- Transforms are named destination_source: ``T_site_rover`` maps rover points to site points,
  and ``T_a_c = T_a_b @ T_b_c``.
- SITE, ROVER_NAV and LOCAL_LEVEL frames are +x north/forward, +y east/right, +z down;
  azimuth = atan2(y, x) (clockwise from +x seen from above), elevation = -asin(z) (up positive).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.camera.model import as_points, as_rotation, as_vector
from rovercam.errors import CameraModelError

__all__ = [
    "CoordinateSystem",
    "quaternion_to_matrix",
    "matrix_to_quaternion",
    "RigidTransform",
    "transform_from_frame",
    "transform_between",
    "local_level_transform",
    "azimuth_elevation",
    "direction_from_azimuth_elevation",
]

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CoordinateSystem:
    """A coordinate system from a label: ``p_reference = R(quaternion) @ p + offset``.

    Parameters
    ----------
    name : str
        Frame name as the label gives it, e.g. ``"ROVER_NAV_FRAME"``. A frame defined relative
        to another instance of itself (``SITE_FRAME`` of site 93 in ``SITE_FRAME`` of site 92)
        is named by instance, ``"SITE_FRAME@93"`` with reference ``"SITE_FRAME@92"``, so that
        frame chains never see a cycle; plain ``"SITE_FRAME"`` stays the root other frames use.
    quaternion : tuple of 4 float
        (s, x, y, z), scalar first, Hamilton; rotates this frame into ``reference``.
    offset : tuple of 3 float
        Origin of this frame in ``reference``, metres.
    reference : str
        Name of the reference (parent) frame, e.g. ``"SITE_FRAME"``.
    index : tuple of int
        The rover motion counter of the frame instance (SITE, DRIVE, POSE, ...), may be empty.
    """

    name: str
    quaternion: tuple[float, float, float, float]
    offset: tuple[float, float, float]
    reference: str
    index: tuple[int, ...] = ()


def quaternion_to_matrix(q: ArrayLike) -> Array:
    """Rotation matrix of a scalar-first Hamilton quaternion (normalised first).

    Parameters
    ----------
    q : (4,) array_like
        ``(s, x, y, z)``, e.g. a label's ORIGIN_ROTATION_QUATERNION or PDS4 (qcos, qsin1..3).

    Returns
    -------
    (3, 3) ndarray of float64
        ``R`` with ``v_ref = R @ v`` (the described frame rotated into its reference).

    Raises
    ------
    rovercam.errors.CameraModelError
        Not 4 finite values, or zero norm.
    """
    quat = as_vector("quaternion", q, size=4)
    norm = float(np.linalg.norm(quat))
    if norm == 0.0:
        raise CameraModelError("quaternion has zero norm")
    s, x, y, z = quat / norm  # labels carry 6 digits: normalise before use
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - s * z), 2 * (x * z + s * y)],
            [2 * (x * y + s * z), 1 - 2 * (x * x + z * z), 2 * (y * z - s * x)],
            [2 * (x * z - s * y), 2 * (y * z + s * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_quaternion(r: ArrayLike) -> Array:
    """Scalar-first Hamilton quaternion ``(s, x, y, z)`` of a rotation matrix, with ``s >= 0``.

    The inverse of :func:`quaternion_to_matrix` (Shepperd's method: pivot on the largest of
    s^2, x^2, y^2, z^2 for accuracy at every angle).
    """
    m = as_rotation(r)
    trace = np.trace(m)
    cands = np.array([trace, m[0, 0], m[1, 1], m[2, 2]])
    k = int(np.argmax(cands))
    if k == 0:
        s = np.sqrt(1.0 + trace) / 2.0
        q = [s, (m[2, 1] - m[1, 2]) / (4 * s), (m[0, 2] - m[2, 0]) / (4 * s),
             (m[1, 0] - m[0, 1]) / (4 * s)]
    elif k == 1:
        x = np.sqrt(1.0 + 2 * m[0, 0] - trace) / 2.0
        q = [(m[2, 1] - m[1, 2]) / (4 * x), x, (m[0, 1] + m[1, 0]) / (4 * x),
             (m[0, 2] + m[2, 0]) / (4 * x)]
    elif k == 2:
        y = np.sqrt(1.0 + 2 * m[1, 1] - trace) / 2.0
        q = [(m[0, 2] - m[2, 0]) / (4 * y), (m[0, 1] + m[1, 0]) / (4 * y), y,
             (m[1, 2] + m[2, 1]) / (4 * y)]
    else:
        z = np.sqrt(1.0 + 2 * m[2, 2] - trace) / 2.0
        q = [(m[1, 0] - m[0, 1]) / (4 * z), (m[0, 2] + m[2, 0]) / (4 * z),
             (m[1, 2] + m[2, 1]) / (4 * z), z]
    quat = np.array(q)
    quat /= np.linalg.norm(quat)
    return -quat if quat[0] < 0 else quat


@dataclass(frozen=True, slots=True)
class RigidTransform:
    """A rigid transform ``p_dst = R @ p_src + t``; name instances ``T_dst_src``.

    Parameters
    ----------
    r : (3, 3) array_like
        Rotation taking ``src`` vectors to ``dst``.
    t : (3,) array_like
        Origin of ``src`` expressed in ``dst``, metres.

    Notes
    -----
    ``T_a_b @ T_b_c`` is ``T_a_c``; ``T_a_b.inverse()`` is ``T_b_a``. Models follow with
    ``model.transformed(T.r, T.t)``.
    """

    r: Array
    t: Array

    def __post_init__(self) -> None:
        rot = np.array(as_rotation(self.r))
        rot.flags.writeable = False
        object.__setattr__(self, "r", rot)
        object.__setattr__(self, "t", as_vector("t", self.t))

    @classmethod
    def identity(cls) -> "RigidTransform":
        """The identity transform."""
        return cls(np.eye(3), np.zeros(3))

    def __matmul__(self, other: "RigidTransform") -> "RigidTransform":
        if not isinstance(other, RigidTransform):
            return NotImplemented
        return RigidTransform(self.r @ other.r, self.r @ other.t + self.t)

    def inverse(self) -> "RigidTransform":
        """``T_src_dst``: ``p_src = R^T (p_dst - t)``."""
        return RigidTransform(self.r.T, -(self.r.T @ self.t))

    def apply(self, points: ArrayLike) -> Array:
        """Transform points (N, 3), metres: ``R p + t``."""
        return as_points(points) @ self.r.T + self.t

    def rotate(self, directions: ArrayLike) -> Array:
        """Rotate directions (N, 3) (no translation)."""
        return as_points(directions, "directions") @ self.r.T


def transform_from_frame(frame: CoordinateSystem) -> RigidTransform:
    """``T_reference_frame`` of a label frame definition (quaternion + ORIGIN_OFFSET_VECTOR).

    For a ROVER_NAV_FRAME whose reference is SITE_FRAME this is ``T_site_rover``.
    """
    return RigidTransform(quaternion_to_matrix(frame.quaternion), np.asarray(frame.offset))


def transform_between(frames: Mapping[str, CoordinateSystem], src: str, dst: str) -> RigidTransform:
    """``T_dst_src`` by walking label frames up their reference chains.

    Parameters
    ----------
    frames : mapping of name to CoordinateSystem
        For instance ``Product.coordinate_systems``. Each frame points at its ``reference`` by name.
    src, dst : str
        Frame names; either may be a root (a name only used as a reference).

    Raises
    ------
    rovercam.errors.CameraModelError
        The frames are not connected, or the chain has a cycle.
    """

    def chain(name: str) -> list[tuple[str, RigidTransform]]:
        # [(name, T_name_start)] from ``name`` itself up to its root
        out = [(name, RigidTransform.identity())]
        seen = {name}
        while out[-1][0] in frames:
            frame = frames[out[-1][0]]
            if frame.reference in seen:
                raise CameraModelError(f"frame chain from {name} has a cycle at {frame.reference}")
            seen.add(frame.reference)
            out.append((frame.reference, transform_from_frame(frame) @ out[-1][1]))
        return out

    up_src = chain(src)
    up_dst = dict(chain(dst))
    for name, t_name_src in up_src:
        if name in up_dst:
            return up_dst[name].inverse() @ t_name_src
    raise CameraModelError(f"no frame chain connects {src} and {dst}")


def local_level_transform(t_site_rover: RigidTransform) -> RigidTransform:
    """``T_local_rover``: LOCAL_LEVEL_FRAME has the rover's origin and the site's axes.

    So ``T_local_rover = (R_site_rover, 0)`` and ``T_site_local = (I, t_site_rover)``.
    """
    return RigidTransform(t_site_rover.r, np.zeros(3))


def azimuth_elevation(directions: ArrayLike) -> tuple[Array, Array]:
    """Azimuth and elevation (degrees) of directions in a z-down frame.

    Parameters
    ----------
    directions : (N, 3) array_like
        Need not be unit length.

    Returns
    -------
    az_deg : (N,) ndarray
        ``atan2(y, x)``, clockwise from +x seen from above, in (-180, 180].
    el_deg : (N,) ndarray
        ``-asin(z / |d|)``, positive up.
    """
    d = as_points(directions, "directions")
    norm = np.linalg.norm(d, axis=1)
    az = np.degrees(np.arctan2(d[:, 1], d[:, 0]))
    el = -np.degrees(np.arcsin(np.clip(d[:, 2] / norm, -1.0, 1.0)))
    return az, el


def direction_from_azimuth_elevation(az_deg: ArrayLike, el_deg: ArrayLike) -> Array:
    """Unit directions (N, 3) for azimuth/elevation in degrees (inverse of azimuth_elevation)."""
    az = np.radians(np.atleast_1d(np.asarray(az_deg, dtype=np.float64)))
    el = np.radians(np.atleast_1d(np.asarray(el_deg, dtype=np.float64)))
    az, el = np.broadcast_arrays(az, el)
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), -np.sin(el)], axis=1)
