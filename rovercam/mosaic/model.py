"""The Mosaic record: a rendered mosaic with its projection and provenance."""
from __future__ import annotations

import datetime as _dt
import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rovercam.mosaic.projections import CylindricalProjection, Projection, projection_from_tags
from rovercam.provenance import Provenance

__all__ = ["Mosaic", "CylindricalProjection", "dumps_mosaic", "loads_mosaic"]

#: Index-map value of output pixels no frame covers.
NO_FRAME = -1


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
    image : (H, W, B) ndarray of float32
        B = 3: radiance in W m^-2 sr^-1 nm^-1, linear sRGB primaries; B = 1: one band of a
        grayscale camera. NaN where no frame covers the pixel.
    projection : Projection
        Any of :mod:`rovercam.mosaic.projections`; ``projection.to_tags()`` describes it.
    provenance : Provenance
    start_time, stop_time : datetime or None
        Earliest / latest START_TIME of the inputs (UTC).
    display_white_radiance : float or None
        Radiance shown as white in previews (``to_display``); None when no camera white is
        known: publishing then uses a percentile of the image (:func:`rovercam.radiometry.percentile_white`).
    extra : dict
        Anything else worth recording (per-frame gains, coverage...); ``extra["frames"]`` lists
        the input product ids in index-map order.
    index : (H, W) ndarray of int16, optional
        Which input made each output pixel (position in ``extra["frames"]``; -1 = none).
    """

    name: str
    sol: int
    instrument: str
    image: np.ndarray
    projection: Projection
    provenance: Provenance
    start_time: _dt.datetime | None = None
    stop_time: _dt.datetime | None = None
    display_white_radiance: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    index: np.ndarray | None = None

    @property
    def coverage(self) -> float:
        """Fraction of output pixels covered by at least one frame."""
        return float(np.isfinite(self.image[..., 0]).mean())


def dumps_mosaic(mosaic: Mosaic) -> bytes:
    """Encode a Mosaic as an .npz blob (image, index map, JSON metadata; no pickle)."""
    p = mosaic.projection
    meta = {
        "name": mosaic.name,
        "sol": mosaic.sol,
        "instrument": mosaic.instrument,
        "projection": {"tags": p.to_tags(), "width": p.width, "height": p.height},
        "provenance": mosaic.provenance.to_dict(),
        "start_time": mosaic.start_time.isoformat() if mosaic.start_time else None,
        "stop_time": mosaic.stop_time.isoformat() if mosaic.stop_time else None,
        "display_white_radiance": mosaic.display_white_radiance,
        "extra": mosaic.extra,
    }
    arrays = {"image": mosaic.image, "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    if mosaic.index is not None:
        arrays["index"] = mosaic.index
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def loads_mosaic(blob: bytes) -> Mosaic:
    """Inverse of :func:`dumps_mosaic`."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        image = z["image"]
        meta = json.loads(z["meta"].tobytes().decode())
        index = z["index"] if "index" in z.files else None
    proj = meta["projection"]
    if "tags" in proj:
        projection = projection_from_tags(proj["tags"], proj["width"], proj["height"])
    else:  # blobs written before projections carried tags: cylindrical fields
        proj["origin"] = tuple(proj["origin"])
        projection = CylindricalProjection(**proj)
    t0, t1 = meta["start_time"], meta["stop_time"]
    return Mosaic(
        name=meta["name"],
        sol=meta["sol"],
        instrument=meta["instrument"],
        image=image,
        projection=projection,
        provenance=Provenance.from_dict(meta["provenance"]),
        start_time=_dt.datetime.fromisoformat(t0) if t0 else None,
        stop_time=_dt.datetime.fromisoformat(t1) if t1 else None,
        display_white_radiance=meta.get("display_white_radiance"),
        extra=meta["extra"],
        index=index,
    )
