"""A label's derived azimuth/elevation groups, in rovercam's one convention, beside the computed ones.

MIPL writes INSTRUMENT_AZIMUTH/ELEVATION and SOLAR_AZIMUTH/ELEVATION in ROVER_DERIVED_GEOMETRY_PARMS
and SITE_DERIVED_GEOMETRY_PARMS (PDS3/VICAR) and in geom:Derived_Geometry (PDS4), each in the frame
it names. Their sign conventions are declared by POSITIVE_AZIMUTH_DIRECTION (CLOCKWISE or
COUNTERCLOCKWISE) and POSITIVE_ELEVATION_DIRECTION (UP or DOWN), in the group itself or in the
coordinate-system group of its frame (PDS4: geom:positive_*_direction of the
Coordinate_Space_Definition). Where neither says, a per-mission default applies; every entry
states which was used.

rovercam's convention (docs/conventions.md): azimuth clockwise from +x seen from above, in
[0, 360) degrees; elevation positive up.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from rovercam.errors import CameraModelError
from rovercam.camera.coordinates import azimuth_elevation, direction_from_azimuth_elevation, transform_between

__all__ = ["label_angles", "MISSION_DEFAULTS"]

#: (POSITIVE_AZIMUTH_DIRECTION, POSITIVE_ELEVATION_DIRECTION) when a label does not say.
#: MSL and M2020: every coordinate-system group of their labels says CLOCKWISE / UP, and the
#: SUN_VIEW_DIRECTION / Vector_Solar_Direction they print gives their SOLAR_AZIMUTH/ELEVATION with
#: el = -asin(z), z down. MER: ROVER_FRAME and MAST_FRAME groups say CLOCKWISE / UP (APXS_FRAME
#: says DOWN), and SITE_FRAME has no group; SOLAR_ELEVATION = 79.2533 deg in SITE_FRAME at
#: LTST 12:42:52, Ls 186.7, 2.3 deg S (Opportunity, sol 5104) is the sun ~79 deg *above* the
#: horizon, so UP (tests/products/test_label_angles.py recomputes it).
MISSION_DEFAULTS: dict[str, tuple[str, str]] = {
    "MSL": ("CLOCKWISE", "UP"),
    "M2020": ("CLOCKWISE", "UP"),
    "MER": ("CLOCKWISE", "UP"),
    "NSYT": ("CLOCKWISE", "UP"),
}

_QUANTITIES = ("INSTRUMENT", "SOLAR")
_SUN_VECTOR_KEYS = ("SUN_VIEW_DIRECTION", "Vector_Solar_Direction")


def _get(node: Mapping[str, Any], key: str) -> Any:
    """A PDS3 (upper case) or PDS4 (lower case / as written) key of a group."""
    for k in (key, key.lower()):
        if k in node:
            return node[k]
    return None


def _number(value: Any) -> float | None:
    value = getattr(value, "value", value)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None  # "NULL", "N/A", "UNK"
    return None


def _pairs(node: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return list(node.pairs()) if hasattr(node, "pairs") else list(node.items())


def _frame_of(group: Mapping[str, Any]) -> str | None:
    frame = _get(group, "REFERENCE_COORD_SYSTEM_NAME")
    ref = group.get("Coordinate_Space_Reference")  # PDS4: a local identifier
    if frame is None and isinstance(ref, Mapping):
        local = ref.get("Local_Internal_Reference")
        if isinstance(local, Mapping):
            frame = local.get("local_identifier_reference")
    return None if frame is None else str(frame)


def _sun_vector(group: Mapping[str, Any]) -> np.ndarray | None:
    for key in _SUN_VECTOR_KEYS:
        value = group.get(key)
        if isinstance(value, Mapping):  # PDS4 x_unit, y_unit, z_unit
            value = [value.get(f"{a}_unit") for a in "xyz"]
        if isinstance(value, (list, tuple)) and len(value) == 3:
            nums = [_number(v) for v in value]
            if all(n is not None for n in nums):
                return np.array(nums, dtype=np.float64)
    return None


def _walk(label: Mapping[str, Any]) -> tuple[list[tuple[str, Mapping[str, Any]]], dict[str, Mapping]]:
    """(derived groups with az/el keys, coordinate-system definitions by frame name)."""
    derived: list[tuple[str, Mapping[str, Any]]] = []
    systems: dict[str, Mapping[str, Any]] = {}

    def visit(node: Mapping[str, Any], depth: int) -> None:
        if depth > 12:
            return
        for key, value in _pairs(node):
            if not isinstance(value, Mapping):
                continue
            if any(_get(value, f"{q}_AZIMUTH") is not None for q in _QUANTITIES):
                derived.append((key, value))
                continue
            names = _get(value, "COORDINATE_SYSTEM_NAME") or value.get("local_identifier")
            if names is not None and (_get(value, "POSITIVE_ELEVATION_DIRECTION") is not None
                                      or _get(value, "POSITIVE_AZIMUTH_DIRECTION") is not None):
                for name in names if isinstance(names, (list, tuple)) else [names]:
                    systems.setdefault(str(name), value)
            visit(value, depth + 1)

    visit(label, 0)
    return derived, systems


def _convention(group: Mapping[str, Any], group_key: str, frame: str | None,
                systems: Mapping[str, Mapping[str, Any]], mission: str | None) -> dict[str, str]:
    """Azimuth and elevation directions of a group, and where they come from."""
    default = MISSION_DEFAULTS.get(mission or "", ("CLOCKWISE", "UP"))
    out: dict[str, str] = {}
    sources = []
    for axis, keyword, fallback in (("azimuth", "POSITIVE_AZIMUTH_DIRECTION", default[0]),
                                    ("elevation", "POSITIVE_ELEVATION_DIRECTION", default[1])):
        value, source = _get(group, keyword), f"label {group_key}"
        if value is None and frame is not None and frame in systems:
            value, source = _get(systems[frame], keyword), f"label {frame} coordinate system"
        if value is None:
            value, source = fallback, f"{mission or 'unknown mission'} default"
        out[axis] = str(value).strip().upper()
        sources.append(source)
    if out["azimuth"] not in ("CLOCKWISE", "COUNTERCLOCKWISE") or out["elevation"] not in ("UP", "DOWN"):
        raise CameraModelError(f"{group_key}: unknown az/el convention {out}")
    # where POSITIVE_AZIMUTH_DIRECTION / POSITIVE_ELEVATION_DIRECTION came from
    out["source"] = sources[0] if sources[0] == sources[1] else f"az: {sources[0]}; el: {sources[1]}"
    return out


def _azel(direction: np.ndarray) -> tuple[float, float]:

    az, el = azimuth_elevation(direction.reshape(1, 3))
    return float(az[0]) % 360.0, float(el[0])


def _difference(a: tuple[float, float], b: tuple[float, float]) -> dict[str, float]:
    """Azimuth and elevation differences a - b, and the angle between the two directions (deg)."""

    u = direction_from_azimuth_elevation([a[0], b[0]], [a[1], b[1]])
    sep = math.degrees(math.atan2(float(np.linalg.norm(np.cross(u[0], u[1]))), float(u[0] @ u[1])))
    return {"azimuth_deg": (a[0] - b[0] + 180.0) % 360.0 - 180.0, "elevation_deg": a[1] - b[1],
            "separation_deg": sep}


def _resolve_frame(label_frame: str | None, product: Any) -> str | None:
    """The rovercam frame name a label's frame reference means (PDS4 ids carry the RMC)."""
    if label_frame is None:
        return None
    names = {k.split("@")[0] for k in product.coordinate_systems} | {"SITE_FRAME"}
    if product.camera_frame:
        names.add(product.camera_frame)
    matches = [n for n in names if label_frame == n or label_frame.startswith(n + "_")]
    return max(matches, key=len) if matches else None


