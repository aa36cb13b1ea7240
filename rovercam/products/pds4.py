"""PDS4 XML products: the label, its image array, and the img: and geom: dictionaries.

The label describes a data file in the same folder (docs/products.md#pds4-labels):
``File_Area_Observational`` holds ``File/file_name`` and an ``Array_2D_Image`` or ``Array_3D_Image``
with a byte ``offset``, ``Element_Array/data_type`` and ``Axis_Array`` entries (``sequence_number``
1 = slowest axis; ``axis_index_order`` must be "Last Index Fastest"). Band, Line, Sample in that
order is band sequential, Line, Band, Sample line-interleaved, Line, Sample, Band
sample-interleaved.

``img:Imaging`` gives the instrument state (exposure, filter, optics, subframe, downsampling,
companding, CFA, flat field); ``geom:Geometry_Lander`` the camera model
(:func:`rovercam.camera.from_pds4`), its frame, and ``Coordinate_Space_Definition`` frames with
``Quaternion_Plus_Direction`` (qcos, qsin1..3). Frames are keyed by their
``coordinate_space_frame_type`` (``ROVER_NAV_FRAME``), as PDS3 labels name them, and a frame
defined in another instance of itself is keyed by instance (``SITE_FRAME@30`` in
``SITE_FRAME@29``; see :class:`~rovercam.products.model.CoordinateSystem`).

XML safety: the label must be UTF-8 (or ASCII) and may not contain a document type declaration,
so no entity can be defined, expanded or fetched; labels over 4 MiB are refused unread.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rovercam.errors import (
    CameraModelError,
    LabelContentError,
    LabelSyntaxError,
    ProductError,
    ProductTooLargeError,
    UnsupportedProductError,
)
from rovercam.products.model import (
    CFA,
    Companding,
    CoordinateSystem,
    ImageStats,
    Product,
    ProductMeta,
    Subframe,
)
from rovercam.products.naming import parse_product_id
from rovercam.products.odl import Label, Quantity
from rovercam.products.raster import Layout, Limits, decode_raster
from rovercam.camera import from_pds4


__all__ = ["read_pds4", "parse_pds4", "PDS4_DATA_TYPES", "MAX_XML_BYTES"]

log = logging.getLogger(__name__)

MAX_XML_BYTES = 4 * 1024**2
_MAX_DEPTH = 64

#: PDS4 Element_Array data_type -> numpy dtype string (PDS4 information model, "data_type").
PDS4_DATA_TYPES: dict[str, str] = {
    "UnsignedByte": "u1", "SignedByte": "i1",
    "UnsignedMSB2": ">u2", "SignedMSB2": ">i2", "UnsignedLSB2": "<u2", "SignedLSB2": "<i2",
    "UnsignedMSB4": ">u4", "SignedMSB4": ">i4", "UnsignedLSB4": "<u4", "SignedLSB4": "<i4",
    "UnsignedMSB8": ">u8", "SignedMSB8": ">i8", "UnsignedLSB8": "<u8", "SignedLSB8": "<i8",
    "IEEE754MSBSingle": ">f4", "IEEE754LSBSingle": "<f4",
    "IEEE754MSBDouble": ">f8", "IEEE754LSBDouble": "<f8",
}
_ARRAYS = ("Array_2D_Image", "Array_3D_Image", "Array_2D", "Array_3D")
_LAYOUTS: dict[tuple[str, ...], Layout] = {
    ("LINE", "SAMPLE"): "BSQ",
    ("BAND", "LINE", "SAMPLE"): "BSQ",
    ("LINE", "BAND", "SAMPLE"): "BIL",
    ("LINE", "SAMPLE", "BAND"): "BIP",
}
_MISSIONS = {"MARS2020": "M2020", "MARS 2020": "M2020", "M2020": "M2020", "MSL": "MSL",
             "MARS SCIENCE LABORATORY": "MSL", "MER": "MER", "MARS EXPLORATION ROVER": "MER"}


# ------------------------------------------------------------------------------------------------
# XML access by local name (namespaces vary between dictionary versions)
def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(elem: ET.Element | None, name: str) -> Iterator[ET.Element]:
    if elem is None:
        return iter(())
    return (c for c in elem if _local(c.tag) == name)


def _find(elem: ET.Element | None, path: str) -> ET.Element | None:
    """First element along a '/'-separated path of local names (None when absent)."""
    for part in path.split("/"):
        if elem is None:
            return None
        elem = next(_children(elem, part), None)
    return elem


def _text(elem: ET.Element | None, path: str | None = None) -> str | None:
    node = _find(elem, path) if path else elem
    if node is None or node.text is None:
        return None
    text = " ".join(node.text.split())
    return text or None


def _float(elem: ET.Element | None, path: str, *, source: str, unit_scale: dict[str, float]
           | None = None) -> float | None:
    node = _find(elem, path)
    text = _text(node)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise LabelContentError(source, f"PDS4 {path} is not a number: {text[:40]!r}") from None
    if unit_scale is not None and node is not None:
        unit = (node.get("unit") or "").strip().lower()
        if unit not in unit_scale:
            raise LabelContentError(source, f"PDS4 {path} has unit {unit!r}; expected one of "
                                            f"{sorted(unit_scale)}")
        value *= unit_scale[unit]
    return value


def _int(elem: ET.Element | None, path: str, *, source: str) -> int | None:
    value = _float(elem, path, source=source)
    if value is None:
        return None
    if not value.is_integer() or abs(value) > 2**62:
        raise LabelContentError(source, f"PDS4 {path} = {value!r} is not an integer")
    return int(value)


# ------------------------------------------------------------------------------------------------
# Parsing
def parse_pds4(data: bytes, *, source: str = "<pds4>") -> ET.Element:
    """Parse PDS4 label bytes safely and return the root element.

    Raises
    ------
    rovercam.errors.ProductTooLargeError
        More than :data:`MAX_XML_BYTES`.
    rovercam.errors.LabelSyntaxError
        Not UTF-8, a DOCTYPE or ENTITY declaration (entity expansion and external entities
        are refused outright), or malformed XML.
    """
    if len(data) > MAX_XML_BYTES:
        raise ProductTooLargeError(source, f"PDS4 label of {len(data)} bytes exceeds "
                                           f"{MAX_XML_BYTES}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelSyntaxError(source, f"PDS4 label is not UTF-8 ({exc.reason} at byte "
                                       f"{exc.start})") from None
    upper = text.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        raise LabelSyntaxError(source, "PDS4 label declares a DOCTYPE or ENTITY; refused "
                                       "(no entity expansion, no external entities)")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise LabelSyntaxError(source, f"malformed PDS4 XML: {exc}", line, column) from None
    if _local(root.tag).split("_", 1)[0] != "Product":
        raise UnsupportedProductError(source, f"XML root is {_local(root.tag)!r}, not a PDS4 "
                                              f"Product_*")
    return root


def _to_label(elem: ET.Element, depth: int, *, source: str) -> Label:
    """The element tree as a :class:`Label` keyed by local names (leaves: str or Quantity)."""
    if depth > _MAX_DEPTH:
        raise LabelContentError(source, f"PDS4 label nests deeper than {_MAX_DEPTH} levels")
    out = Label(kind="GROUP" if depth else "MODULE")
    for child in elem:
        name = _local(child.tag)
        if not name:  # comments and processing instructions
            continue
        if len(child):
            out.append(name, _to_label(child, depth + 1, source=source))
            continue
        text = _text(child) or ""
        unit = child.get("unit")
        out.append(name, Quantity(text, unit) if unit else text)
    return out


# ------------------------------------------------------------------------------------------------
# The image array
def _array(root: ET.Element, imaging: ET.Element | None, *, source: str
           ) -> tuple[ET.Element | None, str | None]:
    area = _find(root, "File_Area_Observational")
    if area is None:
        return None, None
    file_name = _text(area, "File/file_name")
    arrays = [c for c in area if _local(c.tag) in _ARRAYS]
    if not arrays:
        return None, file_name
    wanted = _text(imaging, "Local_Internal_Reference/local_identifier_reference")
    for arr in arrays:
        if wanted and _text(arr, "local_identifier") == wanted:
            return arr, file_name
    return arrays[0], file_name


def _array_layout(arr: ET.Element, *, source: str) -> dict[str, Any]:
    order = _text(arr, "axis_index_order")
    if order != "Last Index Fastest":
        raise UnsupportedProductError(source, f"axis_index_order {order!r}")
    data_type = _text(arr, "Element_Array/data_type")
    if data_type not in PDS4_DATA_TYPES:
        raise UnsupportedProductError(source, f"PDS4 data_type {data_type!r}")
    axes = []
    for axis in _children(arr, "Axis_Array"):
        name = (_text(axis, "axis_name") or "").upper()
        axes.append((_int(axis, "sequence_number", source=source), name,
                     _int(axis, "elements", source=source)))
    if sorted(a[0] for a in axes if a[0] is not None) != list(range(1, len(axes) + 1)):
        raise LabelContentError(source, "Axis_Array sequence numbers are not 1..n")
    axes.sort()
    names = tuple(a[1] for a in axes)
    layout = _LAYOUTS.get(names)
    if layout is None:
        raise UnsupportedProductError(source, f"axis order {names} (slowest first)")
    sizes = {a[1]: a[2] for a in axes}
    offset = _int(arr, "offset", source=source)
    if offset is None or offset < 0:
        raise LabelContentError(source, f"array offset {offset!r}")
    return {"dtype": np.dtype(PDS4_DATA_TYPES[data_type]), "layout": layout, "offset": offset,
            "lines": sizes.get("LINE"), "samples": sizes.get("SAMPLE"),
            "bands": sizes.get("BAND", 1)}


def _stats(arr: ET.Element | None, *, source: str) -> ImageStats | None:
    stats = _find(arr, "Object_Statistics")
    if stats is None:
        return None
    values = [_float(stats, k, source=source) for k in ("mean", "median", "minimum", "maximum",
                                                         "standard_deviation")]
    return None if all(v is None for v in values) else ImageStats(*values)


# ------------------------------------------------------------------------------------------------
# geom: camera model and frames
def _geometry(root: ET.Element) -> ET.Element | None:
    geometry = _find(root, "Observation_Area/Discipline_Area/Geometry")
    landers = list(_children(geometry, "Geometry_Lander"))
    for lander in landers:  # telemetry state first: it carries the model and the frames
        if _find(lander, "Camera_Model_Parameters") is not None:
            return lander
    return landers[0] if landers else None


def _indexed(elem: ET.Element | None, *, source: str) -> tuple[str | None, tuple[int, ...]]:
    """(frame type, indices) of a Coordinate_Space_Indexed element."""
    if elem is None:
        return None, ()
    kind = _text(elem, "coordinate_space_frame_type")
    index = tuple(_int(i, "index_value_number", source=source) or 0
                  for i in _children(elem, "Coordinate_Space_Index"))
    return kind, index


def _frames(lander: ET.Element | None, warnings: list[str], *, source: str
            ) -> tuple[dict[str, CoordinateSystem], dict[str, str]]:
    """Frames keyed by frame type, and local_identifier -> frame type for reference lookups."""
    definitions = list(_children(lander, "Coordinate_Space_Definition"))
    types: dict[str, str] = {}
    parsed = []
    for d in definitions:
        kind, index = _indexed(_find(d, "Coordinate_Space_Present/Coordinate_Space_Indexed"),
                               source=source)
        ids = [_text(i) for i in _children(d, "local_identifier")]
        if kind is None:
            warnings.append(f"Coordinate_Space_Definition {ids[:1]} has no frame type, skipped")
            continue
        for i in ids:
            if i:
                types[i] = kind
        parsed.append((d, kind, index))
    frames: dict[str, CoordinateSystem] = {}
    for d, kind, index in parsed:
        q = tuple(_float(d, f"Quaternion_Plus_Direction/{k}", source=source)
                  for k in ("qcos", "qsin1", "qsin2", "qsin3"))
        offset = tuple(_float(d, f"Vector_Origin_Offset/{k}_position", source=source)
                       for k in "xyz")
        if any(v is None for v in q + offset):
            warnings.append(f"{kind}: incomplete Coordinate_Space_Definition, skipped")
            continue
        if (_text(d, "Quaternion_Plus_Direction/rotation_direction") or "Forward") == "Backward":
            q = (q[0], -q[1], -q[2], -q[3])  # [U] Backward = the inverse rotation
        ref = _find(d, "Coordinate_Space_Reference")
        ref_id = _text(ref, "Local_Internal_Reference/local_identifier_reference")
        ref_kind, ref_index = _indexed(_find(ref, "Coordinate_Space_Indexed"), source=source)
        if ref_id is not None:
            ref_kind = types.get(ref_id)
        if ref_kind is None:
            warnings.append(f"{kind}: reference frame {ref_id!r} not defined, skipped")
            continue
        name, reference = kind, ref_kind
        if kind == ref_kind:
            if not index or not ref_index:
                warnings.append(f"{kind}: defined relative to itself without indices, skipped")
                continue
            name, reference = f"{kind}@{index[0]}", f"{ref_kind}@{ref_index[0]}"
        if name in frames:
            warnings.append(f"{name}: second definition ignored")
            continue
        frames[name] = CoordinateSystem(name=name, quaternion=q, offset=offset,  # type: ignore
                                       reference=reference, index=index)
    return frames, types


def _camera(lander: ET.Element | None, types: dict[str, str], *, source: str
            ) -> tuple[Any, str | None, float | None]:
    """(model, model frame, interpolation temperature in degC) from Camera_Model_Parameters."""
    params = _find(lander, "Camera_Model_Parameters")
    if params is None:
        return None, None, None

    try:
        model = from_pds4(params)
    except CameraModelError as exc:
        raise LabelContentError(source, f"Camera_Model_Parameters: {exc}") from exc
    ref = _find(params, "Coordinate_Space_Reference")
    frame, _ = _indexed(_find(ref, "Coordinate_Space_Indexed"), source=source)
    ref_id = _text(ref, "Local_Internal_Reference/local_identifier_reference")
    if ref_id is not None:
        frame = types.get(ref_id, ref_id)
    temperature = None
    interp = _find(params, "Interpolation")
    if (_text(interp, "interpolation_variable") or "").upper() == "TEMPERATURE":
        temperature = _float(interp, "interpolation_value", source=source)
    return model, frame, temperature


def _motion_counter(lander: ET.Element | None, *, source: str) -> dict[str, int]:
    counter = _find(lander, "Motion_Counter")
    out: dict[str, int] = {}
    for index in _children(counter, "Motion_Counter_Index"):
        name = (_text(index, "index_id") or "").upper()
        value = _int(index, "index_value_number", source=source)
        if name and value is not None:
            out.setdefault(name, value)
    return out


# ------------------------------------------------------------------------------------------------
# img: instrument state
_MS = {"ms": 1e-3, "s": 1.0, "": 1e-3, "msec": 1e-3, "sec": 1.0, "microseconds": 1e-6}


def _state(imaging: ET.Element | None, *, source: str) -> dict[str, Any]:
    """Product fields from img:Imaging (the acquired values, not img:Commanded_Parameters)."""
    sub = _find(imaging, "Subframe")
    avg = _find(imaging, "Downsampling/Pixel_Averaging_Dimensions")
    ds_h = _int(avg, "height_pixels", source=source) or 1
    ds_w = _int(avg, "width_pixels", source=source) or 1
    if ds_h < 1 or ds_w < 1:
        raise LabelContentError(source, f"pixel averaging {ds_h}x{ds_w}")
    comp = _find(imaging, "Sampling/Companding")
    comp_state = (_text(comp, "companding_state") or "None").lower()
    venue = _text(comp, "processing_venue")
    companding = Companding(
        method=(venue or "NONE").upper(), lut=(_text(comp, "processing_algorithm") or "NONE"),
        state=comp_state if comp_state in ("companded", "expanded") else "none",  # type: ignore
        original_bits=_int(imaging, "Sampling/original_sample_bits", source=source))
    cfa_el = _find(imaging, "Color_Filter_Array")
    cfa_type = (_text(cfa_el, "color_filter_array_type") or "").upper().replace(" ", "_")
    pattern = cfa_type.rsplit("_", 1)[-1] if cfa_type else None
    pattern = pattern if pattern in ("RGGB", "GRBG", "GBRG", "BGGR") else None
    cfa_state = (_text(cfa_el, "color_filter_array_state") or "").lower()
    kind = {"decoded": "decoded", "encoded": "encoded"}.get(cfa_state, "none")
    if pattern is None:
        kind = "none"
    cfa_venue, cfa_method = _text(cfa_el, "processing_venue"), _text(cfa_el,
                                                                       "processing_algorithm")
    cfa = CFA(pattern=pattern, state=kind,  # type: ignore[arg-type]
              venue=cfa_venue.upper() if cfa_venue else None,
              method=cfa_method.upper() if cfa_method else None)
    flat = (_text(imaging, "Flat_Field_Correction/active_flag") or "false").lower() == "true"
    return {
        "exposure_s": _float(imaging, "Exposure/exposure_duration", source=source,
                             unit_scale=_MS),
        "filter": _text(imaging, "Optical_Filter/filter_name"),
        "focal_length_mm": _float(imaging, "Optical_Properties/focal_length", source=source),
        "zoom_position": _int(imaging, "Optical_Properties/zoom_position", source=source),
        "companding": companding,
        "cfa": cfa,
        "subframe": Subframe(
            first_line=_int(sub, "first_line", source=source) or 1,
            first_sample=_int(sub, "first_sample", source=source) or 1,
            lines=_int(sub, "lines", source=source), samples=_int(sub, "samples", source=source)),
        "downsample": (ds_h, ds_w),
        "flat_field_applied": flat,
    }


#: img:Radiometric_Correction radiometric_type -> rovercam's name of the physical quantity.
_RADIOMETRIC = {"spectral radiance": "spectral_radiance", "scaled spectral radiance": "scaled_spectral_radiance",
                "radiance factor": "radiance_factor"}


def _derived(product_type: str | None, imaging: ET.Element | None, arr: ET.Element | None,
             companding: Companding, *, source: str) -> dict[str, Any]:
    """What a derived product's label says was done (docs/calibration.md, "Derived products").

    The companding state by product type (MIPL RDRs are expanded whatever img:Companding still
    says) and, for radiometric products (img:Radiometric_Correction radiometric_type Spectral
    Radiance / Scaled Spectral Radiance / Radiance Factor), the array's own scaling
    (Element_Array scaling_factor, value_offset: physical = stored x factor + offset).
    """
    from rovercam.products.fields import DECOMPANDED_TYPES

    out: dict[str, Any] = {}
    if (product_type or "").upper() in DECOMPANDED_TYPES and companding.state == "companded":
        out["companding"] = Companding(companding.method, companding.lut, "expanded", companding.original_bits)
    kind = _RADIOMETRIC.get((_text(imaging, "Radiometric_Correction/radiometric_type") or "").lower())
    if kind is not None and arr is not None:
        factor = _float(arr, "Element_Array/scaling_factor", source=source)
        offset = _float(arr, "Element_Array/value_offset", source=source) or 0.0
        if factor is not None and factor > 0:
            out["radiance_scaling"], out["radiometric_type"] = (factor, offset), kind
    return out


def _identity(root: ET.Element, *, path: Path, file_name: str | None) -> dict[str, Any]:
    source = str(path)
    ident = _find(root, "Identification_Area")
    candidates = [_text(a, "alternate_id") for a in _children(_find(ident, "Alias_List"),
                                                                 "Alias")]
    if file_name:
        candidates.append(file_name.split(".", 1)[0])
    lid = _text(ident, "logical_identifier")
    if lid:
        candidates.append(lid.rsplit(":", 1)[-1])
    pid = None
    pid_text = None
    for c in candidates:
        if not c:
            continue
        pid_text = pid_text or c.upper()
        try:
            pid = parse_product_id(c)
        except ProductError:
            continue
        pid_text = pid.product_id
        break
    if pid_text is None:
        pid_text = path.name.split(".", 1)[0].upper()
    obs = _find(root, "Observation_Area")
    investigation = (_text(obs, "Investigation_Area/name") or "").upper()
    mission = _MISSIONS.get(investigation) or (pid.mission if pid else None) or (
        investigation or "UNKNOWN")
    discipline = _find(obs, "Discipline_Area")
    instrument = _text(discipline, "Surface_Imaging/Instrument_Information/ops_instrument_key")
    if instrument is None and pid is not None:
        instrument = pid.instrument
    if instrument is None:
        for comp in _children(_find(obs, "Observing_System"), "Observing_System_Component"):
            if (_text(comp, "type") or "").lower() == "instrument":
                instrument = _text(comp, "name")
                break
    msn = _find(discipline, "Mission_Information")
    sol = _int(msn, "Surface_Mission/start_sol_number", source=source)
    sclk = _float(msn, "spacecraft_clock_start", source=source)
    seq = _text(discipline, "Surface_Mission_Information/Command_Execution/sequence_id")
    start = _text(obs, "Time_Coordinates/start_date_time")
    start_time = None
    if start:
        try:
            start_time = _dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            start_time = None
        if start_time is not None and start_time.tzinfo is None:
            start_time = start_time.replace(tzinfo=_dt.timezone.utc)
    return {
        "product_id": pid_text, "mission": mission, "instrument": instrument or "UNKNOWN",
        "sol": sol if sol is not None else (pid.sol if pid else None),
        "sclk": sclk if sclk is not None else (pid.sclk if pid else None),
        "sequence_id": seq or (pid.sequence if pid else None),
        "product_type": (_text(msn, "product_type_name") or (pid.product_type if pid else None)),
        "start_time": start_time, "pid": pid,
    }


def read_pds4(path: str | os.PathLike[str], *, pixels: bool = True,
              limits: Limits | None = None) -> Product:
    """Read a PDS4 product from its XML label (and the data file it names, beside it).

    See :func:`rovercam.products.read_product` for parameters and errors. With
    ``pixels=False`` the data file need not exist.
    """
    p = Path(path)
    source = str(p)
    size = p.stat().st_size
    if size > MAX_XML_BYTES:
        raise ProductTooLargeError(source, f"PDS4 label of {size} bytes exceeds {MAX_XML_BYTES}")
    root = parse_pds4(p.read_bytes(), source=source)
    warnings: list[str] = []
    discipline = _find(root, "Observation_Area/Discipline_Area")
    imaging = _find(discipline, "Imaging")
    arr, file_name = _array(root, imaging, source=source)
    layout = _array_layout(arr, source=source) if arr is not None else None
    image = None
    if pixels:
        if layout is None or file_name is None:
            raise LabelContentError(source, "PDS4 label has no File/file_name and image array")
        from rovercam.products.pds3 import find_in_folder  # the one folder-confinement rule

        data = find_in_folder(p.parent, file_name, source=source)
        image = decode_raster(data, offset=layout["offset"], dtype=layout["dtype"],
                              layout=layout["layout"], lines=layout["lines"],
                              samples=layout["samples"], bands=layout["bands"], limits=limits,
                              source=source)
    lander = _geometry(root)
    frames, types = _frames(lander, warnings, source=source)
    model, camera_frame, temperature = _camera(lander, types, source=source)
    counter = _motion_counter(lander, source=source)
    ident = _identity(root, path=p, file_name=file_name)
    pid = ident.pop("pid")
    state = _state(imaging, source=source)
    if layout is not None:
        sub = state["subframe"]
        ds_h, ds_w = state["downsample"]
        if sub.lines is None and isinstance(layout["lines"], int):
            state["subframe"] = Subframe(sub.first_line, sub.first_sample,
                                         layout["lines"] * ds_h, sub.samples)
        sub = state["subframe"]
        if sub.samples is None and isinstance(layout["samples"], int):
            state["subframe"] = Subframe(sub.first_line, sub.first_sample, sub.lines,
                                         layout["samples"] * ds_w)
    state.update(_derived(pid.product_type if pid else None, imaging, arr, state["companding"],
                          source=source))
    meta = ProductMeta(
        **ident,
        site=counter.get("SITE", pid.site if pid else None),
        drive=counter.get("DRIVE", pid.drive if pid else None),
        camera_model=model, camera_frame=camera_frame, coordinate_systems=frames,
        temperature_c=temperature, **state,
    )
    return Product(meta, path=source, image=image, label=_to_label(root, 0, source=source),
                   label_stats=_stats(arr, source=source), warnings=warnings)
