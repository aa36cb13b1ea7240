"""CAHVORE: CAHVOR generalised to fisheye lenses with a moving entrance pupil (JPL cmod_cahvore.c).

Formulas (JPL cmod cmod_cahvore.c; Gennery 2006): with ``d = P - C``, ``zeta = d.O``,
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
    for_row_blocks,
    newton_refine,
    newton_solve,
    py_floats,
    rotation_jacobian,
)
from rovercam.errors import CameraModelError

__all__ = ["CAHVORE"]

#: cmod's EPSILON for the sign tests on the linearity.
_LINEARITY_EPS = 1e-15
#: Below this incidence angle (rad) cmod treats the ray as on-axis (d' = d; ray = (C, O)).
_SMALL_ANGLE = 1e-8
#: Range (metres from the ray origin, to ~1e-5 relative) at which ``unproject`` pins rays of a
#: bent pre-image.
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

        def step(theta: Array, idx: Any) -> Array:
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
        """chi(theta) and d chi / d theta for the model's linearity.

        For L > 0 the slope ``1 / cos^2(L theta)`` is taken as ``1 + tan^2(L theta)``: the same
        value from the tangent already computed (numpy's cos costs ~6 tangents).
        """
        lin = self.linearity
        if lin > _LINEARITY_EPS:
            tan_lt = np.tan(lin * theta)
            return tan_lt / lin, 1.0 + tan_lt * tan_lt
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
        (``_exact_beta``) and the origin is shifted so a point ~1 m along the ray is exact
        (``_exact_shift``). With pupil terms the pixel's pre-image is then not exactly a
        straight line (bent by ~1e-9 m for Hazcams, |O| - 1 ~ 2e-7): points 0.5 m away come back
        within ~3e-7 px, 10 m away within ~1e-8 px (docs/conventions.md). Pixels are processed
        in cache-sized blocks (``for_row_blocks``).

        Parameters
        ----------
        pixels : (N, 2) array_like
            (x=sample, y=line), 0-based, centres at integers.
        exact_origins : bool, keyword-only
            False keeps cmod's pupil shift (the ray then misses the pre-image by up to ~4e-8 m
            for Hazcam pupil terms, ~1e-5 px at 1 m), for callers that use the directions only
            (scenes at infinity). Pinning costs ~20-40% of the closed form.

        Returns
        -------
        origins : (N, 3) ndarray of float64
            Entrance-pupil position ``C + s O``, metres: cmod's
            ``s = (theta / sin(theta) - 1) (E0 + E1 theta^2 + E2 theta^4)``, or for an off-unit
            O with ``exact_origins`` the s that makes the point ~1 m out exact.
        directions : (N, 3) ndarray of float64
            Unit vectors ``sin(theta) unit(l') + cos(theta) O``. NaN (both outputs) where the
            distortion cannot be inverted (non-monotonic radial polynomial, Newton failure) or
            the angle is outside the model (``|L chi| > 1`` for L < 0, theta >= pi).
        """
        px = as_pixels(pixels)
        return for_row_blocks(lambda rows: self._unproject_rows(rows, exact_origins), px)

    def _unproject_rows(self, px: Array, exact_origins: bool) -> tuple[Array, Array]:
        """:meth:`unproject` of one block of pixels (N, 2)."""
        rp = cahv_rays(self.a, self.h, self.v, px)  # rp.A == 1
        zetap = rp @ self.o
        l3p = rp - zetap[:, None] * self.o[None, :]
        lamp2 = np.einsum("ij,ij->i", l3p, l3p)
        lamp = np.sqrt(lamp2)
        with np.errstate(divide="ignore", invalid="ignore"):
            chip = np.where(zetap > 0, lamp / zetap, np.nan)
        small = chip < _SMALL_ANGLE
        chip[small] = np.nan  # on the axis: ray (C, O), below
        chi = self._chi_of_distorted(chip, chip)
        theta = self._theta_of_chi(chi)
        sin_t = np.sin(theta)
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = (theta / sin_t - 1.0) * self._pupil_poly(theta)
        off_unit = float(self.o @ self.o) != 1.0
        if not off_unit:
            ray = self._cmod_directions(theta, sin_t, l3p, lamp)
        else:  # a label's O: cmod's ray is the start of the exact solve (see unproject)
            l3_o = l3p @ self.o
            with np.errstate(divide="ignore", invalid="ignore"):
                beta = self._exact_beta(zetap, lamp2, l3_o, lamp / np.tan(theta) - zetap)
            ray = rp + beta[:, None] * self.o[None, :]
            cmod = ~np.isfinite(beta)  # refinement failed (or the closed form did)
            if cmod.any():
                ray[cmod] = self._cmod_directions(theta[cmod], sin_t[cmod], l3p[cmod], lamp[cmod])
        if small.any():
            ray[small] = self.o
        # |O| != 1 for a label's O: cmod's ray is then not unit length either
        norm = np.sqrt(np.einsum("ij,ij->i", ray, ray))
        with np.errstate(divide="ignore", invalid="ignore"):
            dirs = ray / norm[:, None]
        if off_unit and exact_origins and np.any(self.e != 0.0):
            shift = self._exact_shift(shift, norm, zetap, lamp2, l3_o, beta, chi)
        shift = np.where(small, 0.0, np.where(np.isfinite(dirs[:, 0]), shift, np.nan))
        return self.c[None, :] + shift[:, None] * self.o[None, :], dirs

    def _chi_of_distorted(self, chi_d: Array, chi0: Array) -> Array:
        """chi solving ``(1 + mu(chi)) chi = chi_d`` (cmod's undistortion), Newton from ``chi0``.

        ``chi0 = chi_d`` is cmod's start (tolerance 1e-11: ``newton_solve``); NaN where the
        radial polynomial is not increasing (the distortion cannot be inverted) or the solve fails.
        """
        r0, r1, r2 = self.r
        k1 = 1.0 + r0

        def step(chi: Array, idx: Any) -> Array:
            chi2 = chi * chi
            g = (k1 + (r1 + r2 * chi2) * chi2) * chi - chi_d[idx]
            deriv = k1 + (3.0 * r1 + 5.0 * r2 * chi2) * chi2
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(deriv > 0, g / deriv, np.nan)

        return newton_solve(step, chi0)

    def _theta_of_chi(self, chi: Array) -> Array:
        """Incidence angle theta for chi (inverse of ``_chi_of_theta``); NaN at theta >= pi."""
        lin = self.linearity
        with np.errstate(divide="ignore", invalid="ignore"):
            if lin > _LINEARITY_EPS:
                theta = np.arctan(lin * chi) / lin
            elif lin < -_LINEARITY_EPS:
                theta = np.arcsin(lin * chi) / lin
            else:
                theta = chi
            return np.where(theta < math.pi, theta, np.nan)

    def _pupil_poly(self, theta: Array) -> Array:
        """``E0 + E1 theta^2 + E2 theta^4`` (metres), the entrance-pupil term of cmod."""
        e0, e1, e2 = self.e
        t2 = theta * theta
        return e0 + (e1 + e2 * t2) * t2

    def _cmod_directions(self, theta: Array, sin_t: Array, l3p: Array, lamp: Array) -> Array:
        """cmod's closed-form direction ``sin(theta) unit(l') + cos(theta) O`` (exact for |O| = 1)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return (sin_t / lamp)[:, None] * l3p + np.cos(theta)[:, None] * self.o[None, :]

    def _exact_beta(self, zeta: Array, l2: Array, l3_o: Array, beta0: Array) -> Array:
        """beta such that ``d = r' + beta O`` projects at infinity along the CAHV ray r' (any |O|).

        With ``k = O.O``: ``d.O = zeta' + beta k``, ``l3_d = l3' + beta (1 - k) O``, and
        ``d' = (l_d / chi) O + (1 + mu) l3_d`` is parallel to r' iff
        ``g(beta) = l_d / chi + (1 + mu) (beta (1 - k) - zeta') = 0``, with theta = atan2(l_d,
        d.O) (no pupil shift at infinity). For k = 1 the root is cmod's ``l' cot(theta) - zeta'``,
        the start here (~|k - 1| relative from the root), so Newton with the analytic slope
        ``g' = l_d'/chi - l_d chi'/chi^2 + mu' (beta (1 - k) - zeta') + (1 + mu)(1 - k)``
        (chain rule through ``theta' = (d.O l_d' - k l_d) / (d.d)``) needs two steps.
        ``l2 = l3'.l3'``, ``l3_o = l3'.O``.
        """
        k = float(self.o @ self.o)
        q = 1.0 - k
        l3_oq = q * l3_o
        qqk = q * q * k
        r0, r1, r2 = self.r

        def g_and_slope(beta: Array, idx: Any) -> tuple[Array, Array]:
            z = zeta[idx]
            dl2_half = l3_oq[idx] + beta * qqk  # (l_d^2)' / 2
            lam2 = l2[idx] + beta * (l3_oq[idx] + dl2_half)
            lam = np.sqrt(lam2)
            w = z + beta * k
            theta = np.arctan2(lam, w)
            chi, dchi_dtheta = self._chi_of_theta(theta)
            dlam = dl2_half / lam
            dchi = dchi_dtheta * (w * dlam - k * lam) / (w * w + lam2)
            chi2 = chi * chi
            one_mu = 1.0 + r0 + (r1 + r2 * chi2) * chi2
            dmu = (2.0 * r1 + 4.0 * r2 * chi2) * chi * dchi
            inv_chi = 1.0 / chi
            tail = beta * q - z
            g = lam * inv_chi + one_mu * tail
            slope = (dlam - lam * inv_chi * dchi) * inv_chi + dmu * tail + one_mu * q
            return g, slope

        return newton_refine(g_and_slope, beta0)

    def _exact_shift(
        self, shift: Array, scale: Array, zeta: Array, l2: Array, l3_o: Array, beta: Array,
        chi: Array,
    ) -> Array:
        """Pupil shifts s' (metres) for which the ray ``C + s' O + t w`` hits an exact point ~1 m out.

        Every point projecting to the pixel is ``C + s (r' + b O)`` (d' must be parallel to r',
        so d lies in the plane of r' and O). For a given b, ``g(b) = 0`` (see ``_exact_beta``)
        fixes chi through cmod's own polynomial, ``(1 + mu) chi = l_b / (zeta' - b (1 - k))``
        (Newton from cmod's chi, ~|k - 1| away), and the pupil equation of :meth:`_theta` then
        gives the range explicitly: ``s = (theta - sin theta) P(theta) / (w_b sin theta - l_b
        cos theta)``. So no projection is needed: b is stepped from the infinity root ``beta``
        (where the denominator vanishes) so that ``s |r' + beta O| ~ REFINE_RANGE_M``, and
        ``C + s (r' + b O) = C + s (b - beta) O + s |r' + beta O| w`` puts the point on the ray
        from ``C + s (b - beta) O`` along the exact direction w: the shift is ``s (b - beta)``.
        The step in b is linearised (``d(denominator)/db ~ k sin theta``), so the range hits
        REFINE_RANGE_M to ~|k - 1| relative; the point is exact wherever it lands.

        The denominator is ~E / range relative to its terms, so s has a relative error up to
        ~eps range / E; that only slides the point along the pre-image (its pixel moves by
        ~eps), but where s comes out far from the target range (near the axis, where the pupil
        shift between infinity and 1 m is below rounding) cmod's ``shift`` is kept.
        ``scale = |r' + beta O|``; ``shift`` and ``chi`` are cmod's.
        sin and cos of theta_b come from one ``t = tan(theta_b / 2)`` (numpy's sin and cos cost
        ~6 tangents each); their few-ulp errors only move s, i.e. slide the point.
        """
        k = float(self.o @ self.o)
        q = 1.0 - k
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # linearised step: (theta - sin theta) P scale / (range k sin theta), and cmod's
            # shift is (theta / sin theta - 1) P
            b = beta + shift * scale / (REFINE_RANGE_M * k)
            l_b = np.sqrt(l2 + b * (2.0 * q * l3_o + b * q * q * k))
            theta_b = self._theta_of_chi(self._chi_of_distorted(l_b / (zeta - b * q), chi))
            t = np.tan(0.5 * theta_b)
            inv = 1.0 / (1.0 + t * t)
            sin_b = 2.0 * t * inv
            cos_b = (1.0 - t * t) * inv
            s = (theta_b - sin_b) * self._pupil_poly(theta_b) / ((zeta + b * k) * sin_b - l_b * cos_b)
            rng = s * scale
            ok = (rng > 0.1 * REFINE_RANGE_M) & (rng < 10.0 * REFINE_RANGE_M)
            return np.where(ok, s * (b - beta), shift)

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
