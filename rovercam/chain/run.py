"""The chain's stages and how they run: one by one (:func:`run_stage`) or fused (:func:`run_chain`).

Each stage is its plan (:mod:`rovercam.chain.plan`) then its pixel work
(:mod:`rovercam.chain.pixels`) on the whole frame. :func:`run_chain` plans every stage first,
then does the pixel work of all of them strip by strip of output lines.
"""
from __future__ import annotations

import logging
from dataclasses import fields, replace
from typing import Any

import numpy as np

from rovercam import radiometry as _rad
from rovercam.chain.frame import Frame, calibration_level, frame_from_product
from rovercam.chain.pixels import STRIP_LINES, RowCache, apply_color, apply_debayer, apply_flat, footprints, remap
from rovercam.chain.plan import (
    PLANNERS,
    Plan,
    plan_color,
    plan_debayer,
    plan_decompand,
    plan_flat,
    plan_undistort,
)
from rovercam.config import Settings
from rovercam.products.model import Product, ProductMeta
from rovercam.provenance import CalibrationLevel

__all__ = ["STAGES", "decompand", "debayer", "flat", "color", "undistort", "run_stage", "run_chain",
           "expected_level", "process_product", "step"]

log = logging.getLogger("rovercam.chain")

#: Stage names in order; the flow and ``rovercam process`` run them in this order.
STAGES = ("decompand", "debayer", "flat", "color", "undistort")

#: ProductMeta fields a stage may change (``cfa``, ``camera_model``); a name the Frame has itself
#: (``radiometric_type``) is the Frame's.
_META_FIELDS = frozenset(f.name for f in fields(ProductMeta)) - {f.name for f in fields(Frame)}


def step(frame: Frame, text: str, **changes: Any) -> Frame:
    """``frame`` after one stage: ``text`` appended to its provenance steps, ``changes`` applied.

    ``changes`` may name Frame fields and :class:`~rovercam.products.model.ProductMeta` fields
    (``cfa``, ``camera_model``); ``calibration`` (file name -> sha256) merges into the
    provenance, ``missing`` extends the frame's missing pieces.
    """
    prov = replace(frame.provenance, steps=[*frame.provenance.steps, text])
    if "calibration" in changes:
        prov.calibration = {**prov.calibration, **changes.pop("calibration")}
    if "missing" in changes:
        changes["missing"] = tuple(dict.fromkeys([*frame.missing, *changes["missing"]]))
    meta_changes = {k: changes.pop(k) for k in list(changes) if k in _META_FIELDS}
    if meta_changes:
        changes["meta"] = replace(frame.meta, **meta_changes)
    log.info("%s: %s", frame.product_id, text)
    out = replace(frame, provenance=prov, **changes)
    out.provenance.level = calibration_level(out)
    return out


# --- the stages ------------------------------------------------------------------------------------

def decompand(frame: Frame, settings: Settings) -> Frame:
    """Undo onboard companding with the inverse LUT the label names (docs/calibration.md, step 1)."""
    plan = plan_decompand(frame, settings)
    if "lut" not in plan.op:
        return step(frame, plan.text, **plan.changes)
    dn = _rad.decompand(frame.image, plan.op["lut"])
    return step(frame, plan.text, image=dn, calibration=plan.calibration, **plan.changes)


def debayer(frame: Frame, settings: Settings) -> Frame:
    """Repair bad photosites and demosaic a Bayer-encoded single-band frame (phase from the subframe
    origin; Malvar, He & Cutler 2004 by default)."""
    plan = plan_debayer(frame, settings)
    if not plan.op:
        return step(frame, plan.text, **plan.changes)
    return step(frame, plan.text, image=apply_debayer(frame.image, plan.op), calibration=plan.calibration,
                **plan.changes)


def flat(frame: Frame, settings: Settings) -> Frame:
    """Bias, bad pixels, onboard and ground flats, exposure and responsivity: DN -> radiance (or I/F)."""
    plan = plan_flat(frame, settings)
    return step(frame, plan.text, image=apply_flat(frame.image, plan.op), calibration=plan.calibration,
                **plan.changes)


def color(frame: Frame, settings: Settings) -> Frame:
    """Optional white balance, then camera RGB -> XYZ -> linear sRGB (one 3x3 matrix per pixel)."""
    plan = plan_color(frame, settings)
    if not plan.op:
        return step(frame, plan.text, **plan.changes)
    return step(frame, plan.text, image=apply_color(frame.image, plan.op), **plan.changes)


def undistort(frame: Frame, settings: Settings) -> Frame:
    """Resample onto the CAHV linearization of the frame's model (same size, same C)."""
    plan = plan_undistort(frame, settings)
    if not plan.op:
        return step(frame, plan.text)
    img = _rad.as_working(frame.image)
    return step(frame, plan.text, image=remap(img, *plan.op["maps"]), **plan.changes)


_STAGE_FUNCS = {"decompand": decompand, "debayer": debayer, "flat": flat, "color": color, "undistort": undistort}


def run_stage(name: str, frame: Frame, settings: Settings) -> Frame:
    """Run one named stage (see :data:`STAGES`)."""
    try:
        func = _STAGE_FUNCS[name]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}") from None
    return func(frame, settings)


