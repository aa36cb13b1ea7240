"""Product fields from a PDS3-shaped label (ODL, or a VICAR label seen through ``vicar.to_label``).

Keyword names are MIPL's (the MSL and Mars 2020 Camera EDR/RDR SIS, PDS Imaging Node):
identification keys at the top level, the camera model
in GEOMETRIC_CAMERA_MODEL (detached MSL archive labels: GEOMETRIC_CAMERA_MODEL_PARMS), frames in
``*_COORDINATE_SYSTEM`` / ``*_COORD_SYSTEM_PARMS`` groups, state in INSTRUMENT_STATE_PARMS, image
description in the IMAGE object, radiometric facts in DERIVED_IMAGE_PARMS (radiance scaling, flat
file) and the derived-geometry groups (solar elevation). Every keyword the pipeline uses is read
here, once, into :class:`~rovercam.products.model.ProductMeta`; nothing downstream reads the
label. Label ``FIRST_LINE``/``FIRST_LINE_SAMPLE`` stay 1-based in
:class:`~rovercam.products.model.Subframe`, the one documented exception (docs/conventions.md).
"""
from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from rovercam.errors import CameraModelError, LabelContentError, ProductError
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
from rovercam.products.odl import Quantity
from rovercam.camera import from_pds3


__all__ = ["product_from_label", "camera_group", "frame_groups"]

log = logging.getLogger(__name__)

_CAMERA_GROUPS = ("GEOMETRIC_CAMERA_MODEL", "GEOMETRIC_CAMERA_MODEL_PARMS")
_FRAME_SUFFIXES = ("_COORDINATE_SYSTEM", "_COORDINATE_SYSTEM_PARMS", "_COORD_SYSTEM_PARMS")
_STATE_GROUPS = ("INSTRUMENT_STATE_PARMS",)
_MS_UNITS = {"MS", "MSEC", "MILLISECOND", "MILLISECONDS"}
_S_UNITS = {"S", "SEC", "SECOND", "SECONDS"}
_NONE_WORDS = {"NONE", "N/A", "NULL", "UNK", ""}


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Quantity) else value


