"""The camera-model protocol and the helpers every JPL model shares.

All geometry is float64. Pixels are (x = sample, y = line), 0-based, centres at integers; points and
directions are metres / unit vectors in the model's reference frame (docs/conventions.md).

The linear part of every model is CAHV: with ``d = P - C``, ``x = d.H / d.A`` and ``y = d.V / d.A``
(JPL cmod, NASA-AMMOS/VICAR vos/p2/sub/cahvor/cmod_cahv.c).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple, Protocol, Self, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.errors import CameraModelError

__all__ = ["CameraModel", "InternalParameters"]

Array = NDArray[np.float64]

#: How far a label's A or O may be from unit length before it is an error rather than round-off.
_UNIT_TOLERANCE = 1e-3


class InternalParameters(NamedTuple):
    """Internal (intrinsic) parameters of the CAHV part of a model (cmod_cahv_internal).

    ``hs``/``vs`` are the focal lengths in pixels, ``hc``/``vc`` the principal point (pixels),
    ``theta`` the angle between the H and V image axes in radians (about -pi/2 for JPL models).
    """

    hs: float
    hc: float
    vs: float
    vc: float
    theta: float


@runtime_checkable
class CameraModel(Protocol):
    """What every camera model (:class:`CAHV`, :class:`CAHVOR`, :class:`CAHVORE`) provides.

    Models are immutable, hashable by value, and vectorized over points and pixels.
    """

    c: Array
    a: Array
    h: Array
    v: Array

    def project(self, points: ArrayLike) -> Array: ...

    def unproject(self, pixels: ArrayLike, *, exact_origins: bool = True) -> tuple[Array, Array]: ...

    def project_directions(self, directions: ArrayLike) -> Array: ...

    def project_jacobians(self, points: ArrayLike) -> tuple[Array, Array, Array]: ...

    def transformed(self, r_dst_src: ArrayLike, t_dst_src: ArrayLike) -> Self: ...

    def cropped(self, x0: float, y0: float) -> Self: ...

    def scaled(self, sx: float, sy: float) -> Self: ...

    def internal(self) -> InternalParameters: ...

    def to_pds3(self) -> dict[str, Any]: ...


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------
def as_vector(name: str, value: ArrayLike, *, size: int = 3) -> Array:
    """Return ``value`` as a read-only float64 vector of ``size`` finite values."""
    try:
        vec = np.array(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise CameraModelError(f"component {name} is not numeric: {value!r}") from exc
    if vec.shape != (size,):
        raise CameraModelError(f"component {name} must have {size} values, got {vec.size}: {value!r}")
    if not np.all(np.isfinite(vec)):
        raise CameraModelError(f"component {name} has non-finite values: {value!r}")
    vec.flags.writeable = False
    return vec


def as_axis_vector(name: str, value: ArrayLike) -> Array:
    """Return a label's axis vector (A or O) as given, after checking it is near unit length.

    JPL cmod uses A and O exactly as stored (cmod_cahv_3d_to_2d divides by ``d.A``,
    cmod_cahvore_3d_to_2d takes ``zeta = d.O``, ``lambda3 = d - zeta O`` with the stored O), so a
    label's |O| = 0.9999996 is part of the model: renormalising A and O moves real labels'
    projections by 1e-4 to 1e-2 px from cmod's. A vector far from unit length is still an error: it is not a rounded unit vector.
    """
    vec = as_vector(name, value)
    norm = float(np.linalg.norm(vec))
    if abs(norm - 1.0) > _UNIT_TOLERANCE:
        raise CameraModelError(f"component {name} must be a unit vector, |{name}| = {norm!r}")
    return vec


def as_scalar(name: str, value: Any) -> float:
    """Return ``value`` as a finite float (one-element sequences accepted)."""
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise CameraModelError(f"component {name} is not numeric: {value!r}") from exc
    if arr.size != 1 or not np.isfinite(arr[0]):
        raise CameraModelError(f"component {name} must be one finite number, got {value!r}")
    return float(arr[0])


def check_linear_part(c: Array, a: Array, h: Array, v: Array) -> None:
    """Refuse a degenerate CAHV part (H or V parallel to A, or H parallel to V)."""
    triple = float(np.dot(np.cross(v, h), a))
    scale = float(np.linalg.norm(h) * np.linalg.norm(v))
    if scale == 0.0 or abs(triple) <= 1e-9 * scale:
        raise CameraModelError(
            f"degenerate camera model: A.(V x H) = {triple!r} (H, V and A must span 3-D space)"
        )


def as_points(points: ArrayLike, name: str = "points") -> Array:
    """Validate an ``(N, 3)`` array of points or directions (a single (3,) is promoted)."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == 3:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must be shaped (N, 3), got {arr.shape}")
    return arr


