"""Build one mosaic from calibrated, undistorted frames (the library side of the mosaic stage)."""
from __future__ import annotations

import logging
from typing import Callable, Iterable, Sequence

from rovercam.chain import Frame
from rovercam.config import Settings
from rovercam.errors import MosaicError
from rovercam.mosaic.cylindrical import frame_geometry, plan_cylindrical, render_cylindrical
from rovercam.mosaic.model import Mosaic
from rovercam.provenance import Provenance

__all__ = ["build_cylindrical_mosaic"]

log = logging.getLogger(__name__)


def build_cylindrical_mosaic(
    name: str,
    load_frames: Callable[[], Iterable[Frame]],
    settings: Settings,
    *,
    progress: Callable[[str], None] | None = None,
) -> Mosaic:
    """Plan the grid from every frame's geometry, then blend the frames onto it.

    ``load_frames`` is called twice (plan, then render) and should yield frames lazily so only
    one frame's pixels are in memory at a time.
    """
    geoms, prov, times, instruments, sols = [], Provenance(), [], set(), set()
    for f in load_frames():
        if f.units != "radiance_srgb":
            raise MosaicError(f"{f.product_id}: mosaics take colour-calibrated radiance, got {f.units}")
        h, w = f.image.shape[:2]
        geoms.append(frame_geometry(f.product_id, f.camera_model, f.camera_frame, f.frames, w, h))
        prov = prov.merged(f.provenance)
        if f.start_time:
            times.append(f.start_time)
        instruments.add(f.instrument)
        sols.add(f.sol)
    if len(geoms) < settings.mosaic.min_frames:
        raise MosaicError(f"{name}: {len(geoms)} frame(s), fewer than mosaic.min_frames={settings.mosaic.min_frames}")
    proj = plan_cylindrical(geoms, scale_deg=settings.mosaic.scale_deg)
    log.info("%s: %d frames -> %dx%d cylindrical, %.4f deg/px", name, len(geoms), proj.width, proj.height, proj.scale_deg)
    by_id = {g.product_id: g for g in geoms}
    image = render_cylindrical(
        ((by_id[f.product_id], f.image) for f in load_frames()),
        proj,
        feather=settings.mosaic.feather,
        progress=progress,
    )
    cams = [settings.cameras.get(i) for i in sorted(instruments)]
    white = min((c.display_white_radiance for c in cams if c), default=0.08)
    prov.steps.append(f"mosaic: cylindrical, surface infinity, feather {settings.mosaic.feather:g}")
    return Mosaic(
        name=name,
        sol=next(iter(sols)) if len(sols) == 1 else -1,
        instrument="+".join(sorted(instruments)),
        image=image,
        projection=proj,
        provenance=prov,
        start_time=min(times) if times else None,
        stop_time=max(times) if times else None,
        display_white_radiance=white,
        extra={"frames": [g.product_id for g in geoms]},
    )