def label_angles(product: Any, pointing: np.ndarray | None, warnings: list[str]) -> list[dict[str, Any]]:
    """Every label az/el pair, raw and in rovercam's convention, beside the computed direction.

    Parameters
    ----------
    product : Product
        With ``label``, ``mission``, ``frames`` and ``camera_frame``.
    pointing : (3,) ndarray or None
        The camera-model ray through the detector centre, in ``product.camera_frame``.
    warnings : list of str
        Appended to when a frame cannot be reached.

    Returns
    -------
    list of dict
        One per (group, quantity) with keys ``group``, ``quantity`` ("instrument" or "solar"),
        ``frame``, ``label`` (raw azimuth_deg/elevation_deg, None where the label says NULL),
        ``convention`` (azimuth, elevation, source), ``converted`` (azimuth clockwise in
        [0, 360), elevation up), ``computed`` (same convention and frame, with its source: the
        model ray, or the label's sun vector rotated into the frame) and ``difference_deg``
        (converted - computed: azimuth_deg, elevation_deg, separation_deg), None where missing.
    """
    label = product.label
    if label is None:
        return []

    derived, systems = _walk(label)
    sun: tuple[str, str, np.ndarray] | None = None  # (group, frame, vector) of a printed sun vector
    for key, group in derived:
        vec, frame = _sun_vector(group), _resolve_frame(_frame_of(group), product)
        if vec is not None and frame is not None:
            sun = (key, frame, vec)
            break

    def in_frame(vec: np.ndarray, src: str, dst: str) -> np.ndarray | None:
        if src == dst:
            return vec
        try:
            return transform_between(product.coordinate_systems, src, dst).rotate(vec.reshape(1, 3))[0]
        except CameraModelError as exc:
            warnings.append(f"label angles: {src} -> {dst}: {exc}")
            return None

    out: list[dict[str, Any]] = []
    for key, group in derived:
        label_frame = _frame_of(group)
        frame = _resolve_frame(label_frame, product)
        conv = _convention(group, key, label_frame, systems, product.mission)
        for quantity in _QUANTITIES:
            raw_az = _get(group, f"{quantity}_AZIMUTH")
            raw_el = _get(group, f"{quantity}_ELEVATION")
            if raw_az is None and raw_el is None:
                continue
            az, el = _number(raw_az), _number(raw_el)
            entry: dict[str, Any] = {
                "group": key, "quantity": quantity.lower(), "frame": label_frame,
                "label": {"azimuth_deg": az, "elevation_deg": el},
                "convention": conv, "converted": None, "computed": None, "difference_deg": None,
            }
            if az is not None and el is not None:
                az_cw = az if conv["azimuth"] == "CLOCKWISE" else -az
                entry["converted"] = {"azimuth_deg": az_cw % 360.0,
                                      "elevation_deg": el if conv["elevation"] == "UP" else -el}
            vec, source = None, None
            if frame is not None and quantity == "INSTRUMENT" and pointing is not None \
                    and product.camera_frame:
                vec = in_frame(pointing, product.camera_frame, frame)
                source = "camera-model ray through the detector centre"
            elif frame is not None and quantity == "SOLAR" and sun is not None:
                vec = in_frame(sun[2], sun[1], frame)
                source = f"sun vector of {sun[0]}" + ("" if sun[1] == frame else f" rotated into {frame}")
            if vec is not None:
                c_az, c_el = _azel(vec)
                entry["computed"] = {"azimuth_deg": c_az, "elevation_deg": c_el, "source": source}
                if entry["converted"] is not None:
                    conv_pair = (entry["converted"]["azimuth_deg"], entry["converted"]["elevation_deg"])
                    entry["difference_deg"] = _difference(conv_pair, (c_az, c_el))
            out.append(entry)
    return out
