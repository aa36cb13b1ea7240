"""The frame chain: one product from stored codes to calibrated, linearized radiance.

Stages, in pipeline order (each a plain function ``Frame -> Frame``; tasks/ wraps one per task)::

    frame_from_product -> decompand -> debayer -> flat -> color -> undistort

- ``decompand``: 8-bit codes -> DN through the inverse LUT the label names (never twice).
- ``debayer``: Bayer-encoded single band -> RGB (Malvar-He-Cutler by default), phase from the
  subframe origin. Products decoded onboard or without a CFA pass through.
- ``flat``: bias subtraction, flat-field division, exposure and responsivity -> spectral radiance
  in W m^-2 sr^-1 nm^-1 per camera band.
- ``color``: camera RGB -> CIE XYZ (per-camera ``xyz_from_camera``) -> linear sRGB (D65 matrix):
  radiance expressed on sRGB primaries, what mosaics blend.
- ``undistort``: resample through the camera model's CAHV linearization; the Frame then carries
  the CAHV model of its new pixels.

Every stage appends to ``frame.provenance.steps`` and records the calibration files it read.
"""
from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

import rovercam
from rovercam import camera as _camera
from rovercam import radiometry as _rad
from rovercam.config import CameraSettings, Settings
from rovercam.errors import CalibrationError, ProductError
from rovercam.products.model import CFA, Companding, FrameDefinition, Product, Subframe
from rovercam.provenance import Provenance, sha256_file
from rovercam.storage import npz

__all__ = [
    "Frame",
    "Units",
    "frame_from_product",
    "decompand",
    "debayer",
    "flat",
    "color",
    "undistort",
    "process_product",
    "dumps_frame",
    "loads_frame",
    "STAGES",
]

log = logging.getLogger(__name__)

Units = Literal["code", "dn", "radiance_camera", "radiance_srgb"]

#: Stage names in order; the flow and ``rovercam process`` run them in this order.
STAGES = ("decompand", "debayer", "flat", "color", "undistort")


@dataclass(slots=True)
class Frame:
    """A product's pixels and geometry between chain stages.

    Attributes
    ----------
    image : ndarray
        (lines, samples) or (lines, samples, bands). uint8/uint16 until the first arithmetic,
        float32 after; NaN marks no-data.
    units : {"code", "dn", "radiance_camera", "radiance_srgb"}
    camera_model : CameraModel
        Model of *these* pixels (CAHV after ``undistort``), in ``camera_frame``.
    frames : dict
        Coordinate systems from the label (to reach SITE_FRAME).
    """

    product_id: str
    instrument: str
    image: np.ndarray
    units: Units
    camera_model: Any
    camera_frame: str
    frames: dict[str, FrameDefinition]
    exposure_s: float | None
    companding: Companding
    cfa: CFA
    subframe: Subframe
    downsample: tuple[int, int]
    sol: int | None = None
    site: int | None = None
    drive: int | None = None
    sequence_id: str | None = None
    start_time: _dt.datetime | None = None
    provenance: Provenance = field(default_factory=Provenance)


def frame_from_product(product: Product, *, sha256: str = "", settings: Settings | None = None) -> Frame:
    """Start the chain from a read :class:`~rovercam.products.Product` (pixels required)."""
    if product.image is None:
        raise ProductError(product.path or product.product_id, "product was read without pixels")
    if product.camera_model is None:
        raise ProductError(product.path or product.product_id, "label has no camera model")
    units: Units = "code" if product.companding.state == "companded" else "dn"
    prov = Provenance(
        inputs={product.product_id: sha256},
        software_version=rovercam.__version__,
        config_hash=settings.config_hash if settings else "",
    )
    return Frame(
        product_id=product.product_id,
        instrument=product.instrument,
        image=product.image,
        units=units,
        camera_model=product.camera_model,
        camera_frame=product.camera_frame or "",
        frames=dict(product.frames),
        exposure_s=product.exposure_s,
        companding=product.companding,
        cfa=product.cfa,
        subframe=product.subframe,
        downsample=product.downsample,
        sol=product.sol,
        site=product.site,
        drive=product.drive,
        sequence_id=product.sequence_id,
        start_time=product.start_time,
        provenance=prov,
    )


def _step(frame: Frame, text: str, **changes: Any) -> Frame:
    prov = replace(frame.provenance, steps=[*frame.provenance.steps, text])
    if "calibration" in changes:
        prov.calibration = {**prov.calibration, **changes.pop("calibration")}
    log.info("%s: %s", frame.product_id, text)
    return replace(frame, provenance=prov, **changes)