def _number(value: Any) -> float | None:
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _integer(value: Any) -> int | None:
    value = _plain(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(_plain(value)).strip()
    return None if text.upper() in _NONE_WORDS else text


def _group(label: Mapping[str, Any], names: tuple[str, ...]) -> Mapping[str, Any]:
    for name in names:
        value = label.get(name)
        if isinstance(value, Mapping):
            return value
    return {}


def camera_group(label: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The GEOMETRIC_CAMERA_MODEL group (or its ``_PARMS`` spelling), None when absent."""
    group = _group(label, _CAMERA_GROUPS)
    return group if group else None


def frame_groups(label: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(group name, group) for every coordinate-system group at the top level."""
    pairs = label.pairs() if hasattr(label, "pairs") else list(label.items())
    return [(k, v) for k, v in pairs
            if isinstance(v, Mapping) and k.endswith(_FRAME_SUFFIXES)]


def _vector(value: Any, n: int) -> tuple[float, ...] | None:
    if not isinstance(value, tuple) or len(value) != n:
        return None
    out = tuple(_number(v) for v in value)
    return None if any(v is None for v in out) else out  # type: ignore[return-value]


def _index(value: Any) -> tuple[int, ...]:
    if isinstance(value, tuple):
        ints = tuple(_integer(v) for v in value)
        return () if any(v is None for v in ints) else ints  # type: ignore[return-value]
    single = _integer(value)
    return () if single is None else (single,)


def _frames(label: Mapping[str, Any], warnings: list[str]) -> dict[str, CoordinateSystem]:
    frames: dict[str, CoordinateSystem] = {}
    for group_name, group in frame_groups(label):
        name = _text(group.get("COORDINATE_SYSTEM_NAME")) or group_name
        q = _vector(group.get("ORIGIN_ROTATION_QUATERNION"), 4)
        offset = _vector(group.get("ORIGIN_OFFSET_VECTOR"), 3)
        reference = _text(group.get("REFERENCE_COORD_SYSTEM_NAME"))
        if q is None or offset is None or reference is None:
            warnings.append(f"{group_name}: incomplete coordinate system, skipped")
            continue
        index = _index(group.get("COORDINATE_SYSTEM_INDEX"))
        if name == reference:
            # SITE_FRAME (site 93) defined in SITE_FRAME (site 92): one name, two instances.
            # Key both by instance so frame chains see no cycle (CoordinateSystem docstring).
            ref_index = _index(group.get("REFERENCE_COORD_SYSTEM_INDEX"))
            if not index or not ref_index:
                warnings.append(f"{group_name}: {name} defined relative to itself without "
                                f"instance indices, skipped")
                continue
            name, reference = f"{name}@{index[0]}", f"{reference}@{ref_index[0]}"
        if name in frames:
            warnings.append(f"{group_name}: second definition of {name} ignored")
            continue
        frames[name] = CoordinateSystem(
            name=name, quaternion=q, offset=offset, reference=reference,  # type: ignore[arg-type]
            index=index)
    return frames


def _exposure_s(value: Any, warnings: list[str]) -> float | None:
    if value is None:
        return None
    number = _number(value)
    if number is None:
        return None
    unit = value.unit.strip().upper() if isinstance(value, Quantity) else ""
    if unit in _S_UNITS:
        return number
    if unit not in _MS_UNITS:
        warnings.append(f"EXPOSURE_DURATION unit {unit or 'missing'!r}; taken as milliseconds")
    return number / 1000.0


def _flag(value: Any) -> bool:
    value = _plain(value)
    if isinstance(value, bool):
        return value
    return str(value).strip().upper() in ("TRUE", "ON", "YES", "1")


def _companding(state: Mapping[str, Any]) -> Companding:
    method = _text(state.get("SAMPLE_BIT_METHOD")) or "NONE"
    lut = _text(state.get("SAMPLE_BIT_MODE_ID")) or "NONE"
    upper = method.upper()
    if upper.endswith("_INVERTED"):
        kind = "expanded"
    elif upper in ("HARDWARE", "SOFTWARE"):
        kind = "companded"
    else:
        kind = "none"
    return Companding(method=method, lut=lut, state=kind,  # type: ignore[arg-type]
                      original_bits=_integer(state.get("ORIGINAL_SAMPLE_BITS")))


def _cfa(state: Mapping[str, Any], bands: int | None) -> CFA:
    cfa_type = _text(state.get("CFA_TYPE"))
    venue = _text(state.get("CFA_VENUE"))
    method = _text(state.get("BAYER_METHOD"))
    pattern = None
    if cfa_type is not None:
        tail = cfa_type.upper().replace(" ", "_").rsplit("_", 1)[-1]
        if tail in ("RGGB", "GRBG", "GBRG", "BGGR"):
            pattern = tail
    kind = "none"
    if pattern is not None:
        if venue and venue.upper() in ("ONBOARD", "GROUND") and method and bands == 3:
            kind = "decoded"
        elif bands == 1:
            kind = "encoded"
    return CFA(pattern=pattern, state=kind, venue=venue, method=method)  # type: ignore[arg-type]


#: MIPL product types whose pixels are already expanded (the inverse LUT applied), whatever the
#: label's SAMPLE_BIT_METHOD still says (docs/calibration.md, "Derived products").
#: HITS: MER ILF/RAD/FFL/RSD/IOF, MSL ILT/RAD/RAS and MMM DRXX/DRCX/DRLX/DRCL, M2020 RAD/RAS/IOF.
DECOMPANDED_TYPES = frozenset({"ILF", "ILT", "RAD", "RAS", "IOF", "FFL", "RSD", "RFL",
                               "DRXX", "DRCX", "DRLX", "DRCL"})
#: Product type -> what its physical values are (MIPL marsrad / ASU IOF).
_RADIOMETRIC_TYPES = {"RAD": "spectral_radiance", "RAS": "scaled_spectral_radiance",
                      "IOF": "radiance_factor"}


def _radiance_scaling(derived: Mapping[str, Any]) -> tuple[float, float] | None:
    """(factor, offset) from DERIVED_IMAGE_PARMS (MSL archive labels namespace them ``MSL:``)."""
    for ns in ("", "MSL:", "MER:", "M2020:"):
        factor = _number(derived.get(ns + "RADIANCE_SCALING_FACTOR"))
        if factor is not None and factor > 0:
            return factor, _number(derived.get(ns + "RADIANCE_OFFSET")) or 0.0
    return None


def _derived(product_type: str | None, derived: Mapping[str, Any], companding: Companding
             ) -> tuple[Companding, tuple[float, float] | None, str | None]:
    """The companding state, radiance scaling and radiometric type a derived product implies."""
    ptype = (product_type or "").upper()
    if ptype in DECOMPANDED_TYPES and companding.state == "companded":
        companding = Companding(method=companding.method, lut=companding.lut, state="expanded",
                                original_bits=companding.original_bits)
    scaling = _radiance_scaling(derived)
    if scaling is None:
        return companding, None, None
    kind = _RADIOMETRIC_TYPES.get(ptype)
    if kind is None:
        text = (_text(derived.get("RADIOMETRIC_CORRECTION_TYPE")) or "").upper()
        kind = "spectral_radiance" if text.startswith("MIPLRAD") else None
    if kind is None:
        return companding, None, None  # a scaling we cannot name is not used
    return companding, scaling, kind


def _stats(image: Mapping[str, Any]) -> ImageStats | None:
    keys = ("MEAN", "MEDIAN", "MINIMUM", "MAXIMUM", "STANDARD_DEVIATION", "CHECKSUM")
    values = [_number(image.get(k)) for k in keys]
    if all(v is None for v in values):
        return None
    return ImageStats(*values)


def _mission(label: Mapping[str, Any], id_mission: str | None) -> str:
    host = (_text(label.get("INSTRUMENT_HOST_ID")) or "").upper()
    if host.startswith("MER"):
        return "MER"
    if host.startswith("MSL"):
        return "MSL"
    if host in ("M20", "M2020", "MARS2020") or "2020" in host or "PERSEVERANCE" in host:
        return "M2020"
    return id_mission or (_text(label.get("MISSION_NAME")) or "UNKNOWN")


def _sclk(value: Any) -> float | None:
    text = _text(value)
    if text is None:
        return None
    text = text.split("/", 1)[-1]
    try:
        return float(text)
    except ValueError:
        return None


def _site_drive(label: Mapping[str, Any], camera: Mapping[str, Any] | None
                ) -> tuple[int | None, int | None]:
    counter = label.get("ROVER_MOTION_COUNTER")
    names = label.get("ROVER_MOTION_COUNTER_NAME")
    if not isinstance(counter, tuple) and camera is not None:
        counter = camera.get("REFERENCE_COORD_SYSTEM_INDEX")
        names = None
    index = _index(counter)
    if not index:
        return None, None
    if isinstance(names, tuple) and len(names) == len(index):
        upper = [str(n).upper() for n in names]
        site = index[upper.index("SITE")] if "SITE" in upper else None
        drive = index[upper.index("DRIVE")] if "DRIVE" in upper else None
        return site, drive
    return index[0], index[1] if len(index) > 1 else None


def _temperature(state: Mapping[str, Any], camera: Mapping[str, Any] | None) -> float | None:
    value = state.get("INSTRUMENT_TEMPERATURE")
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    number = _number(value)
    if number is not None:
        return number
    if camera is None:
        return None
    for ns in ("", "MSL:"):  # MSL archive labels namespace these keys
        if (_text(camera.get(ns + "INTERPOLATION_METHOD")) or "").upper() == "TEMPERATURE":
            return _number(camera.get(ns + "INTERPOLATION_VALUE"))
    return None


def _onboard_flat(state: Mapping[str, Any], path: str) -> tuple[float, float, float, float, float] | None:
    """FLAT_FIELD_CORRECTION_PARM (x0, y0, a, b, c) when the flag says an onboard radial flat was applied.

    Raises
    ------
    rovercam.errors.LabelContentError
        The flag is set and the parameter list does not hold five numbers.
    """
    parm = _plain(state.get("FLAT_FIELD_CORRECTION_PARM"))
    if not _flag(state.get("FLAT_FIELD_CORRECTION_FLAG", False)) or not isinstance(parm, tuple):
        return None
    values = tuple(_number(v) for v in parm)
    if len(values) != 5 or any(v is None for v in values):
        raise LabelContentError(path, f"FLAT_FIELD_CORRECTION_PARM has {len(values)} values, expected 5 numbers")
    return values  # type: ignore[return-value]


def _solar_elevation(label: Mapping[str, Any]) -> float | None:
    """SOLAR_ELEVATION (degrees) from the site-, else rover-derived geometry group."""
    for name in ("SITE_DERIVED_GEOMETRY_PARMS", "ROVER_DERIVED_GEOMETRY_PARMS"):
        value = _group(label, (name,)).get("SOLAR_ELEVATION")
        if isinstance(value, tuple) and len(value) == 1:
            value = value[0]
        number = _number(value)
        if number is not None:
            return number
    return None


def product_from_label(
    label: Mapping[str, Any], *, path: str, image: np.ndarray | None
) -> Product:
    """Fill a :class:`Product` from a parsed label (and the decoded image, if any).

    Raises
    ------
    rovercam.errors.LabelContentError
        The camera model group is present but invalid.
    """
    warnings: list[str] = []
    pid_text = _text(label.get("PRODUCT_ID"))
    if pid_text is None:
        pid_text = path.rsplit("/", 1)[-1].split(".", 1)[0].upper()
        warnings.append("label has no PRODUCT_ID; using the file name")
    try:
        pid = parse_product_id(pid_text)
    except ProductError:
        pid = None
    camera = camera_group(label)
    model = None
    frame = None
    if camera is not None:

        try:
            model = from_pds3(camera)
        except CameraModelError as exc:
            raise LabelContentError(path, f"GEOMETRIC_CAMERA_MODEL: {exc}") from exc
        frame = _text(camera.get("REFERENCE_COORD_SYSTEM_NAME"))
    state = _group(label, _STATE_GROUPS)
    image_obj = label.get("IMAGE")
    image_obj = image_obj if isinstance(image_obj, Mapping) else {}
    bands = image.shape[2] if image is not None and image.ndim == 3 else (
        1 if image is not None else _integer(image_obj.get("BANDS", 1)))
    lines = _integer(image_obj.get("LINES"))
    samples = _integer(image_obj.get("LINE_SAMPLES"))
    avg_h = _integer(state.get("PIXEL_AVERAGING_HEIGHT")) or 1
    avg_w = _integer(state.get("PIXEL_AVERAGING_WIDTH")) or 1
    site, drive = _site_drive(label, camera)
    start = label.get("START_TIME")
    derived = _group(label, ("DERIVED_IMAGE_PARMS",))
    flat_file = _text(derived.get("FLAT_FIELD_FILE_NAME"))
    focal = state.get("FOCAL_LENGTH")
    instrument = _text(label.get("INSTRUMENT_ID")) or (pid.instrument if pid else "UNKNOWN")
    companding, scaling, radiometric = _derived(pid.product_type if pid else None, derived,
                                                _companding(state))
    meta = ProductMeta(
        product_id=pid_text,
        mission=_mission(label, pid.mission if pid else None),
        instrument=instrument,
        sol=_integer(label.get("PLANET_DAY_NUMBER")) if "PLANET_DAY_NUMBER" in label
        else (pid.sol if pid else None),
        sclk=_sclk(label.get("SPACECRAFT_CLOCK_START_COUNT")) or (pid.sclk if pid else None),
        site=site if site is not None else (pid.site if pid else None),
        drive=drive if drive is not None else (pid.drive if pid else None),
        sequence_id=_text(label.get("SEQUENCE_ID")) or (pid.sequence if pid else None),
        product_type=pid.product_type if pid else None,
        start_time=start if isinstance(start, _dt.datetime) else None,
        camera_model=model,
        camera_frame=frame,
        coordinate_systems=_frames(label, warnings),
        exposure_s=_exposure_s(state.get("EXPOSURE_DURATION"), warnings),
        filter=_text(state.get("FILTER_NAME")),
        temperature_c=_temperature(state, camera),
        focal_length_mm=_number(focal),
        zoom_position=_integer(state.get("INSTRUMENT_ZOOM_POSITION",
                                         state.get("ZOOM_POSITION_COUNT"))),
        companding=companding,
        cfa=_cfa(state, bands),
        subframe=Subframe(
            first_line=_integer(image_obj.get("FIRST_LINE")) or 1,
            first_sample=_integer(image_obj.get("FIRST_LINE_SAMPLE")) or 1,
            lines=lines * avg_h if lines else None,
            samples=samples * avg_w if samples else None),
        downsample=(avg_h, avg_w),
        flat_field_applied=_flag(state.get("FLAT_FIELD_CORRECTION_FLAG", False))
        or flat_file is not None,
        onboard_flat=_onboard_flat(state, path),
        solar_elevation_deg=_solar_elevation(label),
        radiance_scaling=scaling,
        radiometric_type=radiometric,
    )
    return Product(meta, path=path, image=image, label=label, label_stats=_stats(image_obj),
                   warnings=warnings)
