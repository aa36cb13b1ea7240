"""Surfaces a mosaic's rays are intersected with (JPL SURFACE_MODEL; docs/mosaics.md#surfaces).

A mosaic pixel defines a ray from the projection origin; the surface says *which point* along the
ray each input camera is asked to see. At infinity only the direction matters (no parallax,
the usual choice for mast panoramas); on a ground plane or a sphere the point is projected
through each camera's own centre, so cameras at different positions agree on the ground.

Frames are SITE_FRAME-like: +x north, +y east, +z down (docs/conventions.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["Surface", "SurfaceKind", "FAR_RANGE_M"]

SurfaceKind = Literal["infinity", "plane", "sphere"]

#: Range given to rays that miss a finite surface (above the horizon of a ground plane): far
#: enough that camera baselines of metres make < 1e-5 rad of parallax.
FAR_RANGE_M = 1.0e6


@dataclass(frozen=True, slots=True)
class Surface:
    """A surface model.

    Parameters
    ----------
    kind : {"infinity", "plane", "sphere"}
    normal : (3,) tuple of float
        Plane: unit normal (``(0, 0, 1)``, down, for level ground). Ignored otherwise.
    distance_m : float
        Plane: ``normal . p = distance_m`` for points ``p`` on it (metres; for level ground,
        the ground's z in the mosaic frame). Sphere: radius.
    centre : (3,) tuple of float
        Sphere centre, metres. Ignored otherwise.
    """

    kind: SurfaceKind = "infinity"
    normal: tuple[float, float, float] = (0.0, 0.0, 1.0)
    distance_m: float = 0.0
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if self.kind not in ("infinity", "plane", "sphere"):
            raise ValueError(f"surface kind must be infinity, plane or sphere, got {self.kind!r}")
        if self.kind == "plane":
            n = np.asarray(self.normal, dtype=np.float64)
            if n.shape != (3,) or not math.isclose(float(np.linalg.norm(n)), 1.0, abs_tol=1e-6):
                raise ValueError(f"plane normal must be a unit 3-vector, got {self.normal!r}")
        if self.kind == "sphere" and not self.distance_m > 0:
            raise ValueError(f"sphere radius must be positive, got {self.distance_m!r}")

    @classmethod
    def ground(cls, z_m: float) -> "Surface":
        """Level ground at ``z = z_m`` (metres, z down) in the mosaic frame."""
        return cls("plane", (0.0, 0.0, 1.0), float(z_m))

    @property
    def at_infinity(self) -> bool:
        return self.kind == "infinity"

    @property
    def tag(self) -> str:
        """SURFACE_MODEL tag value."""
        return {"infinity": "INFINITY", "plane": "PLANE", "sphere": "SPHERE"}[self.kind]

    def parameters(self) -> tuple[float, ...]:
        """Parameters as a flat tuple (for tags): normal + distance, or centre + radius."""
        if self.kind == "plane":
            return (*self.normal, self.distance_m)
        if self.kind == "sphere":
            return (*self.centre, self.distance_m)
        return ()

    @classmethod
    def from_tag(cls, tag: str, params: tuple[float, ...]) -> "Surface":
        """Inverse of :attr:`tag` / :meth:`parameters`."""
        kind = {"INFINITY": "infinity", "PLANE": "plane", "SPHERE": "sphere"}.get(tag.upper())
        if kind is None:
            raise ValueError(f"unknown SURFACE_MODEL {tag!r}")
        if kind == "plane":
            return cls("plane", tuple(params[:3]), float(params[3]))  # type: ignore[arg-type]
        if kind == "sphere":
            return cls("sphere", centre=tuple(params[:3]), distance_m=float(params[3]))  # type: ignore[arg-type]
        return cls()

    def intersect(self, origin: NDArray[np.float64], directions: NDArray[np.float64]) -> NDArray[np.float64]:
        """Points where rays from ``origin`` meet the surface.

        Parameters
        ----------
        origin : (3,) ndarray
            Ray origin, metres, mosaic frame.
        directions : (N, 3) ndarray
            Unit directions, mosaic frame.

        Returns
        -------
        (N, 3) ndarray of float64
            Metres. Rays that miss (or meet the surface behind the origin) get the point at
            :data:`FAR_RANGE_M` along the ray, i.e. they behave as if at infinity.

        Raises
        ------
        ValueError
            Called on the infinity surface (use the directions themselves).
        """
        o = np.asarray(origin, dtype=np.float64)
        d = np.asarray(directions, dtype=np.float64)
        if self.kind == "infinity":
            raise ValueError("the infinity surface has no intersection points; use directions")
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "plane":
                n = np.asarray(self.normal)
                t = (self.distance_m - o @ n) / (d @ n)
            else:
                oc = o - np.asarray(self.centre)
                b = d @ oc
                disc = b * b - (oc @ oc - self.distance_m**2)
                t = -b + np.sqrt(disc)  # the far root: from inside the sphere, the one ahead
        t = np.where(np.isfinite(t) & (t > 0) & (t < FAR_RANGE_M), t, FAR_RANGE_M)
        return o + d * t[:, None]