def _find_calibration_file(rel: str, search_path: tuple[Path, ...], what: str, frame: Frame) -> Path:
    for folder in search_path:
        candidate = folder / rel
        if candidate.is_file():
            return candidate
    where = ", ".join(str(p) for p in search_path) or "(empty search path)"
    raise CalibrationError(rel, f"{what} for {frame.product_id} not found in calibration search path: {where}")


def decompand(frame: Frame, settings: Settings) -> Frame:
    """Undo onboard companding with the inverse LUT the label names (DOMAIN.md §6)."""
    if frame.units != "code" or not _rad.needs_decompanding(frame.companding):
        return _step(frame, f"decompand: not needed (state {frame.companding.state})")
    cam = settings.camera(frame.instrument)
    name = f"{cam.lut_prefix}{frame.companding.lut}"
    lut = _rad.find_lut(name, [folder / "luts" for folder in settings.calibration_path])
    dn = _rad.decompand(frame.image, lut)
    return _step(
        frame,
        f"decompand: {lut.name}",
        image=dn,
        units="dn",
        calibration={Path(lut.source).name: lut.sha256},
    )


def debayer(frame: Frame, settings: Settings) -> Frame:
    """Demosaic a Bayer-encoded single-band frame (phase from the subframe origin)."""
    if frame.cfa.state != "encoded" or frame.image.ndim != 2:
        return _step(frame, f"debayer: not needed (CFA state {frame.cfa.state})")
    if frame.downsample != (1, 1):
        raise ProductError(frame.product_id, f"Bayer-encoded but binned {frame.downsample}: cannot debayer")
    pattern = _rad.cfa_phase(frame.cfa.pattern or "RGGB", frame.subframe.first_line, frame.subframe.first_sample)
    method = settings.chain.debayer
    # Malvar's negative taps can overshoot: clamp to what the detector can produce
    bits = frame.companding.original_bits
    clip = (0.0, float(2**bits - 1)) if bits else (0.0, float(np.max(frame.image)))
    rgb = _rad.debayer(frame.image, pattern, method=method, clip=clip)
    cfa = replace(frame.cfa, state="decoded", venue="GROUND", method=method.upper())
    return _step(frame, f"debayer: {method} {pattern}", image=rgb, cfa=cfa)


def _flat_for(frame: Frame, cam: CameraSettings, settings: Settings) -> tuple[np.ndarray | None, dict[str, str]]:
    if not cam.flat:
        return None, {}
    path = _find_calibration_file(cam.flat, settings.calibration_path, "flat field", frame)
    flat_img = _rad.load_flat(path)
    h, w = frame.image.shape[:2]
    if flat_img.shape[:2] != (h, w):
        raise CalibrationError(
            str(path), f"flat is {flat_img.shape[1]}x{flat_img.shape[0]}, {frame.product_id} is {w}x{h}"
        )
    return flat_img, {path.name: sha256_file(path)}


def flat(frame: Frame, settings: Settings) -> Frame:
    """Bias, flat field, exposure and responsivity: DN -> W m^-2 sr^-1 nm^-1 per camera band."""
    if frame.units != "dn":
        raise ProductError(frame.product_id, f"flat expects DN, got {frame.units} (run decompand first)")
    if not frame.exposure_s or frame.exposure_s <= 0:
        raise ProductError(frame.product_id, f"exposure duration {frame.exposure_s!r} s is not positive")
    cam = settings.camera(frame.instrument)
    work = _rad.subtract_bias(frame.image, cam.bias_dn)
    flat_img, files = _flat_for(frame, cam, settings)
    steps = [f"bias {cam.bias_dn:g} DN"]
    if flat_img is not None:
        work = _rad.apply_flat(work, flat_img, min_flat=settings.chain.min_flat)
        steps.append(f"flat {next(iter(files))}")
    resp = np.asarray(cam.responsivity[: work.shape[2]] if work.ndim == 3 else cam.responsivity[1:2])
    rad = _rad.to_radiance(work, exposure_s=frame.exposure_s, responsivity=resp)
    steps.append(f"radiance t={frame.exposure_s:g}s")
    return _step(frame, "flat: " + ", ".join(steps), image=rad, units="radiance_camera", calibration=files)


