"""Write a Product as a PDS4 product: an XML label and a raw data file beside it.

The label is a ``Product_Observational`` in the shape of MIPL's Mars 2020 labels
(docs/products.md#pds4-labels), reduced to what a :class:`~rovercam.products.model.Product` holds:
identification (the product id as ``Alias/alternate_id``), time, mission information (sol, SCLK,
sequence), the image array (``Array_2D_Image`` or ``Array_3D_Image``, band sequential, big-endian),
``img:Imaging`` (exposure, filter, optics, subframe, downsampling, companding, CFA, flat field) and
``geom:Geometry_Lander`` (camera model with its frame, frames as ``Coordinate_Space_Definition``
with ``Quaternion_Plus_Direction``, the motion counter). It reads back through
:func:`rovercam.products.pds4.read_pds4` to the same Product fields; the label statistics' CHECKSUM
has no PDS4 attribute and is not written.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from rovercam.errors import ProductError
from rovercam.products.model import Product
from rovercam.products.pds3 import atomic_write
from rovercam.camera import to_pds4


__all__ = ["write_pds4", "NAMESPACES"]

log = logging.getLogger(__name__)

#: Namespace URIs of the dictionaries written (prefix -> URI).
NAMESPACES = {
    "pds": "http://pds.nasa.gov/pds4/pds/v1",
    "img": "http://pds.nasa.gov/pds4/img/v1",
    "geom": "http://pds.nasa.gov/pds4/geom/v1",
    "msn": "http://pds.nasa.gov/pds4/msn/v1",
    "msn_surface": "http://pds.nasa.gov/pds4/msn_surface/v1",
    "img_surface": "http://pds.nasa.gov/pds4/img_surface/v1",
}
_TYPES = {("u", 1): "UnsignedByte", ("i", 1): "SignedByte", ("u", 2): "UnsignedMSB2",
          ("i", 2): "SignedMSB2", ("u", 4): "UnsignedMSB4", ("i", 4): "SignedMSB4",
          ("f", 4): "IEEE754MSBSingle", ("f", 8): "IEEE754MSBDouble"}
_INVESTIGATIONS = {"M2020": "Mars2020", "MSL": "MSL", "MER": "MER"}
_INDEX_NAMES = ("SITE", "DRIVE", "POSE", "ARM", "SHA", "DRILL", "RSM", "HGA", "BITCAR", "SEAL")

for _prefix, _uri in NAMESPACES.items():
    ET.register_namespace(_prefix, _uri)


class _Builder:
    """Element helpers: ``b.sub(parent, "img:Exposure")`` etc."""

    @staticmethod
    def tag(name: str) -> str:
        prefix, local = name.split(":", 1)
        return f"{{{NAMESPACES[prefix]}}}{local}"

    def sub(self, parent: ET.Element, name: str, text: object = None,
            unit: str | None = None) -> ET.Element:
        elem = ET.SubElement(parent, self.tag(name))
        if text is not None:
            elem.text = repr(float(text)) if isinstance(text, (float, np.floating)) else str(text)
        if unit is not None:
            elem.set("unit", unit)
        return elem


def _frame_id(key: str, index: tuple[int, ...]) -> str:
    base = key.split("@", 1)[0]
    return "_".join([base, *(str(i) for i in index)]) if index else base


def _indexed(b: _Builder, parent: ET.Element, kind: str, index: tuple[int, ...]) -> None:
    indexed = b.sub(parent, "geom:Coordinate_Space_Indexed")
    b.sub(indexed, "geom:coordinate_space_frame_type", kind)
    for i, value in enumerate(index):
        entry = b.sub(indexed, "geom:Coordinate_Space_Index")
        b.sub(entry, "geom:index_id", _INDEX_NAMES[i] if i < len(_INDEX_NAMES) else f"INDEX_{i}")
        b.sub(entry, "geom:index_value_number", int(value))


def _geometry(b: _Builder, discipline: ET.Element, product: Product) -> None:
    geometry = b.sub(discipline, "geom:Geometry")
    lander = b.sub(geometry, "geom:Geometry_Lander")
    b.sub(lander, "geom:geometry_state", "Telemetry")
    if product.camera_model is not None:

        params = to_pds4(product.camera_model, namespace=NAMESPACES["geom"])
        if product.camera_frame:
            ref = b.sub(params, "geom:Coordinate_Space_Reference")
            _indexed(b, ref, product.camera_frame, ())
        if product.temperature_c is not None:
            interp = b.sub(params, "geom:Interpolation")
            b.sub(interp, "geom:interpolation_variable", "Temperature")
            b.sub(interp, "geom:interpolation_value", float(product.temperature_c))
        lander.append(params)
    ids = {key: _frame_id(key, f.index) for key, f in product.coordinate_systems.items()}
    for key, frame in product.coordinate_systems.items():
        d = b.sub(lander, "geom:Coordinate_Space_Definition")
        b.sub(d, "pds:local_identifier", ids[key])
        b.sub(d, "geom:positive_azimuth_direction", "Clockwise")
        b.sub(d, "geom:positive_elevation_direction", "Up")
        present = b.sub(d, "geom:Coordinate_Space_Present")
        _indexed(b, present, key.split("@", 1)[0], frame.index)
        offset = b.sub(d, "geom:Vector_Origin_Offset")
        for axis, value in zip("xyz", frame.offset):
            b.sub(offset, f"geom:{axis}_position", float(value), "m")
        quat = b.sub(d, "geom:Quaternion_Plus_Direction")
        for name, value in zip(("qcos", "qsin1", "qsin2", "qsin3"), frame.quaternion):
            b.sub(quat, f"geom:{name}", float(value))
        b.sub(quat, "geom:rotation_direction", "Forward")
        ref = b.sub(d, "geom:Coordinate_Space_Reference")
        ref_kind, _, ref_instance = frame.reference.partition("@")
        if frame.reference in ids and "@" not in frame.reference:
            local = b.sub(ref, "pds:Local_Internal_Reference")
            b.sub(local, "pds:local_identifier_reference", ids[frame.reference])
            b.sub(local, "pds:local_reference_type", "to_reference_coordinate_space")
        else:  # a root frame (SITE_FRAME) or another instance of this one (SITE_FRAME@29)
            _indexed(b, ref, ref_kind, (int(ref_instance),) if ref_instance.isdigit() else ())
    if product.site is not None or product.drive is not None:
        counter = b.sub(lander, "geom:Motion_Counter")
        b.sub(counter, "geom:name", "RMC")
        for name, value in (("SITE", product.site), ("DRIVE", product.drive)):
            if value is not None:
                entry = b.sub(counter, "geom:Motion_Counter_Index")
                b.sub(entry, "geom:index_id", name)
                b.sub(entry, "geom:index_value_number", int(value))


def _imaging(b: _Builder, discipline: ET.Element, product: Product, array_id: str) -> None:
    imaging = b.sub(discipline, "img:Imaging")
    local = b.sub(imaging, "pds:Local_Internal_Reference")
    b.sub(local, "pds:local_identifier_reference", array_id)
    b.sub(local, "pds:local_reference_type", "imaging_parameters_to_image_object")
    cfa = product.cfa
    if cfa.pattern is not None or cfa.state != "none":
        el = b.sub(imaging, "img:Color_Filter_Array")
        if cfa.venue:
            b.sub(el, "img:processing_venue", cfa.venue.title())
        if cfa.method:
            b.sub(el, "img:processing_algorithm", cfa.method.title())
        if cfa.pattern:
            b.sub(el, "img:color_filter_array_type", f"Bayer {cfa.pattern}")
        b.sub(el, "img:color_filter_array_state", {"decoded": "Decoded", "encoded": "Encoded"}
              .get(cfa.state, "No CFA"))
    avg = b.sub(b.sub(imaging, "img:Downsampling"), "img:Pixel_Averaging_Dimensions")
    b.sub(avg, "img:height_pixels", int(product.downsample[0]), "pixel")
    b.sub(avg, "img:width_pixels", int(product.downsample[1]), "pixel")
    if product.exposure_s is not None:
        exposure = b.sub(imaging, "img:Exposure")
        b.sub(exposure, "img:exposure_duration", float(product.exposure_s) * 1000.0, "ms")
    flat = b.sub(imaging, "img:Flat_Field_Correction")
    b.sub(flat, "img:active_flag", "true" if product.flat_field_applied else "false")
    if product.filter is not None:
        b.sub(b.sub(imaging, "img:Optical_Filter"), "img:filter_name", product.filter)
    if product.focal_length_mm is not None or product.zoom_position is not None:
        optics = b.sub(imaging, "img:Optical_Properties")
        if product.focal_length_mm is not None:
            b.sub(optics, "img:focal_length", float(product.focal_length_mm), "mm")
        if product.zoom_position is not None:
            b.sub(optics, "img:zoom_position", int(product.zoom_position))
    comp = product.companding
    sampling = b.sub(imaging, "img:Sampling")
    if comp.original_bits is not None:
        b.sub(sampling, "img:original_sample_bits", int(comp.original_bits))
    if comp.method.upper() != "NONE" or comp.state != "none" or comp.lut.upper() != "NONE":
        el = b.sub(sampling, "img:Companding")
        b.sub(el, "img:processing_venue", comp.method.title())
        b.sub(el, "img:processing_algorithm", comp.lut)
        b.sub(el, "img:companding_state", comp.state.title())
    sub = product.subframe
    el = b.sub(imaging, "img:Subframe")
    b.sub(el, "img:first_line", int(sub.first_line))
    b.sub(el, "img:first_sample", int(sub.first_sample))
    if sub.lines is not None:
        b.sub(el, "img:lines", int(sub.lines))
    if sub.samples is not None:
        b.sub(el, "img:samples", int(sub.samples))


def _label(product: Product, image: np.ndarray, data_name: str) -> ET.Element:
    b = _Builder()
    root = ET.Element(b.tag("pds:Product_Observational"))
    pid = product.product_id
    ident = b.sub(root, "pds:Identification_Area")
    b.sub(ident, "pds:logical_identifier", f"urn:nasa:pds:rovercam:data:{pid.lower()}")
    b.sub(ident, "pds:version_id", "1.0")
    b.sub(ident, "pds:title", f"{product.mission} {product.instrument} {pid}")
    b.sub(ident, "pds:information_model_version", "1.16.0.0")
    b.sub(ident, "pds:product_class", "Product_Observational")
    alias = b.sub(b.sub(ident, "pds:Alias_List"), "pds:Alias")
    b.sub(alias, "pds:alternate_id", pid)
    b.sub(alias, "pds:comment", "VICAR PRODUCT_ID")
    obs = b.sub(root, "pds:Observation_Area")
    times = b.sub(obs, "pds:Time_Coordinates")
    if product.start_time is not None:
        t = product.start_time
        t = t.astimezone(_dt.timezone.utc) if t.tzinfo else t
        b.sub(times, "pds:start_date_time", t.replace(tzinfo=None).isoformat() + "Z")
    else:
        b.sub(times, "pds:start_date_time").set(
            "{http://www.w3.org/2001/XMLSchema-instance}nil", "true")
    investigation = b.sub(obs, "pds:Investigation_Area")
    b.sub(investigation, "pds:name", _INVESTIGATIONS.get(product.mission, product.mission))
    b.sub(investigation, "pds:type", "Mission")
    system = b.sub(obs, "pds:Observing_System")
    comp = b.sub(system, "pds:Observing_System_Component")
    b.sub(comp, "pds:name", product.instrument)
    b.sub(comp, "pds:type", "Instrument")
    discipline = b.sub(obs, "pds:Discipline_Area")
    _geometry(b, discipline, product)
    array_id = pid.lower()
    _imaging(b, discipline, product, array_id)
    surface = b.sub(discipline, "img_surface:Surface_Imaging")
    info = b.sub(surface, "img_surface:Instrument_Information")
    b.sub(info, "img_surface:ops_instrument_key", product.instrument)
    msn = b.sub(discipline, "msn:Mission_Information")
    if product.product_type is not None:
        b.sub(msn, "msn:product_type_name", product.product_type)
    if product.sclk is not None:
        b.sub(msn, "msn:spacecraft_clock_start", f"{product.sclk:.3f}")
    if product.sol is not None:
        b.sub(b.sub(msn, "msn:Surface_Mission"), "msn:start_sol_number", int(product.sol))
    if product.sequence_id is not None:
        surface_msn = b.sub(discipline, "msn_surface:Surface_Mission_Information")
        command = b.sub(surface_msn, "msn_surface:Command_Execution")
        b.sub(command, "msn_surface:sequence_id", product.sequence_id)
    area = b.sub(root, "pds:File_Area_Observational")
    b.sub(b.sub(area, "pds:File"), "pds:file_name", data_name)
    bands = image.shape[2] if image.ndim == 3 else 1
    arr = b.sub(area, "pds:Array_3D_Image" if image.ndim == 3 else "pds:Array_2D_Image")
    b.sub(arr, "pds:local_identifier", array_id)
    b.sub(arr, "pds:offset", 0, "byte")
    b.sub(arr, "pds:axes", image.ndim)
    b.sub(arr, "pds:axis_index_order", "Last Index Fastest")
    element = b.sub(arr, "pds:Element_Array")
    b.sub(element, "pds:data_type", _TYPES[(image.dtype.kind, image.dtype.itemsize)])
    axes = [("Line", image.shape[0]), ("Sample", image.shape[1])]
    if image.ndim == 3:
        axes.insert(0, ("Band", bands))
    for number, (name, size) in enumerate(axes, start=1):
        axis = b.sub(arr, "pds:Axis_Array")
        b.sub(axis, "pds:axis_name", name)
        b.sub(axis, "pds:elements", int(size))
        b.sub(axis, "pds:sequence_number", number)
    stats = product.label_stats
    if stats is not None:
        el = b.sub(arr, "pds:Object_Statistics")
        for key in ("maximum", "minimum", "mean", "standard_deviation", "median"):
            value = getattr(stats, key)
            if value is not None:
                b.sub(el, f"pds:{key}", float(value))
    return root


def write_pds4(path: str | os.PathLike[str], product: Product, *,
               data_name: str | None = None) -> Path:
    """Write ``product`` as a PDS4 XML label plus a raw data file, atomically.

    Parameters
    ----------
    path : path-like
        The XML label to write (``.xml``).
    product : Product
        Must carry ``image``, shaped (lines, samples) or (lines, samples, bands), of uint8,
        int8, (u)int16, (u)int32, float32 or float64.
    data_name : str, optional, keyword-only
        Data file name, in the label's folder; default ``<stem>.IMG``. It holds the array alone
        (offset 0), band sequential, big-endian.

    Returns
    -------
    Path
        The label. The data file is written first, the label last.

    Raises
    ------
    rovercam.errors.ProductError
        No image, an image type PDS4 cannot hold, or a data name that is not a plain file name.
    """
    out = Path(path)
    image = product.image
    if image is None or image.ndim not in (2, 3) or 0 in image.shape:
        raise ProductError(str(out), "write_pds4 needs a product with a 2-D or 3-D image")
    if (image.dtype.kind, image.dtype.itemsize) not in _TYPES:
        raise ProductError(str(out), f"cannot write {image.dtype} pixels to PDS4")
    name = data_name or (out.name.rsplit(".", 1)[0] + ".IMG")
    if "/" in name or "\\" in name or name in (".", "..", out.name):
        raise ProductError(str(out), f"data file name {name!r} is not a sibling file name")
    dtype = image.dtype.newbyteorder(">") if image.dtype.itemsize > 1 else image.dtype
    pixels = image.transpose(2, 0, 1) if image.ndim == 3 else image
    body = np.ascontiguousarray(pixels, dtype=dtype).tobytes()
    root = _label(product, image, name)
    ET.indent(root, space="  ")
    text = ET.tostring(root, encoding="unicode", xml_declaration=False)
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n").encode("utf-8")
    atomic_write(out.with_name(name), [body])
    atomic_write(out, [xml])
    log.info("%s: wrote %s and %s", product.product_id, out, name)
    return out
