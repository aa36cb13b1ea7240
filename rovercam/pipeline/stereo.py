"""The ``stereo`` stage's work, without an orchestrator: pairs, 3-D products, meshes, terrain.

For one sol, after ``calibrate`` (docs/stereo.md#pipeline):

1. :func:`find_pairs`: the stereo pairs among the calibrated frames (their heads alone:
   :func:`rovercam.pipeline.pairing.pair_frames`), and the frames of stereo cameras left unpaired;
2. :func:`stereo_pair`: per pair, the frames' models in SITE_FRAME (:func:`site_models`), the
   stereo products (:func:`pair_products`, the one call of
   :func:`rovercam.stereo.stereo_products`), the pair's mesh (:func:`pair_mesh`) and the
   ``"stereo"`` output (:func:`rovercam.publish.stereo.publish_stereo`);
3. :func:`site_terrain`: per site and drive, one DEM per pair from its published XYZ, merged,
   its mesh, and the ``"terrain"`` output (:func:`rovercam.publish.stereo.publish_terrain`).

Then the ``mosaic`` stage's ``[mosaic] surface = "terrain"`` mosaics take the terrains of their
frames' sites and drives (:func:`mosaic_terrains`), read back from the published ``dem.tif``
(:func:`stored_dem`, :func:`mosaic_dem`).

Each step returns a small JSON-ready record (store keys, never pixels): what the sol report lists
and what the next step reads. The cache keys of steps 2 and 3 are
:func:`rovercam.cachekey.stereo_key` and :func:`rovercam.cachekey.terrain_key`.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from rovercam import cachekey, layout
from rovercam.camera.coordinates import transform_between
from rovercam.config import Settings
from rovercam.errors import CameraModelError, ConfigError, MosaicError, RovercamError
from rovercam.pipeline.pairing import Pairing, StereoPair, pair_frames
from rovercam.pipeline.results import FrameRef, TerrainRef
from rovercam.products.model import ProductMeta
from rovercam.provenance import Provenance
from rovercam.storage import Store, arrayblob

if TYPE_CHECKING:
    from rovercam.chain import Frame
    from rovercam.config import StereoSettings
    from rovercam.stereo.products import StereoProducts
    from rovercam.terrain.dem import DEM
    from rovercam.terrain.mesh import Mesh

__all__ = ["STEREO_FRAME", "frame_head", "find_pairs", "partner_lookup", "site_models", "stereo_settings",
           "pair_products", "pair_mesh", "stereo_pair", "terrain_groups", "site_terrain", "terrain_points",
           "stored_dem", "mosaic_terrains", "mosaic_dem"]

log = logging.getLogger(__name__)

#: The frame stereo products and terrain are published in.
STEREO_FRAME = "SITE_FRAME"
#: The configuration sections stereo outputs depend on (their ``config_hash``): their frames'
#: and the stereo stage's own, as in their keys (:func:`rovercam.cachekey.stereo_key`).
STEREO_SECTIONS = (*cachekey.STAGE_SECTIONS["calibrate"], *cachekey.STAGE_SECTIONS["stereo"])


def frame_head(store: Store, key: str) -> tuple[ProductMeta, tuple[int, int]]:
    """A stored calibrated frame's metadata and (H, W), from the blob's head only."""
    from rovercam.chain.codec import decode_record

    with store.open(key) as f:
        shape, _, head = arrayblob.peek(f)
    meta = decode_record(ProductMeta, head["frame"]["meta"], where=key)
    return meta, (int(shape[0]), int(shape[1]))


def partner_lookup(settings: Settings) -> Callable[[str, str], str | None]:
    """``(mission, instrument) -> stereo_partner`` from the camera registry (None: unknown camera)."""
    def partner(mission: str, instrument: str) -> str | None:
        try:
            return settings.camera(instrument, mission).stereo_partner
        except ConfigError:
            return None

    return partner


def find_pairs(store: Store, frames: Sequence[FrameRef], settings: Settings) -> Pairing:
    """The stereo pairs among a sol's calibrated frames (``[stereo_stage] pair_tolerance_s``)."""
    heads = [frame_head(store, ref.key) for ref in frames]
    return pair_frames([m for m, _ in heads], partner_lookup(settings),
                       tolerance_s=settings.stereo_stage.pair_tolerance_s,
                       shapes={m.product_id: s for m, s in heads})


