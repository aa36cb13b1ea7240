"""CAHVOR: CAHV plus radial distortion about an optical axis O (JPL cmod_cahvor.c; Gennery).

With ``d = P - C``: ``w = d.O``, ``l = d - wO``, ``tau = l.l / w^2``,
``mu = R0 + R1 tau + R2 tau^2`` and ``d' = d + mu l``, then CAHV. Conventions:
docs/conventions.md.
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
    for_row_blocks,
    newton_refine,
    newton_solve,
    py_floats,
    rotation_jacobian,
    unit_rows,
)

__all__ = ["CAHVOR"]


@dataclass(frozen=True, eq=False, slots=True)
class CAHVOR(ModelBase):
    """The CAHVOR camera model, components as the label gives them.

    Parameters
    ----------
    c, a, h, v : (3,) array_like
        As for :class:`~rovercam.camera.CAHV` (A kept as given).
    o : (3,) array_like
        Optical axis, unit length to the label's ~6 digits, kept as given (JPL cmod uses the
        stored O: ``w = d.O``, ``l = d - w O``); within 1e-3 of unit length.
    r : (3,) array_like
        Radial distortion terms R0, R1, R2 (dimensionless).

    Raises
    ------
    rovercam.errors.CameraModelError
        Wrong shapes, non-finite values, A or O far from unit length, a degenerate H/V/A.
    """

    c: Array
    a: Array
    h: Array
    v: Array
    o: Array
    r: Array

    _DIRECTIONS = ("a", "h", "v", "o")

    def __post_init__(self) -> None:
        object.__setattr__(self, "c", as_vector("C", self.c))
        object.__setattr__(self, "a", as_axis_vector("A", self.a))
        object.__setattr__(self, "h", as_vector("H", self.h))
        object.__setattr__(self, "v", as_vector("V", self.v))
        object.__setattr__(self, "o", as_axis_vector("O", self.o))
        object.__setattr__(self, "r", as_vector("R", self.r))
        check_linear_part(self.c, self.a, self.h, self.v)

    def _key(self) -> tuple[float, ...]:
        return components_key(self.c, self.a, self.h, self.v, self.o, self.r)

    def _distort(self, d: Array) -> tuple[Array, Array, Array, Array, Array]:
        """d' for offsets d, with the terms the Jacobian reuses (omega, lambda, tau, mu)."""
        omega = d @ self.o
        lam = d - omega[:, None] * self.o[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = np.einsum("ij,ij->i", lam, lam) / (omega * omega)
        r0, r1, r2 = self.r
        mu = r0 + (r1 + r2 * tau) * tau
        d_prime = d + mu[:, None] * lam
        return d_prime, omega, lam, tau, mu

    def _project_offsets(self, d: Array) -> tuple[Array, Array]:
        d_prime, omega, _, _, _ = self._distort(d)
        px, _ = cahv_project_offsets(self.a, self.h, self.v, d_prime)
        px[~(omega > 0)] = np.nan
        return px, d_prime

    def project(self, points: ArrayLike) -> Array:
        """Project points to pixels (cmod_cahvor_3d_to_2d).

        Parameters
        ----------
        points : (N, 3) array_like
            Metres, in the model's reference frame.

        Returns
        -------
        (N, 2) ndarray of float64
            (x=sample, y=line), 0-based, centres at integers (docs/conventions.md).
            NaN where the point is not in front of the camera (``d.O <= 0`` or ``d'.A <= 0``).
        """
        d = as_points(points) - self.c
        return self._project_offsets(d)[0]

    def project_directions(self, directions: ArrayLike) -> Array:
        """Project points at infinity along ``directions`` (N, 3) (the model is central)."""
        return self._project_offsets(as_points(directions, "directions"))[0]

    def _project_direction_dots(
        self, d_o: Array, d_d: Array, d_a: Array, d_h: Array, d_v: Array
    ) -> tuple[Array, Array]:
        """:meth:`project_directions` from d.O, d.d, d.A, d.H, d.V (fast path of remap grids).

        ``d' = (1 + mu) d - mu w O`` so ``d'.X = (1 + mu) d.X - mu w O.X`` for X in A, H, V, and
        ``l.l = d.d - w^2 (2 - O.O)`` with the stored O (not exactly unit length).
        """
        oo = float(self.o @ self.o)
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = np.maximum(d_d - d_o * d_o * (2.0 - oo), 0.0) / (d_o * d_o)
            r0, r1, r2 = self.r
            mu = r0 + (r1 + r2 * tau) * tau
            one_mu = 1.0 + mu
            mu_w = mu * d_o
            den = one_mu * d_a - mu_w * float(self.o @ self.a)
            inv = np.where((den > 0) & (d_o > 0), 1.0 / den, np.nan)
            x = (one_mu * d_h - mu_w * float(self.o @ self.h)) * inv
            y = (one_mu * d_v - mu_w * float(self.o @ self.v)) * inv
        return x, y

    def unproject(self, pixels: ArrayLike, *, exact_origins: bool = True) -> tuple[Array, Array]:
        """Rays through pixels (cmod_cahvor_2d_to_3d): origin C, undistorted unit direction.

        The CAHV ray ``r`` (unit, forward) is split into ``w = r.O`` and ``l = r - wO``; the
        distortion is removed by solving ``k5 u^5 + k3 u^3 + k1 u = 1`` (``k1 = 1 + R0``,
        ``k3 = R1 tau``, ``k5 = R2 tau^2``) by Newton from ``u = 1 - mu``, then
        ``direction = unit(r - (1 - u) l)``. That closed form inverts :meth:`project` exactly
        only for a unit-length O. With a label's O (kept as given, as cmod uses it) the ray
        ``r + beta O`` is solved exactly instead, starting from it (see ``_exact_beta``).

        Parameters
        ----------
        pixels : (N, 2) array_like
            (x=sample, y=line), 0-based, centres at integers.

        Returns
        -------
        origins : (N, 3) ndarray of float64
            C for every ray, metres.
        directions : (N, 3) ndarray of float64
            Unit vectors; NaN where the distortion cannot be inverted (non-positive
            derivative: "distortion too negative" in cmod) or Newton does not converge.
        """
        return for_row_blocks(self._unproject_rows, as_pixels(pixels))

    def _unproject_rows(self, px: Array) -> tuple[Array, Array]:
        """:meth:`unproject` of one block of pixels (N, 2)."""
        rr = unit_rows(cahv_rays(self.a, self.h, self.v, px))
        omega = rr @ self.o
        lam = rr - omega[:, None] * self.o[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = np.einsum("ij,ij->i", lam, lam) / (omega * omega)
        r0, r1, r2 = self.r
        k1 = 1.0 + r0
        k3 = r1 * tau
        k5 = r2 * tau * tau
        u0 = 1.0 - (r0 + k3 + k5)
        u0[~(omega > 0)] = np.nan

        def step(u: Array, idx: Any) -> Array:
            u2 = u * u
            poly = ((k5[idx] * u2 + k3[idx]) * u2 + k1) * u - 1.0
            deriv = (5.0 * k5[idx] * u2 + 3.0 * k3[idx]) * u2 + k1
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(deriv > 1e-15, poly / deriv, np.nan)

        u = newton_solve(step, u0)
        origins = np.broadcast_to(self.c, rr.shape).copy()
        if float(self.o @ self.o) == 1.0:
            return origins, unit_rows(rr - (1.0 - u)[:, None] * lam)
        # a label's O: cmod's ray (beta = w (1/u - 1) below) is the start of the exact solve
        with np.errstate(divide="ignore", invalid="ignore"):
            beta = self._exact_beta(omega, lam, omega * (1.0 / u - 1.0))
        dirs = rr + beta[:, None] * self.o[None, :]
        cmod = ~np.isfinite(beta)  # refinement failed (or u did): keep cmod's closed form
        if cmod.any():
            dirs[cmod] = rr[cmod] - (1.0 - u[cmod])[:, None] * lam[cmod]
        return origins, unit_rows(dirs)

    def _exact_beta(self, omega: Array, lam: Array, beta0: Array) -> Array:
        """beta such that ``d = r + beta O`` projects along the CAHV ray ``r`` (any |O|).

        With ``k = O.O``: ``d.O = w + beta k``, ``l_d = l + beta (1 - k) O``, and
        ``d' = (1 + mu) d - mu (d.O) O`` is parallel to r iff
        ``g(beta) = beta (1 + mu (1 - k)) - mu w = 0`` (for k = 1: cmod's ``beta = mu w``).
        Newton with the analytic slope ``g' = 1 + (1 - k) (mu + beta mu') - w mu'``,
        ``mu' = (R1 + 2 R2 tau) tau'``, ``tau' = (l_d.l_d)' / (d.O)^2 - 2 k tau / d.O``, from
        cmod's beta (~|k - 1| relative from the root): two steps reach machine precision.
        """
        k = float(self.o @ self.o)
        q = 1.0 - k
        lam_o2 = 2.0 * q * (lam @ self.o)
        lam2 = np.einsum("ij,ij->i", lam, lam)
        qqk = q * q * k
        r0, r1, r2 = self.r

        def g_and_slope(beta: Array, idx: Any) -> tuple[Array, Array]:
            w_r = omega[idx]
            lo2 = lam_o2[idx]
            inv_w = 1.0 / (w_r + beta * k)
            l2 = lam2[idx] + beta * (lo2 + beta * qqk)
            tau = l2 * inv_w * inv_w
            mu = r0 + (r1 + r2 * tau) * tau
            dtau = (lo2 + 2.0 * qqk * beta) * inv_w * inv_w - 2.0 * k * tau * inv_w
            dmu = (r1 + 2.0 * r2 * tau) * dtau
            g = beta * (1.0 + mu * q) - mu * w_r
            slope = 1.0 + q * (mu + beta * dmu) - w_r * dmu
            return g, slope

        return newton_refine(g_and_slope, beta0)

    def project_jacobians(self, points: ArrayLike) -> tuple[Array, Array, Array]:
        """Pixels and Jacobians of :meth:`project` (see :meth:`CAHV.project_jacobians`).

        ``d d'/d d = I + mu (I - O O^T) + l (d mu/d d)^T`` with
        ``d mu/d d = (R1 + 2 R2 tau) (2 (l - (l.O) O) / w^2 - 2 tau O / w)`` (``l.O = 0`` only
        when O is exactly unit length).
        """
        d = as_points(points) - self.c
        d_prime, omega, lam, tau, mu = self._distort(d)
        px, _ = cahv_project_offsets(self.a, self.h, self.v, d_prime)
        px[~(omega > 0)] = np.nan
        _, r1, r2 = self.r
        dmu_dtau = r1 + 2.0 * r2 * tau
        with np.errstate(divide="ignore", invalid="ignore"):
            lam_t = lam - (lam @ self.o)[:, None] * self.o[None, :]  # (I - O O^T) l
            dtau_dd = 2.0 * lam_t / (omega * omega)[:, None] - (
                2.0 * tau / omega
            )[:, None] * self.o[None, :]
        eye = np.eye(3)[None, :, :]
        proj = eye - np.outer(self.o, self.o)[None, :, :]
        ddp_dd = (
            eye
            + mu[:, None, None] * proj
            + lam[:, :, None] * (dmu_dtau[:, None] * dtau_dd)[:, None, :]
        )
        j_point = cahv_jacobian(self.a, self.h, self.v, d_prime, px) @ ddp_dd
        return px, j_point, rotation_jacobian(j_point, d)

    def to_pds3(self) -> dict[str, Any]:
        """GEOMETRIC_CAMERA_MODEL keywords (MODEL_TYPE, MODEL_COMPONENT_*) as python values."""
        return {
            "MODEL_TYPE": "CAHVOR",
            "MODEL_COMPONENT_ID": ("C", "A", "H", "V", "O", "R"),
            "MODEL_COMPONENT_NAME": (
                "CENTER", "AXIS", "HORIZONTAL", "VERTICAL", "OPTICAL", "RADIAL",
            ),
            "MODEL_COMPONENT_1": py_floats(self.c),
            "MODEL_COMPONENT_2": py_floats(self.a),
            "MODEL_COMPONENT_3": py_floats(self.h),
            "MODEL_COMPONENT_4": py_floats(self.v),
            "MODEL_COMPONENT_5": py_floats(self.o),
            "MODEL_COMPONENT_6": py_floats(self.r),
        }
