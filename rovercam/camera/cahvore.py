"""CAHVORE: CAHVOR generalised to fisheye lenses with a moving entrance pupil (JPL cmod_cahvore.c).

Formulas (DOMAIN.md section 5, Gennery 2006): with ``d = P - C``, ``zeta = d.O``,
``l3 = d - zeta O``, ``l = |l3|``, the incidence angle ``theta`` solves
``zeta sin(theta) - l cos(theta) = (theta - sin(theta)) (E0 + E1 theta^2 + E2 theta^4)``;
``chi = tan(L theta)/L`` (L > 0), ``sin(L theta)/L`` (L < 0) or ``theta`` (L = 0);
``mu = R0 + R1 chi^2 + R2 chi^4``; ``d' = (l / chi) O + (1 + mu) l3``; then CAHV.
The linearity L comes from the model type (component 8, "T"): 1 -> 1, 2 -> 0, 3 -> mparm
(component 9, "P"). Conventions: docs/conventions.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rovercam.camera.model import (
    Array,
    ModelBase,
    as_pixels,
    as_points,
    as_scalar,
    as_axis_vector,
    as_vector,
    cahv_jacobian,
    cahv_project_offsets,
    cahv_rays,
    check_linear_part,
    components_key,
    newton_solve,
    py_floats,
    secant_solve,
    rotation_jacobian,
    unit_rows,
)
from rovercam.errors import CameraModelError

__all__ = ["CAHVORE"]

#: cmod's EPSILON for the sign tests on the linearity.
_LINEARITY_EPS = 1e-15
#: Below this incidence angle (rad) cmod treats the ray as on-axis (d' = d; ray = (C, O)).
_SMALL_ANGLE = 1e-8
#: Range (metres from the ray origin) at which ``unproject`` pins rays of a bent pre-image.
REFINE_RANGE_M = 1.0


@dataclass(frozen=True, eq=False, slots=True)
class CAHVORE(ModelBase):
    """The CAHVORE camera model, components as the label gives them.

    Parameters
    ----------
    c, a, h, v, o, r : array_like
        As for :class:`~rovercam.camera.CAHVOR` (A and O kept as the label gives them, as cmod
        uses them: ``zeta = d.O``, ``l3 = d - zeta O`` with the stored O).
    e : (3,) array_like
        Entrance-pupil terms E0, E1, E2, metres.
    mtype : int
        Model type, MODEL_COMPONENT_8 ("T"): 1 perspective, 2 fisheye, 3 general.
    mparm : float
        Model parameter, MODEL_COMPONENT_9 ("P"): the linearity when ``mtype == 3``.
        Never confuse the two (mars-raw-utils reads component 8 as the linearity).

    Raises
    ------
    rovercam.errors.CameraModelError
        Bad shapes or values, unknown ``mtype``, degenerate H/V/A.
    """

    c: Array
    a: Array
    h: Array
    v: Array
    o: Array
    r: Array
    e: Array
    mtype: int = 1
    mparm: float = 0.0

    _DIRECTIONS = ("a", "h", "v", "o")

    def __post_init__(self) -> None:
        object.__setattr__(self, "c", as_vector("C", self.c))
        object.__setattr__(self, "a", as_axis_vector("A", self.a))
        object.__setattr__(self, "h", as_vector("H", self.h))
        object.__setattr__(self, "v", as_vector("V", self.v))
        object.__setattr__(self, "o", as_axis_vector("O", self.o))
        object.__setattr__(self, "r", as_vector("R", self.r))
        object.__setattr__(self, "e", as_vector("E", self.e))
        mtype = as_scalar("T (mtype)", self.mtype)
        if mtype not in (1.0, 2.0, 3.0):
            raise CameraModelError(f"CAHVORE model type must be 1, 2 or 3, got {self.mtype!r}")
        object.__setattr__(self, "mtype", int(mtype))
        object.__setattr__(self, "mparm", as_scalar("P (mparm)", self.mparm))
        check_linear_part(self.c, self.a, self.h, self.v)

    def _key(self) -> tuple[float, ...]:
        return components_key(
            self.c, self.a, self.h, self.v, self.o, self.r, self.e, self.mtype, self.mparm
        )

    @property
    def linearity(self) -> float:
        """L: 1 for perspective (mtype 1), 0 for fisheye (mtype 2), ``mparm`` for mtype 3."""
        return {1: 1.0, 2: 0.0}.get(self.mtype, self.mparm)

    # ----------------------------------------------------------------------------------------
    # 3-D -> 2-D
    # ----------------------------------------------------------------------------------------
    def _theta(self, zeta: Array, lam: Array, *, at_infinity: bool) -> Array:
        """Incidence angle theta (rad) for the offsets' zeta and lambda (Newton, cmod)."""
        theta0 = np.arctan2(lam, zeta)
        e0, e1, e2 = self.e
        if at_infinity or (e0 == 0.0 and e1 == 0.0 and e2 == 0.0):
            return theta0  # pupil terms vanish: f(theta) = 0 at atan2(l, zeta) exactly

        def step(theta: Array, idx: Array) -> Array:
            cos_t = np.cos(theta)
            sin_t = np.sin(theta)
            t2 = theta * theta
            poly = e0 + (e1 + e2 * t2) * t2
            z = zeta[idx]
            lm = lam[idx]
            f = z * sin_t - lm * cos_t - (theta - sin_t) * poly
            fp = (
                z * cos_t
                + lm * sin_t
                - (1.0 - cos_t) * poly
                - (theta - sin_t) * (2.0 * e1 * theta + 4.0 * e2 * theta * t2)
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(np.abs(fp) > 1e-15, f / fp, 0.0)  # cmod skips a flat step

        return newton_solve(step, theta0)

    def _chi_of_theta(self, theta: Array) -> tuple[Array, Array]:
        """chi(theta) and d chi / d theta for the model's linearity."""
        lin = self.linearity
        if lin > _LINEARITY_EPS:
            return np.tan(lin * theta) / lin, 1.0 / np.cos(lin * theta) ** 2
        if lin < -_LINEARITY_EPS:
            return np.sin(lin * theta) / lin, np.cos(lin * theta)
        return theta, np.ones_like(theta)

    def _project_offsets(self, d: Array, *, at_infinity: bool) -> tuple[Array, dict[str, Array]]:
        zeta = d @ self.o
        l3 = d - zeta[:, None] * self.o[None, :]
        lam = np.sqrt(np.einsum("ij,ij->i", l3, l3))
        theta = self._theta(zeta, lam, at_infinity=at_infinity)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            chi, dchi = self._chi_of_theta(theta)
            r0, r1, r2 = self.r
            chi2 = chi * chi
            mu = r0 + (r1 + r2 * chi2) * chi2
            small = theta < _SMALL_ANGLE
            scale_o = np.where(small, 0.0, lam / chi)
            d_prime = scale_o[:, None] * self.o[None, :] + (1.0 + mu)[:, None] * l3
        d_prime[small] = d[small]
        px, _ = cahv_project_offsets(self.a, self.h, self.v, d_prime)
        valid = (theta * abs(self.linearity) < math.pi / 2) & np.isfinite(theta)
        px[~valid] = np.nan
        terms = {
            "zeta": zeta, "l3": l3, "lam": lam, "theta": theta, "chi": chi, "dchi": dchi,
            "mu": mu, "small": small, "d_prime": d_prime,
        }
        return px, terms

    def project(self, points: ArrayLike) -> Array:
        """Project points to pixels (cmod_cahvore_3d_to_2d), entrance-pupil shift included.

        Parameters
        ----------
        points : (N, 3) array_like
            Metres, in the model's reference frame.

        Returns
        -------
        (N, 2) ndarray of float64
            (x=sample, y=line), 0-based, centres at integers (docs/conventions.md).
            NaN where the incidence angle is outside the model (``theta |L| >= pi/2``), the
            Newton solve fails, or the distorted ray is not in front of the image plane.
        """
        d = as_points(points) - self.c
        return self._project_offsets(d, at_infinity=False)[0]

    def project_directions(self, directions: ArrayLike) -> Array:
        """Project points at infinity along ``directions`` (N, 3).

        As the range grows the pupil shift (metres) becomes negligible, so theta is simply the
        angle between the direction and O: the limit of :meth:`project` as range -> inf.
        """
        d = as_points(directions, "directions")
        return self._project_offsets(d, at_infinity=True)[0]

    def _project_direction_dots(
        self, d_o: Array, d_d: Array, d_a: Array, d_h: Array, d_v: Array
    ) -> tuple[Array, Array]:
        """:meth:`project_directions` from d.O, d.d, d.A, d.H, d.V (fast path of remap grids).

        With ``l3 = d - zeta O``: ``d'.X = (l / chi) O.X + (1 + mu) (d.X - zeta O.X)``. ``l`` comes
        from ``sqrt(d.d - zeta^2 (2 - O.O))`` (the stored O is not exactly unit length), which
        loses relative precision only near the axis, where ``l / chi`` tends to zeta and the pixel
        depends on d.X alone.
        """
        oo = float(self.o @ self.o)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            lam = np.sqrt(np.maximum(d_d - d_o * d_o * (2.0 - oo), 0.0))
            theta = np.arctan2(lam, d_o)
            chi, _ = self._chi_of_theta(theta)
            r0, r1, r2 = self.r
            chi2 = chi * chi
            one_mu = 1.0 + (r0 + (r1 + r2 * chi2) * chi2)
            small = theta < _SMALL_ANGLE
            scale_o = np.where(small, d_o, lam / chi)
            one_mu = np.where(small, 1.0, one_mu)
            oa, oh, ov = (float(self.o @ w) for w in (self.a, self.h, self.v))
            den = scale_o * oa + one_mu * (d_a - d_o * oa)
            ok = (den > 0) & (theta * abs(self.linearity) < math.pi / 2)
            inv = np.where(ok, 1.0 / den, np.nan)
            x = (scale_o * oh + one_mu * (d_h - d_o * oh)) * inv
            y = (scale_o * ov + one_mu * (d_v - d_o * ov)) * inv
        return x, y

    def project_jacobians(self, points: ArrayLike) -> tuple[Array, Array, Array]:
        """Pixels and Jacobians of :meth:`project` (see :meth:`CAHV.project_jacobians`).

        theta is differentiated implicitly through ``f(theta; zeta, l) = 0``:
        ``d theta = -(sin(theta) dzeta - cos(theta) dl) / f'(theta)``, with ``dzeta/dd = O`` and
        ``dl/dd = (I - O O^T) l3 / l`` (``l3.O = 0`` only when O is exactly unit length).
        """
        d = as_points(points) - self.c
        px, t = self._project_offsets(d, at_infinity=False)
        theta, lam, chi, zeta = t["theta"], t["lam"], t["chi"], t["zeta"]
        e0, e1, e2 = self.e
        cos_t = np.cos(theta)
        sin_t = np.sin(theta)
        t2 = theta * theta
        poly = e0 + (e1 + e2 * t2) * t2
        fp = (
            zeta * cos_t + lam * sin_t - (1.0 - cos_t) * poly
            - (theta - sin_t) * (2.0 * e1 * theta + 4.0 * e2 * theta * t2)
        )
        o = self.o[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            lhat = t["l3"] / lam[:, None]
            dlam = lhat - (lhat @ self.o)[:, None] * o
            dtheta = -(sin_t[:, None] * o - cos_t[:, None] * dlam) / fp[:, None]
            dchi = t["dchi"][:, None] * dtheta
            _, r1, r2 = self.r
            dmu = (2.0 * r1 * chi + 4.0 * r2 * chi**3)[:, None] * dchi
            d_scale = dlam / chi[:, None] - (lam / chi**2)[:, None] * dchi
        eye = np.eye(3)[None, :, :]
        proj = eye - np.outer(self.o, self.o)[None, :, :]
        ddp_dd = (
            self.o[None, :, None] * d_scale[:, None, :]
            + (1.0 + t["mu"])[:, None, None] * proj
            + t["l3"][:, :, None] * dmu[:, None, :]
        )
        ddp_dd[t["small"]] = np.eye(3)
        j_point = cahv_jacobian(self.a, self.h, self.v, t["d_prime"], px) @ ddp_dd
        return px, j_point, rotation_jacobian(j_point, d)

    # ----------------------------------------------------------------------------------------
    # 2-D -> 3-D
    # ----------------------------------------------------------------------------------------
    def unproject(self, pixels: ArrayLike, *, exact_origins: bool = True) -> tuple[Array, Array]:
        """Rays through pixels (cmod_cahvore_2d_to_3d), from the shifted entrance pupil.

        cmod's closed form inverts :meth:`project` exactly only for a unit-length O. With a
        label's O (kept as given) the direction ``r' + beta O`` is solved exactly at infinity
        (``_exact_beta``) and the origin is shifted so the point 1 m along the ray is exact
        (``_pin_origins``). With pupil terms the pixel's pre-image is then not exactly a
        straight line (bent by ~1e-9 m for Hazcams, |O| - 1 ~ 2e-7): points 0.5 m away come back
        within ~3e-7 px, 10 m away within ~1e-8 px (docs/conventions.md).

        Parameters
        ----------
        pixels : (N, 2) array_like
            (x=sample, y=line), 0-based, centres at integers.
        exact_origins : bool, keyword-only
            False skips pinning the origins (a ~1e-9 m shift, one more projection of every
            point), for callers that use the directions only (scenes at infinity).

        Returns
        -------
        origins : (N, 3) ndarray of float64
            Entrance-pupil position ``C + s O``, metres,
            ``s = (theta / sin(theta) - 1) (E0 + E1 theta^2 + E2 theta^4)``.
        directions : (N, 3) ndarray of float64
            Unit vectors ``sin(theta) unit(l') + cos(theta) O``. NaN (both outputs) where the
            distortion cannot be inverted (non-monotonic radial polynomial, Newton failure) or
            the angle is outside the model (``|L chi| > 1`` for L < 0, theta >= pi).
        """
        px = as_pixels(pixels)
        rp = cahv_rays(self.a, self.h, self.v, px)  # rp.A == 1
        zetap = rp @ self.o
        l3p = rp - zetap[:, None] * self.o[None, :]
        lamp = np.sqrt(np.einsum("ij,ij->i", l3p, l3p))
        with np.errstate(divide="ignore", invalid="ignore"):
            chip = np.where(zetap > 0, lamp / zetap, np.nan)
        r0, r1, r2 = self.r
        k1 = 1.0 + r0

        def step(chi: Array, idx: Array) -> Array:
            chi2 = chi * chi
            g = (k1 + (r1 + r2 * chi2) * chi2) * chi - chip[idx]
            deriv = k1 + (3.0 * r1 + 5.0 * r2 * chi2) * chi2
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(deriv > 0, g / deriv, np.nan)

        small = chip < _SMALL_ANGLE
        chi = newton_solve(step, np.where(small, np.nan, chip))
        lin = self.linearity
        with np.errstate(divide="ignore", invalid="ignore"):
            if lin > _LINEARITY_EPS:
                theta = np.arctan(lin * chi) / lin
            elif lin < -_LINEARITY_EPS:
                theta = np.arcsin(lin * chi) / lin
            else:
                theta = chi
            theta = np.where(theta < math.pi, theta, np.nan)
            t2 = theta * theta
            e0, e1, e2 = self.e
            shift = (theta / np.sin(theta) - 1.0) * (e0 + (e1 + e2 * t2) * t2)
            lhat = l3p / lamp[:, None]
        dirs = np.sin(theta)[:, None] * lhat + np.cos(theta)[:, None] * self.o[None, :]
        origins = self.c[None, :] + shift[:, None] * self.o[None, :]
        dirs[small] = self.o
        origins[small] = self.c
        if float(self.o @ self.o) != 1.0:  # a label's O: make the ray exact (see above)
            with np.errstate(divide="ignore", invalid="ignore"):
                beta = self._exact_beta(zetap, l3p, lamp / np.tan(theta) - zetap)
            exact = np.isfinite(beta) & ~small
            dirs[exact] = rp[exact] + beta[exact, None] * self.o[None, :]
            dirs = unit_rows(dirs)
            if exact_origins and np.any(self.e != 0.0):
                origins = self._pin_origins(px, origins, dirs)
        dirs = unit_rows(dirs)  # |O| != 1 for a label's O: cmod's ray is then not unit length
        bad = ~np.isfinite(dirs[:, 0])
        origins[bad] = np.nan
        return origins, dirs

    def _pin_origins(self, pixels: Array, origins: Array, dirs: Array) -> Array:
        """Shift origins so the point ``REFINE_RANGE_M`` along each ray projects to its pixel.

        Origin, direction and O span one plane with C, and every point of it projects onto
        the image curve through the pixel, so the residual is one-dimensional: one secant step
        along ``n`` (in that plane, normal to the ray; slope from a 1e-6 m difference, whose
        truncation error is ~1e-6 relative) removes it. The shift is ~1e-9 m.
        """
        points = origins + REFINE_RANGE_M * dirs
        residual = pixels - self.project(points)
        fix = np.flatnonzero(np.abs(residual).max(axis=1) > 1e-11)
        if fix.size == 0:
            return origins
        w = dirs[fix]
        n = self.o[None, :] - (w @ self.o)[:, None] * w
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        step_m = 1e-6
        slope = (self.project(points[fix] + step_m * n) - (pixels[fix] - residual[fix])) / step_m
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = np.einsum("ij,ij->i", slope, residual[fix]) / np.einsum("ij,ij->i", slope, slope)
        ok = np.isfinite(shift)
        origins[fix[ok]] += shift[ok, None] * n[ok]
        return origins

    def _exact_beta(self, zeta: Array, l3: Array, beta0: Array) -> Array:
        """beta such that ``d = r' + beta O`` projects at infinity along the CAHV ray r' (any |O|).

        With ``k = O.O``: ``d.O = zeta' + beta k``, ``l3_d = l3' + beta (1 - k) O``, and
        ``d' = (l_d / chi) O + (1 + mu) l3_d`` is parallel to r' iff
        ``g(beta) = l_d / chi + (1 + mu) (beta (1 - k) - zeta') = 0``, with theta = atan2(l_d,
        d.O) (no pupil shift at infinity). For k = 1 the root is cmod's ``l' cot(theta) - zeta'``.
        """
        k = float(self.o @ self.o)
        l3_o = l3 @ self.o
        l2 = np.einsum("ij,ij->i", l3, l3)
        r0, r1, r2 = self.r

        def g(beta: Array, idx: Array) -> Array:
            w = zeta[idx] + beta * k
            lam = np.sqrt(l2[idx] + beta * (2.0 * (1.0 - k) * l3_o[idx] + beta * (1.0 - k) ** 2 * k))
            chi, _ = self._chi_of_theta(np.arctan2(lam, w))
            chi2 = chi * chi
            mu = r0 + (r1 + r2 * chi2) * chi2
            return lam / chi + (1.0 + mu) * (beta * (1.0 - k) - zeta[idx])

        return secant_solve(g, beta0, beta0 + 1e-6 * (1.0 + np.abs(beta0)))

    def to_pds3(self) -> dict[str, Any]:
        """GEOMETRIC_CAMERA_MODEL keywords (MODEL_TYPE, MODEL_COMPONENT_*) as python values.

        Component 8 is the model type as a float (``3.0``), component 9 the parameter, as real
        labels write them.
        """
        return {
            "MODEL_TYPE": "CAHVORE",
            "MODEL_COMPONENT_ID": ("C", "A", "H", "V", "O", "R", "E", "T", "P"),
            "MODEL_COMPONENT_NAME": (
                "CENTER", "AXIS", "HORIZONTAL", "VERTICAL", "OPTICAL", "RADIAL", "ENTRANCE",
                "MTYPE", "MPARM",
            ),
            "MODEL_COMPONENT_1": py_floats(self.c),
            "MODEL_COMPONENT_2": py_floats(self.a),
            "MODEL_COMPONENT_3": py_floats(self.h),
            "MODEL_COMPONENT_4": py_floats(self.v),
            "MODEL_COMPONENT_5": py_floats(self.o),
            "MODEL_COMPONENT_6": py_floats(self.r),
            "MODEL_COMPONENT_7": py_floats(self.e),
            "MODEL_COMPONENT_8": float(self.mtype),
            "MODEL_COMPONENT_9": float(self.mparm),
        }
