"""EDL products: orthomosaics, videos, contact sheets and events, and the end-to-end steps that
turn the calibrated frames of one camera into them.

Thin publishers (files and kind-specific properties; the rest is :mod:`rovercam.publish.core`):
:func:`publish_ortho` (kind ``"ortho"``), :func:`publish_contact_sheet` (``"contact-sheet"``),
:func:`publish_event` (``"event"``); the video is :func:`rovercam.publish.sequence.publish_sequence`.

- :func:`descent_products`: a down-looking camera (RDCAM, LCAM): :func:`~rovercam.edl.descent.solve_descent`,
  then the orthomosaic levels as COGs in the local tangent-plane CRS plus the descent track
  (GeoJSON) (kind ``"ortho"``), and the touchdown event.
- :func:`sequence_products`: an up-look or rover-view camera (PUCAM, RUCAM, DDCAM): the
  stabilized, stretched MP4 (kind ``"sequence"``), a contact sheet PNG (kind ``"contact-sheet"``)
  and the object-in-view events.

Events are catalog outputs of kind ``"event"`` (one small JSON document each, with its STAC
item; lineage = the frame that shows it; start time = that frame's time), so
``catalog.outputs(sol=N, kind="event")`` lists them. Everything goes through
:mod:`rovercam.publish.core` (atomic, versioned, idempotent).
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pystac

from rovercam.catalog.db import Catalog
from rovercam.edl.descent import solve_descent
from rovercam.edl.events import Event, detect_events, touchdown_event
from rovercam.edl.ground import Surface
from rovercam.edl.ortho import local_crs
from rovercam.edl.sequence import EdlFrame, assess_quality
from rovercam.edl.video import contact_sheet, display_frames
from rovercam.catalog.stac import raster_bands
from rovercam.errors import MosaicError, RovercamError
from rovercam.provenance import Provenance
from rovercam.publish.core import (
    COG_MEDIA_TYPE,
    PublishedProduct,
    check_name,
    publish_files,
)
from rovercam.publish.sequence import publish_sequence
from rovercam.storage.raster import thumbnail, write_cog, write_png
from rovercam.storage.store import Store

__all__ = ["descent_products", "sequence_products", "publish_event", "publish_ortho", "publish_contact_sheet",
           "merged_provenance", "GEOJSON_MEDIA_TYPE", "COG_MEDIA_TYPE"]

log = logging.getLogger(__name__)

#: Media type of GeoJSON (RFC 7946).
GEOJSON_MEDIA_TYPE = "application/geo+json"


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


def publish_ortho(
    levels: Iterable[tuple[np.ndarray, Any]],
    *,
    name: str,
    sol: int,
    instrument: str,
    crs: str,
    store: Store,
    catalog: Catalog,
    provenance: Provenance,
    start_time: _dt.datetime,
    stop_time: _dt.datetime | None = None,
    track_geojson: str | None = None,
    level_properties: Iterable[Mapping[str, Any]] | None = None,
    run_id: str | None = None,
    mission: str = "M2020",
    units: str | None = None,
) -> PublishedProduct:
    """Publish a georeferenced orthomosaic (one COG per resolution level), its descent track
    (GeoJSON) and a thumbnail, with the STAC item, then the catalog row (kind ``"ortho"``).

    Parameters
    ----------
    levels : iterable of (image, transform)
        ``image`` (H, W, B) float32 (NaN = no data), coarsest level first; ``transform`` the
        rasterio affine of that level in ``crs``. Written as ``<name>_L<k>.tif`` (asset
        ``level<k>``, role ``data``).
    crs : str
        CRS of every level (PROJ string or WKT), e.g. :func:`rovercam.edl.ortho.local_crs`.
    track_geojson : str, optional
        Written as ``<name>_track.geojson`` (asset ``track``).
    level_properties : iterable of mapping, optional
        Per level, JSON-ready facts (cell size, member frames...) for the STAC item.
    units : str, optional
        Pixel unit (COG band unit).
    name, sol, instrument, store, catalog, provenance, start_time, stop_time, run_id, mission
        As :func:`rovercam.publish.core.publish_output`.

    Returns
    -------
    PublishedProduct
    """
    from rasterio.crs import CRS

    check_name(name)
    levels = list(levels)
    if not levels:
        raise RovercamError(f"{name}: an orthomosaic needs at least one level")
    crs_obj = CRS.from_user_input(crs)
    files: dict[str, tuple[Any, ...]] = {}
    props_levels = []
    extra = list(level_properties or [{} for _ in levels])
    for k, (image, transform) in enumerate(levels):
        image = np.asarray(image, np.float32)
        blob = write_cog(None, image, crs=crs_obj, transform=transform, units=units,
                         band_descriptions=("R", "G", "B") if image.ndim == 3 and image.shape[2] == 3 else None,
                         tags={"ROVERCAM_LEVEL": str(k)})
        # the level's grid in the item's CRS (proj:wkt2): shape (rows, columns) and the affine
        # from pixel corner (column, row) to (x, y) metres, as rasterio gives it
        fields = {"raster:bands": raster_bands(image, unit=units), "proj:shape": [int(image.shape[0]),
                  int(image.shape[1])], "proj:transform": [float(v) for v in tuple(transform)[:6]]}
        files[f"level{k}"] = (f"{name}_L{k}.tif", blob, ["data"], COG_MEDIA_TYPE, f"Orthomosaic level {k}",
                              fields)
        props_levels.append({"asset": f"level{k}", **(extra[k] if k < len(extra) else {})})
    if track_geojson is not None:
        files["track"] = (f"{name}_track.geojson", track_geojson.encode(), ["metadata"], GEOJSON_MEDIA_TYPE,
                          "Descent track (Mars 2000 lon/lat, altitude m)")
    first = np.asarray(levels[0][0], np.float32)
    lum = first if first.ndim == 2 else first[..., :3].mean(axis=2)
    finite = np.isfinite(lum)
    hi = float(np.percentile(lum[finite], 99.5)) if finite.any() else 1.0
    rgb = np.clip(np.nan_to_num(first if first.ndim == 3 else first[..., None]) / max(hi, 1e-30), 0, 1)
    rgb = (np.power(rgb, 1 / 2.2) * 255 + 0.5).astype(np.uint8)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    files["thumbnail"] = (f"{name}_thumb.png", write_png(thumbnail(rgb[..., :3])), ["thumbnail"],
                          pystac.MediaType.PNG, "Thumbnail (coarsest level)")
    # a local tangent plane on Mars has no authority code: proj:code null, the CRS as WKT2
    properties = {"proj:code": None, "proj:wkt2": crs_obj.to_wkt(version="WKT2_2019"),
                  "rovercam:levels": props_levels}
    return publish_files(files, kind="ortho", name=name, sol=sol, instrument=instrument, store=store,
                         catalog=catalog, provenance=provenance, start_time=start_time, stop_time=stop_time,
                         properties=properties, run_id=run_id, mission=mission)


def publish_contact_sheet(sheet: np.ndarray, *, name: str, sol: int, instrument: str, frames: int,
                          store: Store, catalog: Catalog, provenance: Provenance, start_time: _dt.datetime,
                          stop_time: _dt.datetime | None = None, run_id: str | None = None,
                          mission: str = "M2020") -> PublishedProduct:
    """Publish a contact sheet as ``<name>.png`` (kind ``"contact-sheet"``, asset ``data``, roles
    data and overview).

    Parameters
    ----------
    sheet : (H, W, 3) uint8
        The sheet (:func:`rovercam.edl.video.contact_sheet`).
    frames : int
        How many frames it shows (``rovercam:frames``).
    name, sol, instrument, store, catalog, provenance, start_time, stop_time, run_id, mission
        As :func:`rovercam.publish.core.publish_output`.
    """
    check_name(name)
    files = {"data": (f"{name}.png", write_png(sheet), ["data", "overview"], pystac.MediaType.PNG,
                      f"{instrument} contact sheet")}
    return publish_files(files, kind="contact-sheet", name=name, sol=sol, instrument=instrument, store=store,
                         catalog=catalog, provenance=provenance, start_time=start_time, stop_time=stop_time,
                         properties={"rovercam:frames": int(frames)}, run_id=run_id, mission=mission)


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
    sheet_pub = publish_contact_sheet(
        sheet, name=f"{instrument}_contact_sheet", sol=sol, instrument=instrument, frames=len(shown),
        store=store, catalog=catalog, provenance=used_prov, start_time=start, stop_time=stop, run_id=run_id,
        mission=mission)
    events = [publish_event(e, sol=sol, store=store, catalog=catalog, provenance=prov, run_id=run_id,
                            mission=mission).output_id
              for e in detect_events(edl, quality)]
    h, w = shown[0].shape[:2]
    return {"instrument": instrument, "video": video.output_id, "video_key": video.keys["data"],
            "contact_sheet": sheet_pub.output_id, "frames": len(shown), "size": [w, h],
            "skipped": skipped, "events": events}
