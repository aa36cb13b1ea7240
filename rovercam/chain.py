"""The frame chain: one product from stored codes to calibrated, linearized radiance.

Stages, in pipeline order (each a plain function ``Frame -> Frame``; tasks/ wraps one per task)::

    frame_from_product -> decompand -> debayer -> flat -> color -> undistort

- ``decompand``: 8-bit codes -> DN through the inverse LUT the label names (never twice); the
  camera's ``luts`` table maps label ids to dated files (``LUT2 -> M20_LUT2_v2a``).
- ``debayer``: bad photosites repaired on the mosaic, then Bayer single band -> RGB (Malvar-He-
  Cutler by default; bilinear, OpenCV edge-aware or VNG), phase from the subframe origin.
  Products decoded onboard, without a CFA, or binned (the 2x2 cell averaged into one band) pass
  through.
- ``flat``: bias, bad pixels (when not repaired on the mosaic), undoing an onboard radial flat
  (FLAT_FIELD_CORRECTION_PARM), the ground flat, exposure (plus overhead), responsivity at the
  detector temperature and zoom f-number -> spectral radiance in W m^-2 sr^-1 nm^-1 per camera
  band; optionally divided by MIPL's zenith factor, or converted to I/F (``[chain] quantity``).
- ``color``: optional white balance (none / fixed / grey world), camera RGB -> CIE XYZ
  (per-camera ``xyz_from_camera``) -> linear sRGB (D65 matrix).
- ``undistort``: one resampling through the CAHV linearization of the model; the Frame then
  carries the CAHV model of its new pixels.

:func:`run_chain` (what :func:`process_product` and ``rovercam process`` use) runs all five at
once: every stage is first *planned* from the frame's metadata (calibration files found and
checked, provenance written), then the pixel work of all stages runs fused, strip by strip of
output lines (input lines are read through the remap grid's footprint, with a halo for the
5x5 filters), so the working set is a few hundred lines and the only full-size allocation is the
output. The result equals running the stages one by one (float32 rounding aside; tested).

Every stage appends to ``frame.provenance.steps`` and records the calibration files it read.
"""
from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

import rovercam
from rovercam import camera as _camera
from rovercam import radiometry as _rad
from rovercam.config import Settings
from rovercam.errors import ProductError
from rovercam.products.model import CFA, Companding, CoordinateSystem, Product, Subframe
from rovercam.provenance import CalibrationLevel, Provenance
from rovercam.stageplan import (
    _PLANNERS,
    _STRIP_LINES,
    _apply_color,
    _apply_debayer,
    _apply_flat,
    _footprints,
    _Plan,
    _plan_color,
    _plan_debayer,
    _plan_decompand,
    _plan_flat,
    _plan_undistort,
    _remap,
    _RowCache,
)
from rovercam.storage import arrayblob

__all__ = [
    "Frame",
    "Units",
    "RadiometricType",
    "frame_from_product",
    "decompand",
    "debayer",
    "flat",
    "color",
    "undistort",
    "run_stage",
    "run_chain",
    "process_product",
    "dumps_frame",
    "frame_pieces",
    "loads_frame",
    "STAGES",
    "calibration_level",
    "band_space",
    "expected_level",
]

log = logging.getLogger(__name__)

Units = Literal["code", "dn", "radiance_camera", "radiance_srgb", "iof_camera", "iof_srgb",
                "relative_camera", "relative_srgb"]
