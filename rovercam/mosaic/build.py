"""Build one mosaic from calibrated, undistorted frames (the library side of the mosaic stage).

Steps, each configured in ``[mosaic]`` (config/pipeline.toml):

1. geometry: every frame's camera model in SITE_FRAME (label frames chained);
2. pointing refinement (:func:`rovercam.mosaic.refine.refine_pointing`), optional;
3. gain (+ offset) compensation from the overlaps (:func:`rovercam.mosaic.gains.estimate_gains`):
   per-frame correction factors, their common scale as ``gain_scale`` says
   (docs/mosaics.md#the-global-scale);
4. the output grid (:func:`rovercam.mosaic.plan.plan_projection`);
5. tiled rendering with seams and multiband or feather blending
   (:func:`rovercam.mosaic.render.render_mosaic`), with the index map; frame values at or above
   ``saturation`` (0: none) are clipped pixels the resampling kernel does not read.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterable, Sequence

import numpy as np

from rovercam.bands import band_count
from rovercam.chain import Frame
from rovercam.config import MosaicSettings, Settings
from rovercam.errors import ConfigError, MosaicError
from rovercam.mosaic.cylindrical import FrameGeometry, frame_geometry
from rovercam.mosaic.gains import estimate_gains
from rovercam.mosaic.model import Mosaic
from rovercam.mosaic.plan import plan_projection
from rovercam.mosaic.refine import refine_pointing
from rovercam.mosaic.render import FrameStack, RenderOptions, render_mosaic
from rovercam.provenance import Provenance
from rovercam.terrain.dem import DEM

__all__ = ["build_mosaic", "build_cylindrical_mosaic"]

log = logging.getLogger(__name__)

#: Frame units before calibration (stored codes, raw DN): not mosaicked.
_UNCALIBRATED_UNITS = ("code", "dn")


def _check_frame(f: Frame, first: Frame | None) -> None:
    """A calibrated float frame with the same units and band count as the mosaic's first frame.

    Unit names are not listed: any calibrated unit goes (radiance, I/F, relative...), as long as
    every frame of one mosaic shares it.
    """
    if f.units in _UNCALIBRATED_UNITS or not np.issubdtype(f.image.dtype, np.floating):
        raise MosaicError(f"{f.product_id}: mosaics take calibrated float frames, got units {f.units!r} "
                          f"({f.image.dtype})")
    if first is None:
        return
    if f.units != first.units:
        raise MosaicError(f"{f.product_id}: units {f.units!r} differ from {first.product_id}'s {first.units!r}")
    bands, first_bands = band_count(f.image), band_count(first.image)
    if bands != first_bands:
        raise MosaicError(f"{f.product_id}: {bands} band(s), {first.product_id} has {first_bands}; "
                          "group frames by band count (rovercam.mosaic.grouping.split_by_bands)")


def _display_white(cameras: set[tuple[str, str]], first: Frame, settings: Settings) -> float | None:
    """The cameras' display white radiance for absolute radiance mosaics; None otherwise (relative
    values, or no camera gives one), and publishing then scales previews by a percentile."""
    if not first.units.startswith("radiance"):
        return None
    whites = []
    for mission, instrument in sorted(cameras):
        try:
            cam = settings.camera(instrument, mission or None)
        except ConfigError:
            return None
        if cam.display_white_radiance is None:
            return None
        whites.append(cam.display_white_radiance)
    return min(whites) if whites else None


def _scale_frames(name: str, opts: MosaicSettings, ids: Sequence[str], levels: Sequence[int]) -> dict:
    """The global-scale arguments of :func:`estimate_gains` for these frames, checked before any
    work: the reference frame (the one of ``gain_reference`` among them), or the anchors (the
    frames at the highest calibration level present: an unflattened frame among flat-fielded
    ones does not pull the scale)."""
    if opts.gain_scale == "reference":
        named = [pid for pid in opts.gain_reference if pid in ids]
        if len(named) != 1:
            listed = ", ".join(opts.gain_reference)
            problem = "none of" if not named else f"{len(named)} ({', '.join(named)}) of"
            raise MosaicError(f"{name}: mosaic.gain_scale = 'reference' needs exactly one reference frame; "
                              f"{problem} mosaic.gain_reference [{listed}] are among its {len(ids)} frames")
        return {"reference": named[0]}
    if opts.gain_scale == "calibrated":
        top = max(levels)
        return {"anchors": [k for k, lv in enumerate(levels) if lv == top]}
    return {}


def build_mosaic(
    name: str,
    loaders: Sequence[Callable[[], Frame]],
    settings: Settings,
    *,
    dem: DEM | None = None,
    progress: Callable[[str], None] | None = None,
) -> Mosaic:
    """Build a mosaic of the frames ``loaders`` return, as ``settings.mosaic`` says.

    Parameters
    ----------
    name : str
        The mosaic's name.
    loaders : sequence of callables ``() -> Frame``
        One per frame; each may be called several times (geometry, refinement, gains, render),
        so only the frames a step needs are in memory.
    settings : Settings
    dem : DEM, optional
        The terrain (SITE_FRAME) that ``mosaic.surface = "terrain"`` projects a vertical mosaic
        onto (e.g. :func:`rovercam.terrain.dem_from_points` of the stereo pairs' XYZ, merged by
        :func:`rovercam.terrain.merge_dems`); required with that surface, ignored with the
        others (docs/mosaics.md#mosaics-on-the-terrain).

    Raises
    ------
    MosaicError
        A frame not calibrated (units ``"code"``/``"dn"``, or integer pixels); frames of other
        units or band counts than the first frame's; fewer than ``min_frames``; a frame chain
        that does not reach SITE_FRAME; a grid over ``max_pixels``; or ``surface = "terrain"``
        without a DEM.

    Notes
    -----
    Frames may have one band (grayscale cameras: the mosaic is ``(H, W, 1)``) or three; all
    frames of one mosaic share units and band count. ``extra["units"]`` records the units.
    """
    opts = settings.mosaic
    geoms: list[FrameGeometry] = []
    prov, times, instruments, sols, levels = Provenance(), [], set(), set(), []
    cameras: set[tuple[str, str]] = set()
    first: Frame | None = None
    for load in loaders:
        f = load()
        _check_frame(f, first)
        if first is None:
            first = f
        h, w = f.image.shape[:2]
        geoms.append(frame_geometry(f.product_id, f.camera_model, f.camera_frame, f.coordinate_systems, w, h))
        prov = prov.merged(f.provenance)
        if f.start_time:
            times.append(f.start_time)
        instruments.add(f.instrument)
        cameras.add((f.mission, f.instrument))
        sols.add(f.sol)
        levels.append(f.level.level)
    if len(geoms) < opts.min_frames:
        raise MosaicError(f"{name}: {len(geoms)} frame(s), fewer than mosaic.min_frames={opts.min_frames}")
    with_gains = opts.gains != "none" and len(geoms) > 1
    scale_args = _scale_frames(name, opts, [g.product_id for g in geoms], levels) if with_gains else {}

    def pixels(i: int) -> np.ndarray:
        return loaders[i]().image

    if first is None:
        raise MosaicError(f"{name}: no frames")
    extra: dict = {"frames": [g.product_id for g in geoms], "units": first.units, "bands": band_count(first.image)}
    steps = []
    if opts.refine_pointing and len(geoms) > 1:
        try:
            ref = refine_pointing(geoms, pixels, max_error_deg=opts.max_pointing_error_deg)
        except MosaicError as exc:  # too little texture or overlap: keep the label pointing, say so
            log.warning("%s: pointing not refined: %s", name, exc)
            extra["refinement"] = {"status": f"not refined: {exc}"}
        else:
            geoms = ref.geoms
            extra["refinement"] = {"status": "refined", "ties": ref.ties, "pairs": ref.pairs,
                                   "rms_before_px": ref.rms_before_px, "rms_px": ref.rms_px,
                                   "rotations_deg": np.degrees(ref.rotations).round(5).tolist()}
            steps.append(f"pointing refined ({ref.ties} ties, {ref.rms_px:.3f} px RMS)")
    factors = offsets = None
    if with_gains:
        try:
            sol = estimate_gains(geoms, pixels, model=opts.gains, scale=opts.gain_scale, **scale_args)
        except MosaicError as exc:
            log.warning("%s: gains not estimated: %s", name, exc)
            extra["gains_status"] = f"not estimated: {exc}"
        else:
            factors, offsets = sol.factors, sol.offsets
            extra["correction_factors"] = sol.factors.round(6).tolist()
            extra["offsets"] = sol.offsets.tolist()
            if sol.scale == "reference":
                detail = f"reference {scale_args['reference']}"
                extra["gain_scale"] = {"method": sol.scale, "reference": scale_args["reference"]}
            elif sol.scale == "calibrated":
                detail = f"calibrated, {len(scale_args['anchors'])} anchor frame(s)"
                extra["gain_scale"] = {"method": sol.scale,
                                       "anchors": [geoms[k].product_id for k in scale_args["anchors"]]}
            else:
                detail = "mean"
                extra["gain_scale"] = {"method": sol.scale}
            steps.append(f"{opts.gains} compensation ({sol.pairs} pairs, global scale {detail})")
    proj = plan_projection(geoms, opts.projection, surface=opts.surface, scale_deg=opts.scale_deg, width=opts.width,
                           camera_height_m=opts.camera_height_m, sphere_radius_m=opts.sphere_radius_m,
                           vertical_extent_m=opts.vertical_extent_m, max_pixels=opts.max_pixels,
                           dem=dem if opts.surface == "terrain" else None)
    log.info("%s: %d frames -> %dx%d %s", name, len(geoms), proj.width, proj.height, proj.kind)
    stack = FrameStack(geoms, pixels, factors=factors, offsets=offsets, saturation=opts.saturation or None)
    render_opts = RenderOptions(blend=opts.blend, levels=opts.levels or None, feather=opts.feather,
                                tile=opts.tile, workers=opts.workers)
    image, index = render_mosaic(stack, proj, options=render_opts,
                                 progress=(lambda d, t: progress(f"tile {d}/{t}")) if progress else None)
    white = _display_white(cameras, first, settings)
    blend = "multiband" if opts.blend == "multiband" else f"feather {opts.feather:g}"
    prov.steps.append(f"mosaic: {proj.kind.lower()}, surface {opts.surface}, {blend}"
                      + "".join(f", {s}" for s in steps))
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
        extra=extra,
        index=index,
    )


def build_cylindrical_mosaic(
    name: str,
    load_frames: Callable[[], Iterable[Frame]],
    settings: Settings,
    *,
    progress: Callable[[str], None] | None = None,
) -> Mosaic:
    """Compatibility wrapper: ``load_frames()`` yields every frame; holds them all in memory."""
    frames = list(load_frames())
    return build_mosaic(name, [lambda f=f: f for f in frames], settings, progress=progress)