def site_models(left: "Frame", right: "Frame", *, target: str = STEREO_FRAME) -> tuple[Any, Any]:
    """Both frames' camera models in ``target`` (their label frames chained to it).

    Raises
    ------
    CameraModelError
        A frame without a camera model, or whose label frames do not reach ``target``.
    """
    out = []
    for f in (left, right):
        if f.camera_model is None or not f.camera_frame:
            raise CameraModelError(f"{f.product_id}: no camera model to triangulate with")
        try:
            t_target_camera = transform_between(f.coordinate_systems, f.camera_frame, target)
        except CameraModelError as exc:
            raise CameraModelError(f"{f.product_id}: {exc}") from None
        out.append(f.camera_model.transformed(t_target_camera.r, t_target_camera.t))
    return out[0], out[1]


def stereo_settings(left: "Frame", settings: Settings) -> "StereoSettings | None":
    """``[stereo]`` with the left eye's camera overrides (``[stereo.cameras.<INSTRUMENT_ID>]``)."""
    stereo = getattr(settings, "stereo", None)
    return None if stereo is None else stereo.for_camera(getattr(left, "instrument", None))


def pair_products(left: "Frame", right: "Frame", settings: Settings) -> "StereoProducts":
    """The pair's stereo products in SITE_FRAME (``[stereo]`` settings): the stage's one call of
    :func:`rovercam.stereo.stereo_products`."""
    from rovercam.stereo import stereo_products

    left_model, right_model = site_models(left, right)
    return stereo_products(np.asarray(left.image, np.float32), np.asarray(right.image, np.float32),
                           left_model, right_model, frame=STEREO_FRAME, settings=stereo_settings(left, settings))