#: What the calibrated values are (PDS4 img:Radiometric_Correction radiometric_type, plus
#: rovercam's relative kinds, docs/calibration.md): "relative" = flat-fielded DN/s (no absolute
#: responsivity), "relative_dn" = DN (no exposure time either), "relative_radiance" = radiance
#: times an unknown exposure (responsivity known, exposure not), "raw" = companded codes.
RadiometricType = Literal[
    "none", "spectral_radiance", "scaled_spectral_radiance", "radiance_factor", "relative_radiance",
    "relative", "relative_dn", "raw"
]
_ABSOLUTE = ("spectral_radiance", "scaled_spectral_radiance", "radiance_factor")
_UNIT_TEXT = {"spectral_radiance": "W m-2 sr-1 nm-1", "scaled_spectral_radiance": "W m-2 sr-1 nm-1",
              "radiance_factor": "1 (I/F)", "relative_radiance": "W m-2 sr-1 nm-1 s (exposure unknown)",
              "relative": "DN s-1", "relative_dn": "DN", "raw": "companded code"}

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
    units : {"code", "dn", "radiance_camera", "radiance_srgb", "iof_camera", "iof_srgb"}
    camera_model : CameraModel
        Model of *these* pixels (CAHV after ``undistort``), in ``camera_frame``.
    frames : dict
        Coordinate systems from the label (to reach SITE_FRAME).
    filter, temperature_c, focal_length_mm : instrument state from the label (filter name,
        detector temperature in degrees C, focal length in mm).
    onboard_flat : (x0, y0, a, b, c) or None
        FLAT_FIELD_CORRECTION_PARM when the label says an onboard radial flat was applied.
    ground_flat_applied : bool
        The label names a flat-field file already applied on the ground (an RDR).
    solar_elevation_deg : float or None
        Sun elevation above the local horizon (SITE_DERIVED_GEOMETRY_PARMS), degrees.
    radiometric_type : str
        See :data:`RadiometricType`; set by ``flat``.
    bad_pixels_repaired : bool
        Set by ``debayer`` when it repaired the mosaic, so ``flat`` does not repeat it.
    mission : str
        The product's mission (``M2020``, ``MSL``, ``MER``, ``NSYT``): with ``instrument``, the
        registry key of its camera.
    radiance_scaling, label_radiometric_type : from a MIPL radiometric product's label
        (``value = stored * factor + offset``; "spectral_radiance", ...), else None.
    flat_fielded : bool
        A flat field was divided out (by this chain, or by MIPL for a derived product).
    missing : tuple of str
        Calibration that was not available (recorded, not an error unless
        ``[calibration] strict``); see :attr:`level`.
    """

    product_id: str
    instrument: str
    image: np.ndarray
    units: Units
    camera_model: Any
    camera_frame: str
    coordinate_systems: dict[str, CoordinateSystem]
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
    filter: str | None = None
    temperature_c: float | None = None
    focal_length_mm: float | None = None
    onboard_flat: tuple[float, float, float, float, float] | None = None
    ground_flat_applied: bool = False
    solar_elevation_deg: float | None = None
    radiometric_type: RadiometricType = "none"
    bad_pixels_repaired: bool = False
    mission: str = ""
    radiance_scaling: tuple[float, float] | None = None
    label_radiometric_type: str | None = None
    flat_fielded: bool = False
    missing: tuple[str, ...] = ()
    zoom_position: int | None = None

    @property
    def level(self) -> CalibrationLevel:
        """The calibration level of the values (docs/calibration.md)."""
        return calibration_level(self)


def band_space(frame: Frame) -> str:
    """What the bands are: "linear sRGB primaries", "camera RGB" or "one band"."""
    if frame.image.ndim == 2 or frame.image.shape[2] == 1:
        return "one band"
    return "linear sRGB primaries" if frame.units.endswith("_srgb") else "camera RGB"


def calibration_level(frame: Frame) -> CalibrationLevel:
    """What ``frame``'s values are: level, units and what calibration was missing."""
    rtype = frame.radiometric_type
    if frame.units == "code" or rtype == "raw":
        return CalibrationLevel(0, "companded code", frame.missing)
    if frame.units == "dn":
        return CalibrationLevel(1, "DN", frame.missing)
    if rtype in _ABSOLUTE:
        return CalibrationLevel(3, _UNIT_TEXT[rtype], frame.missing)
    return CalibrationLevel(2 if frame.flat_fielded else 1, _UNIT_TEXT.get(rtype, "DN"), frame.missing)


def _label_value(label: Any, group: str, key: str) -> Any:
    if label is None or not hasattr(label, "get"):
        return None
    g = label.get(group)
    if not hasattr(g, "get"):
        return None
    value = g.get(key)
    return getattr(value, "value", value)


def _label_number(label: Any, group: str, key: str) -> float | None:
    value = _label_value(label, group, key)
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _onboard_flat(product: Product) -> tuple[float, float, float, float, float] | None:
    flag = _label_value(product.label, "INSTRUMENT_STATE_PARMS", "FLAT_FIELD_CORRECTION_FLAG")
    parm = _label_value(product.label, "INSTRUMENT_STATE_PARMS", "FLAT_FIELD_CORRECTION_PARM")
    if str(flag).strip().upper() not in ("TRUE", "ON", "1") or not isinstance(parm, tuple):
        return None
    values = tuple(float(getattr(v, "value", v)) for v in parm)
    if len(values) != 5:
        raise ProductError(product.path or product.product_id,
                           f"FLAT_FIELD_CORRECTION_PARM has {len(values)} values, expected 5")
    return values  # type: ignore[return-value]


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
    onboard = _onboard_flat(product)
    elevation = None
    for group in ("SITE_DERIVED_GEOMETRY_PARMS", "ROVER_DERIVED_GEOMETRY_PARMS"):
        elevation = _label_number(product.label, group, "SOLAR_ELEVATION")
        if elevation is not None:
            break
    frame = Frame(
        product_id=product.product_id,
        instrument=product.instrument,
        image=product.image,
        units=units,
        camera_model=product.camera_model,
        camera_frame=product.camera_frame or "",
        coordinate_systems=dict(product.coordinate_systems),
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
        filter=product.filter,
        temperature_c=product.temperature_c,
        focal_length_mm=product.focal_length_mm,
        onboard_flat=onboard,
        ground_flat_applied=bool(product.flat_field_applied and onboard is None),
        solar_elevation_deg=elevation,
        mission=product.mission,
        radiance_scaling=product.radiance_scaling,
        label_radiometric_type=product.radiometric_type,
        flat_fielded=bool(product.flat_field_applied and onboard is None),
        zoom_position=product.zoom_position,
    )
    frame.provenance.level = calibration_level(frame)
    return frame


