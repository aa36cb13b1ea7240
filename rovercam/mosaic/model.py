"""The Mosaic record: a rendered mosaic with its projection and provenance."""
from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rovercam.provenance import Provenance
from rovercam.storage import npz

__all__ = ["Mosaic", "CylindricalProjection", "dumps_mosaic", "loads_mosaic"]


@dataclass(frozen=True, slots=True)
class CylindricalProjection:
    """JPL CYLINDRICAL map projection (DOMAIN.md §9) over the ``frame`` coordinate system.

    Output pixel (x, y) (0-based, centres at integers) looks along
    ``az = az_start_deg + x * scale_deg``, ``el = el_top_deg - y * scale_deg``; azimuth clockwise from
    +x (north in SITE_FRAME), elevation positive up. ``surface`` is the surface model the rays were
    intersected with ("INFINITY" for now).
    """

    az_start_deg: float
    el_top_deg: float
    scale_deg: float
    width: int
    height: int
    frame: str = "SITE_FRAME"
    surface: str = "INFINITY"
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def kind(self) -> str:
        return "CYLINDRICAL"

    def az_el_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """(az_deg, el_deg), each (height, width) float64, of every output pixel centre."""
        x = np.arange(self.width, dtype=np.float64)
        y = np.arange(self.height, dtype=np.float64)
        az = self.az_start_deg + x * self.scale_deg
        el = self.el_top_deg - y * self.scale_deg
        return np.broadcast_to(az, (self.height, self.width)), np.broadcast_to(
            el[:, None], (self.height, self.width)
        )

    @classmethod
    def from_tags(cls, tags: dict[str, str], width: int, height: int) -> "CylindricalProjection":
        """Inverse of :meth:`to_tags` (e.g. read back from a published COG)."""
        if tags.get("MAP_PROJECTION_TYPE") != "CYLINDRICAL":
            raise ValueError(f"not a cylindrical projection: {tags.get('MAP_PROJECTION_TYPE')!r}")
        return cls(
            az_start_deg=float(tags["START_AZIMUTH_DEG"]),
            el_top_deg=float(tags["MAXIMUM_ELEVATION_DEG"]),
            scale_deg=float(tags["MAP_SCALE_DEG_PER_PX"]),
            width=width,
            height=height,
            frame=tags.get("COORDINATE_SYSTEM_NAME", "SITE_FRAME"),
            surface=tags.get("SURFACE_MODEL", "INFINITY"),
            origin=tuple(float(v) for v in tags.get("PROJECTION_ORIGIN_VECTOR", "0,0,0").split(",")),
        )

    def to_tags(self) -> dict[str, str]:
        """Projection parameters as GeoTIFF/STAC tags (rover-frame products carry no CRS)."""
        return {
            "MAP_PROJECTION_TYPE": self.kind,
            "START_AZIMUTH_DEG": repr(self.az_start_deg),
            "MAXIMUM_ELEVATION_DEG": repr(self.el_top_deg),
            "MAP_SCALE_DEG_PER_PX": repr(self.scale_deg),
            "COORDINATE_SYSTEM_NAME": self.frame,
            "SURFACE_MODEL": self.surface,
            "PROJECTION_ORIGIN_VECTOR": ",".join(repr(float(v)) for v in self.origin),
        }


@dataclass(slots=True)
class Mosaic:
    """A mosaic ready to publish.

    Attributes
    ----------
    name : str
        Stable name, unique within a sol, e.g. ``"NCAM00100_NAVCAM_LEFT_CYL"``.
    sol : int
    instrument : str
        Instrument id of the frames (``"NAVCAM_LEFT"``).
    image : (H, W, 3) ndarray of float32
        Radiance in W m^-2 sr^-1 nm^-1, linear sRGB primaries; NaN where no frame covers the pixel.
    projection : CylindricalProjection
    provenance : Provenance
    start_time, stop_time : datetime or None
        Earliest / latest START_TIME of the inputs (UTC).
    display_white_radiance : float
        Radiance shown as white in previews (``to_display``).
    extra : dict
        Anything else worth recording (per-frame gains, coverage...).
    """

    name: str
    sol: int
    instrument: str
    image: np.ndarray
    projection: CylindricalProjection
    provenance: Provenance
    start_time: _dt.datetime | None = None
    stop_time: _dt.datetime | None = None
    display_white_radiance: float = 0.08
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        """Fraction of output pixels covered by at least one frame."""
        return float(np.isfinite(self.image[..., 0]).mean())


def dumps_mosaic(mosaic: Mosaic) -> bytes:
    """Encode a Mosaic as an .npz blob (image + JSON metadata), for hand-over between tasks."""
    meta = {
        "name": mosaic.name,
        "sol": mosaic.sol,
        "instrument": mosaic.instrument,
        "projection": asdict(mosaic.projection),
        "provenance": mosaic.provenance.to_dict(),
        "start_time": mosaic.start_time.isoformat() if mosaic.start_time else None,
        "stop_time": mosaic.stop_time.isoformat() if mosaic.stop_time else None,
        "display_white_radiance": mosaic.display_white_radiance,
        "extra": mosaic.extra,
    }
    return npz.pack(mosaic.image, meta)


def loads_mosaic(blob: bytes) -> Mosaic:
    """Inverse of :func:`dumps_mosaic`."""
    image, meta = npz.unpack(blob)
    proj = meta["projection"]
    proj["origin"] = tuple(proj["origin"])
    t0, t1 = meta["start_time"], meta["stop_time"]
    return Mosaic(
        name=meta["name"],
        sol=meta["sol"],
        instrument=meta["instrument"],
        image=image,
        projection=CylindricalProjection(**proj),
        provenance=Provenance.from_dict(meta["provenance"]),
        start_time=_dt.datetime.fromisoformat(t0) if t0 else None,
        stop_time=_dt.datetime.fromisoformat(t1) if t1 else None,
        display_white_radiance=meta["display_white_radiance"],
        extra=meta["extra"],
    )
