"""``summarize``: one product's parsed summary as a JSON-ready dict (``rovercam inspect``).

Pointing is the azimuth/elevation of the camera-model ray through the detector centre
(docs/conventions.md#pointing-in-labels): the centre of the full-resolution detector,
moved into product pixels by the subframe and the downsampling, unprojected through the model,
then expressed in the model's frame and, by the label's frame chain, in SITE_FRAME. Azimuth is
clockwise from +x seen from above, in [0, 360) degrees; elevation is positive up
(docs/conventions.md; :func:`rovercam.camera.coordinates.azimuth_elevation`).
"""
from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from rovercam.errors import CameraModelError
from rovercam.products.label_angles import label_angles
from rovercam.products.model import Product
from rovercam.camera.coordinates import azimuth_elevation, transform_between

__all__ = ["summarize", "detector_centre"]

#: Full-resolution detector size (samples, lines) by mission and INSTRUMENT_ID prefix
#: (docs/cameras.md#detectors-and-optics): M2020 ECAM 5120x3840, Mastcam-Z 1648x1200, MSL and MER
#: engineering 1024^2.
_DETECTORS: tuple[tuple[str, str, tuple[int, int]], ...] = (
    ("M2020", "NAVCAM", (5120, 3840)),
    ("M2020", "FRONT_HAZCAM", (5120, 3840)),
    ("M2020", "REAR_HAZCAM", (5120, 3840)),
    ("M2020", "CACHECAM", (5120, 3840)),
    ("M2020", "MCZ", (1648, 1200)),
    ("MSL", "FHAZ", (1024, 1024)),
    ("MSL", "RHAZ", (1024, 1024)),
    ("MSL", "NAV", (1024, 1024)),
    ("MER", "FRONT_HAZCAM", (1024, 1024)),
    ("MER", "REAR_HAZCAM", (1024, 1024)),
    ("MER", "NAVCAM", (1024, 1024)),
    ("MER", "PANCAM", (1024, 1024)),
)


def _detector_size(product: Product) -> tuple[int, int] | None:
    instrument = product.instrument.upper()
    for mission, prefix, size in _DETECTORS:
        if product.mission == mission and instrument.startswith(prefix):
            return size
    return None


def _product_size(product: Product) -> tuple[int | None, int | None]:
    """(samples, lines) of the product image (from the label when pixels were not read)."""
    if product.image is not None:
        return int(product.image.shape[1]), int(product.image.shape[0])
    ds_l, ds_s = product.downsample
    sub = product.subframe
    samples = sub.samples // ds_s if sub.samples else None
    lines = sub.lines // ds_l if sub.lines else None
    return samples, lines


def detector_centre(product: Product) -> tuple[tuple[float, float], str]:
    """The detector centre in product pixels, and how it was found.

    Returns
    -------
    (x, y) : tuple of float
        0-based product pixel (x = sample, y = line), centres at integers. With the full-res
        detector of NS x NL pixels, subframe origin (fs, fl) (1-based) and averaging (ds_s, ds_l):
        ``x = ((NS - 1) / 2 - (fs - 1) - (ds_s - 1) / 2) / ds_s`` (a bin of ds detector pixels
        has its centre (ds - 1) / 2 after its first one); likewise for y.
    source : {"detector", "image"}
        ``"image"`` when the detector size of this camera is unknown and the product's own centre
        is used instead.
    """
    size = _detector_size(product)
    if size is None:
        samples, lines = _product_size(product)
        if samples is None or lines is None:
            raise CameraModelError(f"{product.product_id}: neither detector nor image size known")
        return ((samples - 1) / 2.0, (lines - 1) / 2.0), "image"
    ns, nl = size
    ds_l, ds_s = product.downsample
    sub = product.subframe
    x = ((ns - 1) / 2.0 - (sub.first_sample - 1) - (ds_s - 1) / 2.0) / ds_s
    y = ((nl - 1) / 2.0 - (sub.first_line - 1) - (ds_l - 1) / 2.0) / ds_l
    return (x, y), "detector"


def _azel(direction: np.ndarray) -> dict[str, float]:

    az, el = azimuth_elevation(direction.reshape(1, 3))
    return {"azimuth_deg": float(az[0]) % 360.0, "elevation_deg": float(el[0])}


def _pointing(product: Product, warnings: list[str]) -> tuple[dict[str, Any] | None, Any]:
    """The summary's ``pointing`` entry and the ray direction (model frame), or (None, None)."""
    model = product.camera_model
    if model is None:
        return None, None

    try:
        pixel, source = detector_centre(product)
        _, directions = model.unproject(np.array([pixel], dtype=np.float64))
    except CameraModelError as exc:
        warnings.append(f"pointing: {exc}")
        return None, None
    d = directions[0]
    if not np.all(np.isfinite(d)):
        warnings.append("pointing: the model does not unproject the detector centre")
        return None, None
    out: dict[str, Any] = {"pixel": [pixel[0], pixel[1]], "pixel_source": source,
                           "model_frame": {"frame": product.camera_frame, **_azel(d)},
                           "site_frame": None}
    if product.camera_frame and product.coordinate_systems:
        try:
            t_site_model = transform_between(product.coordinate_systems, product.camera_frame, "SITE_FRAME")
        except CameraModelError as exc:
            warnings.append(f"pointing: no SITE_FRAME pointing ({exc})")
        else:
            out["site_frame"] = {"frame": "SITE_FRAME",
                                 **_azel(t_site_model.rotate(d.reshape(1, 3))[0])}
    return out, d


