"""EDL products end to end: calibrated frames of one camera -> published outputs and events.

- :func:`descent_products`: a down-looking camera (RDCAM, LCAM): :func:`~rovercam.edl.descent.solve_descent`,
  then the orthomosaic levels as COGs in the local tangent-plane CRS plus the descent track
  (GeoJSON) (kind ``"ortho"``), and the touchdown event.
- :func:`sequence_products`: an up-look or rover-view camera (PUCAM, RUCAM, DDCAM): the
  stabilized, stretched MP4 (kind ``"sequence"``), a contact sheet PNG (kind ``"contact-sheet"``)
  and the object-in-view events.

Events are catalog outputs of kind ``"event"`` (one small JSON document each, with its STAC
item; lineage = the frame that shows it; start time = that frame's time), so
``catalog.outputs(sol=N, kind="event")`` lists them. Everything goes through
:mod:`rovercam.publish_products` (atomic, versioned, idempotent).
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
from collections.abc import Sequence
from typing import Any

import pystac

from rovercam.catalog.db import Catalog
from rovercam.edl.descent import solve_descent
from rovercam.edl.events import Event, detect_events, touchdown_event
from rovercam.edl.ground import Surface
from rovercam.edl.ortho import local_crs
from rovercam.edl.sequence import EdlFrame, assess_quality
from rovercam.edl.video import contact_sheet, display_frames
from rovercam.errors import MosaicError
from rovercam.provenance import Provenance
from rovercam.publish_products import PublishedProduct, publish_files, publish_ortho, publish_sequence
from rovercam.storage.raster import write_png
from rovercam.storage.store import Store

__all__ = ["descent_products", "sequence_products", "publish_event", "merged_provenance"]

log = logging.getLogger(__name__)


def _time(t: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(float(t), tz=_dt.timezone.utc)


def merged_provenance(frames: Sequence[Any]) -> Provenance:
    """Union of the frames' provenances (chain Frames), or an empty one."""
    out = Provenance()
    for f in frames:
        out = out.merged(f.provenance)
    return out


def publish_event(event: Event, *, sol: int, store: Store, catalog: Catalog, provenance: Provenance,
                  run_id: str | None = None, mission: str = "M2020") -> PublishedProduct:
    """Publish one event as ``<instrument>_<kind>.json`` (kind ``"event"``)."""
    name = f"{event.instrument}_{event.kind}"
    body = (json.dumps(event.to_dict(), indent=2, sort_keys=True) + "\n").encode()
    files = {"data": (f"{name}.json", body, ["data"], pystac.MediaType.JSON, event.description)}
    sha = provenance.inputs.get(event.product_id, "")
    prov = Provenance(inputs={event.product_id: sha}, software_version=provenance.software_version,
                      config_hash=provenance.config_hash, steps=[f"event: {event.kind}"])
    return publish_files(files, kind="event", name=name, sol=sol, instrument=event.instrument, store=store,
                         catalog=catalog, provenance=prov, start_time=_time(event.time_s),
                         properties={"rovercam:event": event.to_dict()}, run_id=run_id, mission=mission)