def as_pixels(pixels: ArrayLike) -> Array:
    """Validate an ``(N, 2)`` array of (x, y) pixels (a single (2,) is promoted)."""
    arr = np.asarray(pixels, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == 2:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"pixels must be shaped (N, 2), got {arr.shape}")
    return arr


def as_rotation(r: ArrayLike) -> Array:
    """Validate a proper 3x3 rotation matrix (orthonormal to 1e-6, determinant +1)."""
    mat = np.asarray(r, dtype=np.float64)
    if mat.shape != (3, 3) or not np.all(np.isfinite(mat)):
        raise ValueError(f"rotation must be a finite (3, 3) matrix, got shape {mat.shape}")
    if not np.allclose(mat @ mat.T, np.eye(3), atol=1e-6) or np.linalg.det(mat) <= 0:
        raise ValueError("rotation must be orthonormal with determinant +1")
    return mat


# --------------------------------------------------------------------------------------------
# the CAHV part, shared by every model
# --------------------------------------------------------------------------------------------
def rows_dot(u: Array, w: Array) -> Array:
    """Row-wise dot product of (N, 3) arrays (or (N, 3) with (3,))."""
    if w.ndim == 1:
        return u @ w
    return np.einsum("ij,ij->i", u, w)


def cahv_project_offsets(a: Array, h: Array, v: Array, d: Array) -> tuple[Array, Array]:
    """CAHV-project offsets ``d = P - C`` (N, 3): pixels (N, 2) and ``d.A`` (N,).

    Pixels are NaN where ``d.A <= 0`` (the point is not in front of the image plane).
    """
    alpha = d @ a
    with np.errstate(divide="ignore", invalid="ignore"):
        px = np.stack([(d @ h) / alpha, (d @ v) / alpha], axis=1)
    px[~(alpha > 0)] = np.nan
    return px, alpha


def cahv_jacobian(a: Array, h: Array, v: Array, d: Array, px: Array) -> Array:
    """d(pixel)/d(d) of the CAHV projection, (N, 2, 3): rows (H - xA)/d.A and (V - yA)/d.A."""
    alpha = (d @ a)[:, None]
    jx = (h[None, :] - px[:, :1] * a[None, :]) / alpha
    jy = (v[None, :] - px[:, 1:] * a[None, :]) / alpha
    return np.stack([jx, jy], axis=1)


def cahv_rays(a: Array, h: Array, v: Array, pixels: Array) -> Array:
    """Un-normalised CAHV rays ``(V - yA) x (H - xA) / (A.(V x H))``, (N, 3); ``ray.A == 1``.

    Dividing by ``A.(V x H)`` fixes the sign so the ray points forward whatever the handedness
    of H and V (cmod_cahv_2d_to_3d negates the ray when ``(V x H).A < 0``).
    """
    x = pixels[:, :1]
    y = pixels[:, 1:]
    vxh = np.cross(v, h)
    # (V - yA) x (H - xA) = V x H - x (V x A) - y (A x H); A x A = 0.
    vxa = np.cross(v, a)
    axh = np.cross(a, h)
    ray = vxh[None, :] - x * vxa[None, :] - y * axh[None, :]
    return ray / float(np.dot(a, vxh))


def unit_linear_part(a: Array, h: Array, v: Array) -> tuple[Array, Array, Array]:
    """``(A / |A|, H / |A|, V / |A|)``: the same CAHV projection with a unit-length axis.

    ``x = d.H / d.A`` is unchanged when A, H and V are scaled together, so geometry that needs
    orthonormal axes (image planes, OpenCV intrinsics) can use these without moving a pixel.
    """
    norm = float(np.linalg.norm(a))
    return a / norm, h / norm, v / norm


#: Rows per block in ``for_row_blocks``. 16k float64 rows are 128 KB per temporary: the few
#: dozen temporaries of a block stay in cache and are recycled by the allocator instead of
#: being mapped and page-faulted afresh. Measured (CAHVORE.unproject, 2 M Navcam pixels, 2-core
#: host): whole arrays 1.0 s, 64k-row blocks 0.70 s, 16k 0.44 s, 4k 0.56 s (Python overhead).
ROW_BLOCK = 16384


def for_row_blocks(func: Any, rows: Array, *, block: int = ROW_BLOCK) -> tuple[Array, ...]:
    """Apply ``func(rows[i:i + block]) -> (out_1, out_2, ...)`` blockwise and stack the outputs.

    Row-independent geometry (every unprojected pixel is its own problem) runs faster on
    blocks that fit in cache than on whole 2 M-row arrays (see ``ROW_BLOCK``); each row is
    computed on its own, so blocking does not change it.
    """
    n = rows.shape[0]
    first = tuple(func(rows[:block]))
    if n <= block:
        return first
    outs = tuple(np.empty((n,) + part.shape[1:], dtype=part.dtype) for part in first)
    for out, part in zip(outs, first):
        out[:block] = part
    for i in range(block, n, block):
        for out, part in zip(outs, func(rows[i:i + block])):
            out[i:i + block] = part
    return outs


