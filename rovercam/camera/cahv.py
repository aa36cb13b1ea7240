"""CAHV: JPL's linear (pinhole) camera model (cmod_cahv.c; Yakimovsky and Cunningham 1978).

Conventions (frames, pixels, units) are in docs/conventions.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rovercam.camera.model import (
    Array,
    ModelBase,
    as_pixels,
    as_points,
    as_axis_vector,
    as_vector,
    cahv_jacobian,
    cahv_project_offsets,
    cahv_rays,
    check_linear_part,
    components_key,
    py_floats,
    rotation_jacobian,
    unit_rows,
)

__all__ = ["CAHV"]


@dataclass(frozen=True, eq=False, slots=True)
class CAHV(ModelBase):
    """The CAHV linear camera model, components as the label gives them.

    Parameters
    ----------
    c : (3,) array_like
        Camera centre, metres, in the model's reference frame.
    a : (3,) array_like
        Axis (image-plane normal), unit length to the label's ~6 digits. Kept as given, as JPL
        cmod does (``x = d.H / d.A`` with the stored A); within 1e-3 of unit length.
    h, v : (3,) array_like
        Horizontal and vertical vectors, pixels: ``H = hs H' + hc A``, ``V = vs V' + vc A``.

    Raises
    ------
    rovercam.errors.CameraModelError
        Wrong shapes, non-finite values, A more than 1e-3 from unit length, or a degenerate H/V/A.

    Notes
    -----
    Instances are immutable and hash by value, so ``functools.lru_cache`` can key on them.
    """

    c: Array
    a: Array
    h: Array
    v: Array

    def __post_init__(self) -> None:
        object.__setattr__(self, "c", as_vector("C", self.c))
        object.__setattr__(self, "a", as_axis_vector("A", self.a))
        object.__setattr__(self, "h", as_vector("H", self.h))
        object.__setattr__(self, "v", as_vector("V", self.v))
        check_linear_part(self.c, self.a, self.h, self.v)

    def _key(self) -> tuple[float, ...]:
        return components_key(self.c, self.a, self.h, self.v)

    def project(self, points: ArrayLike) -> Array:
        """Project points to pixels: ``x = d.H / d.A``, ``y = d.V / d.A``, ``d = P - C``.

        Parameters
        ----------
        points : (N, 3) array_like
            Metres, in the model's reference frame.

        Returns
        -------
        (N, 2) ndarray of float64
            (x=sample, y=line), 0-based, centres at integers. NaN where ``d.A <= 0`` (behind).
        """
        d = as_points(points) - self.c
        return cahv_project_offsets(self.a, self.h, self.v, d)[0]

    def project_directions(self, directions: ArrayLike) -> Array:
        """Project points at infinity along ``directions`` (N, 3): same as offsets from C."""
        d = as_points(directions, "directions")
        return cahv_project_offsets(self.a, self.h, self.v, d)[0]

    def _project_direction_dots(
        self, d_o: Array, d_d: Array, d_a: Array, d_h: Array, d_v: Array
    ) -> tuple[Array, Array]:
        """:meth:`project_directions` from the dot products of d (fast path of remap grids).

        ``d_o`` (d.O) and ``d_d`` (d.d) are unused by CAHV; ``d_a``, ``d_h``, ``d_v`` are d.A,
        d.H, d.V. Returns x and y, NaN behind the camera.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(d_a > 0, 1.0 / d_a, np.nan)
        return d_h * inv, d_v * inv

    def unproject(self, pixels: ArrayLike, *, exact_origins: bool = True) -> tuple[Array, Array]:
        """Rays through pixels: origin C, direction ``unit((V - yA) x (H - xA))`` (forward).

        Parameters
        ----------
        pixels : (N, 2) array_like
            (x=sample, y=line), 0-based, centres at integers.

        Returns
        -------
        origins : (N, 3) ndarray of float64
            C for every ray, metres.
        directions : (N, 3) ndarray of float64
            Unit vectors with ``direction.A > 0``; NaN for non-finite pixels.
        """
        px = as_pixels(pixels)
        dirs = unit_rows(cahv_rays(self.a, self.h, self.v, px))
        origins = np.broadcast_to(self.c, dirs.shape).copy()
        return origins, dirs

    def project_jacobians(self, points: ArrayLike) -> tuple[Array, Array, Array]:
        """Pixels and Jacobians of :meth:`project` for bundle adjustment.

        Returns
        -------
        pixels : (N, 2) ndarray
        d_pixel_d_point : (N, 2, 3) ndarray
            Pixels per metre.
        d_pixel_d_rotation : (N, 2, 3) ndarray
            Pixels per radian of a small camera rotation ``exp([w]x)`` about C, w in the model
            frame (the model's A, H, V, O rotate by it).
        """
        d = as_points(points) - self.c
        px, _ = cahv_project_offsets(self.a, self.h, self.v, d)
        j_point = cahv_jacobian(self.a, self.h, self.v, d, px)
        return px, j_point, rotation_jacobian(j_point, d)

    def to_pds3(self) -> dict[str, Any]:
        """GEOMETRIC_CAMERA_MODEL keywords (MODEL_TYPE, MODEL_COMPONENT_*) as python values."""
        return {
            "MODEL_TYPE": "CAHV",
            "MODEL_COMPONENT_ID": ("C", "A", "H", "V"),
            "MODEL_COMPONENT_NAME": ("CENTER", "AXIS", "HORIZONTAL", "VERTICAL"),
            "MODEL_COMPONENT_1": py_floats(self.c),
            "MODEL_COMPONENT_2": py_floats(self.a),
            "MODEL_COMPONENT_3": py_floats(self.h),
            "MODEL_COMPONENT_4": py_floats(self.v),
        }