def descent_products(frames: Sequence[Any], surface: Surface, *, sol: int, store: Store, catalog: Catalog,
                     crs: str | None = None, run_id: str | None = None, mission: str = "M2020",
                     refine: bool = True) -> dict[str, Any]:
    """Solve and publish one down-looking camera's sequence (module docstring).

    Parameters
    ----------
    frames : sequence of rovercam.chain.Frame
        Calibrated frames of one camera (any order; sorted by time here).
    surface : Surface
        Ground plane or DEM.
    crs : str, optional
        Output CRS; default :func:`rovercam.edl.ortho.local_crs` at Jezero.

    Returns
    -------
    dict
        JSON-ready summary: output ids, levels, track, skipped frames, events.
    """
    edl = sorted((EdlFrame.from_chain(f) for f in frames), key=lambda f: (f.time_s, f.product_id))
    if not edl:
        raise MosaicError("no frame")
    instrument = edl[0].instrument
    crs = crs or local_crs()
    prov = merged_provenance(frames)
    result = solve_descent(edl, surface, refine=refine)
    if not result.levels:
        raise MosaicError(f"{instrument}: no orthomosaic level could be built")
    used = {pid for lev in result.levels for pid in lev.product_ids}
    ortho_prov = Provenance(inputs={k: v for k, v in prov.inputs.items() if k in used},
                            calibration=prov.calibration, steps=[*prov.steps, "edl: descent orthomosaic"],
                            software_version=prov.software_version, config_hash=prov.config_hash)
    from rovercam.edl.ortho import track_geojson

    track = track_geojson(result.track, crs)
    name = f"{instrument}_orthomosaic"
    times = [f.time_s for f in edl if f.product_id in used]
    pub = publish_ortho(
        [(lev.image, lev.grid.transform) for lev in result.levels], name=name, sol=sol,
        instrument=instrument, crs=crs, store=store, catalog=catalog, provenance=ortho_prov,
        start_time=_time(min(times)), stop_time=_time(max(times)), track_geojson=track,
        level_properties=[{"cell_m": lev.grid.cell_m, "frames": lev.product_ids,
                           "coverage": round(lev.coverage, 4)} for lev in result.levels],
        run_id=run_id, mission=mission, units="W m-2 sr-1 nm-1")
    events = []
    td = touchdown_event(result.track, instrument)
    if td is not None:
        events.append(publish_event(td, sol=sol, store=store, catalog=catalog, provenance=prov,
                                    run_id=run_id, mission=mission).output_id)
    return {
        "instrument": instrument, "output_id": pub.output_id, "version": pub.version, "reused": pub.reused,
        "keys": pub.keys, "levels": [{"cell_m": lev.grid.cell_m, "width": lev.grid.width,
                                      "height": lev.grid.height, "frames": len(lev.product_ids),
                                      "coverage": round(lev.coverage, 4)} for lev in result.levels],
        "track": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in p.items()}
                  for p in result.track],
        "skipped": result.skipped, "events": events,
        "pose_rms_px": None if result.poses is None else round(result.poses.rms_after_px, 3),
    }


def sequence_products(frames: Sequence[Any], *, sol: int, store: Store, catalog: Catalog,
                      fps: float = 4.0, run_id: str | None = None, mission: str = "M2020",
                      stabilize: bool = True, max_side: int | None = 1024) -> dict[str, Any]:
    """Video, contact sheet and events of one up-look / rover-view sequence (module docstring).

    Flagged frames (black, saturated, blurred) are left out of the video and the events and
    shown in the contact sheet with their flag.

    Returns
    -------
    dict
        JSON-ready summary: output ids, frame counts, skipped frames, events.
    """
    edl = sorted((EdlFrame.from_chain(f) for f in frames), key=lambda f: (f.time_s, f.product_id))
    if not edl:
        raise MosaicError("no frame")
    instrument = edl[0].instrument
    prov = merged_provenance(frames)
    quality = assess_quality(edl)
    good = [f for f, q in zip(edl, quality) if q.ok]
    skipped = [{"product_id": q.product_id, "reason": q.flag} for q in quality if not q.ok]
    if not good:
        raise MosaicError(f"{instrument}: every frame is flagged")
    shown = display_frames([f.image for f in good], stabilize=stabilize, max_side=max_side)
    used_prov = Provenance(inputs={f.product_id: prov.inputs.get(f.product_id, "") for f in good},
                           calibration=prov.calibration, steps=[*prov.steps, "edl: stabilized video"],
                           software_version=prov.software_version, config_hash=prov.config_hash)
    start, stop = _time(good[0].time_s), _time(good[-1].time_s)
    video = publish_sequence(shown, name=f"{instrument}_video", sol=sol, instrument=instrument, fps=fps,
                             store=store, catalog=catalog, provenance=used_prov, start_time=start,
                             stop_time=stop, run_id=run_id, mission=mission)
    labels = [f"{i}: {f.product_id[9:19]}" for i, f in enumerate(good)]
    sheet = contact_sheet(shown, labels=labels)
    sheet_pub = publish_files(
        {"data": (f"{instrument}_contact_sheet.png", write_png(sheet), ["data", "overview"],
                  pystac.MediaType.PNG, f"{instrument} contact sheet")},
        kind="contact-sheet", name=f"{instrument}_contact_sheet", sol=sol, instrument=instrument,
        store=store, catalog=catalog, provenance=used_prov, start_time=start, stop_time=stop,
        properties={"rovercam:frames": len(shown)}, run_id=run_id, mission=mission)
    events = [publish_event(e, sol=sol, store=store, catalog=catalog, provenance=prov, run_id=run_id,
                            mission=mission).output_id
              for e in detect_events(edl, quality)]
    h, w = shown[0].shape[:2]
    return {"instrument": instrument, "video": video.output_id, "video_key": video.keys["data"],
            "contact_sheet": sheet_pub.output_id, "frames": len(shown), "size": [w, h],
            "skipped": skipped, "events": events}
