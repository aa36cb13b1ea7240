"""Where the synthetic cameras are and where they look: rover pose, Navcam models, mast pans.

Geometry conventions (docs/conventions.md#frames): ROVER_NAV_FRAME and SITE_FRAME are
+x forward/north, +y right/east, +z down; azimuth clockwise from +x, elevation up; transforms are
named destination_source (``R_site_rover`` maps rover vectors into the site frame).

The Navcam template is the real Mars 2020 Navcam-left model of sol 670
(CAHVORE from the raw-image-site sidecar of that product, docs/products.md; the sidecar gives
subframe_rect (1, 1, 1288, 968) at scale factor 1, i.e. a tile at the detector origin, so the model
is also the full-frame 5120x3840 model). The right eye is the left model moved by the ~42.4 cm
stereo baseline along the camera's horizontal axis, with a small fixed misalignment so the two eyes
do not sample the world identically. The mast is approximated by an elevation axis through the
middle of the camera bar and a vertical azimuth axis slightly behind it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from rovercam.camera import CAHVOR, CAHVORE
from rovercam.camera.coordinates import azimuth_elevation, matrix_to_quaternion

__all__ = [
    "NAVCAM_LEFT_SOL670",
    "NAVCAM_BASELINE_M",
    "RoverPose",
    "Pointing",
    "NavcamPair",
    "navcam_pair",
    "boresight",
    "mast_rotation",
    "mast_pan",
    "rotation_about",
    "perturbed",
]

Eye = Literal["left", "right"]

#: The real sol-670 Navcam-left model (full-resolution detector pixels, ROVER_NAV_FRAME).
NAVCAM_LEFT_SOL670: dict[str, object] = {
    "c": (0.950849, 0.349753, -1.89429),
    "a": (0.824195, 0.0290508, 0.565575),
    "h": (2041.2, 3032.24, 1457.62),
    "v": (-71.0941, 9.0217, 3538.0),
    "o": (0.824089, 0.0304646, 0.565654),
    "r": (1.736e-06, 0.0501396, -0.0171254),
    "e": (-8e-09, 1e-08, -2.9e-08),
    "mtype": 2,
    "mparm": 0.0,
}
#: Navcam stereo baseline, metres (docs/cameras.md, ECAM; not checked against a published table).
NAVCAM_BASELINE_M = 0.424
#: Fixed misalignment of the synthetic right eye relative to the left (yaw, pitch, roll), deg.
_RIGHT_EYE_MISALIGNMENT_DEG = (0.35, -0.12, 0.2)
#: Mast geometry: the cameras sit this far in front of the elevation axis, which sits this far in
#: front of the azimuth axis (metres, along the horizontal boresight).
_EL_AXIS_BEHIND_M = 0.06
_AZ_AXIS_BEHIND_M = 0.08


def rotation_about(axis: NDArray[np.float64], angle_deg: float) -> NDArray[np.float64]:
    """Rotation matrix about a unit ``axis`` by ``angle_deg`` (right-hand rule, Rodrigues)."""
    k = np.asarray(axis, dtype=np.float64)
    k = k / np.linalg.norm(k)
    a = np.radians(angle_deg)
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(a) * kx + (1.0 - np.cos(a)) * (kx @ kx)


@dataclass(frozen=True, slots=True)
class RoverPose:
    """The rover's attitude and position in SITE_FRAME, and its motion counter.

    ``R_site_rover = Rz(heading) @ Ry(pitch) @ Rx(roll)`` (z down: heading clockwise from north).
    """

    heading_deg: float = 127.3
    pitch_deg: float = -1.4
    roll_deg: float = 2.1
    position_m: tuple[float, float, float] = (12.84, -45.61, 0.79)
    site: int = 3
    drive: int = 1152

    @property
    def r_site_rover(self) -> NDArray[np.float64]:
        """(3, 3) rotation from ROVER_NAV_FRAME to SITE_FRAME."""
        rz = rotation_about(np.array([0.0, 0.0, 1.0]), self.heading_deg)
        ry = rotation_about(np.array([0.0, 1.0, 0.0]), self.pitch_deg)
        rx = rotation_about(np.array([1.0, 0.0, 0.0]), self.roll_deg)
        return rz @ ry @ rx

    @property
    def quaternion(self) -> tuple[float, float, float, float]:
        """ORIGIN_ROTATION_QUATERNION (s, x, y, z) of ROVER_NAV_FRAME in SITE_FRAME."""
        q = matrix_to_quaternion(self.r_site_rover)
        return (float(q[0]), float(q[1]), float(q[2]), float(q[3]))


@dataclass(frozen=True, slots=True)
class Pointing:
    """A mast pointing: az/el (deg) of the left eye's detector-centre ray, rover frame."""

    azimuth_deg: float
    elevation_deg: float


def boresight(model: CAHVORE | CAHVOR, samples: int, lines: int) -> NDArray[np.float64]:
    """Unit ray (3,) through the detector centre ((samples-1)/2, (lines-1)/2), model frame."""
    _, d = model.unproject(np.array([[(samples - 1) / 2.0, (lines - 1) / 2.0]]))
    return d[0]


