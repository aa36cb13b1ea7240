"""Camera models to and from label components: PDS3/VICAR GEOMETRIC_CAMERA_MODEL and PDS4 geom.

PDS3 (and the VICAR property of the same name) write ``MODEL_TYPE`` and ``MODEL_COMPONENT_1..9``
(C, A, H, V, O, R, E, T, P); PDS4 writes ``geom:CAHV_Model`` / ``CAHVOR_Model`` /
``CAHVORE_Model`` with Vector_Center, Vector_Axis, Vector_Horizontal, Vector_Vertical,
Vector_Optical, Radial_Terms, Entrance_Terms, cahvore_model_type, cahvore_model_parameter
(PDS4 geom dictionary; PDS3/VICAR keyword names as MIPL's lbl_camera_model.c writes them). A and O are kept exactly as printed, as JPL cmod uses them
(docs/conventions.md); they must be within 1e-3 of unit length.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Mapping

from rovercam.camera.cahv import CAHV
from rovercam.camera.cahvor import CAHVOR
from rovercam.camera.cahvore import CAHVORE
from rovercam.camera.model import CameraModel
from rovercam.errors import CameraModelError

__all__ = ["from_pds3", "from_pds4", "to_pds4", "GEOM_NAMESPACE"]

#: The PDS4 geometry dictionary namespace (geom 1.x).
GEOM_NAMESPACE = "http://pds.nasa.gov/pds4/geom/v1"

_N_COMPONENTS = {"CAHV": 4, "CAHVOR": 6, "CAHVORE": 9}


def _get(group: Mapping[str, Any], key: str) -> Any:
    if key in group:
        return group[key]
    raise CameraModelError(f"camera model group has no {key}")


def _unwrap(value: Any) -> Any:
    """pvl Quantity-like values carry ``.value``; keep plain values as they are."""
    return getattr(value, "value", value)


def from_pds3(group: Mapping[str, Any]) -> CameraModel:
    """Build a model from a parsed PDS3/VICAR GEOMETRIC_CAMERA_MODEL group.

    Parameters
    ----------
    group : mapping
        Keys ``MODEL_TYPE`` ('CAHV', 'CAHVOR' or 'CAHVORE') and ``MODEL_COMPONENT_1`` ..
        ``MODEL_COMPONENT_n`` (sequences of 3 floats; floats for 8 and 9).

    Returns
    -------
    CAHV, CAHVOR or CAHVORE
        With every component as the label prints it (A and O not renormalised).

    Raises
    ------
    rovercam.errors.CameraModelError
        Unknown model type, missing or malformed components, A or O more than 1e-3 from unit
        length.
    """
    mtype = str(_unwrap(_get(group, "MODEL_TYPE"))).strip().strip("'\"").upper()
    if mtype not in _N_COMPONENTS:
        raise CameraModelError(f"unsupported MODEL_TYPE {mtype!r} (CAHV, CAHVOR, CAHVORE)")
    comps = []
    for i in range(1, _N_COMPONENTS[mtype] + 1):
        value = _unwrap(_get(group, f"MODEL_COMPONENT_{i}"))
        if isinstance(value, (list, tuple)):
            value = [_unwrap(x) for x in value]
        comps.append(value)
    if mtype == "CAHV":
        return CAHV(*comps)
    if mtype == "CAHVOR":
        return CAHVOR(*comps)
    return CAHVORE(*comps[:7], mtype=comps[7], mparm=comps[8])


# ------------------------------------------------------------------------------------------------
# PDS4
# ------------------------------------------------------------------------------------------------
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    for sub in elem:
        if _local(sub.tag) == name:
            return sub
    return None


def _need(elem: ET.Element, name: str) -> ET.Element:
    sub = _child(elem, name)
    if sub is None:
        raise CameraModelError(f"PDS4 {_local(elem.tag)} has no {name}")
    return sub


def _float(elem: ET.Element, name: str) -> float:
    text = (_need(elem, name).text or "").strip()
    try:
        return float(text)
    except ValueError as exc:
        raise CameraModelError(f"PDS4 {_local(elem.tag)}/{name} is not a number: {text!r}") from exc


def _vec(elem: ET.Element, name: str, suffix: str) -> tuple[float, float, float]:
    vec = _need(elem, name)
    return (_float(vec, f"x_{suffix}"), _float(vec, f"y_{suffix}"), _float(vec, f"z_{suffix}"))


def _terms(elem: ET.Element, name: str) -> tuple[float, float, float]:
    vec = _need(elem, name)
    return (_float(vec, "c0"), _float(vec, "c1"), _float(vec, "c2"))


def from_pds4(element: ET.Element) -> CameraModel:
    """Build a model from a PDS4 ``geom:Camera_Model_Parameters`` (or ``geom:CAHV*_Model``).

    Parameters
    ----------
    element : xml.etree.ElementTree.Element
        The ``Camera_Model_Parameters`` element, or the ``CAHV_Model`` / ``CAHVOR_Model`` /
        ``CAHVORE_Model`` inside it. Namespaces are matched by local name.

    Returns
    -------
    CAHV, CAHVOR or CAHVORE
        With every component as the label gives it (A and O not renormalised).

    Raises
    ------
    rovercam.errors.CameraModelError
        No CAHV* model inside, missing or malformed values, A or O more than 1e-3 from unit
        length.
    """
    model = element
    if _local(element.tag) not in ("CAHV_Model", "CAHVOR_Model", "CAHVORE_Model"):
        model = next(
            (s for s in element if _local(s.tag) in ("CAHV_Model", "CAHVOR_Model", "CAHVORE_Model")),
            None,
        )
        if model is None:
            raise CameraModelError(f"PDS4 {_local(element.tag)} holds no CAHV/CAHVOR/CAHVORE model")
    kind = _local(model.tag)
    c = _vec(model, "Vector_Center", "position")
    a = _vec(model, "Vector_Axis", "unit")
    h = _vec(model, "Vector_Horizontal", "pixel")
    v = _vec(model, "Vector_Vertical", "pixel")
    if kind == "CAHV_Model":
        return CAHV(c, a, h, v)
    o = _vec(model, "Vector_Optical", "unit")
    r = _terms(model, "Radial_Terms")
    if kind == "CAHVOR_Model":
        return CAHVOR(c, a, h, v, o, r)
    e = _terms(model, "Entrance_Terms")
    return CAHVORE(
        c, a, h, v, o, r, e,
        mtype=_float(model, "cahvore_model_type"),
        mparm=_float(model, "cahvore_model_parameter"),
    )


def to_pds4(model: CameraModel, *, namespace: str = GEOM_NAMESPACE) -> ET.Element:
    """The ``geom:Camera_Model_Parameters`` element of a model (model_type and the CAHV* class).

    Parameters
    ----------
    model : CAHV, CAHVOR or CAHVORE
    namespace : str
        XML namespace of the geom dictionary (keyword-only).

    Returns
    -------
    xml.etree.ElementTree.Element
        Values are written with ``repr(float)`` (round-trip exact). The caller adds the
        Coordinate_Space_Reference and any transform/interpolation classes.
    """
    kind = type(model).__name__
    if kind not in _N_COMPONENTS:
        raise CameraModelError(f"cannot write a {kind} as a PDS4 camera model")

    def tag(name: str) -> str:
        return f"{{{namespace}}}{name}"

    root = ET.Element(tag("Camera_Model_Parameters"))
    ET.SubElement(root, tag("model_type")).text = kind
    body = ET.SubElement(root, tag(f"{kind}_Model"))

    def vec(name: str, suffix: str, values: Any, unit: str | None = None) -> None:
        sub = ET.SubElement(body, tag(name))
        for axis, value in zip("xyz", values):
            item = ET.SubElement(sub, tag(f"{axis}_{suffix}"))
            item.text = repr(float(value))
            if unit:
                item.set("unit", unit)

    def terms(name: str, values: Any) -> None:
        sub = ET.SubElement(body, tag(name))
        for i, value in enumerate(values):
            ET.SubElement(sub, tag(f"c{i}")).text = repr(float(value))

    vec("Vector_Center", "position", model.c, "m")
    vec("Vector_Axis", "unit", model.a)
    vec("Vector_Horizontal", "pixel", model.h)
    vec("Vector_Vertical", "pixel", model.v)
    if isinstance(model, (CAHVOR, CAHVORE)):
        vec("Vector_Optical", "unit", model.o)
        terms("Radial_Terms", model.r)
    if isinstance(model, CAHVORE):
        terms("Entrance_Terms", model.e)
        ET.SubElement(body, tag("cahvore_model_type")).text = str(model.mtype)
        ET.SubElement(body, tag("cahvore_model_parameter")).text = repr(float(model.mparm))
    return root
