"""A down-look descent sequence to refined poses, a track and a multi-level orthomosaic.

:func:`solve_descent` runs, for one camera's frames in time order:

1. quality flags (:func:`rovercam.edl.sequence.assess_quality`); flagged frames are skipped;
2. registration of each usable frame to the next one and the one after
   (:func:`rovercam.edl.registration.register_pair`); a failed pair is logged and skipped;
3. joint pose refinement from the tie points and the label poses
   (:func:`rovercam.edl.pose.refine_poses`);
4. the descent track (camera centre and altitude above the ground per frame);
5. the orthomosaic levels (:func:`rovercam.edl.ortho.plan_levels`,
   :func:`rovercam.edl.ortho.mosaic_level`).

Frames without a pose in SITE_FRAME are reported and left out (the label pose is the anchor).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rovercam.edl.ground import Surface
from rovercam.edl.ortho import OrthoLevel, mosaic_level, plan_levels
from rovercam.edl.pose import PoseSolution, TieSet, altitude_above, refine_poses
from rovercam.edl.registration import register_pair
from rovercam.edl.sequence import EdlFrame, Quality, assess_quality
from rovercam.errors import MosaicError

__all__ = ["DescentResult", "solve_descent"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DescentResult:
    """What :func:`solve_descent` found.

    Attributes
    ----------
    instrument : str
    quality : list of Quality
        Every input frame's flag.
    used : list of str
        Product ids that went into the solution, time order.
    models : dict of str -> CAHV
        Refined models (SITE_FRAME).
    track : list of dict
        Per used frame: ``product_id``, ``time_s``, ``north_m``, ``east_m``, ``z_m`` (camera
        centre, SITE_FRAME) and ``altitude_m`` (above the ground below it).
    levels : list of OrthoLevel
        Coarsest first.
    pairs : list of dict
        Per registered pair: ids, inliers, rms_px; failed pairs with ``error``.
    poses : PoseSolution or None
    skipped : list of dict
        Frames left out and why.
    """

    instrument: str
    quality: list[Quality]
    used: list[str] = field(default_factory=list)
    models: dict[str, Any] = field(default_factory=dict)
    track: list[dict[str, Any]] = field(default_factory=list)
    levels: list[OrthoLevel] = field(default_factory=list)
    pairs: list[dict[str, Any]] = field(default_factory=list)
    poses: PoseSolution | None = None
    skipped: list[dict[str, str]] = field(default_factory=list)


def solve_descent(frames: Sequence[EdlFrame], surface: Surface, *, refine: bool = True,
                  links: int = 2, level_factor: float = 4.0, max_side: int = 4096,
                  attitude_sigma_deg: float = 1.0, position_sigma_frac: float = 0.02,
                  build_mosaic: bool = True) -> DescentResult:
    """Solve one down-looking sequence (module docstring).

    Parameters
    ----------
    frames : sequence of EdlFrame
        One camera's frames in time order (:func:`rovercam.edl.sequence.group_sequences`).
    surface : Surface
        The ground: a :class:`~rovercam.edl.ground.Plane` or a DEM.
    refine : bool, keyword-only
        Refine the label poses with tie points (False keeps the label poses).
    links : int
        Each frame is registered to this many following frames.
    level_factor, max_side : float, int
        See :func:`rovercam.edl.ortho.plan_levels`.
    attitude_sigma_deg, position_sigma_frac : float
        Label pose priors (:func:`rovercam.edl.pose.refine_poses`).
    build_mosaic : bool
        False stops after the track.

    Returns
    -------
    DescentResult

    Raises
    ------
    rovercam.errors.MosaicError
        No usable frame with a pose.
    """
    if not frames:
        raise MosaicError("no frame in the descent sequence")
    instrument = frames[0].instrument
    quality = assess_quality(frames)
    result = DescentResult(instrument=instrument, quality=quality)
    good: list[EdlFrame] = []
    for f, q in zip(frames, quality):
        if not q.ok:
            result.skipped.append({"product_id": f.product_id, "reason": q.flag})
        elif f.model is None:
            result.skipped.append({"product_id": f.product_id, "reason": "no SITE_FRAME pose"})
        else:
            good.append(f)
    if not good:
        raise MosaicError(f"{instrument}: no usable frame with a pose")
    ties: list[TieSet] = []
    for i in range(len(good)):
        for j in range(i + 1, min(len(good), i + 1 + links)):
            a, b = good[i], good[j]
            try:
                reg = register_pair(a.image, b.image)
            except MosaicError as e:
                result.pairs.append({"a": a.product_id, "b": b.product_id, "error": str(e)})
                log.info("%s -> %s: not registered (%s)", b.product_id, a.product_id, e)
                continue
            result.pairs.append({"a": a.product_id, "b": b.product_id, "inliers": reg.inliers,
                                 "rms_px": round(reg.rms_px, 3)})
            ties.append(TieSet(i, j, reg.points_a, reg.points_b))
    models = [f.model for f in good]
    if refine and ties:
        result.poses = refine_poses(models, ties, surface, attitude_sigma_deg=attitude_sigma_deg,
                                    position_sigma_frac=position_sigma_frac)
        models = result.poses.models
    result.used = [f.product_id for f in good]
    result.models = dict(zip(result.used, models))
    for f, m in zip(good, models):
        c = np.asarray(m.c, np.float64)
        result.track.append({"product_id": f.product_id, "time_s": f.time_s,
                             "north_m": float(c[0]), "east_m": float(c[1]), "z_m": float(c[2]),
                             "altitude_m": altitude_above(m, surface)})
    if build_mosaic:
        sizes = [(f.image.shape[1], f.image.shape[0]) for f in good]
        for k, (grid, members) in enumerate(plan_levels(models, sizes, surface,
                                                        factor=level_factor, max_side=max_side)):
            lev = mosaic_level(k, grid, [(good[i].product_id, good[i].image, models[i])
                                         for i in members], surface)
            result.levels.append(lev)
    return result