def _step(frame: Frame, text: str, **changes: Any) -> Frame:
    prov = replace(frame.provenance, steps=[*frame.provenance.steps, text])
    if "calibration" in changes:
        prov.calibration = {**prov.calibration, **changes.pop("calibration")}
    if "missing" in changes:
        changes["missing"] = tuple(dict.fromkeys([*frame.missing, *changes["missing"]]))
    log.info("%s: %s", frame.product_id, text)
    out = replace(frame, provenance=prov, **changes)
    out.provenance.level = calibration_level(out)
    return out


# --- the stages ------------------------------------------------------------------------------------

def decompand(frame: Frame, settings: Settings) -> Frame:
    """Undo onboard companding with the inverse LUT the label names (DOMAIN.md §6)."""
    plan = _plan_decompand(frame, settings)
    if "lut" not in plan.op:
        return _step(frame, plan.text, **plan.changes)
    dn = _rad.decompand(frame.image, plan.op["lut"])
    return _step(frame, plan.text, image=dn, calibration=plan.calibration, **plan.changes)


def debayer(frame: Frame, settings: Settings) -> Frame:
    """Repair bad photosites and demosaic a Bayer-encoded single-band frame (phase from the subframe origin)."""
    plan = _plan_debayer(frame, settings)
    if not plan.op:
        return _step(frame, plan.text, **plan.changes)
    return _step(frame, plan.text, image=_apply_debayer(frame.image, plan.op), calibration=plan.calibration,
                 **plan.changes)


def flat(frame: Frame, settings: Settings) -> Frame:
    """Bias, bad pixels, onboard and ground flats, exposure and responsivity: DN -> radiance (or I/F)."""
    plan = _plan_flat(frame, settings)
    return _step(frame, plan.text, image=_apply_flat(frame.image, plan.op), calibration=plan.calibration,
                 **plan.changes)


def color(frame: Frame, settings: Settings) -> Frame:
    """Optional white balance, then camera RGB -> XYZ -> linear sRGB (one 3x3 matrix per pixel)."""
    plan = _plan_color(frame, settings)
    if not plan.op:
        return _step(frame, plan.text, **plan.changes)
    return _step(frame, plan.text, image=_apply_color(frame.image, plan.op), **plan.changes)


def undistort(frame: Frame, settings: Settings) -> Frame:
    """Resample onto the CAHV linearization of the frame's model (same size, same C)."""
    plan = _plan_undistort(frame, settings)
    if not plan.op:
        return _step(frame, plan.text)
    img = _rad.as_working(frame.image)
    return _step(frame, plan.text, image=_remap(img, *plan.op["maps"]), **plan.changes)


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
        lines (module docstring): the fast, lean path. False, or a frame it cannot fuse
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
    plans: dict[str, _Plan] = {}
    virt = frame
    for name in STAGES:
        kwargs: dict[str, Any] = {}
        if name == "debayer" and virt.cfa.state == "encoded" and not virt.companding.original_bits:
            lut = plans["decompand"].op.get("lut")
            top = int(src.max())
            kwargs["dn_max"] = float(lut.values[top]) if lut is not None else float(top)
        plan = _PLANNERS[name](virt, settings, **kwargs)
        plans[name] = plan
        if name == "decompand" and plan.op:
            image = _placeholder(src.shape, np.uint16)
        elif name == "debayer" and plan.op:
            image = _placeholder((h, w, 3), np.float32)
        elif name in ("flat", "color"):
            image = _placeholder(virt.image.shape, np.float32)
        else:
            image = virt.image
        virt = _step(virt, plan.text, image=image, calibration=plan.calibration, **plan.changes)
    bands = virt.image.shape[2:] if virt.image.ndim == 3 else ()
    out = np.empty((h, w) + bands, dtype=np.float32)
    uplan = plans["undistort"]
    maps = uplan.op.get("maps")
    rows = _RowCache(src, plans)
    if maps is None:
        for y0 in range(0, h, _STRIP_LINES):
            out[y0:min(h, y0 + _STRIP_LINES)] = rows.get(y0, min(h, y0 + _STRIP_LINES))
        return replace(virt, image=out)
    for y0, y1, ya, yb in _footprints(uplan.changes["camera_model"], frame.camera_model, w, h):
        if ya < 0:
            out[y0:y1] = np.nan
            continue
        _remap(rows.get(ya, yb), maps[0][y0:y1], maps[1][y0:y1] - np.float32(ya), dst=out[y0:y1])
    return replace(virt, image=out)