def newton_refine(
    g_and_slope: Any, x0: Array, *, tol: float = 1e-9, max_iter: int = 8
) -> Array:
    """Polish many scalar roots of ``g(x) = 0`` that start close (~1e-5 relative) to the root.

    Used to make cmod's closed-form rays exact for an off-unit O (``docs/conventions.md``):
    ``x0`` is cmod's answer, off by ~|O.O - 1|, so Newton with the analytic slope reaches
    machine precision in two steps (error 1e-5 -> 1e-10 -> 1e-20). An unknown stops once a
    step is below ``tol (1 + |x|)``: by quadratic convergence its remaining error is then
    ~tol^2, far below double precision. The first steps run on all rows at once (no gather);
    only the rare rows still moving are iterated further.

    Parameters
    ----------
    g_and_slope : callable ``(x, index) -> (g, dg/dx)``
        ``index`` is ``slice(None)`` (all rows) or the integer rows ``x`` belongs to.
    x0 : (N,) ndarray

    Returns
    -------
    (N,) ndarray of float64
        Roots; not finite where the start or ``g`` is not finite, the slope is zero, or the
        step has not dropped below ``tol`` after ``max_iter`` steps (callers keep cmod's answer
        there).
    """
    x = np.array(x0, dtype=np.float64)
    idx: Any = slice(None)
    for _ in range(max_iter):
        xa = x[idx]
        g, slope = g_and_slope(xa, idx)
        with np.errstate(divide="ignore", invalid="ignore"):
            dx = g / slope
        xa = xa - dx  # a non-finite dx makes the row NaN: failed
        x[idx] = xa
        moving = np.abs(dx) > tol * (1.0 + np.abs(xa))  # False for NaN: done (and NaN)
        if not moving.any():
            return x
        idx = np.flatnonzero(moving) if isinstance(idx, slice) else idx[moving]
    x[idx] = np.nan
    return x