def _number(value: Any) -> float | None:
    value = getattr(value, "value", value)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _label_pointing(label: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """INSTRUMENT_AZIMUTH/ELEVATION the label itself states (PDS3 *_DERIVED_GEOMETRY_PARMS or
    PDS4 geom:Derived_Geometry), with their reference frame."""
    found: list[dict[str, Any]] = []

    def visit(node: Mapping[str, Any], depth: int) -> None:
        if depth > 12:
            return
        pairs = node.pairs() if hasattr(node, "pairs") else list(node.items())
        for key, value in pairs:
            if not isinstance(value, Mapping):
                continue
            az = _number(value.get("INSTRUMENT_AZIMUTH", value.get("instrument_azimuth")))
            el = _number(value.get("INSTRUMENT_ELEVATION", value.get("instrument_elevation")))
            if az is not None and el is not None:
                frame = value.get("REFERENCE_COORD_SYSTEM_NAME")
                ref = value.get("Coordinate_Space_Reference")  # PDS4: a local identifier
                if frame is None and isinstance(ref, Mapping):
                    local = ref.get("Local_Internal_Reference")
                    if isinstance(local, Mapping):
                        frame = local.get("local_identifier_reference")
                found.append({"group": key, "frame": None if frame is None else str(frame),
                              "azimuth_deg": az, "elevation_deg": el})
            else:
                visit(value, depth + 1)

    if label is not None:
        visit(label, 0)
    return found


def _plain(value: Any) -> Any:
    """JSON-ready: tuples to lists, numpy scalars to Python, datetimes to ISO strings."""
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    return value


def summarize(product: Product) -> dict[str, Any]:
    """A JSON-ready summary of one product: identity, image, camera, pointing, state, warnings.

    Parameters
    ----------
    product : Product
        As :func:`rovercam.products.read_product` returns it (with or without pixels).

    Returns
    -------
    dict
        Keys: ``product_id mission instrument product_type sol sclk site drive sequence_id
        start_time path``; ``lines samples bands dtype`` (dtype None without pixels);
        ``camera_model`` ({type, frame, components} or None); ``pointing`` ({pixel,
        pixel_source, model_frame: {frame, azimuth_deg, elevation_deg}, site_frame: same or
        None} or None); ``label_pointing`` (the label's own INSTRUMENT_AZIMUTH/ELEVATION, raw);
        ``label_angles`` (every label az/el pair, instrument and solar: raw, its declared or
        per-mission convention and where that came from, converted to rovercam's convention,
        the computed direction in the same frame and convention, and the difference in degrees;
        see :func:`rovercam.products.label_angles.label_angles`);
        ``frames`` (name -> reference); ``exposure_s filter temperature_c focal_length_mm
        zoom_position companding cfa subframe downsample flat_field_applied label_stats``;
        ``warnings`` (the product's, plus any from computing this summary). Values are plain
        Python (lists, floats, str, None); azimuths are in [0, 360) degrees.

    Examples
    --------
    >>> product = read_product("FLB_431397159EDR_F0141262FHAZ00323M1.IMG")  # doctest: +SKIP
    >>> summary = summarize(product)  # doctest: +SKIP
    >>> round(summary["pointing"]["site_frame"]["azimuth_deg"], 2)  # doctest: +SKIP
    233.88
    """
    warnings = list(product.warnings)
    samples, lines = _product_size(product)
    image = product.image
    bands = (int(image.shape[2]) if image.ndim == 3 else 1) if image is not None else None
    model = product.camera_model
    camera = None
    if model is not None:
        components = model.to_pds3()
        camera = {"type": type(model).__name__, "frame": product.camera_frame,
                  "components": {k: _plain(v) for k, v in components.items()
                                 if k.startswith("MODEL_COMPONENT")}}
    stats = product.label_stats
    pointing, direction = _pointing(product, warnings)
    try:
        angles = label_angles(product, direction, warnings)
    except CameraModelError as exc:
        warnings.append(f"label angles: {exc}")
        angles = []
    summary: dict[str, Any] = {
        "product_id": product.product_id,
        "mission": product.mission,
        "instrument": product.instrument,
        "product_type": product.product_type,
        "sol": product.sol,
        "sclk": product.sclk,
        "site": product.site,
        "drive": product.drive,
        "sequence_id": product.sequence_id,
        "start_time": product.start_time,
        "path": product.path,
        "lines": lines,
        "samples": samples,
        "bands": bands,
        "dtype": None if image is None else str(image.dtype),
        "camera_model": camera,
        "pointing": pointing,
        "label_pointing": _label_pointing(product.label),
        "label_angles": angles,
        "frames": {name: f.reference for name, f in product.coordinate_systems.items()},
        "exposure_s": product.exposure_s,
        "filter": product.filter,
        "temperature_c": product.temperature_c,
        "focal_length_mm": product.focal_length_mm,
        "zoom_position": product.zoom_position,
        "companding": {"method": product.companding.method, "lut": product.companding.lut,
                       "state": product.companding.state,
                       "original_bits": product.companding.original_bits},
        "cfa": {"pattern": product.cfa.pattern, "state": product.cfa.state,
                "venue": product.cfa.venue, "method": product.cfa.method},
        "subframe": {"first_line": product.subframe.first_line,
                     "first_sample": product.subframe.first_sample,
                     "lines": product.subframe.lines, "samples": product.subframe.samples},
        "downsample": product.downsample,
        "flat_field_applied": product.flat_field_applied,
        "label_stats": None if stats is None else {
            "mean": stats.mean, "median": stats.median, "minimum": stats.minimum,
            "maximum": stats.maximum, "standard_deviation": stats.standard_deviation,
            "checksum": stats.checksum},
        "warnings": warnings,
    }
    return _plain(summary)