def expected_level(product: Product, settings: Settings) -> CalibrationLevel:
    """The calibration level the chain will give ``product``, planned from its label and the
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
        plan = _PLANNERS[name](frame, settings)
        if name == "decompand" and plan.op:
            image = _placeholder(frame.image.shape, np.uint16)
        elif name == "debayer" and plan.op:
            image = _placeholder(frame.image.shape[:2] + (3,), np.float32)
        elif name in ("flat", "color"):
            image = _placeholder(frame.image.shape, np.float32)
        else:
            image = frame.image
        frame = _step(frame, plan.text, image=image, calibration=plan.calibration, **plan.changes)
    return frame.level


def process_product(product: Product, settings: Settings, *, sha256: str = "") -> Frame:
    """Run every stage on one product; what ``rovercam process`` does per product."""
    return run_chain(frame_from_product(product, sha256=sha256, settings=settings), settings)


# --- serialisation between tasks (arrays stay in storage; ids and keys cross task boundaries) ---

def dumps_frame(frame: Frame) -> bytes:
    """Encode a Frame as one blob (image array + JSON metadata; see rovercam.storage.arrayblob)."""
    return b"".join(frame_pieces(frame))


def frame_pieces(frame: Frame) -> tuple[bytes, memoryview | bytes]:
    """:func:`dumps_frame` in two pieces, ``(head, pixels)``, the pixels a view of the frame's
    image: what ``Transaction.put`` stores without a joined copy (~6 ms of a Mastcam-Z frame)."""
    meta = {
        "product_id": frame.product_id,
        "instrument": frame.instrument,
        "units": frame.units,
        "camera_model": frame.camera_model.to_pds3(),
        "camera_frame": frame.camera_frame,
        "frames": {k: [v.name, list(v.quaternion), list(v.offset), v.reference, list(v.index)] for k, v in frame.coordinate_systems.items()},
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
        "filter": frame.filter,
        "temperature_c": frame.temperature_c,
        "focal_length_mm": frame.focal_length_mm,
        "onboard_flat": list(frame.onboard_flat) if frame.onboard_flat else None,
        "ground_flat_applied": frame.ground_flat_applied,
        "solar_elevation_deg": frame.solar_elevation_deg,
        "radiometric_type": frame.radiometric_type,
        "bad_pixels_repaired": frame.bad_pixels_repaired,
        "mission": frame.mission,
        "radiance_scaling": list(frame.radiance_scaling) if frame.radiance_scaling else None,
        "label_radiometric_type": frame.label_radiometric_type,
        "flat_fielded": frame.flat_fielded,
        "missing": list(frame.missing),
        "zoom_position": frame.zoom_position,
    }
    return arrayblob.pack_pieces(frame.image, meta)


def loads_frame(blob: bytes) -> Frame:
    """Inverse of :func:`dumps_frame`."""
    image, meta = arrayblob.unpack(blob)
    frames = {
        k: CoordinateSystem(v[0], tuple(v[1]), tuple(v[2]), v[3], tuple(v[4])) for k, v in meta["frames"].items()
    }
    st = meta["start_time"]
    return Frame(
        product_id=meta["product_id"],
        instrument=meta["instrument"],
        image=image,
        units=meta["units"],
        camera_model=_camera.from_pds3(meta["camera_model"]),
        camera_frame=meta["camera_frame"],
        coordinate_systems=frames,
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
        filter=meta.get("filter"),
        temperature_c=meta.get("temperature_c"),
        focal_length_mm=meta.get("focal_length_mm"),
        onboard_flat=tuple(meta["onboard_flat"]) if meta.get("onboard_flat") else None,
        ground_flat_applied=bool(meta.get("ground_flat_applied", False)),
        solar_elevation_deg=meta.get("solar_elevation_deg"),
        radiometric_type=meta.get("radiometric_type", "none"),
        bad_pixels_repaired=bool(meta.get("bad_pixels_repaired", False)),
        mission=meta.get("mission", ""),
        radiance_scaling=tuple(meta["radiance_scaling"]) if meta.get("radiance_scaling") else None,
        label_radiometric_type=meta.get("label_radiometric_type"),
        flat_fielded=bool(meta.get("flat_fielded", False)),
        missing=tuple(meta.get("missing", ())),
        zoom_position=meta.get("zoom_position"),
    )