def unit_rows(u: Array) -> Array:
    """Rows of ``u`` scaled to unit length (zero rows become NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return u / np.linalg.norm(u, axis=1, keepdims=True)


def cahv_internal(a: Array, h: Array, v: Array) -> InternalParameters:
    """hs, hc, vs, vc, theta of a CAHV part (cmod_cahv_internal)."""
    hc = float(np.dot(a, h))
    vc = float(np.dot(a, v))
    axh = np.cross(a, h)
    axv = np.cross(a, v)
    hs = float(np.linalg.norm(axh))
    vs = float(np.linalg.norm(axv))
    theta = math.atan2(float(np.dot(np.cross(v, h), a)), float(np.dot(axv, axh)))
    return InternalParameters(hs=hs, hc=hc, vs=vs, vc=vc, theta=theta)


def skew(u: Array) -> Array:
    """Cross-product matrices of rows of ``u`` (N, 3) -> (N, 3, 3): ``skew(u) @ w == u x w``."""
    z = np.zeros(u.shape[0])
    return np.stack(
        [
            np.stack([z, -u[:, 2], u[:, 1]], axis=1),
            np.stack([u[:, 2], z, -u[:, 0]], axis=1),
            np.stack([-u[:, 1], u[:, 0], z], axis=1),
        ],
        axis=1,
    )


def rotation_jacobian(j_point: Array, d: Array) -> Array:
    """d(pixel)/d(small camera rotation about C), (N, 2, 3), from d(pixel)/d(point).

    Rotating the camera by ``R = exp([w]x)`` about C is the same as rotating the point by
    ``R^T`` about C: ``d -> d - w x d = d + [d]x w``, so ``J_rot = J_point @ [d]x``.
    """
    return j_point @ skew(d)


def components_key(*parts: Any) -> tuple[float, ...]:
    """A hashable tuple of every component value (used for ``__hash__`` / ``__eq__``)."""
    out: list[float] = []
    for part in parts:
        if isinstance(part, np.ndarray):
            out.extend(float(x) for x in part)
        else:
            out.append(float(part))
    return tuple(out)


def py_floats(vec: Array) -> tuple[float, ...]:
    """A component as a tuple of python floats (for label writers)."""
    return tuple(float(x) for x in vec)


class ModelBase:
    """Operations every JPL model shares through its CAHV part (mixin for the dataclasses).

    Subclasses are frozen dataclasses with fields c, a, h, v (and o, r, e, ...); ``_DIRECTIONS``
    names the vector components a rotation acts on.
    """

    __slots__ = ()
    _DIRECTIONS: tuple[str, ...] = ("a", "h", "v")

    c: Array
    a: Array
    h: Array
    v: Array

    def _key(self) -> tuple[float, ...]:  # pragma: no cover - overridden
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def internal(self) -> InternalParameters:
        """Internal parameters (hs, hc, vs, vc, theta) of the CAHV part.

        Returns
        -------
        InternalParameters
            Focal lengths hs, vs and principal point hc, vc in pixels (docs/conventions.md);
            theta, the H-V angle in radians (about -pi/2).
        """
        return cahv_internal(self.a, self.h, self.v)

    def transformed(self, r_dst_src: ArrayLike, t_dst_src: ArrayLike) -> Self:
        """The same camera expressed in frame ``dst``: ``C' = R C + t``; A, H, V (O) rotated.

        Parameters
        ----------
        r_dst_src : (3, 3) array_like
            Rotation taking vectors from this model's frame ``src`` to ``dst``.
        t_dst_src : (3,) array_like
            Origin of ``src`` in ``dst``, metres (``p_dst = R p_src + t``).

        Returns
        -------
        Same model type, in ``dst``. R, E and the model type are unchanged
        (docs/camera-models.md#subframes-binning-and-frames).
        """
        rot = as_rotation(r_dst_src)
        t = as_vector("t_dst_src", t_dst_src)
        changes: dict[str, Array] = {"c": rot @ self.c + t}
        for name in self._DIRECTIONS:
            changes[name] = rot @ getattr(self, name)
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def cropped(self, x0: float, y0: float) -> Self:
        """The model of a subframe whose pixel (0, 0) is this model's pixel (x0, y0).

        ``H' = H - x0 A``, ``V' = V - y0 A`` so that ``x' = x - x0``; C, A, O, R, E unchanged.
        """
        x0 = as_scalar("x0", x0)
        y0 = as_scalar("y0", y0)
        return dataclasses.replace(  # type: ignore[type-var]
            self, h=self.h - x0 * self.a, v=self.v - y0 * self.a
        )

    def scaled(self, sx: float, sy: float) -> Self:
        """The model of a resampled image with ``sx``, ``sy`` new pixels per old pixel.

        ``H' = sx H``, ``V' = sy V`` so ``x' = sx x`` (binning by n: ``sx = 1/n``). Like PIG
        (PigMission.cc) no half-pixel term is applied; for bins whose centres sit at old
        ``n i + (n - 1)/2`` use ``model.cropped((n - 1) / 2, (n - 1) / 2).scaled(1/n, 1/n)``.
        """
        sx = as_scalar("sx", sx)
        sy = as_scalar("sy", sy)
        if sx <= 0 or sy <= 0:
            raise CameraModelError(f"scale factors must be positive, got ({sx}, {sy})")
        return dataclasses.replace(self, h=sx * self.h, v=sy * self.v)  # type: ignore[type-var]


def newton_solve(
    step: Any, x0: Array, *, tol: float = 1e-11, accept: float = 1e-8, max_iter: int = 100
) -> Array:
    """Solve many scalar equations at once by Newton's method with an active mask.

    Parameters
    ----------
    step : callable ``(x_active, index_active) -> dx``
        The Newton step ``f / f'`` for the still-active unknowns (``index_active`` is
        ``slice(None)`` while all are active, else integer rows); NaN marks a failure
        (for instance a non-positive derivative).
    x0 : (N,) ndarray
        Starting values; non-finite entries are not solved and stay NaN.
    tol : float
        Stop an unknown when ``|dx| < tol (1 + |x|)``. Newton converges quadratically at the
        simple roots these models have, so after a step of 1e-11 the remaining error is ~1e-22:
        machine precision, which the 1e-9 px round trips need (cmod stops at 1e-8).
    accept : float
        After ``max_iter``, an unknown whose last ``|dx|`` exceeds this is a failure (NaN).

    Returns
    -------
    (N,) ndarray of float64
        Solutions, NaN where the iteration failed.
    """
    x = np.array(x0, dtype=np.float64)
    last = np.full(x.shape, np.inf)
    finite = np.isfinite(x)
    # while every row is still moving, step them all in place (a slice: no gather / scatter)
    active: Any = slice(None) if finite.all() else np.flatnonzero(finite)
    for _ in range(max_iter):
        xa = x[active]
        if xa.size == 0:
            break
        dx = step(xa, active)
        xa = xa - dx
        x[active] = xa
        mag = np.abs(dx)
        last[active] = mag
        moving = mag >= tol * (1.0 + np.abs(xa))  # False for NaN: done (and failed)
        if isinstance(active, slice):
            if not moving.all():
                active = np.flatnonzero(moving)
        else:
            active = active[moving]
    failed = ~(last <= accept)
    x[failed] = np.nan
    return x