def color(frame: Frame, settings: Settings) -> Frame:
    """Camera RGB radiance -> XYZ -> linear sRGB radiance (one 3x3 matrix per pixel)."""
    if frame.units != "radiance_camera":
        raise ProductError(frame.product_id, f"color expects camera radiance, got {frame.units}")
    if frame.image.ndim != 3 or frame.image.shape[2] != 3:
        return _step(frame, "color: single band, no colour transform", units="radiance_srgb")
    cam = settings.camera(frame.instrument)
    srgb_from_camera = _rad.SRGB_FROM_XYZ @ np.asarray(cam.xyz_from_camera, dtype=np.float64)
    out = _rad.apply_color_matrix(frame.image, srgb_from_camera)
    return _step(frame, "color: camera RGB -> XYZ -> linear sRGB (D65)", image=out, units="radiance_srgb")


def undistort(frame: Frame, settings: Settings) -> Frame:
    """Resample onto the CAHV linearization of the frame's model (same size, same C)."""
    h, w = frame.image.shape[:2]
    model = frame.camera_model
    if type(model).__name__ == "CAHV":
        return _step(frame, "undistort: already CAHV")
    linear = _camera.linearize(model, w, h, fov=settings.chain.linearize_fov)
    map_x, map_y = _camera.remap_grid(linear, (w, h), model)
    img = frame.image.astype(np.float32, copy=False)
    out = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
    return _step(
        frame,
        f"undistort: {type(model).__name__} -> CAHV ({settings.chain.linearize_fov} fov)",
        image=out,
        camera_model=linear,
    )


_STAGE_FUNCS = {"decompand": decompand, "debayer": debayer, "flat": flat, "color": color, "undistort": undistort}


def run_stage(name: str, frame: Frame, settings: Settings) -> Frame:
    """Run one named stage (see :data:`STAGES`)."""
    try:
        return _STAGE_FUNCS[name](frame, settings)
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}") from None


def process_product(product: Product, settings: Settings, *, sha256: str = "") -> Frame:
    """Run every stage on one product; what ``rovercam process`` does per product."""
    frame = frame_from_product(product, sha256=sha256, settings=settings)
    for name in STAGES:
        frame = run_stage(name, frame, settings)
    return frame


# --- serialisation between tasks (arrays stay in storage; ids and keys cross task boundaries) ---

def dumps_frame(frame: Frame) -> bytes:
    """Encode a Frame as an .npz blob (image array + JSON metadata)."""
    meta = {
        "product_id": frame.product_id,
        "instrument": frame.instrument,
        "units": frame.units,
        "camera_model": frame.camera_model.to_pds3(),
        "camera_frame": frame.camera_frame,
        "frames": {k: [v.name, list(v.quaternion), list(v.offset), v.reference, list(v.index)] for k, v in frame.frames.items()},
        "exposure_s": frame.exposure_s,
        "companding": [frame.companding.method, frame.companding.lut, frame.companding.state, frame.companding.original_bits],
        "cfa": [frame.cfa.pattern, frame.cfa.state, frame.cfa.venue, frame.cfa.method],
        "subframe": [frame.subframe.first_line, frame.subframe.first_sample, frame.subframe.lines, frame.subframe.samples],
        "downsample": list(frame.downsample),
        "sol": frame.sol,
        "site": frame.site,
        "drive": frame.drive,
        "sequence_id": frame.sequence_id,
        "start_time": frame.start_time.isoformat() if frame.start_time else None,
        "provenance": frame.provenance.to_dict(),
    }
    return npz.pack(frame.image, meta)


def loads_frame(blob: bytes) -> Frame:
    """Inverse of :func:`dumps_frame`."""
    image, meta = npz.unpack(blob)
    frames = {
        k: FrameDefinition(v[0], tuple(v[1]), tuple(v[2]), v[3], tuple(v[4])) for k, v in meta["frames"].items()
    }
    st = meta["start_time"]
    return Frame(
        product_id=meta["product_id"],
        instrument=meta["instrument"],
        image=image,
        units=meta["units"],
        camera_model=_camera.from_pds3(meta["camera_model"]),
        camera_frame=meta["camera_frame"],
        frames=frames,
        exposure_s=meta["exposure_s"],
        companding=Companding(*meta["companding"]),
        cfa=CFA(*meta["cfa"]),
        subframe=Subframe(*meta["subframe"]),
        downsample=tuple(meta["downsample"]),
        sol=meta["sol"],
        site=meta["site"],
        drive=meta["drive"],
        sequence_id=meta["sequence_id"],
        start_time=_dt.datetime.fromisoformat(st) if st else None,
        provenance=Provenance.from_dict(meta["provenance"]),
    )