@dataclass(frozen=True, slots=True)
class NavcamPair:
    """The two Navcam eyes at the template pointing, ROVER_NAV_FRAME, product pixels.

    Mars 2020 (CAHVORE) or MSL (CAHVOR) Navcams, whichever template built them.

    ``right`` is ``left`` moved by the baseline and then rotated by ``r_right_left`` about its own
    centre, so right-eye ray directions are ``r_right_left @`` left-eye ray directions of the
    same pixel (the intrinsics are identical).
    """

    left: CAHVORE | CAHVOR
    right: CAHVORE | CAHVOR
    r_right_left: NDArray[np.float64]
    pointing: Pointing
    samples: int
    lines: int

    @property
    def bar_centre(self) -> NDArray[np.float64]:
        """Midpoint of the two camera centres (rover frame, metres)."""
        return (self.left.c + self.right.c) / 2.0


def navcam_pair(scale: float, samples: int, lines: int, *,
                template: CAHVORE | CAHVOR | None = None) -> NavcamPair:
    """The left and right Navcam models of a detector resampled by ``scale``, rover frame.

    Parameters
    ----------
    scale : float
        Product pixels per full-resolution pixel (1/4 for the demo detector: 1280x960).
    samples, lines : int
        Product size (the detector centre defines the pointing).
    template : CAHVORE or CAHVOR, keyword-only
        Full-resolution left-eye model, ROVER_NAV_FRAME; default the Mars 2020 sol-670 Navcam
        left (:data:`NAVCAM_LEFT_SOL670`). The right eye is built from it the same way.

    Notes
    -----
    The demo detector *is* the scaled model (``H' = s H``, ``V' = s V``): it is the true geometry
    of the synthetic camera, so no half-pixel binning term applies.
    """
    if template is None:
        template = CAHVORE(**NAVCAM_LEFT_SOL670)  # type: ignore[arg-type]
    left = template.scaled(scale, scale)
    internal = left.internal()
    right_axis = (left.h - internal.hc * left.a) / internal.hs  # camera +x (right), rover frame
    yaw, pitch, roll = _RIGHT_EYE_MISALIGNMENT_DEG
    down_axis = np.cross(left.a, right_axis)
    r_mis = (rotation_about(down_axis, yaw) @ rotation_about(right_axis, pitch)
             @ rotation_about(left.a, roll))
    c_right = left.c + NAVCAM_BASELINE_M * right_axis
    right = left.transformed(np.eye(3), NAVCAM_BASELINE_M * right_axis)
    right = right.transformed(r_mis, c_right - r_mis @ c_right)  # rotate about its own centre
    az, el = azimuth_elevation(boresight(left, samples, lines)[None, :])
    return NavcamPair(left=left, right=right, r_right_left=r_mis,
                      pointing=Pointing(float(az[0]), float(el[0])), samples=samples, lines=lines)


def mast_rotation(
    template: Pointing, target: Pointing, *, bar_centre: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Rigid motion ``(R, t)`` of the camera head from the template pointing to ``target``.

    The elevation rotation is about the horizontal axis perpendicular to the template azimuth,
    through a point ``_EL_AXIS_BEHIND_M`` behind the camera-bar centre; the azimuth rotation
    about the vertical through a point further behind. A point of the head moves as
    ``p' = R p + t`` (rover frame); the left eye's detector-centre ray then has exactly the
    target azimuth and elevation.
    """
    az0 = np.radians(template.azimuth_deg)
    forward = np.array([np.cos(az0), np.sin(az0), 0.0])
    right = np.array([-np.sin(az0), np.cos(az0), 0.0])
    down = np.array([0.0, 0.0, 1.0])
    p_el = np.asarray(bar_centre, dtype=np.float64) - _EL_AXIS_BEHIND_M * forward
    p_az = p_el - _AZ_AXIS_BEHIND_M * forward
    r_el = rotation_about(right, target.elevation_deg - template.elevation_deg)
    r_az = rotation_about(down, target.azimuth_deg - template.azimuth_deg)
    r = r_az @ r_el
    t = r_az @ (p_el - r_el @ p_el) + (p_az - r_az @ p_az)
    return r, t


def perturbed(model: CAHVORE | CAHVOR, error_deg: float,
              rng: np.random.Generator) -> CAHVORE | CAHVOR:
    """The model rotated about its centre by a random small rotation (pointing-knowledge error).

    Each of three axis angles is normal with sigma ``error_deg``; ``error_deg = 0`` returns the
    model unchanged.
    """
    if error_deg == 0.0:
        return model
    angles = rng.normal(0.0, error_deg, size=3)
    r = np.eye(3)
    for axis, angle in zip(np.eye(3), angles):
        r = rotation_about(axis, float(angle)) @ r
    return model.transformed(r, model.c - r @ model.c)


def mast_pan(count: int, *, elevation_deg: float = -14.0, start_azimuth_deg: float = 0.0,
             step_deg: float | None = None) -> list[Pointing]:
    """A single-tier mast pan: ``count`` pointings, azimuth increasing (clockwise).

    ``step_deg`` defaults to ``360 / count`` (a closed 360-degree pan).
    """
    if count < 1:
        raise ValueError(f"a pan needs at least one frame, got {count}")
    step = 360.0 / count if step_deg is None else float(step_deg)
    return [
        Pointing(azimuth_deg=float((start_azimuth_deg + k * step + 180.0) % 360.0 - 180.0),
                 elevation_deg=float(elevation_deg))
        for k in range(count)
    ]