def _display(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 colours of a rectified image (percentile white, sRGB curve)."""
    from rovercam.radiometry import percentile_white, to_display

    a = np.asarray(image, np.float32)
    a = a[..., None] if a.ndim == 2 else a[..., :3]
    try:
        white = percentile_white(a)
    except ValueError:
        white = 1.0
    shown = to_display(a, white_radiance=white)
    shown = shown if shown.ndim == 3 else shown[..., None]
    return np.ascontiguousarray(np.repeat(shown, 3, axis=2) if shown.shape[2] == 1 else shown)


def pair_mesh(products: "StereoProducts", settings: Settings) -> "Mesh | None":
    """The pair's mesh, decimated to ``[stereo_stage] mesh_max_error_m`` and coloured by the
    rectified left image; None when no pixel has XYZ."""
    from rovercam.terrain.mesh import mesh_from_xyz

    if not products.valid.any():
        return None
    return mesh_from_xyz(products.xyz, max_error_m=settings.stereo_stage.mesh_max_error_m, frame=products.frame,
                         colors=_display(products.left_rectified), viewpoint=products.left_model.c)


def stereo_pair(pair: StereoPair, load: Callable[[str], "Frame"], *, sol: int, store: Store, catalog: Any,
                settings: Settings, run_id: str | None = None) -> dict[str, Any]:
    """Stereo products, mesh and ``"stereo"`` output of one pair.

    Parameters
    ----------
    pair : StereoPair
    load : callable ``product id -> Frame``
        The pair's calibrated frames.
    sol, store, catalog, run_id
        Where the output goes.
    settings : Settings

    Returns
    -------
    dict
        JSON-ready: ``name``, ``left``, ``right``, ``instrument``, ``site``, ``drive``,
        ``output_id``, ``version``, ``reused``, ``keys`` (asset -> store key), ``inputs``
        (product id -> sha256), ``valid_fraction``, ``mesh_faces``, ``start_time``, ``stop_time``.

    Raises
    ------
    CameraModelError
        The frames cannot be triangulated (no model, frames that do not reach SITE_FRAME).
    """
    from rovercam.publish.stereo import publish_stereo

    left, right = load(pair.left), load(pair.right)
    products = pair_products(left, right, settings)
    mesh = pair_mesh(products, settings)
    times = [t for t in (left.start_time, right.start_time) if t is not None]
    inputs = {f.product_id: f.provenance.inputs.get(f.product_id, "") for f in (left, right)}
    # the pair depends on its frames' sections and the stereo ones, not on [mosaic]
    prov = replace(left.provenance.merged(right.provenance), config_hash=settings.sections_hash(*STEREO_SECTIONS))
    name = layout.stereo_name(pair.left)
    instrument = f"{pair.left_instrument}+{pair.right_instrument}"
    pub = publish_stereo(
        products, name=name, sol=sol, store=store, catalog=catalog,
        left=(pair.left, inputs[pair.left]), right=(pair.right, inputs[pair.right]), instrument=instrument,
        start_time=min(times) if times else None, stop_time=max(times) if times else None,  # type: ignore[arg-type]
        mesh=mesh, provenance=prov, run_id=run_id, mission=left.mission,
        thumbnail_side=settings.publish.thumbnail_max_side,
        properties={"rovercam:dt_s": pair.dt_s, "rovercam:site": left.site, "rovercam:drive": left.drive,
                    "rovercam:sequence_id": left.sequence_id})
    valid = float(products.valid.mean())
    log.info("%s: stereo %s v%d, %.1f %% of pixels with XYZ", name, "reused" if pub.reused else "published",
             pub.version, 100 * valid)
    return {"name": name, "left": pair.left, "right": pair.right, "instrument": instrument, "mission": left.mission,
            "site": left.site, "drive": left.drive, "output_id": pub.output_id, "version": pub.version,
            "reused": pub.reused, "keys": dict(pub.keys), "inputs": inputs, "valid_fraction": round(valid, 4),
            "mesh_faces": 0 if mesh is None else int(len(mesh.faces)),
            "start_time": min(times).isoformat() if times else None,
            "stop_time": max(times).isoformat() if times else None}


def terrain_groups(pairs: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Published pairs (:func:`stereo_pair` records) by terrain output name (site and drive),
    names sorted, pairs in input order."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for p in pairs:
        out.setdefault(layout.terrain_name(p.get("site"), p.get("drive")), []).append(p)
    return dict(sorted(out.items()))


def _stored_bands(store: Store, key: str) -> np.ndarray:
    """(H, W, B) float32 bands of a published float COG (``xyz.tif``, ``range.tif``)."""
    from rasterio.io import MemoryFile

    with MemoryFile(store.read_bytes(key)) as mem, mem.open() as ds:
        return np.moveaxis(ds.read(), 0, -1).astype(np.float32)


def terrain_points(xyz: np.ndarray, rng: np.ndarray, max_range_m: float) -> np.ndarray:
    """The points of an XYZ image that go into the terrain: those within ``max_range_m``.

    Parameters
    ----------
    xyz : (H, W, 3) float array
        Metres; NaN where invalid.
    rng : (H, W) float array
        Range of each point from its left camera, metres; NaN where invalid.
    max_range_m : float

    Returns
    -------
    (H, W, 3) float32 array
        ``xyz`` with NaN beyond the range.
    """
    out = np.array(xyz, np.float32, copy=True)
    with np.errstate(invalid="ignore"):
        out[~(rng <= max_range_m)] = np.nan
    return out


def site_terrain(name: str, pairs: Sequence[Mapping[str, Any]], *, sol: int, store: Store, catalog: Any,
                 settings: Settings, run_id: str | None = None) -> dict[str, Any]:
    """The merged DEM and mesh of one site and drive's pairs, published as ``"terrain"``.

    Parameters
    ----------
    name : str
        :func:`rovercam.layout.terrain_name` of the site and drive.
    pairs : sequence of dict
        The site and drive's published pairs (:func:`stereo_pair` records).
    sol, store, catalog, settings, run_id
        As :func:`stereo_pair`.

    Returns
    -------
    dict
        JSON-ready: ``name``, ``pairs``, ``output_id``, ``version``, ``reused``, ``keys``,
        ``cells`` (known heights), ``mesh_faces``. When no pair has a point within
        ``[stereo_stage] terrain_max_range_m`` (pairs of the sky or of far terrain), nothing is
        published and the record is ``name``, ``pairs`` and ``skipped`` (the reason).
    """
    from rovercam.publish.stereo import publish_terrain
    from rovercam.terrain.dem import dem_from_points, merge_dems
    from rovercam.terrain.mesh import mesh_from_heights

    cell = settings.stereo_stage.terrain_cell_m
    dems = []
    for p in pairs:
        xyz = terrain_points(_stored_bands(store, p["keys"]["xyz"]), _stored_bands(store, p["keys"]["range"])[..., 0],
                             settings.stereo_stage.terrain_max_range_m)
        if np.isfinite(xyz).all(axis=2).any():
            dems.append(dem_from_points(xyz, cell_m=cell, frame=STEREO_FRAME))
    if not dems:  # pairs of sky or far terrain: nothing to grid, which is not an error
        reason = (f"no pair has XYZ within [stereo_stage] terrain_max_range_m = "
                  f"{settings.stereo_stage.terrain_max_range_m:g} m of its left camera")
        log.warning("%s: no terrain: %s", name, reason)
        return {"name": name, "pairs": [p["name"] for p in pairs], "skipped": reason}
    dem = merge_dems(dems) if len(dems) > 1 else dems[0]
    mesh = mesh_from_heights(dem.heights, dem.origin, dem.cell_m,
                             max_error_m=settings.stereo_stage.mesh_max_error_m, frame=dem.frame)
    inputs = {pid: sha for p in pairs for pid, sha in p["inputs"].items()}
    starts = [_dt.datetime.fromisoformat(t) for p in pairs for t in (p.get("start_time"), p.get("stop_time")) if t]
    instruments = "+".join(sorted({i for p in pairs for i in p["instrument"].split("+")}))
    pub = publish_terrain(
        dem, mesh, name=name, sol=sol, store=store, catalog=catalog, inputs=inputs, instrument=instruments,
        start_time=min(starts) if starts else None, stop_time=max(starts) if starts else None,  # type: ignore[arg-type]
        provenance=Provenance(steps=[f"stereo: {len(pairs)} pair(s)"],
                              config_hash=settings.sections_hash(*STEREO_SECTIONS)), run_id=run_id,
        mission=pairs[0].get("mission", "M2020"), thumbnail_side=settings.publish.thumbnail_max_side,
        properties={"rovercam:pairs": [p["output_id"] for p in pairs]})
    return {"name": name, "pairs": [p["name"] for p in pairs], "output_id": pub.output_id, "version": pub.version,
            "reused": pub.reused, "keys": dict(pub.keys), "cells": int(np.isfinite(dem.heights).sum()),
            "mesh_faces": int(len(mesh.faces))}


def stored_dem(store: Store, key: str) -> "DEM":
    """The DEM of a published ``dem.tif`` (:func:`rovercam.publish.stereo.publish_terrain`), as
    it was published: float32 heights (NaN unknown), the origin, cell size and frame from the
    file's tags (written exactly: JSON and ``repr`` floats), checked against its geotransform
    (:func:`rovercam.publish.stereo.dem_transform`).

    Raises
    ------
    RovercamError
        The file has no DEM tags, or a geotransform that disagrees with them.
    StorageError
        ``key`` does not read.
    """
    from rasterio.io import MemoryFile

    from rovercam.publish.stereo import dem_transform
    from rovercam.terrain.dem import DEM

    with MemoryFile(store.read_bytes(key)) as mem, mem.open() as ds:
        heights = ds.read(1).astype(np.float32, copy=False)
        tags, transform = ds.tags(), ds.transform
    try:
        x0, y0 = (float(v) for v in json.loads(tags["origin"]))
        dem = DEM(heights, (x0, y0), float(tags["cell_m"]), tags.get("frame", STEREO_FRAME))
    except (KeyError, TypeError, ValueError) as exc:
        raise RovercamError(f"{key}: not a published terrain DEM (its origin and cell_m tags: {exc})") from None
    if not transform.almost_equals(dem_transform(dem), precision=1e-9):
        raise RovercamError(f"{key}: geotransform {tuple(transform)[:6]} disagrees with its origin {dem.origin} "
                            f"and cell_m {dem.cell_m} tags")
    return dem


def mosaic_terrains(name: str, terrain_names: Sequence[str], available: Sequence[TerrainRef] | None,
                    settings: Settings) -> tuple[TerrainRef, ...]:
    """The terrains a ``[mosaic] surface = "terrain"`` mosaic is projected onto: those of its
    frames' sites and drives (``terrain_names``, :attr:`rovercam.pipeline.MosaicPlan.terrain`)
    among the stereo stage's (``available``: :attr:`rovercam.pipeline.StereoResult.dems`; None
    when the stage did not run).

    Raises
    ------
    MosaicError
        Naming the setting: the stereo stage is off, it publishes no terrain, or it published
        none for one of the mosaic's sites and drives. A terrain mosaic never falls back to
        another surface.
    """
    if not settings.stereo_stage.enabled or available is None:
        raise MosaicError(f"{name}: [mosaic] surface = 'terrain' needs the stereo stage: "
                          "set [stereo_stage] enabled = true")
    if not settings.stereo_stage.terrain:
        raise MosaicError(f"{name}: [mosaic] surface = 'terrain' needs the sites' terrain: "
                          "set [stereo_stage] terrain = true")
    by_name = {t.name: t for t in available}
    missing = [n for n in terrain_names if n not in by_name]
    if missing or not terrain_names:
        raise MosaicError(f"{name}: [mosaic] surface = 'terrain': the stereo stage published no terrain "
                          f"{', '.join(missing) or 'for its frames'} (no stereo pair there, or its pairs or "
                          "terrain failed: see the run's stereo and terrain failures and unpaired frames)")
    return tuple(by_name[n] for n in terrain_names)


def mosaic_dem(store: Store, terrains: Sequence[TerrainRef]) -> "DEM":
    """One DEM of ``terrains`` (:func:`mosaic_terrains`): the published one, or several merged
    (:func:`rovercam.terrain.merge_dems`, in the given order)."""
    from rovercam.terrain.dem import merge_dems

    if not terrains:
        raise MosaicError("no terrain to make a DEM of")
    dems = [stored_dem(store, t.dem) for t in terrains]
    return merge_dems(dems) if len(dems) > 1 else dems[0]
