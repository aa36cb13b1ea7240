"""Map projections of rover mosaics (JPL MAP_PROJECTION_TYPE; docs/mosaics.md#projections).

Every projection maps output pixels (x = sample, y = line, 0-based, centres at integers) to what
they look at in the mosaic frame (SITE_FRAME: +x north, +y east, +z down) and back:

- :class:`CylindricalProjection`: ``az = az_start + x s``, ``el = el_top - y s`` (JPL
  CYLINDRICAL: equal angles in both axes), cropped to the frames;
- :class:`EquirectangularProjection`: the same law on the whole sphere, 360 x 180 degrees,
  ``width = 2 height``; pixels tile the sphere exactly (centres half a pixel inside the edges), so
  the azimuth wraps at the grid edge with no extra resampling;
- :class:`PolarProjection`: the nadir at a centre pixel, the distance from it proportional to the
  angle from the nadir, north up and azimuth clockwise (JPL POLAR);
- :class:`VerticalProjection`: an overhead orthographic map of a level ground plane, north up,
  east right, metres per pixel (JPL VERTICAL);
- :class:`PerspectiveProjection`: a virtual pinhole camera (JPL PERSPECTIVE), a CAHV model.

Angular projections give ray *directions* from ``origin``; the surface model
(:class:`rovercam.mosaic.surfaces.Surface`) turns them into points when it is not at infinity.
Every projection writes and reads its parameters as tags (:meth:`to_tags`,
:func:`projection_from_tags`) and gives ``az_el_grid()`` for scoring against a truth world.
Cylindrical and equirectangular grids also give a GDAL geotransform in degrees of azimuth and
elevation (:attr:`geotransform`); the other projections have none and say in their tags how a
pixel maps to angles (docs/conventions.md#mosaic-georeferencing).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Union

import numpy as np
from numpy.typing import NDArray

from rovercam.camera.cahv import CAHV
from rovercam.camera.coordinates import azimuth_elevation, direction_from_azimuth_elevation
from rovercam.mosaic.surfaces import Surface
from rovercam.terrain.dem import DEM

if TYPE_CHECKING:
    from affine import Affine

__all__ = [
    "CylindricalProjection",
    "EquirectangularProjection",
    "PolarProjection",
    "VerticalProjection",
    "PerspectiveProjection",
    "Projection",
    "projection_from_tags",
    "PROJECTION_KINDS",
    "GEOTRANSFORM_AZ_EL",
    "GEOTRANSFORM_NONE",
]

Array = NDArray[np.float64]


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(",") if v.strip()) if text else ()


def _join(values: Any) -> str:
    return ",".join(repr(float(v)) for v in values)


#: Where azimuth 0 points in the frames mosaics are made in (docs/conventions.md#frames).
_AZIMUTH_ZERO = {"SITE_FRAME": "north", "LOCAL_LEVEL_FRAME": "north", "ROVER_NAV_FRAME": "rover forward",
                 "ROVER_FRAME": "rover forward"}

#: GEOTRANSFORM tag values: what the dataset's geotransform maps pixels to.
GEOTRANSFORM_AZ_EL = "AZIMUTH_ELEVATION_DEG"
GEOTRANSFORM_NONE = "NONE"


class _Base:
    """What every projection shares: surface, targets, az/el grid, common tags."""

    __slots__ = ()
    width: int
    height: int
    frame: str
    surface: str
    origin: tuple[float, float, float]
    surface_params: tuple[float, ...]
    _KIND: ClassVar[str] = ""
    #: How an output pixel maps to angles, in the projection's own tag names (PIXEL_TO_ANGLES tag).
    _PIXEL_LAW: ClassVar[str] = ""

    @property
    def kind(self) -> str:
        """MAP_PROJECTION_TYPE tag value."""
        return self._KIND

    @property
    def periodic_width(self) -> int | None:
        """Pixels per 360 degrees when the grid's x wraps around the circle, else None."""
        return None

    @property
    def surface_model(self) -> Surface:
        return Surface.from_tag(self.surface, self.surface_params)

    @property
    def geotransform(self) -> "Affine | None":
        """GDAL geotransform from pixel-edge (column, row) to (azimuth, elevation) in degrees.

        None here: only grids equally spaced in azimuth and elevation have one
        (:class:`CylindricalProjection`, :class:`EquirectangularProjection`).
        """
        return None

    def rays(self, x: Array, y: Array) -> Array:
        """Unit directions (N, 3) from ``origin`` through output pixels (x, y) (any x for wraps)."""
        raise NotImplementedError

    def pixels(self, directions: Array) -> Array:
        """Output (x, y) (N, 2) of directions from ``origin``; NaN where not on the map."""
        raise NotImplementedError

    def targets(self, x: Array, y: Array) -> tuple[Array, bool]:
        """What each output pixel looks at: ``(directions, True)`` at infinity, else
        ``(points in metres, False)`` on the surface."""
        dirs = self.rays(x, y)
        surf = self.surface_model
        if surf.at_infinity:
            return dirs, True
        return surf.intersect(np.asarray(self.origin, dtype=np.float64), dirs), False

    def pixels_of_points(self, points: Array) -> Array:
        """Output (x, y) of points (N, 3), metres, seen from ``origin``."""
        d = np.asarray(points, dtype=np.float64) - np.asarray(self.origin, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = d / np.linalg.norm(d, axis=1, keepdims=True)
        return self.pixels(d)

    def az_el_grid(self) -> tuple[Array, Array]:
        """(az_deg, el_deg), each (height, width) float64: the ray of every pixel from ``origin``."""
        y, x = np.mgrid[0 : self.height, 0 : self.width].astype(np.float64)
        az, el = azimuth_elevation(self.rays(x.ravel(), y.ravel()))
        return az.reshape(self.height, self.width), el.reshape(self.height, self.width)

    def _common_tags(self) -> dict[str, str]:
        zero = _AZIMUTH_ZERO.get(self.frame)
        return {
            "MAP_PROJECTION_TYPE": self.kind,
            "COORDINATE_SYSTEM_NAME": self.frame,
            "SURFACE_MODEL": self.surface,
            "SURFACE_PARAMETERS": _join(self.surface_params),
            "PROJECTION_ORIGIN_VECTOR": _join(self.origin),
            # how pixels map to angles, for readers that do not know rovercam
            # (docs/conventions.md#mosaic-georeferencing)
            "POSITIVE_AZIMUTH_DIRECTION": "CLOCKWISE",
            "POSITIVE_ELEVATION_DIRECTION": "UP",
            "AZIMUTH_ELEVATION_DEFINITION": (
                f"directions from PROJECTION_ORIGIN_VECTOR in COORDINATE_SYSTEM_NAME ({self.frame}, "
                f"+Z down): azimuth = atan2(Y, X) degrees, clockwise seen from above from +X"
                f"{f' ({zero})' if zero else ''}; elevation = -asin(Z / |d|) degrees, positive up"),
            "PIXEL_TO_ANGLES": ("(x, y) = (sample, line), 0-based, pixel centres at integers; "
                                + self._PIXEL_LAW),
            "GEOTRANSFORM": GEOTRANSFORM_NONE if self.geotransform is None else GEOTRANSFORM_AZ_EL,
        }

    @staticmethod
    def _common_from(tags: dict[str, str]) -> dict[str, Any]:
        return {
            "frame": tags.get("COORDINATE_SYSTEM_NAME", "SITE_FRAME"),
            "surface": tags.get("SURFACE_MODEL", "INFINITY"),
            "surface_params": _floats(tags.get("SURFACE_PARAMETERS", "")),
            "origin": _floats(tags.get("PROJECTION_ORIGIN_VECTOR", "0,0,0")),
        }

    @classmethod
    def _check_kind(cls, tags: dict[str, str]) -> None:
        if tags.get("MAP_PROJECTION_TYPE") != cls._KIND:
            raise ValueError(f"not a {cls._KIND.lower()} projection: {tags.get('MAP_PROJECTION_TYPE')!r}")


class _AzElGrid(_Base):
    """``az = az_start + x s``, ``el = el_top - y s`` (degrees)."""

    __slots__ = ()
    az_start_deg: float
    el_top_deg: float
    scale_deg: float
    _PIXEL_LAW: ClassVar[str] = ("azimuth = START_AZIMUTH_DEG + x * MAP_SCALE_DEG_PER_PX (not wrapped: "
                                 "compare modulo 360), elevation = MAXIMUM_ELEVATION_DEG - y * MAP_SCALE_DEG_PER_PX; "
                                 "the geotransform gives the same angles")

    @property
    def geotransform(self) -> "Affine":
        """GDAL geotransform from pixel-edge (column, row) to (azimuth, elevation) in degrees.

        GDAL puts (0, 0) at the top-left corner of the top-left pixel, so the transform's
        origin is half a pixel left of and above the centre of pixel (0, 0):
        ``azimuth = az_start_deg - s/2 + column * s``, ``elevation = el_top_deg + s/2 - row * s``.
        At pixel centres (``column = x + 1/2``, ``row = y + 1/2``) that is exactly :meth:`rays`'
        ``az = az_start_deg + x s``, ``el = el_top_deg - y s``. Azimuth is not wrapped: a grid
        crossing 180 (or 360) degrees goes on past it (compare modulo 360). The angles are in
        ``frame`` (docs/conventions.md#mosaic-georeferencing); there is no CRS.
        """
        from affine import Affine  # rasterio's affine type; imported where it is needed

        s = self.scale_deg
        return Affine(s, 0.0, self.az_start_deg - s / 2, 0.0, -s, self.el_top_deg + s / 2)

    @property
    def periodic_width(self) -> int | None:
        n = 360.0 / self.scale_deg
        return int(round(n)) if abs(n - round(n)) < 1e-6 and self.width >= round(n) else None

    def rays(self, x: Array, y: Array) -> Array:
        az = self.az_start_deg + np.asarray(x, dtype=np.float64) * self.scale_deg
        el = self.el_top_deg - np.asarray(y, dtype=np.float64) * self.scale_deg
        return direction_from_azimuth_elevation(az, el)

    def pixels(self, directions: Array) -> Array:
        az, el = azimuth_elevation(directions)
        rel = np.mod(az - self.az_start_deg + 0.5 * self.scale_deg, 360.0) - 0.5 * self.scale_deg
        if self.periodic_width is None:
            # a cropped grid: put azimuths left of the start on the negative side of x
            rel = np.where(rel > (self.width * self.scale_deg + 360.0) / 2, rel - 360.0, rel)
        return np.stack([rel / self.scale_deg, (self.el_top_deg - el) / self.scale_deg], axis=1)

    @classmethod
    def from_tags(cls, tags: dict[str, str], width: int, height: int) -> Any:
        """Inverse of :meth:`to_tags` (e.g. read back from a published COG)."""
        cls._check_kind(tags)
        return cls(float(tags["START_AZIMUTH_DEG"]), float(tags["MAXIMUM_ELEVATION_DEG"]),  # type: ignore[call-arg]
                   float(tags["MAP_SCALE_DEG_PER_PX"]), width, height, **cls._common_from(tags))

    def to_tags(self) -> dict[str, str]:
        """Projection parameters as GeoTIFF/STAC tags (rover-frame products carry no CRS)."""
        return self._grid_tags()

    def az_el_grid(self) -> tuple[Array, Array]:
        az = self.az_start_deg + np.arange(self.width, dtype=np.float64) * self.scale_deg
        el = self.el_top_deg - np.arange(self.height, dtype=np.float64) * self.scale_deg
        return (np.broadcast_to(az, (self.height, self.width)),
                np.broadcast_to(el[:, None], (self.height, self.width)))

    def _grid_tags(self) -> dict[str, str]:
        return {
            **self._common_tags(),
            "START_AZIMUTH_DEG": repr(self.az_start_deg),
            "MAXIMUM_ELEVATION_DEG": repr(self.el_top_deg),
            "MAP_SCALE_DEG_PER_PX": repr(self.scale_deg),
        }


@dataclass(frozen=True, slots=True)
class CylindricalProjection(_AzElGrid):
    """JPL CYLINDRICAL over the ``frame`` coordinate system, cropped to the frames.

    Output pixel (x, y) looks along ``az = az_start_deg + x * scale_deg``,
    ``el = el_top_deg - y * scale_deg``; azimuth clockwise from +x (north), elevation up.
    """

    az_start_deg: float
    el_top_deg: float
    scale_deg: float
    width: int
    height: int
    frame: str = "SITE_FRAME"
    surface: str = "INFINITY"
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    surface_params: tuple[float, ...] = ()
    _KIND: ClassVar[str] = "CYLINDRICAL"



@dataclass(frozen=True, slots=True)
class EquirectangularProjection(_AzElGrid):
    """The whole sphere, 360 x 180 degrees; build with :meth:`full_sphere`.

    Pixels are areas tiling the sphere: centres at ``az = -180 + (x + 1/2) s`` and
    ``el = 90 - (y + 1/2) s`` with ``s = 360 / width`` (the Hugin/GDAL layout), so column
    ``width`` is column 0 again and a frame across azimuth 180 is written straight onto both ends.
    """

    az_start_deg: float
    el_top_deg: float
    scale_deg: float
    width: int
    height: int
    frame: str = "SITE_FRAME"
    surface: str = "INFINITY"
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    surface_params: tuple[float, ...] = ()
    _KIND: ClassVar[str] = "EQUIRECTANGULAR"

    @classmethod
    def full_sphere(cls, width: int, *, frame: str = "SITE_FRAME", surface: Surface | None = None,
                    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> "EquirectangularProjection":
        """A ``width x width/2`` grid over the whole sphere (``width`` even)."""
        if width < 2 or width % 2:
            raise ValueError(f"equirectangular width must be even and >= 2, got {width}")
        s = 360.0 / width
        surf = surface or Surface()
        return cls(-180.0 + s / 2, 90.0 - s / 2, s, width, width // 2, frame, surf.tag,
                   tuple(float(v) for v in origin), surf.parameters())  # type: ignore[arg-type]



@dataclass(frozen=True, slots=True)
class PolarProjection(_Base):
    """Nadir at pixel (cx, cy); radius ``r`` px is ``r * scale_deg`` degrees from the nadir.

    Azimuth is measured clockwise from image-up (north): pixel offset (dx, dy) from the centre
    looks at ``az = atan2(dx, -dy)``, ``el = -90 + hypot(dx, dy) * scale_deg``. Rays above
    ``-90 + radius * scale_deg`` are off the map.
    """

    centre_x: float
    centre_y: float
    scale_deg: float
    width: int
    height: int
    frame: str = "SITE_FRAME"
    surface: str = "INFINITY"
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    surface_params: tuple[float, ...] = ()
    _KIND: ClassVar[str] = "POLAR"
    _PIXEL_LAW: ClassVar[str] = ("azimuth = atan2(x - CENTER_SAMPLE, CENTER_LINE - y), elevation = -90 + "
                                 "hypot(x - CENTER_SAMPLE, y - CENTER_LINE) * MAP_SCALE_DEG_PER_PX; no geotransform")

    @classmethod
    def around_nadir(cls, max_el_deg: float, scale_deg: float, **kw: Any) -> "PolarProjection":
        """A square map from the nadir up to elevation ``max_el_deg``."""
        r = int(math.ceil((max_el_deg + 90.0) / scale_deg))
        return cls(float(r), float(r), scale_deg, 2 * r + 1, 2 * r + 1, **kw)

    def rays(self, x: Array, y: Array) -> Array:
        dx = np.asarray(x, dtype=np.float64) - self.centre_x
        dy = np.asarray(y, dtype=np.float64) - self.centre_y
        az = np.degrees(np.arctan2(dx, -dy))
        el = -90.0 + np.hypot(dx, dy) * self.scale_deg
        return direction_from_azimuth_elevation(az, el)

    def pixels(self, directions: Array) -> Array:
        az, el = azimuth_elevation(directions)
        r = (el + 90.0) / self.scale_deg
        a = np.radians(az)
        return np.stack([self.centre_x + r * np.sin(a), self.centre_y - r * np.cos(a)], axis=1)

    @classmethod
    def from_tags(cls, tags: dict[str, str], width: int, height: int) -> "PolarProjection":
        cls._check_kind(tags)
        return cls(float(tags["CENTER_SAMPLE"]), float(tags["CENTER_LINE"]),
                   float(tags["MAP_SCALE_DEG_PER_PX"]), width, height, **cls._common_from(tags))

    def to_tags(self) -> dict[str, str]:
        return {**self._common_tags(), "CENTER_SAMPLE": repr(self.centre_x),
                "CENTER_LINE": repr(self.centre_y), "MAP_SCALE_DEG_PER_PX": repr(self.scale_deg)}


@dataclass(frozen=True, slots=True)
class VerticalProjection(_Base):
    """An overhead orthographic map of the plane ``z = ground_z_m`` (metres, z down), or of the
    terrain of ``dem``.

    Pixel (x, y) is the ground point ``north = north_top_m - y * scale_m``,
    ``east = east_left_m + x * scale_m``. The surface is this plane whatever ``surface`` says,
    unless a ``dem`` is given: then the ground point's z is the terrain's,
    ``-dem.height_at(north, east)``, and the plane's where the DEM has no height
    (docs/mosaics.md#mosaics-on-the-terrain). The DEM is not in the tags; they say TERRAIN.
    """

    north_top_m: float
    east_left_m: float
    scale_m: float
    width: int
    height: int
    ground_z_m: float = 0.0
    frame: str = "SITE_FRAME"
    surface: str = "PLANE"
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    surface_params: tuple[float, ...] = ()
    dem: DEM | None = None
    _KIND: ClassVar[str] = "VERTICAL"
    _PIXEL_LAW: ClassVar[str] = ("the pixel is the ground point X = UPPER_LEFT_NORTH_M - y * MAP_SCALE_M_PER_PX, "
                                 "Y = UPPER_LEFT_EAST_M + x * MAP_SCALE_M_PER_PX, Z = GROUND_Z_M (metres), "
                                 "seen from PROJECTION_ORIGIN_VECTOR; no geotransform")

    @property
    def surface_model(self) -> Surface:
        if self.dem is not None:
            return Surface.terrain(self.dem, self.ground_z_m)
        return Surface.ground(self.ground_z_m)

    def ground_points(self, x: Array, y: Array) -> Array:
        """Ground points (N, 3), metres, under output pixels (on the terrain with a ``dem``)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        north, east = self.north_top_m - y * self.scale_m, self.east_left_m + x * self.scale_m
        z = np.full(x.shape, self.ground_z_m) if self.dem is None else self.surface_model.z_at(north, east)
        return np.stack([north, east, z], axis=1)

    def targets(self, x: Array, y: Array) -> tuple[Array, bool]:
        return self.ground_points(x, y), False

    def rays(self, x: Array, y: Array) -> Array:
        d = self.ground_points(x, y) - np.asarray(self.origin, dtype=np.float64)
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    def pixels(self, directions: Array) -> Array:
        pts = self.surface_model.intersect(np.asarray(self.origin, dtype=np.float64),
                                           np.asarray(directions, dtype=np.float64))
        return self.pixels_of_points(pts)

    def pixels_of_points(self, points: Array) -> Array:
        p = np.asarray(points, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            # project along the vertical onto the plane (points are on it already when from targets)
            return np.stack([(p[:, 1] - self.east_left_m) / self.scale_m,
                             (self.north_top_m - p[:, 0]) / self.scale_m], axis=1)

    @classmethod
    def from_tags(cls, tags: dict[str, str], width: int, height: int) -> "VerticalProjection":
        cls._check_kind(tags)
        return cls(float(tags["UPPER_LEFT_NORTH_M"]), float(tags["UPPER_LEFT_EAST_M"]),
                   float(tags["MAP_SCALE_M_PER_PX"]), width, height, float(tags["GROUND_Z_M"]),
                   **cls._common_from(tags))

    def to_tags(self) -> dict[str, str]:
        return {**self._common_tags(), "UPPER_LEFT_NORTH_M": repr(self.north_top_m),
                "UPPER_LEFT_EAST_M": repr(self.east_left_m), "MAP_SCALE_M_PER_PX": repr(self.scale_m),
                "GROUND_Z_M": repr(self.ground_z_m)}


@dataclass(frozen=True, slots=True)
class PerspectiveProjection(_Base):
    """A virtual pinhole camera at ``origin`` looking along (az, el), rows level, no roll.

    ``focal_px`` is the focal length in output pixels; the principal point is the grid centre.
    """

    az_deg: float
    el_deg: float
    focal_px: float
    width: int
    height: int
    frame: str = "SITE_FRAME"
    surface: str = "INFINITY"
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    surface_params: tuple[float, ...] = ()
    _KIND: ClassVar[str] = "PERSPECTIVE"
    _PIXEL_LAW: ClassVar[str] = ("a pinhole camera at PROJECTION_ORIGIN_VECTOR looking along AZIMUTH_DEG, "
                                 "ELEVATION_DEG with level rows (no roll), focal length FOCAL_LENGTH_PX, principal "
                                 "point at ((width - 1) / 2, (height - 1) / 2); no geotransform")

    @property
    def camera(self) -> CAHV:
        """The CAHV model of the virtual camera (in ``frame``)."""
        a = direction_from_azimuth_elevation(self.az_deg, self.el_deg)[0]
        right = np.cross([0.0, 0.0, 1.0], a)
        if np.linalg.norm(right) < 1e-9:  # looking straight up or down: north is image-up
            right = np.array([0.0, 1.0, 0.0]) * (1.0 if a[2] > 0 else -1.0)
        right /= np.linalg.norm(right)
        down = np.cross(a, right)
        hc, vc = (self.width - 1) / 2.0, (self.height - 1) / 2.0
        return CAHV(self.origin, a, self.focal_px * right + hc * a, self.focal_px * down + vc * a)

    def rays(self, x: Array, y: Array) -> Array:
        px = np.stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)], axis=1)
        return self.camera.unproject(px)[1]

    def pixels(self, directions: Array) -> Array:
        return self.camera.project_directions(np.asarray(directions, dtype=np.float64))

    @classmethod
    def from_tags(cls, tags: dict[str, str], width: int, height: int) -> "PerspectiveProjection":
        cls._check_kind(tags)
        return cls(float(tags["AZIMUTH_DEG"]), float(tags["ELEVATION_DEG"]), float(tags["FOCAL_LENGTH_PX"]),
                   width, height, **cls._common_from(tags))

    def to_tags(self) -> dict[str, str]:
        return {**self._common_tags(), "AZIMUTH_DEG": repr(self.az_deg), "ELEVATION_DEG": repr(self.el_deg),
                "FOCAL_LENGTH_PX": repr(self.focal_px)}


Projection = Union[CylindricalProjection, EquirectangularProjection, PolarProjection,
                   VerticalProjection, PerspectiveProjection]

#: MAP_PROJECTION_TYPE -> class.
PROJECTION_KINDS: dict[str, type] = {
    c._KIND: c for c in (CylindricalProjection, EquirectangularProjection, PolarProjection,
                         VerticalProjection, PerspectiveProjection)
}


def projection_from_tags(tags: dict[str, str], width: int, height: int) -> Projection:
    """The projection a set of tags describes (inverse of every class's ``to_tags``).

    Raises
    ------
    ValueError
        Unknown or missing MAP_PROJECTION_TYPE.
    """
    kind = tags.get("MAP_PROJECTION_TYPE")
    if kind not in PROJECTION_KINDS:
        raise ValueError(f"unknown MAP_PROJECTION_TYPE {kind!r}; known: {', '.join(PROJECTION_KINDS)}")
    return PROJECTION_KINDS[kind].from_tags(tags, width, height)