# --- the whole chain, fused and strip by strip ------------------------------------------------------

def _fusable(frame: Frame, settings: Settings) -> bool:
    """Whether :func:`run_chain` can fuse: integer pixels, a local debayer, no image statistic."""
    return (
        frame.units in ("code", "dn")
        and frame.image.dtype.kind in "ui"
        and settings.chain.white_balance != "grey_world"  # needs the whole debayered frame first
        and settings.chain.debayer in ("malvar", "bilinear")  # OpenCV's own border rules differ
    )


def _placeholder(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A zero-memory stand-in image of the right shape and dtype for planning."""
    return np.broadcast_to(np.zeros((), dtype=dtype), shape)


def run_chain(frame: Frame, settings: Settings, *, fused: bool = True) -> Frame:
    """Run all five stages on a frame.

    Parameters
    ----------
    frame : Frame
        As :func:`frame_from_product` makes it.
    settings : Settings
    fused : bool, keyword-only
        Plan every stage first, then do the pixel work of all of them strip by strip of output
        lines (package docstring): the fast, lean path. False, or a frame it cannot fuse
        (float pixels, OpenCV demosaickers, grey-world white balance), runs
        :func:`run_stage` five times instead. Both give the same frame (pixels to float32
        rounding, provenance exactly).

    Returns
    -------
    Frame
        Calibrated (radiance or I/F on sRGB primaries, or one band), linearized; float32.
    """
    if not (fused and _fusable(frame, settings)):
        for name in STAGES:
            frame = run_stage(name, frame, settings)
        return frame
    src = frame.image
    h, w = src.shape[:2]
    plans: dict[str, Plan] = {}
    virt = frame
    for name in STAGES:
        kwargs: dict[str, Any] = {}
        if name == "debayer" and virt.cfa.state == "encoded" and not virt.companding.original_bits:
            lut = plans["decompand"].op.get("lut")
            top = int(src.max())
            kwargs["dn_max"] = float(lut.values[top]) if lut is not None else float(top)
        plan = PLANNERS[name](virt, settings, **kwargs)
        plans[name] = plan
        if name == "decompand" and plan.op:
            image = _placeholder(src.shape, np.uint16)
        elif name == "debayer" and plan.op:
            image = _placeholder((h, w, 3), np.float32)
        elif name in ("flat", "color"):
            image = _placeholder(virt.image.shape, np.float32)
        else:
            image = virt.image
        virt = step(virt, plan.text, image=image, calibration=plan.calibration, **plan.changes)
    bands = virt.image.shape[2:] if virt.image.ndim == 3 else ()
    out = np.empty((h, w) + bands, dtype=np.float32)
    uplan = plans["undistort"]
    maps = uplan.op.get("maps")
    rows = RowCache(src, plans)
    if maps is None:
        for y0 in range(0, h, STRIP_LINES):
            out[y0:min(h, y0 + STRIP_LINES)] = rows.get(y0, min(h, y0 + STRIP_LINES))
        return replace(virt, image=out)
    for y0, y1, ya, yb in footprints(uplan.changes["camera_model"], frame.camera_model, w, h):
        if ya < 0:
            out[y0:y1] = np.nan
            continue
        remap(rows.get(ya, yb), maps[0][y0:y1], maps[1][y0:y1] - np.float32(ya), dst=out[y0:y1])
    return replace(virt, image=out)


def expected_level(product: Product, settings: Settings) -> CalibrationLevel:
    """The calibration level the chain will give ``product``, planned from its metadata and the
    registry without any pixel work (``rovercam inspect``; works on labels read without pixels).

    Raises
    ------
    CalibrationError
        With ``[calibration] strict``, what is missing.
    """
    if product.image is not None:
        shape: tuple[int, ...] = product.image.shape
    else:
        ds_l, ds_s = product.downsample
        lines = (product.subframe.lines or ds_l) // ds_l
        samples = (product.subframe.samples or ds_s) // ds_s
        bands = 3 if product.cfa.state == "decoded" else 1
        shape = (lines, samples) if bands == 1 else (lines, samples, bands)
    stand_in = replace(product, image=_placeholder(shape, np.uint8 if product.companding.state == "companded"
                                                   else np.uint16))
    frame = frame_from_product(stand_in, settings=settings)
    for name in STAGES[:-1]:  # undistort changes no level
        plan = PLANNERS[name](frame, settings)
        if name == "decompand" and plan.op:
            image = _placeholder(frame.image.shape, np.uint16)
        elif name == "debayer" and plan.op:
            image = _placeholder(frame.image.shape[:2] + (3,), np.float32)
        elif name in ("flat", "color"):
            image = _placeholder(frame.image.shape, np.float32)
        else:
            image = frame.image
        frame = step(frame, plan.text, image=image, calibration=plan.calibration, **plan.changes)
    return frame.level


def process_product(product: Product, settings: Settings, *, sha256: str = "") -> Frame:
    """Run every stage on one product; what ``rovercam process`` does per product."""
    return run_chain(frame_from_product(product, sha256=sha256, settings=settings), settings)
